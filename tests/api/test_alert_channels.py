"""Management API: alert channels and their delivery log."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from alerts.models import MAX_CHANNELS_PER_DEPLOYMENT, Channel, Delivery, Kind
from deployments.models import Role

WEBHOOK = {"name": "on-call", "type": "WEBHOOK", "url": "https://hooks.example.com/a"}


def _channel(deployment, **fields) -> Channel:
    defaults = {"kind": Kind.WEBHOOK, "name": "hook", "url": "https://example.com/h"}
    channel, _ = Channel.objects.create_channel(deployment, **{**defaults, **fields})
    return channel


def test_it_creates_a_webhook_and_returns_its_secret_once(admin_client, url):
    body = {**WEBHOOK, "rules": {"agentSilentMinutes": 15, "refusedAddresses": False}}
    response = admin_client.post(url("/alert-channels"), body, content_type="application/json")
    data = response.json()
    channel = Channel.objects.get()
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    assert data["signingSecret"] == channel.secret and data["type"] == "WEBHOOK"
    assert data["rules"] == {
        "agentSilent": True,
        "agentSilentMinutes": 15,
        "queueWithoutHealthyAgent": True,
        "tokenExpiry": True,
        "refusedAddresses": False,
        "refusedAddressesPerHour": 100,
        "unsupportedVersion": True,
    }
    again = admin_client.get(url(f"/alert-channels/{channel.pk}")).json()
    assert "signingSecret" not in again and channel.secret not in json.dumps(again)


def test_it_creates_slack_and_email_channels_without_a_secret(admin_client, url):
    slack = {"name": "s", "type": "SLACK", "url": "https://hooks.slack.com/services/T/B/abcd1234"}
    data = admin_client.post(url("/alert-channels"), slack, content_type="application/json").json()
    assert data["signingSecret"] is None and data["destination"].endswith("…1234")
    mail = {"name": "m", "type": "EMAIL", "recipients": ["a@example.com"]}
    data = admin_client.post(url("/alert-channels"), mail, content_type="application/json").json()
    assert data["recipients"] == ["a@example.com"] and data["destination"] == "a@example.com"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({**WEBHOOK, "url": "ftp://x"}, "url", "url"),
        ({**WEBHOOK, "name": "   "}, "name", "blank"),
        ({**WEBHOOK, "type": "PAGER"}, "type", "invalid_choice"),
        ({"name": "m", "type": "EMAIL", "recipients": ["nope"]}, "recipients", "recipients"),
        ({"name": "m", "type": "EMAIL", "recipients": [""]}, "recipients", "recipients"),
        ({"name": "m", "type": "EMAIL", "recipients": ["a@x.io"] * 21}, "recipients", "recipients"),
        ({**WEBHOOK, "rules": {"agentSilentMinutes": 0}}, "rules.agentSilentMinutes", "min_value"),
        ({**WEBHOOK, "rules": {"agentSilent": "maybe"}}, "rules.agentSilent", "invalid"),
        ({**WEBHOOK, "rules": [1, 2]}, "rules.non_field_errors", "invalid"),
        ({**WEBHOOK, "name": "x" * 101}, "name", "max_length"),
        ({**WEBHOOK, "url": "https://e.com/" + "a" * 5000}, "url", "max_length"),
        ({**WEBHOOK, "recipients": [{"deep": [[["x"]]]}]}, "recipients.0", "invalid"),
    ],
)
def test_it_reports_bad_bodies_as_field_errors(admin_client, url, body, field, code):
    response = admin_client.post(url("/alert-channels"), body, content_type="application/json")
    data = response.json()
    assert response.status_code == 400, data
    assert data["statusCode"] == 400 and data["requestId"] == response["X-Request-ID"]
    assert (field.removesuffix(".non_field_errors"), code) in [
        (e["field"], e["code"]) for e in data["fieldErrors"]
    ]
    assert not Channel.objects.exists()


def test_it_refuses_a_body_that_is_not_json_or_too_deep(admin_client, url):
    response = admin_client.post(url("/alert-channels"), "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["statusCode"] == 400
    deep = "[" * 100_000 + "]" * 100_000
    response = admin_client.post(url("/alert-channels"), deep, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["message"]
    huge = json.dumps({**WEBHOOK, "recipients": ["a@example.com"] * 400_000})
    response = admin_client.post(url("/alert-channels"), huge, content_type="application/json")
    assert response.status_code == 413 and response.json()["statusCode"] == 413


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_channel(admin, url, deployment):
    def create(_):
        client = Client()
        client.force_login(admin)
        try:
            return client.post(url("/alert-channels"), WEBHOOK, content_type="application/json")
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(r.status_code for r in pool.map(create, range(4)))
    assert codes == [201, 400, 400, 400]
    assert Channel.objects.count() == 1


def test_it_enforces_the_channel_limit(admin_client, url, deployment):
    for i in range(MAX_CHANNELS_PER_DEPLOYMENT):
        _channel(deployment, name=f"c{i}")
    response = admin_client.post(url("/alert-channels"), WEBHOOK, content_type="application/json")
    assert response.status_code == 400
    assert "the most it can have" in response.json()["message"]


def test_it_updates_rules_and_enables_or_disables(admin_client, url, deployment):
    channel = _channel(deployment)
    response = admin_client.patch(
        url(f"/alert-channels/{channel.pk}"),
        {"rules": {"queueWithoutHealthyAgent": False}, "enabled": False},
        content_type="application/json",
    )
    data = response.json()
    assert response.status_code == 200
    assert data["rules"]["queueWithoutHealthyAgent"] is False and data["enabled"] is False
    assert data["disabledReason"] == "Disabled by alice."
    data = admin_client.patch(
        url(f"/alert-channels/{channel.pk}"), {"enabled": True}, content_type="application/json"
    ).json()
    assert data["enabled"] is True and data["consecutiveFailures"] == 0
    response = admin_client.patch(
        url(f"/alert-channels/{channel.pk}"), {"url": "nope"}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["fieldErrors"][0]["field"] == "url"


def test_it_queues_a_test_and_lists_the_delivery_log(admin_client, viewer_client, url, deployment):
    channel = _channel(deployment)
    response = admin_client.post(url(f"/alert-channels/{channel.pk}/test"))
    assert response.status_code == 202 and response.json()["status"] == "PENDING"
    log = viewer_client.get(url(f"/alert-channels/{channel.pk}/deliveries")).json()
    assert log["totalCount"] == 1
    assert log["deliveries"][0]["rules"] == ["test"]
    assert log["deliveries"][0]["id"] == str(Delivery.objects.get().pk)
    bad = viewer_client.get(url(f"/alert-channels/{channel.pk}/deliveries?limit=5000"))
    assert bad.status_code == 400 and bad.json()["fieldErrors"][0]["field"] == "limit"


@pytest.mark.parametrize("who", ["operator_client", "viewer_client"])
def test_below_admin_reads_but_does_not_manage(request, who, url, deployment):
    client = request.getfixturevalue(who)
    channel = _channel(deployment)
    assert client.get(url("/alert-channels")).json()["totalCount"] == 1
    assert client.get(url(f"/alert-channels/{channel.pk}")).status_code == 200
    for method, suffix in [
        ("post", "/alert-channels"),
        ("patch", f"/alert-channels/{channel.pk}"),
        ("delete", f"/alert-channels/{channel.pk}"),
        ("post", f"/alert-channels/{channel.pk}/test"),
    ]:
        response = getattr(client, method)(url(suffix), {}, content_type="application/json")
        assert response.status_code == 403 and response.json()["statusCode"] == 403


def test_strangers_other_deployments_and_anonymous_get_nothing(
    stranger_client, anonymous, admin_client, url, deployment, other_deployment
):
    channel = _channel(deployment)
    assert stranger_client.get(url("/alert-channels")).status_code == 404
    assert anonymous.get(url("/alert-channels")).status_code in (401, 403)
    foreign = _channel(other_deployment, name="theirs")
    assert admin_client.get(url(f"/alert-channels/{foreign.pk}")).status_code == 404
    assert admin_client.delete(url(f"/alert-channels/{channel.pk}")).status_code == 204
    assert admin_client.delete(url(f"/alert-channels/{channel.pk}")).status_code == 404


def test_an_api_token_is_capped_at_its_role(admin, api_token, url, deployment):
    client, _ = api_token(admin, Role.VIEWER)
    response = client.post(url("/alert-channels"), WEBHOOK, content_type="application/json")
    assert response.status_code == 403 and "this API token has Viewer" in response.json()["message"]
