import datetime as dt
import re

import pytest
from django.urls import reverse

from agents.models import Agent
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(deployment):
    def make(name, queues, version):
        return Agent.objects.create(
            deployment=deployment, name=name, component="worker", queues=queues, version=version
        )

    return {
        "a": make("a", ["default"], "1.3.2"),
        "b": make("b", ["default", "gpu"], "1.2.0"),
        "c": make("c", ["gpu"], "1.2.0"),
    }


@pytest.fixture
def bulk_url(deployment):
    return reverse("agents-bulk", args=[deployment.pk])


def _cordoned():
    return sorted(Agent.objects.filter(cordoned_at__isnull=False).values_list("name", flat=True))


def test_it_cordons_every_agent_on_a_queue_with_one_reason(operator_client, bulk_url, fleet):
    response = operator_client.post(
        bulk_url, {"action": "cordon", "queue": "gpu", "reason": "GPU driver update"}
    )
    assert response.status_code == 302
    assert _cordoned() == ["b", "c"]
    events = AuditEvent.objects.filter(action="agent.cordon")
    assert events.count() == 2
    assert {e.details["reason"] for e in events} == {"GPU driver update"}


def test_it_cordons_a_version_for_a_day(operator_client, bulk_url, fleet):
    operator_client.post(bulk_url, {"action": "cordon", "version": "1.2.0", "duration": "1d"})
    assert _cordoned() == ["b", "c"]
    until = Agent.objects.get(name="b").cordoned_until
    assert dt.timedelta(hours=23) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)


def test_it_uncordons_the_ticked_agents(operator_client, bulk_url, fleet, operator):
    for agent in fleet.values():
        agent.cordon(by=operator)
    operator_client.post(bulk_url, {"action": "uncordon", "agents": [fleet["a"].pk, fleet["c"].pk]})
    assert _cordoned() == ["b"]


def test_the_page_offers_every_live_agent_to_tick(operator_client, bulk_url, fleet):
    page = operator_client.get(bulk_url, {"agents": [fleet["a"].pk]}).content.decode()
    boxes = re.findall(
        r'<input type="checkbox" name="agents" value="([^"]+)"[^>]*?( checked)?>', page
    )
    assert {pk for pk, _ in boxes} == {str(a.pk) for a in fleet.values()}
    assert [pk for pk, ticked in boxes if ticked] == [str(fleet["a"].pk)]


@pytest.mark.parametrize(
    "data",
    [
        {"action": "cordon"},
        {"action": "cordon", "queue": "gpu", "version": "1.2.0"},
        {"action": "cordon", "queue": "nope"},
        {"action": "explode", "queue": "gpu"},
        {"action": "cordon", "queue": "gpu", "duration": "date", "until": "2001-01-01T00:00"},
    ],
)
def test_it_refuses_an_unclear_choice(operator_client, bulk_url, fleet, data):
    assert operator_client.post(bulk_url, data).status_code == 400
    assert _cordoned() == []


def test_it_ignores_agents_of_another_deployment(operator_client, bulk_url, other_deployment):
    other = Agent.objects.create(deployment=other_deployment, name="x", component="worker")
    response = operator_client.post(bulk_url, {"action": "cordon", "agents": [other.pk]})
    assert response.status_code == 400 and _cordoned() == []


def test_viewers_cannot_and_strangers_do_not_see(viewer_client, stranger_client, bulk_url):
    assert viewer_client.post(bulk_url, {"action": "cordon"}).status_code == 403
    assert stranger_client.get(bulk_url).status_code == 404
