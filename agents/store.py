"""The heartbeat store: Redis holds what changes on every heartbeat.

The key names are in astro_ui/keys.py (all of a deployment's carry its hash tag, so they share a
Redis Cluster slot); a heartbeat itself is written by agents/heartbeat.lua in one round trip
(agents/ingest.py). This module owns the agents cache and reads what the pages and tasks need:
the seen zset (agent id -> time of its last heartbeat) is the source of truth for liveness, and
agents/liveness.py reads it through the functions below.
"""

import contextlib
import functools
import json
import time
from typing import cast

import redis
from redis.typing import EncodableT, FieldT

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
    fixes: dict[FieldT, EncodableT] = {}
    for raw_name, raw in cached.items():
        name, entry = redis_client.text(raw_name), json.loads(raw)
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
    scored = client().zrange(k_seen(dep), 0, -1, withscores=True)
    return {redis_client.text(k): float(v) for k, v in cast(list[tuple[bytes, float]], scored)}


def seen_many(dep, agent_ids: list) -> dict[str, float | None]:
    if not agent_ids:
        return {}
    ids = [str(i) for i in agent_ids]
    return dict(zip(ids, client().zmscore(k_seen(dep), ids), strict=True))


def count_seen_since(dep, since: float) -> int:
    return client().zcount(k_seen(dep), since, "+inf")


def seen_counts(dep, *, after: float, ids: list[str]) -> tuple[int, int, list[float | None]]:
    """(agents seen later than `after`, agents in the set, the times of `ids`), in one round
    trip."""
    pipe = client().pipeline(transaction=False)
    pipe.zcount(k_seen(dep), f"({after}", "+inf")
    pipe.zcard(k_seen(dep))
    if ids:
        pipe.zmscore(k_seen(dep), ids)
    later, present, *scores = pipe.execute()
    return later, present, scores[0] if scores else []


def seen_ids_after(dep, after: float, until: float | str = "+inf") -> list[str]:
    """Ids of the agents whose last heartbeat is later than `after` (and at most `until`)."""
    return [_text(m) for m in client().zrangebyscore(k_seen(dep), f"({after}", until)]


def seen_ids(dep) -> list[str]:
    return [_text(m) for m in client().zrange(k_seen(dep), 0, -1)]


def _text(member) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def drop_seen(dep, agent_ids: list[str]) -> None:
    if agent_ids:
        client().zrem(k_seen(dep), *agent_ids)


def clock(dep, *, counts_after: list[float]) -> tuple[bytes | None, bytes | None, int, list[int]]:
    """(epoch, table counter, agents in the seen set, agents seen later than each of
    `counts_after`), in one round trip."""
    pipe = client().pipeline(transaction=False)
    # One key per command: the epoch is global, the rest the deployment's, so on a Redis
    # Cluster they live in different slots.
    pipe.get(EPOCH)
    pipe.get(k_ver(dep))
    pipe.zcard(k_seen(dep))
    for after in counts_after:
        pipe.zcount(k_seen(dep), f"({after}", "+inf")
    epoch_raw, ver, present, *counts = pipe.execute()
    return epoch_raw, ver, present, counts


# The poll's fast path as one script: one command to send and parse instead of a pipeline of
# four, which more than halved the Python-side cost of an unchanged poll.
_POLL_CLOCK = """
local seen = KEYS[4]
return {
  redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]),
  redis.call('ZCOUNT', seen, ARGV[1], ARGV[2]), redis.call('ZCOUNT', seen, ARGV[3], ARGV[4]),
  redis.call('ZCOUNT', seen, ARGV[5], '+inf')
}
"""


@functools.cache
def _poll_clock_script(redis_client: redis.Redis):
    return redis_client.register_script(_POLL_CLOCK)


def poll_clock(
    dep, key: str, *, windows: list[tuple[float, float]], after: float
) -> tuple[bytes | None, bytes | None, bytes | None, list[int], int]:
    """The poll's fast path, in one round trip: `key`'s value, the epoch, the table counter,
    how many heartbeat times fall in each of two (low, high] windows, and how many are later
    than `after`."""
    (low1, high1), (low2, high2) = windows
    args: list[str | float] = [f"({low1}", high1, f"({low2}", high2, f"({after}"]
    if redis_client.is_cluster():
        # The script's keys span slots (the session's access key, the global epoch): a
        # pipeline of one-key commands instead, still one round trip per node.
        pipe = client().pipeline(transaction=False)
        for one in (key, EPOCH, k_ver(dep)):
            pipe.get(one)
        pipe.zcount(k_seen(dep), args[0], args[1])
        pipe.zcount(k_seen(dep), args[2], args[3])
        pipe.zcount(k_seen(dep), args[4], "+inf")
        value, epoch_raw, ver, crossed1, crossed2, later = pipe.execute()
    else:
        keys = [key, EPOCH, k_ver(dep), k_seen(dep)]
        value, epoch_raw, ver, crossed1, crossed2, later = _poll_clock_script(client())(
            keys=keys, args=args
        )
    return value, epoch_raw, ver, [crossed1, crossed2], later


def epoch() -> float | None:
    value = client().get(EPOCH)
    return None if value is None else float(value)


def mark_epoch() -> None:
    client().set(EPOCH, now(), nx=True)


def version(dep) -> str:
    """The change counter, with the epoch it counts from, so that a Redis that lost its data
    (and restarted its counters) never repeats a value. The Agents table's poll version starts
    with it (see liveness.Fleet.version)."""
    epoch_raw, ver = redis_client.mget(EPOCH, k_ver(dep))
    return f"{float(epoch_raw or 0):.0f}.{int(ver or 0)}"


def bump(dep) -> None:
    client().incr(k_ver(dep))


# --- figures for /metrics ---------------------------------------------------------------------
# Kept in Redis rather than in the process that ran the job, so whichever web process serves a
# scrape reports the same totals, wherever Celery runs.


def k_job(name: str) -> str:
    return f"ra:job:{name}"


def record_job(name: str, seconds: float, size: int) -> None:
    """Count one run of a periodic job (flush, sweep): its duration and how much it handled."""
    with contextlib.suppress(*Unavailable):
        pipe = client().pipeline(transaction=False)
        pipe.hincrby(k_job(name), "runs", 1)
        pipe.hincrbyfloat(k_job(name), "seconds", seconds)
        pipe.hincrby(k_job(name), "size", size)
        pipe.hset(k_job(name), mapping={"last_seconds": seconds, "last_size": size})
        pipe.execute()
