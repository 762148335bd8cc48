"""Each rule fires once per transition, resolves once, and decides nothing it cannot see."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents import store, versions
from alerts.evaluate import evaluate_all
from alerts.models import AlertState, Delivery
from deployments import ipranges
from tokens.models import AgentToken


def _events(delivery: Delivery) -> list[tuple[str, str, str]]:
    return [(e["rule"], e["state"], e["label"]) for e in delivery.payload["events"]]


def _last() -> list[tuple[str, str, str]]:
    return _events(Delivery.objects.order_by("-created_at").first())


@pytest.fixture
def channel(make_channel):
    return make_channel(url="http://127.0.0.1:9/unused")


def test_it_fires_for_a_queue_whose_agents_are_all_unhealthy_or_cordoned(
    deployment, channel, old_epoch, make_agent, admin
):
    channel.update(on_silent=False)
    make_agent("w1", queues=["default", "gpu"], silent_for=120)
    cordoned = make_agent("w2", queues=["gpu"])
    cordoned.cordon(by=admin)
    healthy = make_agent("w3", queues=["default"])

    assert evaluate_all() == 1
    assert _last() == [("queue_unserved", "firing", "gpu")]
    assert "1 unhealthy, 1 cordoned" in Delivery.objects.get().payload["events"][0]["message"]

    store.client().zadd(store.k_seen(deployment.pk), {str(healthy.pk): store.now() - 120})
    assert evaluate_all() == 1
    assert _last() == [("queue_unserved", "firing", "default")]
    cordoned.uncordon(by=admin)
    store.client().zadd(store.k_seen(deployment.pk), {str(cordoned.pk): store.now()})
    assert evaluate_all() == 1
    assert _last() == [("queue_unserved", "resolved", "gpu")]


def test_it_leaves_cordoned_agents_out_of_the_silence_rule(
    deployment, channel, old_epoch, make_agent, admin
):
    make_agent("drained", queues=(), silent_for=3600).cordon(by=admin)
    assert evaluate_all() == 0


def test_it_decides_nothing_while_it_cannot_see_heartbeats(
    deployment, channel, make_agent, settings
):
    agent = make_agent("w1", queues=(), silent_for=3600)
    store.client().set(store.EPOCH, store.now() - 3600)
    assert evaluate_all() == 1
    # Redis lost its data just now: the agent may not have heartbeat since. No "resolved".
    store.client().delete(store.k_seen(deployment.pk))
    store.client().set(store.EPOCH, store.now())
    assert evaluate_all() == 0
    assert AlertState.objects.filter(subject=str(agent.pk)).exists()
    # Redis unreachable: evaluation is skipped rather than guessing.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert evaluate_all() == 0
    assert AlertState.objects.count() == 1


def test_it_announces_an_expiring_token_then_its_expiry_without_a_false_resolution(
    deployment, channel
):
    token, _ = AgentToken.objects.issue(deployment, name="eu-cluster", expires_in_days=10)
    AgentToken.objects.issue(deployment, name="forever", expires_in_days=None)
    assert evaluate_all() == 0
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        assert evaluate_all() == 1
        assert _last() == [("token_expiring", "firing", "eu-cluster")]
        assert evaluate_all() == 0
    with time_machine.travel(timezone.now() + timedelta(days=11)):
        assert evaluate_all() == 1
        assert _last() == [("token_expired", "firing", "eu-cluster")]
        token.revoke()
        assert evaluate_all() == 1
        assert _last() == [("token_expired", "resolved", "eu-cluster")]


def test_it_fires_when_refused_addresses_pass_the_hourly_threshold(deployment, channel):
    channel.update(refusals_per_hour=3)
    assert evaluate_all() == 0  # the first look only notes where the counts stand
    for _ in range(3):
        ipranges.record_blocked(deployment.pk, "203.0.113.9")
    assert evaluate_all() == 0  # 3 is not more than 3
    ipranges.record_blocked(deployment.pk, "198.51.100.7")
    assert evaluate_all() == 1
    (event,) = Delivery.objects.get().payload["events"]
    assert event["rule"] == "ip_refusals" and event["state"] == "firing"
    assert "4 requests in the last hour" in event["message"]
    assert "203.0.113.9 (3)" in event["message"]
    assert evaluate_all() == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert evaluate_all() == 1
        assert _last() == [("ip_refusals", "resolved", "refused addresses")]


def test_it_forgets_what_a_switched_off_rule_announced(deployment, channel, old_epoch, make_agent):
    make_agent("w1", queues=(), silent_for=3600)
    assert evaluate_all() == 1
    channel.update(on_silent=False)
    assert AlertState.objects.count() == 0
    assert evaluate_all() == 0


@time_machine.travel("2026-11-29 12:00Z", tick=False)
def test_it_announces_an_agent_on_an_unsupported_version_until_it_upgrades(
    deployment, channel, old_epoch, make_agent
):
    channel.update(on_silent=False, on_queue=False)
    today = timezone.localdate()
    known = [r for r in versions.releases().items if r.released <= today]
    oldest, latest = known[0].version, known[-1].version
    assert versions.support(oldest).state == versions.State.UNSUPPORTED
    agent = make_agent("w-old", version=oldest)
    make_agent("w-new", version=latest)
    make_agent("w-odd", version="not-a-version")

    assert evaluate_all() == 1
    assert _last() == [("agent_version", "firing", "w-old")]
    message = Delivery.objects.get().payload["events"][0]["message"]
    assert f"runs agent {oldest}: unsupported since" in message
    assert message.endswith(f"upgrade to {latest}")
    assert evaluate_all() == 0
    agent.version = latest
    agent.save(update_fields=["version"])
    assert evaluate_all() == 1
    assert _last() == [("agent_version", "resolved", "w-old")]
