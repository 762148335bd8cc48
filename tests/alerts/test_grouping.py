"""No storm: a whole fleet falling silent in one evaluation is one message per channel."""

import json

import pytest

from agents import store
from agents.models import Agent
from alerts.evaluate import evaluate_all
from alerts.messages import MAX_EVENTS
from alerts.models import AlertState, Kind

from .conftest import wait_for_deliveries

pytestmark = pytest.mark.django_db(transaction=True)
FLEET = 1000


def _fleet(deployment, seconds_ago: float) -> list[Agent]:
    agents = Agent.objects.bulk_create(
        Agent(deployment=deployment, name=f"worker-{i:04}", component="worker", queues=[])
        for i in range(FLEET)
    )
    _beat_all(deployment, agents, seconds_ago)
    return agents


def _beat_all(deployment, agents, seconds_ago: float) -> None:
    at = store.now() - seconds_ago
    store.client().zadd(store.k_seen(deployment.pk), {str(a.pk): at for a in agents})


def test_it_sends_one_message_per_channel_when_a_thousand_agents_go_silent_together(
    deployment, receiver, worker, old_epoch, make_channel
):
    make_channel(Kind.WEBHOOK, url=receiver.url + "/hook")
    make_channel(Kind.SLACK, url=receiver.url + "/slack")
    agents = _fleet(deployment, seconds_ago=10 * 60)

    assert evaluate_all() == 2
    wait_for_deliveries(2)
    assert evaluate_all() == 0
    assert len(receiver.requests) == 2
    (hook,) = receiver.json("/hook")
    assert hook["counts"] == {"firing": FLEET, "resolved": 0}
    assert hook["summary"].endswith("1,000 agents silent")
    assert len(hook["events"]) == MAX_EVENTS and hook["omittedEvents"] == FLEET - MAX_EVENTS
    (slack,) = receiver.json("/slack")
    assert "… and 980 more" in slack["text"]
    assert AlertState.objects.count() == 2 * FLEET

    _beat_all(deployment, agents, seconds_ago=0)
    assert evaluate_all() == 2
    wait_for_deliveries(4)
    assert len(receiver.requests) == 4
    back = receiver.json("/hook")[1]
    assert back["counts"] == {"firing": 0, "resolved": FLEET}
    assert AlertState.objects.count() == 0
    assert json.loads(receiver.on("/slack")[1]["body"])["text"].count("is no longer silent") == 20
