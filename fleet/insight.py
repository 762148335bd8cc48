"""What the agent detail page and the Queues view show, read from rollups, audit events, the
current hour's accumulator and liveness."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from agents import store
from agents.liveness import Health
from agents.models import Agent, Status
from audit.models import AuditEvent
from fleet import history, liveness
from fleet.models import AgentRollup, QueueRollup, bucket_time

TRANSITIONS = (
    "agent.register",
    "agent.unhealthy",
    "agent.healthy",
    "agent.cordon",
    "agent.uncordon",
    "agent.drained",
    "agent.delete",
)


@dataclass
class Transition:
    at: datetime
    action: str
    title: str
    cause: str
    actor: str


def _cause(event: AuditEvent) -> tuple[str, str]:
    d, who = event.details or {}, event.actor_label
    match event.action:
        case "agent.register":
            version = d.get("version")
            return "Registered", "First heartbeat" + (f", version {version}" if version else "")
        case "agent.unhealthy":
            last = d.get("last_heartbeat_at", "")[:19].replace("T", " ")
            seconds = settings.AGENT_HEALTHY_SECONDS
            return "Heartbeat lost", f"No heartbeat for {seconds} s" + (
                f" (last at {last} UTC)" if last else ""
            )
        case "agent.healthy":
            return "Heartbeat resumed", "Heartbeats arrived again"
        case "agent.cordon":
            reason = d.get("reason")
            return "Cordoned", f"by {who}" + (f": “{reason}”" if reason else ", no reason given")
        case "agent.uncordon":
            return "Uncordoned", f"by {who}"
        case "agent.drained":
            return "Drained", "Cordoned and running no work"
        case "agent.delete":
            if event.actor_type == "system":
                return "Deleted", "by the stale-agent clean-up (system)"
            return "Deleted", f"by {who}"
    return event.action, ""


def timeline(agent: Agent, now: datetime | None = None) -> list[Transition]:
    """The agent's transitions over the history window, oldest first, each with its cause."""
    since = (now or timezone.now()) - timedelta(days=settings.HISTORY_RETENTION_DAYS)
    events = AuditEvent.objects.filter(
        deployment_id=agent.deployment_id,
        target_type="agent",
        target_id=str(agent.pk),
        action__in=TRANSITIONS,
        created_at__gte=since,
    ).order_by("created_at", "pk")
    return [Transition(e.created_at, e.action, *_cause(e), e.actor_label) for e in events]


def recent_events(agent: Agent, limit: int = 20):
    return (
        AuditEvent.objects.filter(
            deployment_id=agent.deployment_id, target_type="agent", target_id=str(agent.pk)
        )
        .select_related("actor_user")
        .order_by("-created_at", "-pk")[:limit]
    )


def _hours(since: datetime, now: datetime) -> list[int]:
    first = history.bucket_of(since.timestamp())
    last = history.bucket_of(now.timestamp())
    return list(range(first, last + 1, history.BUCKET_SECONDS))


def chart(agent: Agent, now: datetime | None = None) -> dict:
    """Hourly slots and running work for uPlot: x in Unix seconds, gaps as null."""
    now = now or timezone.now()
    since = max(
        now - timedelta(days=settings.HISTORY_RETENTION_DAYS),
        agent.first_seen_at - timedelta(seconds=history.BUCKET_SECONDS),
    )
    rows = {
        int(r.bucket.timestamp()): (
            r.healthy_samples,
            r.slots_used_avg,
            r.slots_used_max,
            r.slots_total,
            r.running_avg,
        )
        for r in AgentRollup.objects.filter(agent=agent).since(since)
    }
    current = history.bucket_of(now.timestamp())
    try:
        partial, _ = history.accumulated(agent.deployment_id, current, str(agent.pk))
    except store.Unavailable:
        partial = {}
    if a := partial.get(str(agent.pk)):
        h = a["h"]
        rows[current] = (h, a["u"] / h if h else None, a["m"], a["t"], a["r"] / h if h else None)
    x, used, peak, total, running = [], [], [], [], []
    for hour in _hours(since, now):
        x.append(hour)
        h, u, m, t, r = rows.get(hour, (0, None, None, None, None))
        used.append(None if not h else round(u, 2))
        peak.append(None if not h else m)
        total.append(None if not h else t)
        running.append(None if not h or r is None else round(r, 2))
    points = sum(1 for v in used if v is not None)
    return {"x": x, "used": used, "max": peak, "total": total, "running": running, "points": points}


