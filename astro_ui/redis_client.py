"""The one Redis connection pool of a process, for whatever REDIS_URL says now.

Keyed by URL so tests that point REDIS_URL at a server of their own get a client for it. Fails
fast: a request must not wait through retries and backoff while Redis is down, because every
caller has a better answer ready (a 503, a database read, "statuses unknown").
"""

from functools import cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry


def client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


@cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
