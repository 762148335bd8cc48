import pytest
from django.urls import reverse

from agents.models import Agent

pytestmark = pytest.mark.django_db


BODIES = {
    "w1": {"queues": ["default", "gpu"], "slots": {"used": 3, "total": 10}},
    "w2": {"queues": ["default"], "slots": {"used": 5, "total": 20}},
    "w3": {"queues": ["default", "etl"], "slots": {"used": 1, "total": 8}},
    "w4": {"queues": ["etl"], "slots": {"used": 2, "total": 4}},
    "dag": {"component": "dag-processor", "queues": []},
}


@pytest.fixture
def beats(beat, tick):
    def send(seconds: float, names=tuple(BODIES)):
        for name in names:
            assert beat(name=name, **BODIES[name]).status_code == 200
        tick(seconds, names=())

    return send


@pytest.fixture
def fleet(beats, clock, operator):
    """Agents on overlapping queues: healthy, cordoned, silent, and a DAG processor."""
    beats(0)
    Agent.objects.get(name="w3").cordon(by=operator, reason="maintenance")
    clock.shift(30)
    beats(40, names=["w1", "w2", "w3", "dag"])  # w4 has now been silent for 70 s
    return {a.name: a for a in Agent.objects.all()}


def _table_sums(client, deployment) -> dict:
    """Per queue, from the Agents table: (healthy, all, slots used, slots total of healthy)."""
    rows = client.get(reverse("agents", args=[deployment.pk])).context["agents"]
    sums: dict = {}
    for a in rows:
        for q in a.queues:
            s = sums.setdefault(q, [0, 0, 0, 0])
            s[1] += 1
            if a.liveness.status == "healthy":
                s[0] += 1
                s[2] += a.slots_used
                s[3] += a.slots_total
    return {q: tuple(v) for q, v in sums.items()}


def _queue_rows(response) -> dict:
    return {
        r.name: (r.healthy, r.agents, r.slots_used, r.slots_total)
        for r in response.context["queues"].rows
    }


def test_its_numbers_equal_the_agents_tables_sums(viewer_client, deployment, fleet):
    response = viewer_client.get(reverse("agent-queues", args=[deployment.pk]))
    assert response.status_code == 200
    assert _queue_rows(response) == _table_sums(viewer_client, deployment)
    assert _queue_rows(response) == {
        "default": (2, 3, 8, 30),
        "gpu": (1, 1, 3, 10),
        "etl": (0, 2, 0, 0),
    }
    body = response.content.decode()
    assert 'data-no-healthy="etl"' in body
    assert 'data-no-healthy="default"' not in body


def test_the_banner_appears_within_one_poll_of_the_last_healthy_agent_going_silent(
    viewer_client, deployment, fleet, clock
):
    page = viewer_client.get(reverse("agent-queues", args=[deployment.pk]))
    assert 'data-no-healthy="gpu"' not in page.content.decode()
    poll = page.context["poll_url"]
    # Nothing changed: the poll costs a 204.
    assert viewer_client.get(poll).status_code == 204
    # w1, gpu's only healthy agent, stops: no sweep runs, no version changes.
    clock.shift(61)
    response = viewer_client.get(poll)
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f'data-no-healthy="{q}"' in body for q in ("default", "etl", "gpu"))


def test_a_queue_served_in_the_last_day_keeps_its_row_and_banner(
    viewer_client, deployment, fleet, admin, beats, clock
):
    for name in ("w1", "w4"):
        fleet[name].terminate(by=admin)
    clock.shift(3600)
    beats(0, names=["w2", "w3"])
    rows = _queue_rows(viewer_client.get(reverse("agent-queues", args=[deployment.pk])))
    assert rows["gpu"] == (0, 0, 0, 0)
    spark = next(
        r
        for r in viewer_client.get(reverse("agent-queues", args=[deployment.pk]))
        .context["queues"]
        .rows
        if r.name == "default"
    ).spark
    assert len(spark) == 24 and spark[-2] is not None


def test_the_poll_fragment_and_htmx_tab(viewer_client, deployment, fleet):
    url = reverse("agent-queues", args=[deployment.pk])
    tab = viewer_client.get(url, headers={"HX-Request": "true"})
    assert tab.content.decode().lstrip().startswith('<section id="remote-agents"')
    table = reverse("agent-queues-table", args=[deployment.pk])
    for query in ("", "?v=nonsense", "?until=nan", "?until=1e400&v=1.1", "?v=" + "9" * 5000):
        response = viewer_client.get(table + query)
        assert response.status_code == 200, query
        assert response.content.decode().lstrip().startswith('<div id="queue-table"')


def test_access(client, stranger_client, viewer_client, deployment):
    for name in ("agent-queues", "agent-queues-table"):
        url = reverse(name, args=[deployment.pk])
        assert client.get(url).status_code == 302
        assert stranger_client.get(url).status_code == 404
        assert viewer_client.post(url).status_code == 405
