import pytest

from agents import store
from agents.models import Agent
from astro_ui import embedded_redis
from audit.models import AuditEvent
from tests.agents.test_redis_down import own_redis  # noqa: F401  (a fixture)
from tests.api.contract import AGENT, schema_problems, vendor_problems
from tests.api.test_agent_tokens import _assert_error

pytestmark = pytest.mark.django_db

AGENT_FIELDS = {
    "id",
    "name",
    "status",
    "isCordoned",
    "lastHeartbeatAt",
    "version",
    "queues",
    "slots",
    "capabilities",
    "component",
    "hostname",
    "createdAt",
}


def _act(client, url, agent, **body):
    return client.post(url(f"/agents/{agent.pk}/action"), body, content_type="application/json")


def _age(deployment, agent, seconds):
    store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - seconds})


def test_it_shows_a_heartbeating_agent_as_healthy(viewer_client, url, agent):
    response = viewer_client.get(url(f"/agents/{agent.pk}"))
    assert response.status_code == 200
    data = response.json()
    # No statusReason, cordoningReason or deletedAt: left out, not null, when there is none.
    assert set(data) == AGENT_FIELDS
    assert data["status"] == "HEALTHY"
    assert (data["component"], data["capabilities"]) == ("WORKER", ["EXECUTE_TASKS"])
    assert data["slots"] == {"used": 0, "total": 4}
    assert data["queues"] == ["default"]
    assert data["isCordoned"] is False
    assert vendor_problems(data, AGENT) == []
    assert schema_problems(response, "getAgent") == []


def test_each_component_has_its_capability(viewer_client, url, heartbeat):
    heartbeat("t", component="triggerer")
    heartbeat("d", component="dag-processor")
    response = viewer_client.get(url("/agents?sorts=name:asc"))
    agents = response.json()["agents"]
    assert [a["capabilities"] for a in agents] == [["PROCESS_DAGS"], ["RUN_TRIGGERS"]]
    assert schema_problems(response, "listAgents") == []


def test_a_silent_agent_is_unhealthy_even_before_the_sweep(
    viewer_client, url, agent, deployment, old_epoch
):
    _age(deployment, agent, 120)
    data = viewer_client.get(url(f"/agents/{agent.pk}")).json()
    assert data["status"] == "UNHEALTHY"
    assert "No heartbeat since" in data["statusReason"]


def test_it_lists_with_filters_search_and_paging(
    viewer_client, url, heartbeat, deployment, old_epoch
):
    for name in ["w-1", "w-2", "w-3"]:
        heartbeat(name)
    heartbeat("trig", component="triggerer")
    data = viewer_client.get(url("/agents?sorts=name:asc&limit=2&offset=1")).json()
    assert data["totalCount"] == 4
    assert [a["name"] for a in data["agents"]] == ["w-1", "w-2"]
    data = viewer_client.get(url("/agents?component=TRIGGERER")).json()
    assert [a["name"] for a in data["agents"]] == ["trig"]
    data = viewer_client.get(url("/agents?search=W-")).json()
    assert data["totalCount"] == 3
    Agent.objects.get(name="w-2").cordon(by=None, reason="upgrade")
    data = viewer_client.get(url("/agents?status=CORDONED")).json()
    assert [(a["name"], a["status"]) for a in data["agents"]] == [("w-2", "CORDONED")]
    data = viewer_client.get(url("/agents?status=HEALTHY&sorts=name:desc")).json()
    assert [a["name"] for a in data["agents"]] == ["w-3", "w-1", "trig"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=healthy", "status"),
        ("status=", "status"),
        ("search=", "search"),
        ("component=", "component"),
        ("component=worker", "component"),
        ("sorts=health:asc", "sorts.0"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
    ],
)
def test_it_rejects_bad_list_queries(viewer_client, url, query, field):
    _assert_error(viewer_client.get(url(f"/agents?{query}")), 400, field)


def test_it_cordons_and_uncordons_as_an_operator(operator_client, url, agent, operator):
    response = _act(operator_client, url, agent, action="CORDON", reason="node upgrade")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["isCordoned"], data["cordoningReason"]) == (
        "CORDONED",
        True,
        "node upgrade",
    )
    assert data["statusReason"].startswith("Cordoned")
    assert vendor_problems(data, AGENT) == []
    assert schema_problems(response, "actOnAgent") == []
    agent.refresh_from_db()
    assert agent.cordoned_by == operator
    event = AuditEvent.objects.get(action="agent.cordon")
    assert event.details == {"reason": "node upgrade"}
    data = _act(operator_client, url, agent, action="UNCORDON").json()
    assert (data["status"], data["isCordoned"]) == ("HEALTHY", False)
    assert AuditEvent.objects.filter(action="agent.uncordon").count() == 1


