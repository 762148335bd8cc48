"""The heartbeat store: Redis holds what changes on every heartbeat.

Per deployment:
- `ra:{dep}:agents`  hash  name -> {"id", "cordon"}: who is registered, and whether cordoned, so a
                     steady-state heartbeat needs no SQL. Filled from the database on a miss.
- `ra:{dep}:seen`    zset  agent id -> time of its last heartbeat. The source of truth for
                     liveness; agents/liveness.py reads it through the functions below.
- `ra:{dep}:hb`      hash  agent id -> the last heartbeat body, waiting for the flush.
- `ra:{dep}:ver`     counter that changes whenever something the Agents table shows is written.
Global:
- `ra:dirty`         set of deployments with heartbeats waiting for the flush.
- `ra:epoch`         when this Redis first held our data: younger than the health threshold means
                     Redis lost its data recently, so a missing heartbeat is "unknown", not silence.
"""

import contextlib
import functools
import json
import time
from typing import cast

import redis
from redis.typing import EncodableT, FieldT

from astro_ui import redis_client

DIRTY = "ra:dirty"
EPOCH = "ra:epoch"
SWEEP_LAST = "ra:sweep:last"

# Redis errors the callers treat as "the heartbeat store is unavailable".
Unavailable = (redis.RedisError, OSError)


client = redis_client.client


def k_agents(dep) -> str:
    return f"ra:{dep}:agents"


def k_seen(dep) -> str:
    return f"ra:{dep}:seen"


def k_hb(dep) -> str:
    return f"ra:{dep}:hb"


def k_ver(dep) -> str:
    return f"ra:{dep}:ver"


def now() -> float:
    return time.time()


def k_enabled(dep) -> str:
    return f"ra:{dep}:enabled"


ENABLED_TTL = 300


def remote_execution_enabled(dep, request=None) -> bool:
    """Whether the deployment takes agents at all; cached, filled from the database on a miss."""
    raw = redis_client.get(request, k_enabled(dep))
    if raw is not None:
        return raw == b"1"
    from deployments.models import Deployment

    enabled = bool(
        Deployment.objects.filter(pk=dep).values_list("remote_execution", flat=True).first()
    )
    client().set(k_enabled(dep), int(enabled), ex=ENABLED_TTL, nx=True)
    return enabled


def publish_enabled(dep, enabled: bool) -> None:
    """After the switch commits. If Redis cannot be told, the cached value lapses within
    ENABLED_TTL seconds."""
    with contextlib.suppress(*Unavailable):
        client().set(k_enabled(dep), int(enabled), ex=ENABLED_TTL)


def lookup(dep, name: str, request=None) -> dict | None:
    raw = redis_client.hget(request, k_agents(dep), name)
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


def beat(dep, agent_id, body: dict, at: float) -> None:
    """Record one heartbeat: its time (health) and its body (for the flush). One round trip."""
    pipe = client().pipeline(transaction=False)
    pipe.zadd(k_seen(dep), {str(agent_id): at})
    pipe.hset(k_hb(dep), str(agent_id), json.dumps(body, separators=(",", ":")))
    pipe.sadd(DIRTY, str(dep))
    pipe.set(EPOCH, at, nx=True)
    pipe.execute()


def take_pending(dep) -> dict[str, dict]:
    """Atomically take the heartbeat bodies waiting for the flush."""
    pipe = client().pipeline()
    pipe.hgetall(k_hb(dep))
    pipe.delete(k_hb(dep))
    raw, _ = pipe.execute()
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
    pipe.mget(EPOCH, k_ver(dep))
    pipe.zcard(k_seen(dep))
    for after in counts_after:
        pipe.zcount(k_seen(dep), f"({after}", "+inf")
    (epoch_raw, ver), present, *counts = pipe.execute()
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
    args = [f"({low1}", high1, f"({low2}", high2, f"({after}"]
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
    epoch_raw, ver = client().mget(EPOCH, k_ver(dep))
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
