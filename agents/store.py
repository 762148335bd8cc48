"""The heartbeat store: Redis holds what changes on every heartbeat.

The key names are in astro_ui/keys.py (all of a deployment's carry its hash tag, so they share a
Redis Cluster slot); a heartbeat itself is written by agents/heartbeat.lua in one round trip
(agents/ingest.py). This module owns the agents cache and reads what the pages and tasks need.
"""

import json
import time

import redis

from astro_ui import keys, redis_client

DIRTY = keys.DIRTY
EPOCH = keys.EPOCH
SWEEP_LAST = "ra:sweep:last"

# Redis errors the callers treat as "the heartbeat store is unavailable".
Unavailable = (redis.RedisError, OSError)


client = redis_client.client

k_agents = keys.agents
k_seen = keys.seen
k_hb = keys.hb
k_ver = keys.ver


def now() -> float:
    return time.time()


def lookup(dep, name: str) -> dict | None:
    raw = client().hget(k_agents(dep), name)
    return None if raw is None else json.loads(raw)


def remember(dep, name: str, agent_id, cordon: str | None) -> None:
    """Cache an agent's id and cordon state (None = not cordoned) under its name."""
    entry = json.dumps({"id": str(agent_id), "cordon": cordon})
    client().hset(k_agents(dep), name, entry)


def reconcile(dep, truth: dict[str, tuple[str, str | None]]) -> int:
    """Make the agents cache agree with the database (name -> (id, cordon)); returns fixes.

    Cordon and delete update the cache after their transaction commits; if Redis was unreachable
    at that moment, this is what eventually tells the agent.
    """
    cached = client().hgetall(k_agents(dep))
    stale = []
    fixes = {}
    for raw_name, raw in cached.items():
        name, entry = raw_name.decode(), json.loads(raw)
        expected = truth.get(name)
        if expected is None or expected[0] != entry.get("id"):
            stale.append(name)
        elif expected[1] != entry.get("cordon"):
            fixes[name] = json.dumps({"id": expected[0], "cordon": expected[1]})
    if stale or fixes:
        pipe = client().pipeline()
        if stale:
            pipe.hdel(k_agents(dep), *stale)
        if fixes:
            pipe.hset(k_agents(dep), mapping=fixes)
        pipe.execute()
    return len(stale) + len(fixes)


def forget(dep, name: str, agent_id) -> None:
    pipe = client().pipeline()
    pipe.hdel(k_agents(dep), name)
    pipe.zrem(k_seen(dep), str(agent_id))
    pipe.hdel(k_hb(dep), str(agent_id))
    pipe.execute()


def take_pending(dep) -> dict[str, dict]:
    """Atomically take the heartbeat bodies waiting for the flush; the next heartbeat announces
    the deployment in DIRTY again."""
    pipe = client().pipeline()
    pipe.hgetall(k_hb(dep))
    pipe.delete(k_hb(dep))
    pipe.delete(keys.dirty(dep))
    raw, *_ = pipe.execute()
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def dirty_deployments() -> list[str]:
    pipe = client().pipeline()
    pipe.smembers(DIRTY)
    pipe.delete(DIRTY)
    members, _ = pipe.execute()
    return [m.decode() for m in members]


def seen_all(dep) -> dict[str, float]:
    return {k.decode(): v for k, v in client().zrange(k_seen(dep), 0, -1, withscores=True)}


def seen_many(dep, agent_ids: list) -> dict[str, float | None]:
    if not agent_ids:
        return {}
    ids = [str(i) for i in agent_ids]
    return dict(zip(ids, client().zmscore(k_seen(dep), ids), strict=True))


def count_seen_since(dep, since: float) -> int:
    return client().zcount(k_seen(dep), since, "+inf")


def epoch() -> float | None:
    value = client().get(EPOCH)
    return None if value is None else float(value)


def mark_epoch() -> None:
    client().set(EPOCH, now(), nx=True)


def version(dep) -> str:
    """The Agents table's version: changes whenever what the table shows changes.

    The epoch is part of it so that a Redis that lost its data (and restarted its counters) can
    never hand out a version a browser already holds.
    """
    return version_and_epoch(dep)[0]


def version_and_epoch(dep) -> tuple[str, float]:
    """The table version and the epoch it is built on, in one round trip."""
    epoch_raw, ver = redis_client.mget(EPOCH, k_ver(dep))
    if epoch_raw is None:
        mark_epoch()
        epoch_raw = client().get(EPOCH) or b"0"
    return _version(epoch_raw, ver), float(epoch_raw)


def version_if(dep, key: str) -> tuple[bytes | None, str | None]:
    """`key`'s value and the table version, in one round trip (the poll's fast path)."""
    value, epoch_raw, ver = redis_client.mget(key, EPOCH, k_ver(dep))
    return value, None if epoch_raw is None else _version(epoch_raw, ver)


def _version(epoch_raw: bytes, ver: bytes | None) -> str:
    return f"{float(epoch_raw):.0f}.{int(ver or 0)}"


def bump(dep) -> None:
    client().incr(k_ver(dep))


def bump_for_time(dep, every: int) -> None:
    """Bump at most once per `every` seconds: heartbeat times move all the time, and re-rendering
    the table for each of them would make every poll a full render."""
    if client().set(f"{keys.deployment(dep)}:tbump", 1, nx=True, ex=every):
        bump(dep)
