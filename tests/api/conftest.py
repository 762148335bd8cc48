import pytest
from django.test import Client
from django.urls import reverse

from agents import store
from api.models import ApiToken
from deployments.models import Role
from tokens.models import AgentToken

HEARTBEAT = {
    "component": "worker",
    "version": "1.3.2",
    "queues": ["default"],
    "slots": {"used": 0, "total": 4},
    "hostname": "h",
}


def api_url(deployment, suffix: str = "") -> str:
    org = deployment.workspace.organization_id
    return f"/api/v1/organizations/{org}/deployments/{deployment.pk}{suffix}"


@pytest.fixture
def url(deployment):
    return lambda suffix="": api_url(deployment, suffix)


@pytest.fixture
def anonymous():
    return Client()


@pytest.fixture
def agent_token_value(deployment):
    _, value = AgentToken.objects.issue(deployment, name="fleet", expires_in_days=None)
    return value


@pytest.fixture
def heartbeat(agent_token_value, deployment):
    """Send one heartbeat through the agent API, as an agent would; returns the JSON answer."""

    def send(name="worker-0", token=None, **overrides):
        response = Client().post(
            reverse("agent-heartbeat", kwargs={"deployment_id": deployment.pk}),
            {**HEARTBEAT, "name": name, **overrides},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token or agent_token_value}"},
        )
        assert response.status_code == 200, response.content
        return response.json()

    return send


@pytest.fixture
def agent(heartbeat):
    from agents.models import Agent

    return Agent.objects.get(pk=heartbeat()["agent_id"])


@pytest.fixture
def old_epoch():
    """Redis has held our data for a long time (not just restarted)."""
    store.client().set(store.EPOCH, store.now() - 3600)


@pytest.fixture
def api_token(deployment):
    """An API token for a user, on the deployment unless a workspace is given; returns a Client
    that sends it."""

    def make(user, role=Role.ADMIN, **scope):
        scope = scope or {"deployment": deployment}
        _, value = ApiToken.objects.issue(
            user, name=f"t{ApiToken.objects.count()}", role=role, **scope
        )
        return Client(headers={"Authorization": f"Bearer {value}"}), value

    return make
