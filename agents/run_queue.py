"""Runs waiting for an agent, as the heartbeat path sees them.

`ra:{<dep>}:runs` is a hash run id -> {"queue", "agent"} holding only the runs nobody has taken
yet. The heartbeat reads it in the same round trip as everything else (an empty hash costs
nothing), and decides in memory whether this agent may take one; only then does it touch the
database. The key carries the deployment's hash tag, so it lives beside the agent's own keys on a
Redis Cluster.
"""

import contextlib
import json

from agents import store
from astro_ui import keys


def key(dep) -> str:
    return keys.runs(dep)


def publish(dep, run_id, queue: str, agent_id) -> None:
    entry = {"queue": queue, "agent": str(agent_id) if agent_id else None}
    store.client().hset(key(dep), str(run_id), json.dumps(entry))


def withdraw(dep, run_id) -> bool:
    """Take a run off the waiting list; True for the one caller that removed it."""
    return bool(store.client().hdel(key(dep), str(run_id)))


def withdraw_quietly(dep, run_id) -> None:
    with contextlib.suppress(*store.Unavailable):
        withdraw(dep, run_id)


def decode(raw: dict | list | None) -> dict[str, dict]:
    """A waiting hash as HGETALL returns it (a dict, or a flat list from a script)."""
    if not raw:
        return {}
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=True))
    out = {}
    for k, v in raw.items():
        k = k.decode() if isinstance(k, bytes) else k
        with contextlib.suppress(ValueError):
            out[k] = json.loads(v)
    return out


def pick(
    waiting: dict[str, dict],
    *,
    agent_id: str,
    queues: list[str],
    cordoned: bool,
    slots_used: int,
    slots_total: int,
) -> str | None:
    """The run this agent may take now, if any: never for a cordoned agent or a full one; a run
    aimed at an agent goes only to it, one for a queue to any agent serving that queue."""
    if cordoned or slots_used >= slots_total:
        return None
    for run_id, entry in sorted(waiting.items()):
        target = entry.get("agent")
        if target and target != agent_id:
            continue
        if target or entry.get("queue") in queues:
            return run_id
    return None
