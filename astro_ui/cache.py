"""A Redis cache that treats an unreachable Redis as a cache miss, and reuses its clients.

Sessions are read through this cache (cached_db), so when Redis is down the console falls back
to the database instead of failing every page; the Agents view then says "statuses unknown".
Every operation of Django's cache API answers as if the key were absent (reads miss, writes do
not stick), so no caller, Django's own included, meets a Redis error.
Django's client builds a new redis.Redis object for every operation; reusing one per pool saves
about 0.1 ms on each cache or session read.
"""

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger(__name__)
_ERRORS = (redis.RedisError, OSError)
T = TypeVar("T")


class _ReusingClient(RedisCacheClient):
    if TYPE_CHECKING:
        # Django's private pool helpers (django/core/cache/backends/redis.py), which the stubs
        # leave out; get_client below is Django's own, keeping the client it builds.
        _client: type[redis.Redis]

        def _get_connection_pool_index(self, write: bool) -> int: ...
        def _get_connection_pool(self, write: bool) -> redis.ConnectionPool: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class TolerantRedisCache(RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient

    def _or(self, fallback: T, operation: Callable[..., T], key: object, *args: Any) -> T:
        """`operation(key, *args)`, or `fallback` when Redis cannot be reached."""
        try:
            return operation(key, *args)
        except _ERRORS:
            log.warning("cache unavailable; %s %s skipped", operation.__name__, key)
            return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._or(default, super().get, key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._or(None, super().set, key, value, timeout, version)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._or(False, super().add, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._or(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, super().delete, key, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, super().has_key, key, version)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._or({}, super().get_many, list(keys), version)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = None, version: int | None = None
    ) -> list[Any]:
        # Django's contract: the keys that were not set.
        return self._or(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._or(None, super().delete_many, list(keys), version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        missing = object()
        value = self._or(missing, super().incr, key, delta, version)
        if value is missing:
            # What Django raises for a missing key: an unreachable cache holds no keys.
            raise ValueError(f"Key '{key}' not found (cache unavailable)")
        return cast(int, value)

    def clear(self) -> None:
        try:
            super().clear()
        except _ERRORS:
            log.warning("cache unavailable; clear skipped")
