import time

from celery import shared_task

from agents import store
from agents.models import Agent


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
