"""Sampling the fleet into hourly accumulators, and turning finished hours into rows.

Redis keys (all named here):
- `ra:{dep}:hist:{bucket}`  hash: agent id -> its samples this hour; `q:<queue>` -> the queue's.
- `ra:hist:pending`         set of "<dep> <bucket>" accumulators not yet written.
- `ra:hist:lock`            one sampler at a time, so no sample is counted twice.
"""

import contextlib
import json
import logging

import redis
from django.db.models import Q
from django.utils import timezone

from agents import store
from agents.liveness import Health
from agents.models import Agent
from astro_ui.redis_client import text
from audit.models import AuditEvent
from audit.record import record
from fleet import liveness
from fleet.models import AgentRollup, QueueRollup, bucket_time, write_bucket

log = logging.getLogger(__name__)

BUCKET_SECONDS = 3600
PENDING = "ra:hist:pending"
LOCK = "ra:hist:lock"
# An accumulator nobody writes (history switched off mid-hour) expires on its own.
ACCUMULATOR_TTL = 2 * 86400


def k_hist(dep, bucket: int) -> str:
    return f"ra:{dep}:hist:{bucket}"


def bucket_of(ts: float) -> int:
    return int(ts // BUCKET_SECONDS * BUCKET_SECONDS)


def sample(now: float | None = None, deployments: list | None = None) -> int:
    """Add one sample of every live agent (of `deployments`, default all) to its hour; write
    hours that are over. Returns the number of rows written. Skipped, deciding nothing, while
    Redis is unreachable."""
    try:
        lock = store.client().lock(LOCK, timeout=120, blocking_timeout=0)
        if not lock.acquire():
            return 0
    except store.Unavailable:
        log.warning("heartbeat store unavailable; fleet history sample skipped")
        return 0
    try:
        now = store.now() if now is None else now
        _sample_locked(now, deployments)
        return finish(now)
    except store.Unavailable:
        log.warning("heartbeat store unavailable mid-sample; it is retried on the next run")
        return 0
    finally:
        with contextlib.suppress(*store.Unavailable, redis.exceptions.LockError):
            lock.release()


FIELDS = (
    "id",
    "deployment_id",
    "version",
    "queues",
    "slots_used",
    "slots_total",
    "running_tasks",
    "health",
    "heartbeat_checkpoint_at",
    "cordoned_at",
    "deleted_at",
)


def _sample_locked(now: float, deployments: list | None) -> None:
    bucket = bucket_of(now)
    by_dep: dict = {}
    agents = Agent.objects.live().only(*FIELDS).order_by()
    if deployments is not None:
        agents = agents.filter(deployment__in=deployments)
    for agent in agents:
        by_dep.setdefault(agent.deployment_id, []).append(agent)
    for dep, agents in by_dep.items():
        lives = liveness.read(dep, agents)
        if lives is None:
            raise redis.exceptions.ConnectionError("heartbeat times unavailable")
        key = k_hist(dep, bucket)
        acc = {text(k): json.loads(v) for k, v in store.client().hgetall(key).items()}
        queues: dict[str, list[int]] = {}
        for agent in agents:
            healthy = lives[str(agent.pk)].health == Health.HEALTHY
            _add_agent(acc, agent, healthy)
            for name in agent.queues or []:
                q = queues.setdefault(name, [0, 0, 0, 0])
                q[0] += 1
                if healthy and agent.cordoned_at is None:
                    q[1] += 1
                    q[2] += agent.slots_used
                    q[3] += agent.slots_total
        for name, (count, healthy_count, used, total) in queues.items():
            q = acc.setdefault(f"q:{name}", {"n": 0, "a": 0, "h": 0, "u": 0, "t": 0})
            q["n"] += 1
            q["a"] += count
            q["h"] += healthy_count
            q["u"] += used
            q["t"] += total
        pipe = store.client().pipeline()
        pipe.hset(key, mapping={k: json.dumps(v, separators=(",", ":")) for k, v in acc.items()})
        pipe.expire(key, ACCUMULATOR_TTL)
        pipe.sadd(PENDING, f"{dep} {bucket}")
        pipe.execute()
        _record_drained(dep, agents, lives)


def _add_agent(acc: dict, agent: Agent, healthy: bool) -> None:
    a = acc.setdefault(str(agent.pk), {"n": 0, "h": 0, "u": 0, "m": 0, "t": 0, "r": 0, "v": ""})
    a["n"] += 1
    a["v"] = agent.version
    if healthy:
        a["h"] += 1
        a["u"] += agent.slots_used
        a["m"] = max(a["m"], agent.slots_used)
        a["t"] = agent.slots_total
        a["r"] += agent.running_tasks


def finish(now: float) -> int:
    """Write every accumulator whose hour is over."""
    current = bucket_of(now)
    written = 0
    for member in sorted(text(m) for m in store.client().smembers(PENDING)):
        dep, _, raw_bucket = member.partition(" ")
        bucket = int(raw_bucket)
        if bucket >= current:
            continue
        agents, queues = accumulated(dep, bucket)
        written += write_bucket(dep, bucket, agents, queues)
        pipe = store.client().pipeline()
        pipe.delete(k_hist(dep, bucket))
        pipe.srem(PENDING, member)
        pipe.execute()
    return written


def accumulated(dep, bucket: int, field: str | None = None) -> tuple[dict, dict]:
    """An hour's accumulator as (agents, queues); only one agent's entry when `field` is given."""
    key = k_hist(dep, bucket)
    if field is not None:
        raw = store.client().hget(key, field)
        return ({field: json.loads(raw)} if raw else {}), {}
    agents, queues = {}, {}
    for k, v in store.client().hgetall(key).items():
        name = text(k)
        if name.startswith("q:"):
            queues[name[2:]] = json.loads(v)
        else:
            agents[name] = json.loads(v)
    return agents, queues


def _record_drained(dep, agents: list[Agent], lives: dict) -> None:
    """A cordoned agent that reports no running work has drained: recorded once per cordon."""
    done = [
        a
        for a in agents
        if a.cordoned_at is not None
        and a.slots_used == 0
        and a.running_tasks == 0
        and lives[str(a.pk)].health == Health.HEALTHY
    ]
    if not done:
        return
    already = Q()
    for a in done:
        already |= Q(target_id=str(a.pk), created_at__gte=a.cordoned_at)
    recorded = set(
        AuditEvent.objects.filter(already, action="agent.drained", target_type="agent")
        .values_list("target_id", flat=True)
        .order_by()
    )
    for a in done:
        if str(a.pk) not in recorded:
            full = Agent.objects.select_related("deployment").get(pk=a.pk)
            record("agent.drained", target=full, deployment=full.deployment)


def prune(now=None) -> int:
    """Delete history older than HISTORY_RETENTION_DAYS; returns rows deleted."""
    now = now or timezone.now()
    deleted = AgentRollup.objects.expired(now).delete()[0]
    return deleted + QueueRollup.objects.expired(now).delete()[0]


def current_bucket_start():
    return bucket_time(bucket_of(store.now()))
