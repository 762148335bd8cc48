from celery import shared_task
from django.conf import settings

from fleet import cleanup, history


@shared_task
def sample_fleet_history() -> int:
    if not settings.HISTORY_ENABLED:
        return 0
    return history.sample()


@shared_task
def prune_fleet_history() -> int:
    return history.prune()


@shared_task
def remove_stale_agents() -> int:
    return cleanup.remove_stale_everywhere()
