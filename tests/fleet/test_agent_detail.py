import pytest
from django.urls import reverse

from agents.models import Agent
from fleet.models import AgentRollup, QueueRollup

pytestmark = pytest.mark.django_db


def _url(agent):
    return reverse("agent-detail", args=[agent.deployment_id, agent.pk])


def _cordon(client, agent, reason=""):
    url = reverse("agent-cordon", args=[agent.deployment_id, agent.pk])
    assert client.post(url, {"reason": reason}).status_code in (204, 302)


@pytest.fixture
def a_day(tick, operator_client):
    """A simulated day: the agent works, flaps twice, is cordoned and uncordoned."""
    tick(0, slots={"used": 2, "total": 20})
    agent = Agent.objects.get(name="worker-0")
    minute = 60
    for i in range(1, 24 * 6 + 1):  # every 10 minutes for 24 hours
        if i in (30, 80):  # two flaps: two minutes of silence, then heartbeats again
            tick(2 * minute, silent=True)
            tick(8 * minute, slots={"used": 1, "total": 20})
            continue
        if i == 100:
            _cordon(operator_client, agent, "node pool upgrade")
        if i == 110:
            url = reverse("agent-uncordon", args=[agent.deployment_id, agent.pk])
            assert operator_client.post(url).status_code in (204, 302)
        tick(10 * minute, slots={"used": 1 + i % 4, "total": 20}, running_tasks=i % 3 + 1)
    return agent


def test_it_lists_exactly_the_days_transitions_with_causes(viewer_client, a_day):
    response = viewer_client.get(_url(a_day))
    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert [t.action for t in timeline] == [
        "agent.register",
        "agent.unhealthy",
        "agent.healthy",
        "agent.unhealthy",
        "agent.healthy",
        "agent.cordon",
        "agent.uncordon",
    ]
    assert [t.title for t in timeline][1:5] == ["Heartbeat lost", "Heartbeat resumed"] * 2
    assert "No heartbeat for 60 s" in timeline[1].cause
    assert timeline[5].cause == "by oscar: “node pool upgrade”"
    assert timeline[6].cause == "by oscar"
    body = response.content.decode()
    assert body.count("data-transition=") == 7
    assert "node pool upgrade" in body


def test_its_chart_has_a_point_for_every_hour_of_the_day(viewer_client, a_day):
    chart = viewer_client.get(_url(a_day)).context["chart"]
    # 24 finished hours plus the hour the day ended in, still filling.
    assert chart["points"] == 25
    assert all(v is not None and 1 <= v <= 4 for v in chart["used"][-25:])
    assert set(chart["total"][-25:]) == {20}
    assert all(v is not None and v >= 1 for v in chart["running"][-25:])
    assert 'data-uplot="agent-chart-data"' in viewer_client.get(_url(a_day)).content.decode()


def test_history_is_one_row_per_agent_hour_not_per_heartbeat(a_day):
    assert AgentRollup.objects.filter(agent=a_day).count() == 24
    assert QueueRollup.objects.filter(queue="default").count() == 24
    first = AgentRollup.objects.filter(agent=a_day).order_by("bucket").first()
    assert first.samples == 6 and first.healthy_samples == 6


def test_it_shows_identity_versions_and_audit_events(viewer_client, tick, beat):
    tick(0, version="1.3.1")
    tick(3600, version="1.6.0")
    tick(3600, version="1.6.0")
    agent = Agent.objects.get()
    response = viewer_client.get(_url(agent))
    body = response.content.decode()
    for text in ("worker-0", "Worker", "worker-0.agents.svc", "127.0.0.1", "fleet"):
        assert text in body
    assert [v["version"] for v in response.context["versions"]] == ["1.3.1", "1.6.0"]
    assert 'data-event="agent.register"' in body
    assert response.context["support"].state == "current"


def test_a_drained_agent_is_recorded_once(viewer_client, tick, operator_client):
    tick(0, slots={"used": 3, "total": 20})
    agent = Agent.objects.get()
    _cordon(operator_client, agent)
    tick(60, slots={"used": 0, "total": 20})
    tick(60, slots={"used": 0, "total": 20})
    actions = [t.action for t in viewer_client.get(_url(agent)).context["timeline"]]
    assert actions == ["agent.register", "agent.cordon", "agent.drained"]


def test_a_deleted_agent_keeps_its_page(viewer_client, admin, tick):
    tick(0)
    agent = Agent.objects.get()
    agent.terminate(by=admin)
    response = viewer_client.get(_url(agent))
    assert response.context["status"] == "terminated"
    assert response.context["timeline"][-1].cause == "by alice"


def test_access(client, stranger_client, viewer_client, tick, other_deployment):
    tick(0)
    agent = Agent.objects.get()
    assert client.get(_url(agent)).status_code == 302
    assert stranger_client.get(_url(agent)).status_code == 404
    assert viewer_client.post(_url(agent)).status_code == 405
    elsewhere = reverse("agent-detail", args=[other_deployment.pk, agent.pk])
    assert viewer_client.get(elsewhere).status_code == 404
    assert viewer_client.get(_url(agent), headers={"HX-Request": "true"}).status_code == 200
