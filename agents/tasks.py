from celery import shared_task

from agents.models import Agent
from agents.runs import TestRun


@shared_task
def sweep_agent_health() -> int:
    return Agent.objects.sweep()


@shared_task
def flush_heartbeats() -> int:
    return Agent.objects.flush_heartbeats()


@shared_task
def expire_test_runs() -> int:
    return TestRun.objects.expire()


@shared_task
def lift_expired_cordons() -> int:
    return Agent.objects.lift_expired_cordons()
