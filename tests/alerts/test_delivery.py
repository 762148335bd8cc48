"""Alerts end to end: evaluation, a real Celery worker, a real HTTP receiver and SMTP server."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import time_machine

from agents import store
from alerts.evaluate import evaluate_all
from alerts.models import Channel, Delivery, DeliveryStatus, Kind
from alerts.send import SIGNATURE_HEADER, TIMESTAMP_HEADER

from .conftest import wait_for_deliveries

pytestmark = pytest.mark.django_db(transaction=True)


def _verify(secret: str, request: dict) -> bool:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    timestamp = headers[TIMESTAMP_HEADER.lower()]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], "sha256=" + expected)


def test_it_announces_a_silent_agent_once_and_its_return_once_on_every_channel(
    deployment, admin, receiver, smtp, worker, old_epoch, make_agent
):
    _, secret = Channel.objects.create_channel(
        deployment, kind=Kind.WEBHOOK, name="hook", url=receiver.url + "/hook", by=admin
    )
    Channel.objects.create_channel(
        deployment, kind=Kind.SLACK, name="slack", url=receiver.url + "/slack", by=admin
    )
    Channel.objects.create_channel(
        deployment, kind=Kind.EMAIL, name="mail", recipients=["oncall@example.com"], by=admin
    )
    agent = make_agent("worker-7", queues=())  # the queue rule has tests of its own

    assert evaluate_all() == 0  # heartbeating: nothing to say
    with time_machine.travel(timedelta(minutes=6), tick=True):
        assert evaluate_all() == 3
        wait_for_deliveries(3)
        assert evaluate_all() == 0  # still silent: already told

    (hook,) = receiver.on("/hook")
    assert _verify(secret, hook)
    assert not _verify("rawhs_someone-else", hook)
    body = json.loads(hook["body"])
    assert body["type"] == "alert"
    assert [(e["rule"], e["state"], e["label"]) for e in body["events"]] == [
        ("agent_silent", "firing", "worker-7")
    ]
    (slack,) = receiver.json("/slack")
    assert set(slack) == {"text"}
    assert "worker-7" in slack["text"] and "1 agent silent" in slack["text"]
    (mail,) = smtp.messages
    assert mail["to"] == ["oncall@example.com"]
    assert "1 agent silent" in mail["message"]["Subject"]
    assert "worker-7" in mail["message"].get_payload()

    store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now()})  # it comes back
    assert evaluate_all() == 3
    wait_for_deliveries(6)
    assert evaluate_all() == 0
    assert len(receiver.on("/hook")) == 2 and len(receiver.on("/slack")) == 2
    resolved = json.loads(receiver.on("/hook")[1]["body"])
    assert [(e["state"], e["label"]) for e in resolved["events"]] == [("resolved", "worker-7")]
    assert _verify(secret, receiver.on("/hook")[1])
    assert "resolved: 1 agent silent" in receiver.json("/slack")[1]["text"]
    assert len(smtp.messages) == 2
    assert "worker-7 is no longer silent" in smtp.messages[1]["message"].get_payload()


def test_it_delivers_on_the_third_try_after_two_server_errors(
    deployment, receiver, worker, make_channel
):
    receiver.script = [(500, "down"), (502, "still down"), (200, "thanks")]
    channel = make_channel(url=receiver.url + "/hook")
    channel.send_test()
    (delivery,) = wait_for_deliveries(1)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.status_code, delivery.response_excerpt) == (
        3,
        200,
        "thanks",
    )
    bodies = [r["body"] for r in receiver.on("/hook")]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same message each time
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0


def test_it_does_not_retry_a_client_error_and_logs_it(deployment, receiver, worker, make_channel):
    receiver.script = [(400, "unknown hook id"), (200, "ok")]
    channel = make_channel(kind=Kind.SLACK, url=receiver.url + "/slack")
    channel.send_test()
    (delivery,) = wait_for_deliveries(1)
    time.sleep(0.5)  # a retry would have arrived by now
    assert len(receiver.on("/slack")) == 1
    assert delivery.status == DeliveryStatus.FAILED
    assert (delivery.attempts, delivery.status_code) == (1, 400)
    assert delivery.response_excerpt == "unknown hook id"
    channel.refresh_from_db()
    assert channel.consecutive_failures == 1 and channel.enabled


def test_it_gives_up_after_the_retries_and_disables_a_failing_channel(
    deployment, receiver, settings, make_channel
):
    settings.ALERT_DELIVERY_RETRIES = 1
    settings.ALERT_CHANNEL_MAX_FAILURES = 2
    receiver.script = [(503, "maintenance")]
    channel = make_channel(url=receiver.url + "/hook")
    for _ in range(2):
        delivery = channel.send_test()
        assert delivery.attempt() is not None  # 503: try again
        assert delivery.attempt() is None  # the one retry spent
        assert delivery.status == DeliveryStatus.FAILED
    channel.refresh_from_db()
    assert not channel.enabled
    assert "2 failed deliveries in a row" in channel.disabled_reason
    assert "HTTP 503: maintenance" in channel.disabled_reason
    assert evaluate_all() == 0  # a disabled channel hears nothing

    channel.enable()
    channel.refresh_from_db()
    assert channel.enabled and channel.consecutive_failures == 0


def test_it_retries_a_timeout(deployment, receiver, settings, make_channel):
    settings.ALERT_DELIVERY_TIMEOUT_SECONDS = 1
    receiver.delay = 1.5
    delivery = make_channel(url=receiver.url + "/hook").send_test()
    assert delivery.attempt() is not None
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.status_code is None and "No answer within 1 s" in delivery.error


def test_it_retries_a_refused_connection_and_a_temporary_smtp_error(
    deployment, smtp, make_channel, receiver
):
    port = int(receiver.url.rsplit(":", 1)[1])
    receiver.close()  # nothing listens there now
    delivery = make_channel(url=f"http://127.0.0.1:{port}/hook").send_test()
    assert delivery.attempt() is not None and "Could not connect" in delivery.error

    async def busy(server, session, envelope):
        return "451 Try again later"

    smtp.handle_DATA = busy
    mail = make_channel(kind=Kind.EMAIL, recipients=["a@example.com"]).send_test()
    assert mail.attempt() is not None and "SMTP 451" in mail.error

    async def refuse(server, session, envelope):
        return "554 Rejected"

    smtp.handle_DATA = refuse
    mail = Delivery.objects.get(pk=mail.pk)
    assert mail.attempt() is None and mail.status == DeliveryStatus.FAILED
