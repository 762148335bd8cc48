"""+ Agent Token: the form, its validation, the 50-token limit and the one-time display."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tokens import secret
from tokens.models import AgentToken


def _url(deployment) -> str:
    return reverse("token-create", args=[deployment.pk])


def _post(client, deployment, htmx=False, **data):
    form = {"name": "eu-cluster", "expiration": "30", "custom_days": "", "description": ""}
    form.update(data)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(_url(deployment), form, headers=headers)


def _value_in(body: str) -> str:
    start = body.index('value="ragt_') + len('value="')
    return body[start : body.index('"', start)]


def test_it_creates_a_token_and_shows_its_value_once(admin_client, deployment):
    response = _post(admin_client, deployment, description="Frankfurt workers")
    body = response.content.decode()
    assert response.status_code == 200
    value = _value_in(body)
    assert secret.is_well_formed(value)
    assert "You cannot see it again" in body
    assert 'data-copy="#token-value"' in body
    assert "no-store" in response["Cache-Control"]

    token = AgentToken.objects.get()
    assert token.name == "eu-cluster"
    assert token.description == "Frankfurt workers"
    assert token.digest == secret.digest(value)
    assert token.created_by.username == "alice"
    expected = timezone.now() + timedelta(days=30)
    assert abs((token.expires_at - expected).total_seconds()) < 60

    event = AuditEvent.objects.get(action="token.create")
    assert event.actor_label == "alice"
    assert event.source_ip == "127.0.0.1"
    assert event.target_id == str(token.pk)


def test_it_answers_htmx_with_the_value_and_a_refreshed_list(admin_client, deployment):
    response = _post(admin_client, deployment, htmx=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="token-form" class="token-created"')
    assert secret.is_well_formed(_value_in(body))
    assert '<div id="token-list" hx-swap-oob="true">' in body
    assert AgentToken.objects.get().hint in body


def test_it_shows_the_form_page_without_javascript(admin_client, deployment, issue):
    issue(deployment, name="first")
    response = admin_client.get(_url(deployment))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="token-dialog"' in body and "open data-modal" in body
    assert "1 of 50" in body
    assert f'action="{_url(deployment)}"' in body
    assert f'hx-post="{_url(deployment)}"' in body


@pytest.mark.parametrize(
    ("choice", "custom", "days"),
    [("7", "", 7), ("365", "", 365), ("custom", "12", 12), ("custom", "3650", 3650)],
)
def test_it_sets_the_chosen_expiry(admin_client, deployment, choice, custom, days):
    _post(admin_client, deployment, expiration=choice, custom_days=custom)
    token = AgentToken.objects.get()
    expected = timezone.now() + timedelta(days=days)
    assert abs((token.expires_at - expected).total_seconds()) < 60


def test_it_creates_a_token_that_never_expires(admin_client, deployment):
    _post(admin_client, deployment, expiration="never", custom_days="abc")
    assert AgentToken.objects.get().expires_at is None


def test_it_ignores_the_days_box_unless_custom_is_chosen(admin_client, deployment):
    response = _post(admin_client, deployment, expiration="90", custom_days="99999")
    assert response.status_code == 200
    token = AgentToken.objects.get()
    assert abs((token.expires_at - timezone.now() - timedelta(days=90)).total_seconds()) < 60


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Enter a name."),
        ({"name": "    "}, "Enter a name."),
        ({"name": "x" * 101}, "at most 100 characters (it has 101)"),
        ({"description": "d" * 501}, "at most 500 characters (it has 501)"),
        ({"expiration": "custom", "custom_days": "0"}, "from 1 to 3650"),
        ({"expiration": "custom", "custom_days": "3651"}, "from 1 to 3650"),
        ({"expiration": "custom", "custom_days": "ten"}, "from 1 to 3650"),
        ({"expiration": "custom", "custom_days": "1.5"}, "from 1 to 3650"),
        ({"expiration": "custom", "custom_days": ""}, "from 1 to 3650"),
        ({"expiration": "0"}, "Select a valid choice"),
        ({"expiration": ""}, "This field is required"),
    ],
)
def test_it_rejects_bad_input_with_a_field_error(admin_client, deployment, data, message):
    for htmx in (False, True):
        response = _post(admin_client, deployment, htmx=htmx, **data)
        body = response.content.decode()
        assert response.status_code == 200
        assert message in body
        assert 'class="error"' in body
        assert "ragt_" not in body
    assert not AgentToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_answers_htmx_errors_with_the_form_only(admin_client, deployment):
    response = _post(admin_client, deployment, htmx=True, name="")
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="token-form"')
    assert "<html" not in body


def test_it_rejects_a_duplicate_live_name_whatever_its_case(admin_client, deployment, issue):
    issue(deployment, name="EU-Cluster")
    response = _post(admin_client, deployment, name="  eu-cluster ")
    assert "A token with this name already exists." in response.content.decode()
    assert AgentToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="token.create").count() == 1


def test_it_allows_the_name_of_a_deleted_token(admin_client, deployment, issue, admin):
    old, _ = issue(deployment, name="eu-cluster")
    old.revoke(by=admin)
    _post(admin_client, deployment, name="eu-cluster")
    assert AgentToken.objects.live().get().name == "eu-cluster"


def test_it_allows_the_same_name_in_another_deployment(
    admin_client, deployment, other_deployment, issue
):
    issue(other_deployment, name="eu-cluster")
    _post(admin_client, deployment, name="eu-cluster")
    assert AgentToken.objects.filter(deployment=deployment).count() == 1


def test_it_shows_html_in_name_and_description_escaped(admin_client, deployment):
    evil = "<script>alert(1)</script>"
    response = _post(admin_client, deployment, name=evil, description=f"<b>{evil}</b>")
    body = response.content.decode()
    assert evil not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    page = admin_client.get(reverse("tokens", args=[deployment.pk])).content.decode()
    assert evil not in page and "<b>" not in page
    assert "&lt;b&gt;&lt;script&gt;" in page


def test_it_refuses_the_51st_token(admin_client, deployment, issue):
    for i in range(50):
        issue(deployment, name=f"token-{i}")
    page = admin_client.get(_url(deployment)).content.decode()
    assert "50 of 50" in page
    assert "the most it can have" in page
    response = _post(admin_client, deployment, name="one-too-many")
    assert "already has 50 agent tokens" in response.content.decode()
    assert AgentToken.objects.count() == 50
    assert AuditEvent.objects.filter(action="token.create").count() == 50


def test_it_shows_how_many_tokens_are_used_in_the_form(admin_client, deployment, issue):
    for i in range(3):
        issue(deployment, name=f"token-{i}")
    body = admin_client.get(reverse("tokens", args=[deployment.pk])).content.decode()
    assert "<strong>3 of 50</strong> tokens used" in body


def test_it_requires_the_csrf_token(admin, deployment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(_url(deployment), {"name": "eu-cluster", "expiration": "30"})
    assert response.status_code == 403
    assert not AgentToken.objects.exists()


def test_it_redirects_anonymous_users(client, deployment):
    response = _post(client, deployment)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not AgentToken.objects.exists()


def test_it_hides_the_deployment_from_strangers(stranger_client, deployment):
    assert _post(stranger_client, deployment).status_code == 404
    assert stranger_client.get(_url(deployment)).status_code == 404
    assert not AgentToken.objects.exists()


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_it_forbids_lower_roles(request, persona, deployment):
    client = request.getfixturevalue(persona)
    assert _post(client, deployment).status_code == 403
    assert _post(client, deployment, htmx=True).status_code == 403
    assert client.get(_url(deployment)).status_code == 403
    assert not AgentToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_rejects_other_methods(admin_client, deployment):
    assert admin_client.put(_url(deployment)).status_code == 405
    assert admin_client.delete(_url(deployment)).status_code == 405
