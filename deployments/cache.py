"""What the agent API needs to know about a deployment, cached in Redis: whether remote execution
is on and which IP ranges its agents may connect from (`ra:{dep}:conf`, see astro_ui/keys.py).

The heartbeat script reads the switch and the version of the ranges; each process keeps the
parsed ranges of the versions it has seen, so a steady-state request parses nothing and costs no
extra round trip. A change rewrites the entry after it commits. Withdrawing (any change to the
switch or the ranges) first deletes the entry inside the transaction: if Redis refuses even that,
the change fails instead of leaving agents a permission the database no longer grants.
"""

import functools
import ipaddress
import json
import logging
import zlib
from dataclasses import dataclass

import redis
from django.apps import apps
from django.db import transaction
from redis.typing import EncodableT, FieldT

from astro_ui import keys, redis_client
from astro_ui.net import unmapped_address, unmapped_network
from astro_ui.redis_client import CacheNotUpdated

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

CACHE_SECONDS = 300
Unavailable = (redis.RedisError, OSError)


@dataclass(frozen=True)
class Conf:
    enabled: bool
    ranges_json: str
    exists: bool = True

    @property
    def version(self) -> str:
        return ranges_version(self.ranges_json)

    def mapping(self) -> dict[str, str]:
        return {
            "enabled": "1" if self.enabled else "0",
            "exists": "1" if self.exists else "0",
            **ranges_fields(self.ranges_json),
        }


UNKNOWN = Conf(enabled=False, ranges_json="[]", exists=False)


def ranges_version(ranges_json: str) -> str:
    return format(zlib.crc32(ranges_json.encode()), "08x")


def ranges_fields(ranges_json: str) -> dict[str, str]:
    return {"ranges": ranges_json, "rv": ranges_version(ranges_json)}


def _dump(ranges) -> str:
    return json.dumps(list(ranges), separators=(",", ":"))


def conf_from_database(dep) -> Conf | None:
    """None when there is no such deployment."""
    Deployment = apps.get_model("deployments", "Deployment")
    try:
        row = (
            Deployment.objects.filter(pk=dep)
            .values("remote_execution", "allowed_ip_ranges")
            .first()
        )
    except (ValueError, TypeError):
        row = None
    if row is None:
        return None
    ranges = row["allowed_ip_ranges"]
    return Conf(bool(row["remote_execution"]), _dump(ranges if isinstance(ranges, list) else ["?"]))


def fill(dep) -> Conf | None:
    """Read the deployment from the database and cache what the agent API needs.

    An unknown deployment is cached as switched off, briefly, so a stream of requests for it
    costs no query each. HSETNX: a fill that read the database before a change committed must
    not overwrite what `publish` wrote after it.
    """
    conf = conf_from_database(dep)
    mapping = (conf or UNKNOWN).mapping()
    try:
        pipe = redis_client.client().pipeline(transaction=True)
        for field, value in mapping.items():
            pipe.hsetnx(keys.conf(dep), field, value)
        pipe.expire(keys.conf(dep), CACHE_SECONDS if conf else 30)
        pipe.execute()
    except Unavailable:
        log.warning("Could not cache the agent API settings of deployment %s", dep, exc_info=True)
    return conf


def publish(dep, *, enabled: bool | None = None, ranges: list[str] | None = None) -> None:
    """Put a just-committed change in the cache, so the next agent request sees it. If Redis
    refuses the write, drop the entry: the next request then reads the database."""
    mapping: dict[FieldT, EncodableT] = {}
    if enabled is not None:
        mapping["enabled"] = "1" if enabled else "0"
    if ranges is not None:
        mapping.update(ranges_fields(_dump(ranges)))
    key = keys.conf(dep)
    try:
        pipe = redis_client.client().pipeline(transaction=True)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, CACHE_SECONDS)
        pipe.execute()
        return
    except Unavailable:
        log.warning("Could not publish the agent API settings of %s; dropping them", dep)
    try:
        redis_client.client().delete(key)
    except Unavailable:
        log.exception("Cached agent API settings of %s may be stale for %ss", dep, CACHE_SECONDS)


def withdraw(dep) -> None:
    """Inside the transaction that changes the switch or the ranges: drop the cached copy, so no
    request trusts it once the change commits; raise CacheNotUpdated if Redis refuses."""
    try:
        redis_client.client().delete(keys.conf(dep))
    except Unavailable as exc:
        raise CacheNotUpdated() from exc


def publish_on_commit(dep, **changes) -> None:
    withdraw(dep)
    transaction.on_commit(lambda: publish(dep, **changes))


@functools.lru_cache(maxsize=4096)
def networks(ranges_json: str) -> tuple[Network, ...] | None:
    """The networks of a cached JSON list; None when the list is empty (no restriction).

    Memoised on the text, so a steady state parses nothing. A stored entry that does not parse
    is skipped; if none parses the result is an empty tuple, which allows nobody: a broken list
    must not silently mean "any address".
    """
    entries = json.loads(ranges_json)
    if not entries:
        return None
    parsed = []
    for entry in entries:
        try:
            parsed.append(unmapped_network(ipaddress.ip_network(entry, strict=False)))
        except (TypeError, ValueError):
            log.warning("Ignoring a malformed allowed IP range: %r", entry)
    return tuple(parsed)


def address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; the ranges say a.b.c.d.
        return unmapped_address(ipaddress.ip_address(ip))
    except ValueError:
        return None


def allows(ranges_json: str, ip: str) -> bool:
    """Whether a list of ranges (empty: any address) lets this address in."""
    nets = networks(ranges_json)
    if nets is None:
        return True
    parsed = address(ip)
    return parsed is not None and any(parsed in network for network in nets)


def current(dep) -> Conf | None:
    """The cached settings, filled from the database on a miss; from the database alone when
    Redis is unreachable (enforcement degrades to a query per request, never to "allow all")."""
    try:
        raw = redis_client.client().hmget(keys.conf(dep), ["enabled", "ranges"])
    except Unavailable:
        log.warning("Redis unavailable; reading agent API settings from the database")
        return conf_from_database(dep)
    if raw[0] is None or raw[1] is None:
        return fill(dep)
    ranges = raw[1]
    return Conf(raw[0] == b"1", ranges.decode() if isinstance(ranges, bytes) else ranges)
