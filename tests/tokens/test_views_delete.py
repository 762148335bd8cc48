"""Deleting a token: the confirmation names its impact; the token stops working at once."""

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from audit.models import AuditEvent
from tokens.models import AgentToken


def _url(token) -> str:
    return reverse("token-delete", args=[token.deployment_id, token.pk])


@pytest.fixture
def token(deployment, issue):
    token, _ = issue(deployment, name="eu-cluster")
    return token


def test_it_deletes_the_token_and_audits_it(admin_client, token):
    response = admin_client.post(_url(token))
    assert response.status_code == 302
    assert response["Location"] == reverse("tokens", args=[token.deployment_id])
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by.username == "alice"
    event = AuditEvent.objects.get(action="token.delete")
    assert event.actor_label == "alice"
    assert event.target_id == str(token.pk)
    assert event.source_ip == "127.0.0.1"


def test_it_answers_htmx_with_the_refreshed_section(admin_client, token):
    response = admin_client.post(_url(token), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="remote-agents"')
    assert "eu-cluster" not in body
    assert "No agent tokens yet" in body


def test_the_confirmation_names_how_many_agents_use_the_token(admin_client, token):
    Agent.objects.create(deployment=token.deployment, token=token, name="w1", component="worker")
    Agent.objects.create(
        deployment=token.deployment,
        token=token,
        name="w0",
        component="worker",
        deleted_at=timezone.now(),
    )
    tokens_page = admin_client.get(reverse("tokens", args=[token.deployment_id])).content.decode()
    assert "1 agent currently uses this token." in tokens_page

    response = admin_client.get(_url(token))
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="delete-{token.pk}"' in body
    assert "open data-modal" in body
    assert "1 agent currently uses this token." in body
    assert AgentToken.objects.live().count() == 1


def test_the_confirmation_counts_several_agents(admin_client, token):
    for name in ["w1", "w2", "w3"]:
        Agent.objects.create(
            deployment=token.deployment, token=token, name=name, component="worker"
        )
    body = admin_client.get(_url(token)).content.decode()
    assert "3 agents currently use this token." in body


def test_the_confirmation_says_when_no_agent_uses_the_token(admin_client, token):
    assert "No agents currently use this token." in admin_client.get(_url(token)).content.decode()


def test_deleting_twice_is_harmless(admin_client, token):
    admin_client.post(_url(token))
    response = admin_client.post(_url(token))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="token.delete").count() == 1
    assert admin_client.get(_url(token)).status_code == 404


def test_it_does_not_reach_another_deployments_token(admin_client, deployment, other_deployment):
    foreign, _ = AgentToken.objects.issue(other_deployment, name="theirs", expires_in_days=None)
    url = reverse("token-delete", args=[deployment.pk, foreign.pk])
    assert admin_client.post(url).status_code == 404
    assert admin_client.get(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_it_redirects_anonymous_users(client, token):
    response = client.post(_url(token))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert AgentToken.objects.live().count() == 1


def test_it_hides_the_deployment_from_strangers(stranger_client, token):
    assert stranger_client.post(_url(token)).status_code == 404
    assert AgentToken.objects.live().count() == 1


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_it_forbids_lower_roles(request, persona, token):
    client = request.getfixturevalue(persona)
    assert client.post(_url(token)).status_code == 403
    assert client.post(_url(token), headers={"HX-Request": "true"}).status_code == 403
    assert client.get(_url(token)).status_code == 403
    assert AgentToken.objects.live().count() == 1
    assert not AuditEvent.objects.filter(action="token.delete").exists()


def test_it_rejects_other_methods(admin_client, token):
    assert admin_client.delete(_url(token)).status_code == 405
    assert AgentToken.objects.live().count() == 1
