"""The one Redis connection pool of a process for the agent API's data (AGENT_REDIS_URL).

Keyed by URL so tests that point the setting at a server of their own get a client for it. A
`redis+cluster://host:port` URL gives a Redis Cluster client. Fails fast: a request must not wait
through retries and backoff while Redis is down, because every caller has a better answer ready
(a 503, a database read, "statuses unknown").
"""

from functools import cache

import redis
from django.conf import settings
from django.http import HttpResponse
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from rest_framework.exceptions import APIException

CLUSTER_SCHEME = "redis+cluster://"


def url() -> str:
    return settings.AGENT_REDIS_URL or settings.REDIS_URL


def text(value: bytes | str) -> str:
    """A key or value as text. Our clients answer bytes (no decode_responses); redis-py's types
    also allow str, which is returned as it is."""
    return value.decode() if isinstance(value, bytes) else value


def client() -> redis.Redis:
    return _client_for(url())


def is_cluster() -> bool:
    return url().startswith(CLUSTER_SCHEME)


@cache
def _client_for(url: str) -> redis.Redis:
    options = {"socket_timeout": 2, "socket_connect_timeout": 1}
    if url.startswith(CLUSTER_SCHEME):
        return RedisCluster.from_url(  # type: ignore[return-value]
            "redis://" + url.removeprefix(CLUSTER_SCHEME), **options
        )
    return redis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 1), health_check_interval=30, **options
    )


def mget(*keys: str) -> list[bytes | str | None]:
    """MGET of keys that may sit in different cluster slots (one round trip per node there)."""
    if is_cluster():
        return client().mget_nonatomic(*keys)  # type: ignore[attr-defined]
    return client().mget(*keys)


class CacheNotUpdated(APIException):
    """Redis refused the delete that withdraws a cached permission, so the change that withdraws
    it is not committed: agents must never keep a permission the database no longer grants."""

    status_code = 503
    default_code = "cache_not_updated"
    default_detail = (
        "The change was not saved: Redis, which the agent API reads permissions from, could not "
        "be updated, and saving it anyway would let agents keep what it takes away. Retry when "
        "Redis is reachable."
    )


class CacheNotUpdatedMiddleware:
    """Pages answer CacheNotUpdated with a 503 that says so (the management API's own exception
    handler already does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, CacheNotUpdated):
            response = HttpResponse(str(exception.detail), status=503, content_type="text/plain")
            response["Retry-After"] = "5"
            return response
        return None
