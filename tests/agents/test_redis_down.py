"""The heartbeat store goes away: each test starts its own Redis server and stops it."""

import tempfile

import pytest
from django.urls import reverse

from agents.models import Agent, Health
from astro_ui import embedded_redis
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_redis(settings):
    folder = tempfile.mkdtemp(prefix="ra-", dir="/tmp")
    url = f"unix://{folder}/redis.sock"
    process = embedded_redis.ensure(url)
    settings.REDIS_URL = url
    yield process
    embedded_redis.stop(process)


def test_the_heartbeat_api_answers_503_with_retry_after(own_redis, beat):
    assert beat().status_code == 200
    embedded_redis.stop(own_redis)
    response = beat()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == "heartbeat_store_unavailable"


def test_the_page_says_statuses_unknown_instead_of_unhealthy(
    own_redis, beat, viewer_client, deployment
):
    beat()
    embedded_redis.stop(own_redis)
    response = viewer_client.get(reverse("agents", args=[deployment.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Heartbeat store unavailable — statuses unknown" in body
    assert 'data-status="unknown"' in body
    assert 'data-status="unhealthy"' not in body


def test_the_sweep_decides_nothing_from_data_it_could_not_read(own_redis, beat):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    embedded_redis.stop(own_redis)
    assert Agent.objects.sweep() == 0
    agent.refresh_from_db()
    assert agent.health == Health.HEALTHY
    assert not AuditEvent.objects.filter(action="agent.unhealthy").exists()


def test_cordoning_is_saved_while_redis_is_down(
    own_redis, beat, admin, django_capture_on_commit_callbacks
):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    embedded_redis.stop(own_redis)
    with django_capture_on_commit_callbacks(execute=True):
        assert agent.cordon(by=admin, reason="maintenance")
    agent.refresh_from_db()
    assert agent.is_cordoned


def test_a_cordon_made_while_redis_was_away_reaches_the_agent_after_the_sweep(
    beat, admin, redis_client, django_capture_on_commit_callbacks, monkeypatch
):
    """Redis kept its data but missed the cordon: the sweep puts the cache right."""
    from agents import store

    agent = Agent.objects.get(pk=beat().json()["agent_id"])

    def unreachable(*args, **kwargs):
        raise store.redis.ConnectionError("simulated network partition")

    with monkeypatch.context() as patch:
        patch.setattr(store, "remember", unreachable)
        with django_capture_on_commit_callbacks(execute=True):
            agent.cordon(by=admin, reason="maintenance")
    assert beat().json()["cordoned"] is False  # the cache is stale
    Agent.objects.sweep()
    assert beat().json()["cordoned"] is True


def test_with_redis_down_nothing_guesses_health(
    own_redis, beat, viewer_client, admin_client, deployment
):
    from tests.api.conftest import api_url

    beat()  # from 127.0.0.1
    embedded_redis.stop(own_redis)
    agents = api_url(deployment, "/agents")
    response = viewer_client.get(agents, {"status": "HEALTHY"})
    assert response.status_code == 503
    assert "cannot be filtered by health" in response.json()["message"]
    [unknown] = viewer_client.get(agents, {"status": "UNKNOWN"}).json()["agents"]
    assert unknown["status"] == "UNKNOWN"
    counts = viewer_client.get(reverse("deployment", args=[deployment.pk])).context["counts"]
    assert (counts.healthy, counts.unknown, counts.total) == (None, 1, 1)
    poll = viewer_client.get(reverse("agents", args=[deployment.pk])).context["poll_url"]
    assert poll.endswith("?v=")
    response = viewer_client.get(poll, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Push-Url" not in response  # a poll, not a filter

    # Who is connected cannot be known, so the guards still ask before a lock-out.
    url = reverse("ip-ranges", args=[deployment.pk])
    body = admin_client.post(url, {"ranges": ["10.0.0.0/8"], "preview": "1"}).content.decode()
    assert "who is connected is unknown: this change would block 1 of 1 agent" in body
    body = admin_client.post(url, {"ranges": ["10.0.0.0/8"], "save": "1"}).content.decode()
    assert "Tick the confirmation below" in body
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []
