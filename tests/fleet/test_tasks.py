from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from agents import store
from agents.models import Agent
from astro_ui.celery import app
from audit.models import AuditEvent
from fleet.tasks import remove_stale_agents, sample_fleet_history


def test_beat_runs_the_sampler_the_pruner_and_the_clean_up(settings):
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["fleet.tasks.sample_fleet_history"] == settings.HISTORY_SAMPLE_SECONDS
    assert schedule["fleet.tasks.prune_fleet_history"] == 3600
    assert schedule["fleet.tasks.remove_stale_agents"] == 3600


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_removes_stale_agents_as_system(deployment, beat):
    assert beat(name="gone").status_code == 200
    assert beat(name="alive").status_code == 200
    gone = Agent.objects.get(name="gone")
    store.client().zadd(store.k_seen(deployment.pk), {str(gone.pk): store.now() - 9 * 86400})
    Agent.objects.filter(pk=gone.pk).update(
        heartbeat_checkpoint_at=gone.heartbeat_checkpoint_at - timedelta(days=9)
    )
    deployment.set_stale_agent_days(7)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert remove_stale_agents.apply_async(ignore_result=False).get(timeout=20) == 1
        assert sample_fleet_history.apply_async(ignore_result=False).get(timeout=20) == 0
    connection.close()
    assert list(Agent.objects.live().values_list("name", flat=True)) == ["alive"]
    event = AuditEvent.objects.get(action="agent.delete")
    assert (event.actor_type, event.target_label) == ("system", "gone")
