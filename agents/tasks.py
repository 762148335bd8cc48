import time

from celery import shared_task

from agents import store
from agents.models import Agent
from agents.runs import TestRun


def _timed(name: str, job) -> int:
    started = time.perf_counter()
    size = job()
    store.record_job(name, time.perf_counter() - started, size)
    return size


@shared_task
def sweep_agent_health() -> int:
    return _timed("sweep", Agent.objects.sweep)


@shared_task
def flush_heartbeats() -> int:
    return _timed("flush", Agent.objects.flush_heartbeats)


@shared_task
def expire_test_runs() -> int:
    return TestRun.objects.expire()


@shared_task
def lift_expired_cordons() -> int:
    return Agent.objects.lift_expired_cordons()