def versions_reported(agent: Agent) -> list[dict]:
    """Each version the agent reported, with when it was first and last seen doing so."""
    seen: dict[str, dict] = {}

    def saw(version: str, first: datetime, last: datetime) -> None:
        entry = seen.setdefault(version, {"version": version, "first": first, "last": last})
        entry["first"], entry["last"] = min(entry["first"], first), max(entry["last"], last)

    register = (
        AuditEvent.objects.filter(
            target_type="agent", target_id=str(agent.pk), action="agent.register"
        )
        .order_by("created_at")
        .first()
    )
    if register and register.details.get("version"):
        saw(register.details["version"], register.created_at, register.created_at)
    hour = timedelta(seconds=history.BUCKET_SECONDS)
    for r in AgentRollup.objects.filter(agent=agent).exclude(version="").order_by("bucket"):
        saw(r.version, r.bucket, r.bucket + hour)
    if agent.version:
        saw(agent.version, agent.heartbeat_checkpoint_at, agent.heartbeat_checkpoint_at)
    return sorted(seen.values(), key=lambda e: e["first"])


# --- queues ---------------------------------------------------------------------------------


@dataclass
class QueueRow:
    name: str
    agents: int = 0
    healthy: int = 0
    slots_used: int = 0
    slots_total: int = 0
    spark: list = field(default_factory=list)

    @property
    def utilisation(self) -> float | None:
        return self.slots_used / self.slots_total if self.slots_total else None

    @property
    def spark_path(self) -> str:
        return spark_path(self.spark)


@dataclass
class QueuesNow:
    rows: list[QueueRow]
    store_ok: bool
    without_healthy: list[str]
    until: float | None  # when a healthy agent may next turn unhealthy, if none heartbeats


def queues(deployment, now: datetime | None = None) -> QueuesNow:
    """Per queue, right now: healthy / all agents and the slots of the healthy ones (what the
    Agents table shows as Healthy), with utilisation per hour over the last 24 h."""
    now = now or timezone.now()
    agents = list(
        Agent.objects.live()
        .filter(deployment=deployment)
        .only(
            "id",
            "queues",
            "slots_used",
            "slots_total",
            "cordoned_at",
            "deleted_at",
            "health",
            "heartbeat_checkpoint_at",
        )
        .order_by()
    )
    lives = liveness.read(deployment.pk, agents)
    rows: dict[str, QueueRow] = {}
    until = None
    for agent in agents:
        live = lives[str(agent.pk)] if lives else None
        healthy = live is not None and live.status == Status.HEALTHY
        if live and live.health == Health.HEALTHY and live.last_heartbeat_at:
            expires = live.last_heartbeat_at.timestamp() + settings.AGENT_HEALTHY_SECONDS
            until = expires if until is None else min(until, expires)
        for name in agent.queues or []:
            row = rows.setdefault(name, QueueRow(name))
            row.agents += 1
            if healthy:
                row.healthy += 1
                row.slots_used += agent.slots_used
                row.slots_total += agent.slots_total
    _add_history(deployment, rows, now)
    ordered = sorted(rows.values(), key=lambda r: (r.healthy > 0, r.name))
    missing = [r.name for r in ordered if r.healthy == 0] if lives is not None else []
    return QueuesNow(ordered, lives is not None, missing, until)


def _add_history(deployment, rows: dict[str, QueueRow], now: datetime) -> None:
    """Utilisation per hour for 24 h; queues served in that time appear even with no agent."""
    hours = _hours(now - timedelta(hours=23), now)
    util: dict[str, dict[int, float | None]] = {}
    for r in QueueRollup.objects.filter(deployment=deployment).since(bucket_time(hours[0])):
        util.setdefault(r.queue, {})[int(r.bucket.timestamp())] = r.utilisation
    try:
        _, partial = history.accumulated(deployment.pk, hours[-1])
    except store.Unavailable:
        partial = {}
    for name, q in partial.items():
        util.setdefault(name, {})[hours[-1]] = q["u"] / q["t"] if q["t"] else None
    for name, by_hour in util.items():
        rows.setdefault(name, QueueRow(name)).spark = [by_hour.get(h) for h in hours]
    for row in rows.values():
        row.spark = row.spark or [None] * len(hours)


def spark_path(values: list, width: int = 120, height: int = 28) -> str:
    """An SVG path for a sparkline of 0..1 values; None breaks the line, a lone point is a dot."""
    if not values:
        return ""
    step = width / max(1, len(values) - 1)
    parts, pen_down = [], False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        x, y = round(i * step, 1), round(height - 2 - min(max(v, 0), 1) * (height - 4), 1)
        parts.append(f"{'L' if pen_down else 'M'}{x} {y}")
        if not pen_down:
            parts.append("h0.01")
        pen_down = True
    return " ".join(parts)


def current_hour() -> datetime:
    return bucket_time(history.bucket_of(store.now()))
