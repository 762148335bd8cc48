from celery import shared_task

from tokens import cache
from tokens.models import AgentToken


@shared_task
def flush_token_usage() -> int:
    """Write the token uses recorded in Redis (last used at/IP) to the database."""
    return cache.flush_usage()


@shared_task
def record_expired_tokens() -> int:
    """Audit each token that expired since the last run, once."""
    return AgentToken.objects.record_expiries()
