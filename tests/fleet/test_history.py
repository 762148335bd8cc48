from datetime import timedelta

import pytest
from django.urls import reverse

from agents.models import Agent
from fleet import history
from fleet.models import AgentRollup, QueueRollup
from fleet.tasks import prune_fleet_history, sample_fleet_history

pytestmark = pytest.mark.django_db


def test_heartbeats_write_no_history_until_the_hour_is_over(tick, beat, clock):
    tick(0)
    for _ in range(50):
        clock.shift(15)
        beat()
        history.sample()
    assert AgentRollup.objects.count() == 0
    assert QueueRollup.objects.count() == 0
    tick(3600)
    assert AgentRollup.objects.count() == 1


def test_a_bucket_written_twice_keeps_one_row(tick):
    tick(0)
    agent = Agent.objects.get()
    bucket = history.bucket_of(history.store.now())
    agents, queues = history.accumulated(agent.deployment_id, bucket)
    from fleet.models import write_bucket

    write_bucket(agent.deployment_id, bucket, agents, queues)
    write_bucket(agent.deployment_id, bucket, agents, queues)
    assert AgentRollup.objects.count() == 1 and QueueRollup.objects.count() == 1


def test_it_keeps_the_retention_window_and_prunes_the_rest(tick, clock, settings):
    settings.HISTORY_RETENTION_DAYS = 2
    for _ in range(4 * 24):
        tick(3600)
    assert AgentRollup.objects.count() == 4 * 24 - 1  # the last hour is still filling
    assert prune_fleet_history() == 2 * 47
    assert AgentRollup.objects.count() == QueueRollup.objects.count() == 48
    oldest = AgentRollup.objects.order_by("bucket").first().bucket
    assert history.store.now() - oldest.timestamp() == timedelta(days=2).total_seconds()


def test_it_can_be_switched_off(tick, settings, clock):
    settings.HISTORY_ENABLED = False
    tick(0)
    clock.shift(7200)
    assert sample_fleet_history() == 0


def test_a_redis_outage_skips_the_sample(tick, monkeypatch):
    tick(0)

    def down(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(history.store, "client", down)
    assert history.sample() == 0


def test_an_hour_of_a_deleted_deployment_is_dropped(tick, deployment, clock):
    tick(0)
    deployment.delete()
    clock.shift(3600)
    assert history.sample() == 0
    assert not history.store.client().smembers(history.PENDING)


def test_support_staff_read_history_in_the_admin(tick, clock, django_user_model, client):
    tick(0)
    tick(3600)
    client.force_login(django_user_model.objects.create_superuser("support", password="x"))
    for name in ("agentrollup", "queuerollup"):
        response = client.get(reverse(f"admin:fleet_{name}_changelist"), {"q": "worker"})
        assert response.status_code == 200
    row = AgentRollup.objects.get()
    assert client.get(reverse("admin:fleet_agentrollup_change", args=[row.pk])).status_code == 200
    assert client.get(reverse("admin:fleet_agentrollup_add")).status_code == 403
