"""The Tokens view: the list every member of a deployment can read."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent, Component
from tokens.models import AgentToken


def _url(deployment) -> str:
    return reverse("tokens", args=[deployment.pk])


def test_it_lists_tokens_with_their_details(admin_client, deployment, issue):
    token, _ = issue(deployment, name="eu-cluster", description="Frankfurt workers")
    body = admin_client.get(_url(deployment)).content.decode()
    assert "eu-cluster" in body
    assert "Frankfurt workers" in body
    assert token.hint in body
    assert "Never" in body
    assert "alice" in body
    assert "Never used" in body
    assert "1 of 50" in body


def test_it_counts_only_live_agents_that_use_the_token(admin_client, deployment, issue):
    token, _ = issue(deployment)
    for name in ["worker-a", "worker-b"]:
        Agent.objects.create(deployment=deployment, token=token, name=name, component="worker")
    Agent.objects.create(
        deployment=deployment,
        token=token,
        name="gone",
        component=Component.WORKER,
        deleted_at=timezone.now(),
    )
    response = admin_client.get(_url(deployment))
    row = next(t for t in response.context["tokens"] if t.pk == token.pk)
    assert row.agent_count == 2
    assert '<td class="num">2</td>' in response.content.decode()


def test_it_shows_expired_and_soon_expiring_tokens(admin_client, deployment, issue):
    issue(deployment, name="soon", expires_in_days=3)
    old, _ = issue(deployment, name="old", expires_in_days=30)
    issue(deployment, name="later", expires_in_days=90)
    AgentToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    body = admin_client.get(_url(deployment)).content.decode()
    assert "expires in 3 days" in body
    assert "Expired" in body
    assert (timezone.now() + timedelta(days=90)).strftime("%b") in body
    assert body.count("badge-warn") == 1
    assert body.count("badge-bad") == 1


def test_it_shows_when_and_from_where_a_token_was_last_used(admin_client, deployment, issue):
    token, _ = issue(deployment)
    used = timezone.now() - timedelta(minutes=5)
    AgentToken.objects.filter(pk=token.pk).update(last_used_at=used, last_used_ip="10.20.30.40")
    body = admin_client.get(_url(deployment)).content.decode()
    assert "from 10.20.30.40" in body
    assert f'datetime="{used.isoformat()}"' in body


def test_it_leaves_out_deleted_tokens(admin_client, deployment, issue, admin):
    token, _ = issue(deployment, name="retired")
    token.revoke(by=admin)
    body = admin_client.get(_url(deployment)).content.decode()
    assert "retired" not in body
    assert "No agent tokens yet" in body


def test_it_shows_the_empty_state_with_a_create_button_for_admins(admin_client, deployment):
    body = admin_client.get(_url(deployment)).content.decode()
    assert "No agent tokens yet" in body
    assert reverse("token-create", args=[deployment.pk]) in body


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_it_shows_the_list_without_create_or_delete_to_lower_roles(
    request, persona, deployment, issue
):
    token, _ = issue(deployment, name="eu-cluster")
    client = request.getfixturevalue(persona)
    response = client.get(_url(deployment))
    body = response.content.decode()
    assert response.status_code == 200
    assert "eu-cluster" in body
    assert reverse("token-create", args=[deployment.pk]) not in body
    assert reverse("token-delete", args=[deployment.pk, token.pk]) not in body
    assert "<dialog" not in body


def test_it_redirects_anonymous_users(client, deployment):
    response = client.get(_url(deployment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_hides_the_deployment_from_strangers(stranger_client, deployment, issue):
    issue(deployment)
    assert stranger_client.get(_url(deployment)).status_code == 404


def test_it_rejects_post(admin_client, deployment):
    assert admin_client.post(_url(deployment)).status_code == 405


def test_it_renders_only_the_section_for_htmx(admin_client, deployment, issue):
    issue(deployment, name="eu-cluster")
    response = admin_client.get(_url(deployment), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="remote-agents"')
    assert "<html" not in body
    assert "eu-cluster" in body
