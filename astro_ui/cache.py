"""A Redis cache that treats an unreachable Redis as a cache miss, and reuses its clients.

Sessions are read through this cache (cached_db), so when Redis is down the console falls back
to the database instead of failing every page; the Agents view then says "statuses unknown".
Django's client builds a new redis.Redis object for every operation; reusing one per pool saves
about 0.1 ms on each cache or session read.
"""

import logging

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger(__name__)
_ERRORS = (redis.RedisError, OSError)


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class TolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except _ERRORS:
            log.warning("cache unavailable; reading %s from its source", key)
            return default

    def set(self, key, value, timeout=None, version=None):
        try:
            super().set(key, value, timeout, version)
        except _ERRORS:
            log.warning("cache unavailable; not caching %s", key)

    def add(self, key, value, timeout=None, version=None):
        try:
            return super().add(key, value, timeout, version)
        except _ERRORS:
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except _ERRORS:
            log.warning("cache unavailable; could not delete %s", key)
            return False
