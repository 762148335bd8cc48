import json

import pytest

from agents.models import Agent
from audit.models import AuditEvent
from tests.agents.conftest import body

pytestmark = pytest.mark.django_db


def test_it_registers_an_agent_on_its_first_heartbeat(beat, deployment):
    response = beat()
    assert response.status_code == 200
    data = response.json()
    agent = Agent.objects.get(deployment=deployment, name="worker-0")
    assert data["agent_id"] == str(agent.pk)
    assert data["status"] == "healthy"
    assert data["cordoned"] is False
    assert data["heartbeat_interval_seconds"] == 15
    assert data["server_time"].endswith("Z")
    assert agent.component == "worker"
    assert agent.last_ip == "127.0.0.1"
    event = AuditEvent.objects.get(action="agent.register")
    assert (event.actor_type, event.actor_label) == ("agent", "worker-0")


def test_a_steady_state_heartbeat_runs_no_sql(beat, django_assert_num_queries):
    assert beat().status_code == 200
    with django_assert_num_queries(0):
        response = beat(slots={"used": 5, "total": 20})
    assert response.status_code == 200


def test_the_interval_comes_from_settings(beat, settings):
    settings.HEARTBEAT_INTERVAL_SECONDS = 7
    assert beat().json()["heartbeat_interval_seconds"] == 7


def test_the_next_heartbeat_says_cordoned_with_the_reason(
    beat, admin, django_capture_on_commit_callbacks
):
    first = beat().json()
    agent = Agent.objects.get(pk=first["agent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        agent.cordon(by=admin, reason="node pool upgrade")
    data = beat().json()
    assert (data["cordoned"], data["status"]) == (True, "cordoned")
    assert data["cordon_reason"] == "node pool upgrade"
    with django_capture_on_commit_callbacks(execute=True):
        agent.uncordon(by=admin)
    assert beat().json()["cordoned"] is False


def test_a_deleted_agent_that_heartbeats_again_registers_anew(
    beat, admin, django_capture_on_commit_callbacks
):
    first = beat().json()["agent_id"]
    with django_capture_on_commit_callbacks(execute=True):
        Agent.objects.get(pk=first).terminate(by=admin)
    second = beat().json()["agent_id"]
    assert second != first
    assert Agent.objects.live().get().pk.hex == second.replace("-", "")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "bad name!"}, "name"),
        ({"name": "x" * 254}, "name"),
        ({"component": "scheduler"}, "component"),
        ({"version": "latest"}, "version"),
        ({"queues": "default"}, "queues"),
        ({"slots": {"used": 5, "total": 2}}, "slots"),
        ({"slots": {"used": -1, "total": 2}}, "slots"),
        ({"slots": "many"}, "slots"),
    ],
)
def test_it_rejects_a_bad_body_with_field_errors(beat, overrides, field):
    response = beat(**overrides)
    assert response.status_code == 400
    data = response.json()
    assert data["error"] == "invalid_body"
    assert field in data["fields"]
    assert not Agent.objects.exists()


def test_a_missing_field_is_named(client, heartbeat_url, token_value):
    data = body()
    del data["component"]
    response = client.post(
        heartbeat_url,
        data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_value}"},
    )
    assert response.status_code == 400
    assert "component" in response.json()["fields"]


def test_malformed_json_is_a_400(client, heartbeat_url, token_value):
    response = client.post(
        heartbeat_url,
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_value}"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_an_oversized_body_is_a_413(client, heartbeat_url, token_value):
    big = json.dumps(body(hostname="h" * 70_000))
    response = client.post(
        heartbeat_url,
        big,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_value}"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_no_token_is_a_401_that_says_how_to_send_one(client, heartbeat_url):
    response = client.post(heartbeat_url, body(), content_type="application/json")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert "Bearer" in response.json()["detail"]


def test_a_mistyped_token_is_a_401(beat, token_value):
    response = beat(token=token_value[:-1] + ("A" if token_value[-1] != "A" else "B"))
    assert response.status_code == 401
    assert response.json()["error"] == "token_malformed"


def test_a_revoked_token_fails_on_the_very_next_heartbeat(
    beat, deployment, django_capture_on_commit_callbacks
):
    assert beat().status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        deployment.agent_tokens.get().revoke()
    response = beat()
    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"


def test_another_deployments_token_is_a_403_naming_both(beat, other_deployment, deployment):
    from django.urls import reverse

    url = reverse("agent-heartbeat", kwargs={"deployment_id": other_deployment.pk})
    response = beat(url=url)
    assert response.status_code == 403
    data = response.json()
    assert data["error"] == "token_wrong_deployment"
    assert str(deployment.pk) in data["detail"] and str(other_deployment.pk) in data["detail"]


def test_get_is_not_allowed(client, heartbeat_url, token_value):
    response = client.get(heartbeat_url, headers={"Authorization": f"Bearer {token_value}"})
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_a_deployment_with_remote_execution_off_refuses_agents(
    beat, deployment, admin, django_capture_on_commit_callbacks
):
    assert beat().status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        deployment.update_general(remote_execution=False, by=admin)
    response = beat()
    assert response.status_code == 403
    data = response.json()
    assert data["error"] == "remote_execution_disabled"
    assert str(deployment.pk) in data["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        deployment.update_general(remote_execution=True, by=admin)
    assert beat().status_code == 200


def test_the_switch_is_read_from_the_database_when_not_cached(beat, deployment, redis_client):
    from astro_ui import keys

    deployment.remote_execution = False
    deployment.save()
    redis_client.delete(keys.conf(deployment.pk))
    assert beat().status_code == 403
