"""Remote Agents -> Alerts: the channel list, the channel form, a channel with its delivery log."""

import pytest
from django.test import Client
from django.urls import reverse

from alerts.models import Channel, Delivery, DeliveryStatus, Kind
from audit.models import AuditEvent

FORM = {
    "name": "on-call",
    "kind": "webhook",
    "url": "https://hooks.example.com/agents",
    "recipients": "",
    "on_silent": "on",
    "silent_minutes": "10",
    "on_queue": "on",
    "on_tokens": "on",
    "refusals_per_hour": "100",
}


def _list(deployment) -> str:
    return reverse("alerts", args=[deployment.pk])


def _create(deployment) -> str:
    return reverse("alert-channel-create", args=[deployment.pk])


def _page(channel, name="alert-channel") -> str:
    return reverse(name, args=[channel.deployment_id, channel.pk])


def test_it_lists_channels_to_everyone_with_a_role(viewer_client, deployment, make_channel):
    make_channel(
        Kind.SLACK, name="team-slack", url="https://hooks.slack.com/services/T1/B2/XYZsecret"
    )
    body = viewer_client.get(_list(deployment)).content.decode()
    assert "team-slack" in body and "Agent silent &gt; 5 min" in body
    assert "XYZsecret" not in body and "…cret" in body  # a Slack URL is a credential
    assert 'aria-selected="true" data-view="alerts"' in body
    assert _create(deployment) not in body  # viewers do not manage channels


def test_it_answers_htmx_with_the_section_only(admin_client, deployment):
    response = admin_client.get(_list(deployment), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<section id="remote-agents"')
    assert "No notification channels yet" in body and _create(deployment) in body


def test_it_hides_the_deployment_from_strangers_and_anonymous(
    stranger_client, deployment, make_channel
):
    channel = make_channel(url="https://example.com/h")
    for url in (_list(deployment), _page(channel), _create(deployment)):
        assert stranger_client.get(url).status_code == 404
        assert Client().get(url).status_code == 302


def test_it_creates_a_webhook_and_shows_its_secret_once(admin_client, deployment):
    response = admin_client.post(_create(deployment), FORM)
    body = response.content.decode()
    channel = Channel.objects.get()
    assert response.status_code == 200
    assert "You cannot see it again" in body and channel.secret in body
    assert channel.secret.startswith("rawhs_")
    assert "no-store" in response["Cache-Control"]
    assert (channel.silent_minutes, channel.on_refusals, channel.created_by.username) == (
        10,
        False,
        "alice",
    )
    assert channel.secret not in admin_client.get(_page(channel)).content.decode()
    assert channel.secret not in admin_client.get(_list(deployment)).content.decode()
    assert AuditEvent.objects.filter(action="alert_channel.create").count() == 1


def test_it_creates_an_email_channel_and_reports_mistakes_at_their_field(admin_client, deployment):
    form = {**FORM, "kind": "email", "url": "", "recipients": "ops@example.com\nnot-an-address"}
    body = admin_client.post(_create(deployment), form).content.decode()
    assert "&#x27;not-an-address&#x27; is not an e-mail address." in body
    assert not Channel.objects.exists()
    form["recipients"] = "ops@example.com, lead@example.com"
    response = admin_client.post(_create(deployment), form)
    channel = Channel.objects.get()
    assert response.status_code == 302 and response.url == _page(channel)
    assert channel.recipients == ["ops@example.com", "lead@example.com"] and channel.secret == ""
    body = admin_client.post(_create(deployment), form).content.decode()
    assert "A channel with this name already exists." in body


@pytest.mark.parametrize("url", ["", "ftp://example.com/x", "javascript:alert(1)", "x" * 3000])
def test_it_refuses_a_url_that_is_not_http(admin_client, deployment, url):
    response = admin_client.post(_create(deployment), {**FORM, "url": url})
    assert response.status_code == 200 and not Channel.objects.exists()
    assert 'class="error"' in response.content.decode()


def test_it_keeps_creating_and_editing_to_admins(operator_client, deployment, make_channel):
    channel = make_channel(url="https://example.com/h")
    assert operator_client.get(_create(deployment)).status_code == 403
    assert operator_client.post(_create(deployment), FORM).status_code == 403
    for name in ("alert-channel-edit", "alert-channel-test", "alert-channel-delete"):
        assert operator_client.post(_page(channel, name)).status_code == 403
    assert operator_client.get(_page(channel)).status_code == 200


def test_it_edits_a_channel(admin_client, make_channel):
    channel = make_channel(url="https://example.com/h")
    form = {**FORM, "name": "renamed", "url": "https://example.com/new", "silent_minutes": "30"}
    response = admin_client.post(_page(channel, "alert-channel-edit"), form)
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.silent_minutes) == (
        "renamed",
        "https://example.com/new",
        30,
    )
    assert channel.kind == Kind.WEBHOOK  # the kind is not a field of the edit form


def test_it_queues_a_test_message_and_shows_it_in_the_log(admin_client, make_channel):
    channel = make_channel(url="https://example.com/h")
    response = admin_client.post(
        _page(channel, "alert-channel-test"), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.rules == ["test"]
    assert body.lstrip().startswith('<section class="panel" id="delivery-log"')
    assert 'hx-trigger="every 2s"' in body and "Test message" in body
    assert admin_client.get(_page(channel, "alert-channel-test")).status_code == 405


def test_it_shows_why_a_channel_was_disabled_and_enables_it_again(
    admin_client, make_channel, settings
):
    settings.ALERT_CHANNEL_MAX_FAILURES = 1
    channel = make_channel(url="https://example.com/h")
    channel.record_outcome(delivered=False, reason="HTTP 410: gone")
    body = admin_client.get(_page(channel)).content.decode()
    assert "This channel is disabled." in body and "HTTP 410: gone" in body
    admin_client.post(_page(channel, "alert-channel-enable"))
    channel.refresh_from_db()
    assert channel.enabled and channel.disabled_reason == ""


def test_it_confirms_then_deletes_a_channel(admin_client, deployment, make_channel):
    channel = make_channel(url="https://example.com/h")
    confirm = admin_client.get(_page(channel, "alert-channel-delete")).content.decode()
    assert "Delete the channel" in confirm and "open data-modal" in confirm
    response = admin_client.post(_page(channel, "alert-channel-delete"))
    assert response.status_code == 302 and response.url == _list(deployment)
    assert not Channel.objects.exists()
    assert AuditEvent.objects.filter(action="alert_channel.delete").exists()
