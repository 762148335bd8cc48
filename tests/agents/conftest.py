from datetime import UTC, datetime

import pytest
from django.urls import reverse

from agents import store
from tokens.models import AgentToken


@pytest.fixture
def token_value(deployment):
    _, value = AgentToken.objects.issue(deployment, name="fleet", expires_in_days=None)
    return value


@pytest.fixture
def heartbeat_url(deployment):
    return reverse("agent-heartbeat", kwargs={"deployment_id": deployment.pk})


def body(**overrides):
    data = {
        "name": "worker-0",
        "component": "worker",
        "version": "1.3.2",
        "queues": ["default"],
        "slots": {"used": 1, "total": 20},
        "hostname": "worker-0.agents.svc",
    }
    data.update(overrides)
    return data


@pytest.fixture
def beat(client, heartbeat_url, token_value):
    """Send one heartbeat; returns the response."""

    def send(token=None, url=None, ip="127.0.0.1", **overrides):
        return client.post(
            url or heartbeat_url,
            body(**overrides),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token or token_value}"},
            REMOTE_ADDR=ip,
        )

    return send


@pytest.fixture
def age_heartbeat(deployment):
    """Pretend an agent's last heartbeat happened `seconds` ago."""

    def age(agent, seconds):
        store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - seconds})

    return age


@pytest.fixture
def old_epoch():
    """Redis has held our data for a long time (not just restarted)."""
    store.client().set(store.EPOCH, store.now() - 3600)


@pytest.fixture
def clock(time_machine):
    """The clock, stopped at a whole second; tests move it with `clock.shift(seconds)`."""
    time_machine.move_to(datetime.now(UTC).replace(microsecond=0), tick=False)
    return time_machine


HOURS_UP = 2


@pytest.fixture
def fleet_up_for_hours(clock, beat):
    """Agents that registered two hours ago and have heartbeat every 15 s since, with Celery
    stopped: Redis has their latest heartbeats (each within the last 15 s, at different
    phases), while their database checkpoint is still their registration, far older than
    AGENT_CHECKPOINT_SECONDS. Takes {name: source address}; returns {name: Agent}."""

    def make(addresses: dict[str, str]) -> dict:
        clock.shift(-HOURS_UP * 3600)
        for name, ip in addresses.items():
            assert beat(name=name, ip=ip).status_code == 200
        clock.shift(HOURS_UP * 3600 - 15)
        for name, ip in addresses.items():
            clock.shift(15 / len(addresses))
            assert beat(name=name, ip=ip).status_code == 200
        from agents.models import Agent

        return {a.name: a for a in Agent.objects.filter(name__in=addresses)}

    return make