def test_cordoning_again_changes_only_a_new_reason(operator_client, url, agent):
    _act(operator_client, url, agent, action="CORDON", reason="first")
    for reason in ("first", ""):  # the same reason, or none: nothing changes
        data = _act(operator_client, url, agent, action="CORDON", reason=reason).json()
        assert data["cordoningReason"] == "first"
    assert AuditEvent.objects.filter(action="agent.cordon").count() == 1
    data = _act(operator_client, url, agent, action="CORDON", reason="second").json()
    assert data["cordoningReason"] == "second"
    assert AuditEvent.objects.filter(action="agent.cordon").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "DRAIN"}, "action"),
        ({"action": "cordon"}, "action"),
        ({}, "action"),
        ({"action": "CORDON", "reason": "x" * 1025}, "reason"),
        ({"action": "CORDON", "reason": 42}, "reason"),
        ({"action": "CORDON", "reason": None}, "reason"),
    ],
)
def test_it_rejects_a_bad_action(operator_client, url, agent, body, field):
    response = operator_client.post(
        url(f"/agents/{agent.pk}/action"), body, content_type="application/json"
    )
    _assert_error(response, 400, field)
    agent.refresh_from_db()
    assert not agent.is_cordoned


def test_a_viewer_cannot_cordon(viewer_client, url, agent):
    _assert_error(_act(viewer_client, url, agent, action="CORDON"), 403)


def test_an_operator_cannot_delete(operator_client, url, agent):
    _assert_error(operator_client.delete(url(f"/agents/{agent.pk}")), 403)
    agent.refresh_from_db()
    assert agent.deleted_at is None


def test_an_admin_deletes_and_the_agent_reads_as_terminated(admin_client, url, agent):
    response = admin_client.delete(url(f"/agents/{agent.pk}"))
    assert response.status_code == 204
    shown = admin_client.get(url(f"/agents/{agent.pk}"))
    data = shown.json()
    assert (data["status"], data["statusReason"]) == ("TERMINATED", "Deleted.")
    assert data["deletedAt"] is not None
    assert vendor_problems(data, AGENT) == []
    assert schema_problems(shown, "getAgent") == []
    assert admin_client.get(url("/agents")).json()["totalCount"] == 0
    listed = admin_client.get(url("/agents?status=TERMINATED"))
    assert [(a["id"], a["status"]) for a in listed.json()["agents"]] == [
        (str(agent.pk), "TERMINATED")
    ]
    assert schema_problems(listed, "listAgents") == []
    _assert_error(admin_client.delete(url(f"/agents/{agent.pk}")), 404)
    _assert_error(_act(admin_client, url, agent, action="CORDON"), 404)


def test_a_stranger_gets_404(stranger_client, url, agent):
    _assert_error(stranger_client.get(url("/agents")), 404)
    _assert_error(stranger_client.get(url(f"/agents/{agent.pk}")), 404)
    _assert_error(_act(stranger_client, url, agent, action="CORDON"), 404)
    _assert_error(stranger_client.delete(url(f"/agents/{agent.pk}")), 404)


def test_an_agent_of_another_deployment_is_404(admin_client, url, other_deployment):
    other = Agent.objects.create(deployment=other_deployment, name="theirs", component="worker")
    _assert_error(admin_client.get(url(f"/agents/{other.pk}")), 404)
    _assert_error(_act(admin_client, url, other, action="CORDON"), 404)


def test_anonymous_gets_401(anonymous, url, agent):
    _assert_error(anonymous.get(url("/agents")), 401)
    _assert_error(_act(anonymous, url, agent, action="CORDON"), 401)


def test_statuses_are_unknown_when_redis_is_down(own_redis, viewer_client, url, heartbeat):  # noqa: F811
    heartbeat()
    embedded_redis.stop(own_redis)
    response = viewer_client.get(url("/agents"))
    assert response.status_code == 200
    [data] = response.json()["agents"]
    assert data["status"] == "UNKNOWN"
    assert "unavailable" in data["statusReason"]
    assert schema_problems(response, "listAgents") == []
