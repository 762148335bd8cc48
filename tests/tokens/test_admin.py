"""The admin site shows tokens read-only and never their secrets."""

from django.urls import reverse

from audit.models import AuditEvent
from tokens.models import AgentToken


def test_it_lists_tokens(superuser_client, deployment, issue):
    token, _ = issue(deployment, name="eu-cluster")
    response = superuser_client.get(reverse("admin:tokens_agenttoken_changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "eu-cluster" in body and token.hint in body
    assert token.digest not in body


def test_it_searches_and_filters(superuser_client, deployment, issue):
    issue(deployment, name="eu-cluster")
    issue(deployment, name="us-cluster")
    url = reverse("admin:tokens_agenttoken_changelist")
    body = superuser_client.get(url, {"q": "eu-"}).content.decode()
    assert "eu-cluster" in body and "us-cluster" not in body
    body = superuser_client.get(url, {"state": "deleted"}).content.decode()
    assert "eu-cluster" not in body


def test_the_detail_page_is_read_only_and_hides_the_digest(superuser_client, deployment, issue):
    token, _ = issue(deployment, name="eu-cluster")
    url = reverse("admin:tokens_agenttoken_change", args=[token.pk])
    response = superuser_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert token.hint in body
    assert token.digest not in body
    assert 'name="name"' not in body
    superuser_client.post(url, {"name": "renamed"})
    token.refresh_from_db()
    assert token.name == "eu-cluster"


def test_it_cannot_add_or_bare_delete(superuser_client, deployment, issue):
    token, _ = issue(deployment)
    assert superuser_client.get(reverse("admin:tokens_agenttoken_add")).status_code == 403
    delete = reverse("admin:tokens_agenttoken_delete", args=[token.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert AgentToken.objects.filter(pk=token.pk).exists()


def test_the_revoke_action_deletes_with_an_audit_event(superuser_client, deployment, issue):
    token, _ = issue(deployment)
    response = superuser_client.post(
        reverse("admin:tokens_agenttoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(token.pk)]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.get(action="token.delete").actor_label == "root"
