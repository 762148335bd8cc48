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


def text(value: bytes | str) -> str:
    """A key or value as text. Our clients answer bytes (no decode_responses); redis-py's types
    also allow str, which is returned as it is."""
    return value.decode() if isinstance(value, bytes) else value


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


# A hot-path request that needs several keys fetches them in one round trip up front
# (`prefetch`); the code that owns each key then reads it through `get`/`hget`, which fall back
# to Redis for anything not fetched. Callers keep their own error handling.
_MISSING = object()


def prefetch(request, keys: list[str], fields: list[tuple[str, str]]) -> None:
    pipe = client().pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
    for name, field in fields:
        pipe.hget(name, field)
    request.redis_prefetch = dict(zip([*keys, *fields], pipe.execute(), strict=True))


def get(request, key: str) -> bytes | str | None:
    value = getattr(request, "redis_prefetch", {}).get(key, _MISSING)
    return client().get(key) if value is _MISSING else value


def hget(request, name: str, field: str) -> bytes | str | None:
    value = getattr(request, "redis_prefetch", {}).get((name, field), _MISSING)
    return client().hget(name, field) if value is _MISSING else value
