import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import store
from agents.models import Agent, Health
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_flush_writes_what_changed_and_nothing_else(beat):
    agent_id = beat(slots={"used": 1, "total": 20}).json()["agent_id"]
    assert Agent.objects.flush_heartbeats() == 0  # registration already stored it all
    beat(slots={"used": 7, "total": 20}, queues=["default", "gpu"])
    assert Agent.objects.flush_heartbeats() == 1
    agent = Agent.objects.get(pk=agent_id)
    assert (agent.slots_used, agent.queues) == (7, ["default", "gpu"])
    beat(slots={"used": 7, "total": 20}, queues=["default", "gpu"])
    assert Agent.objects.flush_heartbeats() == 0
    assert Agent.objects.flush_heartbeats() == 0


def test_the_flush_checkpoints_heartbeat_times_rarely(beat, settings):
    settings.AGENT_CHECKPOINT_SECONDS = 900
    with time_machine.travel(timezone.now(), tick=False) as clock:
        agent_id = beat().json()["agent_id"]
        first = Agent.objects.get(pk=agent_id).heartbeat_checkpoint_at
        clock.shift(timedelta(minutes=10))
        beat()
        assert Agent.objects.flush_heartbeats() == 0
        assert Agent.objects.get(pk=agent_id).heartbeat_checkpoint_at == first
        clock.shift(timedelta(minutes=6))
        beat()
        assert Agent.objects.flush_heartbeats() == 1
    checkpoint = Agent.objects.get(pk=agent_id).heartbeat_checkpoint_at
    assert checkpoint - first == timedelta(minutes=16)


def test_the_flush_is_one_update_statement(beat):
    for i in range(20):
        beat(name=f"w-{i}")
    for i in range(20):
        beat(name=f"w-{i}", slots={"used": 3, "total": 20})
    with CaptureQueriesContext(connection) as queries:
        assert Agent.objects.flush_heartbeats() == 20
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1


def test_a_changed_row_moves_the_table_version(beat, deployment):
    beat()
    before = store.version(deployment.pk)
    beat(slots={"used": 9, "total": 20})
    Agent.objects.flush_heartbeats()
    assert store.version(deployment.pk) != before


def test_the_sweep_records_a_silent_agent_once(beat, age_heartbeat, old_epoch):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    age_heartbeat(agent, 61)
    assert Agent.objects.sweep() == 1
    assert Agent.objects.sweep() == 0
    agent.refresh_from_db()
    assert agent.health == Health.UNHEALTHY
    event = AuditEvent.objects.get(action="agent.unhealthy")
    assert (event.actor_type, event.target_label) == ("system", agent.name)


def test_the_sweep_records_recovery(beat, age_heartbeat, old_epoch):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    age_heartbeat(agent, 61)
    Agent.objects.sweep()
    beat()
    assert Agent.objects.sweep() == 1
    agent.refresh_from_db()
    assert agent.health == Health.HEALTHY
    assert AuditEvent.objects.filter(action="agent.healthy").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_each_transition_exactly_once(beat, age_heartbeat, old_epoch):
    agents = [Agent.objects.get(pk=beat(name=f"w-{i}").json()["agent_id"]) for i in range(5)]
    for agent in agents:
        age_heartbeat(agent, 120)
    results = []

    def sweep():
        results.append(Agent.objects.sweep())
        connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 5]
    assert AuditEvent.objects.filter(action="agent.unhealthy").count() == 5


def test_a_freshly_emptied_redis_makes_no_agent_flap(beat, old_epoch, redis_client):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    redis_client.flushdb()  # Redis restarted without its data
    assert Agent.objects.sweep() == 0  # notes the new epoch
    assert Agent.objects.sweep() == 0  # within the grace period: missing means unknown
    agent.refresh_from_db()
    assert agent.health == Health.HEALTHY
    assert not AuditEvent.objects.filter(action__startswith="agent.un").exists()


def test_after_the_grace_period_a_still_silent_agent_turns_unhealthy(beat, old_epoch, redis_client):
    agent = Agent.objects.get(pk=beat().json()["agent_id"])
    redis_client.flushdb()
    redis_client.set(store.EPOCH, store.now() - 61)
    assert Agent.objects.sweep() == 1
    agent.refresh_from_db()
    assert agent.health == Health.UNHEALTHY


def test_an_agent_that_switches_tokens_is_counted_under_the_new_one(beat, deployment):
    from tokens.models import AgentToken

    agent_id = beat().json()["agent_id"]
    new_token, value = AgentToken.objects.issue(deployment, name="rotated", expires_in_days=30)
    beat(token=value)
    assert Agent.objects.flush_heartbeats() == 1
    assert Agent.objects.get(pk=agent_id).token_id == new_token.pk
