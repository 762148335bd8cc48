"""A Redis cache that treats an unreachable Redis as a cache miss.

Sessions are read through this cache (cached_db), so when Redis is down the console falls back
to the database instead of failing every page; the Agents view then says "statuses unknown".
"""

import logging

import redis
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
_ERRORS = (redis.RedisError, OSError)


class TolerantRedisCache(RedisCache):
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
