"""The whole loop through real HTTP, as a script would run it: create an agent token through the
management API, start the agent client with it, see the agent Healthy, cordon it, and see the
cordon in the agent's next heartbeat response."""

import threading
import time

import httpx
import pytest

from agents.client import AgentSpec, run_fleet
from deployments.models import Role
from tests.api.conftest import HEARTBEAT, api_url

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_it_creates_a_token_runs_an_agent_and_cordons_it(
    live_server, deployment, admin, api_token, monkeypatch
):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _, api_value = api_token(admin, Role.ADMIN)
    api = httpx.Client(
        base_url=live_server.url + api_url(deployment),
        headers={"Authorization": f"Bearer {api_value}"},
        trust_env=False,
        timeout=10,
    )

    created = api.post("/agent-tokens", json={"name": "e2e", "tokenExpiryPeriodInDays": 1})
    assert created.status_code == 200, created.text
    agent_token = created.json()["token"]

    agent_api = live_server.url + deployment.agent_api_path
    stop = threading.Event()
    spec = AgentSpec(name="e2e-worker-0", component="worker")
    fleet = threading.Thread(target=run_fleet, args=(agent_api, agent_token, [spec], stop))
    fleet.start()
    try:

        def healthy():
            agents = api.get("/agents", params={"search": "e2e-worker"}).json()["agents"]
            return agents if agents and agents[0]["status"] == "HEALTHY" else None

        [agent] = _wait_for(healthy)
        assert agent["name"] == "e2e-worker-0"
        assert agent["isCordoned"] is False

        cordoned = api.post(
            f"/agents/{agent['id']}/action", json={"action": "CORDON", "reason": "e2e drain"}
        )
        assert cordoned.status_code == 200, cordoned.text
        assert cordoned.json()["status"] == "CORDONED"

        beat = httpx.post(
            agent_api + "heartbeat",
            json={**HEARTBEAT, "name": "e2e-worker-0"},
            headers={"Authorization": f"Bearer {agent_token}"},
            trust_env=False,
        )
        assert beat.status_code == 200, beat.text
        assert beat.json()["cordoned"] is True
        assert beat.json()["cordon_reason"] == "e2e drain"
        assert beat.json()["agent_id"] == agent["id"]
    finally:
        stop.set()
        fleet.join(timeout=20)
        api.close()
    assert not fleet.is_alive()
