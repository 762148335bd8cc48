from celery import shared_task

from agents.models import Agent


@shared_task
def sweep_agent_health() -> int:
    return Agent.objects.sweep()


@shared_task
def flush_heartbeats() -> int:
    return Agent.objects.flush_heartbeats()
