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

    def send(token=None, url=None, **overrides):
        return client.post(
            url or heartbeat_url,
            body(**overrides),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token or token_value}"},
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
