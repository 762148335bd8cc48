"""The one liveness rule: what every screen, filter, guard, API answer and task says about
whether an agent is alive.

Heartbeats land in Redis (`store`), so Redis is the source: an agent whose last heartbeat is
younger than AGENT_HEALTHY_SECONDS is beating, otherwise it is silent. The database keeps only
a checkpoint of that time (`Agent.heartbeat_checkpoint_at`, written every
AGENT_CHECKPOINT_SECONDS); it is shown as a hint when Redis cannot answer, and then the status
is Unknown, never Healthy or Unhealthy.

Statuses partition the fleet, so counts add up (Healthy + Unhealthy + Cordoned + Unknown =
every agent), and filters and the API use the same words:

- Healthy: beating and taking work.
- Unhealthy: silent, cordoned or not.
- Cordoned: beating, but taking no new work.
- Unknown: its heartbeat time cannot be read (Redis unreachable, or it lost its data less than
  one health period ago and this agent has not beaten since).
- Deleted agents are Terminated (shown as "Deleted").

`judge` applies the rule to one agent in Python, `status_q` expresses it as a database filter;
both read the same `Fleet` snapshot, and tests hold them to the same answers.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When

from agents import store

if TYPE_CHECKING:
    from agents.models import Agent

# How often an open Agents table asks whether it is still current.
POLL_SECONDS = 5


class Health(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Status(models.TextChoices):
    """What the table's badge, the filters, the cards and the API say."""

    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    CORDONED = "cordoned", "Cordoned"
    UNKNOWN = "unknown", "Unknown"
    TERMINATED = "terminated", "Deleted"


# "Problems first": the order of the sort control of that name.
PROBLEM_ORDER = [Status.UNHEALTHY, Status.UNKNOWN, Status.CORDONED, Status.HEALTHY]


def healthy_seconds() -> int:
    return settings.AGENT_HEALTHY_SECONDS


def on_time_seconds() -> int:
    """An agent that beat this recently is shown as "live" rather than with a counting age:
    one heartbeat interval, plus one poll interval of slack for the page to learn of a late
    beat. The poll re-renders the table as soon as an agent passes this age."""
    return min(settings.HEARTBEAT_INTERVAL_SECONDS + POLL_SECONDS, healthy_seconds())


def utc_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@dataclass(frozen=True)
class Liveness:
    """One agent at one moment."""

    status: str  # a Status value
    health: str | None  # a Health value; None when it cannot be known
    last_heartbeat_at: datetime | None  # from Redis; None when Redis has no time for it
    checkpoint_at: datetime | None  # the database's checkpoint (a lower bound, possibly old)
    silent_for: float | None  # seconds since the last heartbeat, when known
    on_time: bool  # beat within on_time_seconds(): shown as "live"
    cordoned: bool

    @property
    def connected(self) -> bool:
        """Beating now, cordoned or not: what a change of allowed IP ranges can cut off."""
        return self.health == Health.HEALTHY

    @property
    def status_name(self) -> str:
        return self.status.upper()

    @property
    def last_known_heartbeat_at(self) -> datetime | None:
        return self.last_heartbeat_at or self.checkpoint_at

    @property
    def reason(self) -> str | None:
        """Why the status is what it is, in a sentence (API statusReason, badge tooltips)."""
        if self.status == Status.UNKNOWN:
            text = "The heartbeat store is unavailable or was just reset, so its health is unknown."
            if self.checkpoint_at:
                text += f" Checkpoint: {self.checkpoint_at:%Y-%m-%d %H:%M:%S} UTC."
            return text
        if self.status == Status.UNHEALTHY:
            since = self.last_known_heartbeat_at
            what = f"No heartbeat since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "No heartbeat"
            return what + (" (cordoned)." if self.cordoned else ".")
        if self.status == Status.CORDONED:
            return "Cordoned: takes no new work; running work continues."
        if self.status == Status.TERMINATED:
            return "Deleted."
        return None


@dataclass(frozen=True)
class LiveAgent:
    """An agent row with its liveness: what lists render and serialise. Reads fall through to
    the agent, so `row.name` is `row.agent.name`."""

    agent: "Agent"
    liveness: Liveness

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("agent", "liveness"):
            raise AttributeError(name)
        return getattr(self.agent, name)


@dataclass(frozen=True)
class Counts:
    total: int
    healthy: int | None
    unhealthy: int | None
    cordoned: int | None
    unknown: int
    unhealthy_cordoned: int | None  # of the Unhealthy, how many are cordoned

    @property
    def known(self) -> bool:
        return self.healthy is not None


class Fleet:
    """One deployment's heartbeat times as read at one instant (`now`). Build it with `read`."""

    def __init__(self, deployment_id, *, now: float, epoch: float | None, ver: int = 0, live=0):
        self.deployment_id = str(deployment_id)
        self.now = now
        self.epoch = epoch  # None: Redis could not be read
        self.ver = ver
        self.live = live  # agents on time at `now`

    @property
    def ok(self) -> bool:
        return self.epoch is not None

    @property
    def in_grace(self) -> bool:
        """Redis lost its data less than one health period ago: an agent it has no time for
        may simply not have beaten since, so it is Unknown rather than Unhealthy."""
        return self.epoch is not None and self.now - self.epoch < healthy_seconds()

    @property
    def silent_before(self) -> float:
        """A heartbeat at or before this time is too old: the agent is silent."""
        return self.now - healthy_seconds()

    @property
    def version(self) -> str | None:
        """What the Agents table hands back when it polls: the epoch and the change counter,
        plus when it was drawn and how many agents were on time then, so that the poll notices
        agents that crossed a threshold since without anything having been written."""
        if not self.ok:
            return None
        return f"{self.epoch:.0f}.{self.ver}.{round(self.now * 1000)}.{self.live}"

    # --- the rule ------------------------------------------------------------------------------

    def judge(self, agent: "Agent", seen: float | None) -> Liveness:
        checkpoint = agent.heartbeat_checkpoint_at
        cordoned = agent.cordoned_at is not None
        last: datetime | None = None
        silent_for: float | None = None
        if seen is not None:
            last, silent_for = utc_datetime(seen), max(0.0, self.now - seen)
        if not self.ok or (seen is None and self.in_grace):
            health = None
        elif seen is not None and seen > self.silent_before:
            health = Health.HEALTHY
        else:
            health = Health.UNHEALTHY
        if agent.deleted_at is not None:
            status = Status.TERMINATED
        elif health is None:
            status = Status.UNKNOWN
        elif health == Health.UNHEALTHY:
            status = Status.UNHEALTHY
        else:
            status = Status.CORDONED if cordoned else Status.HEALTHY
        on_time = (
            health == Health.HEALTHY and silent_for is not None and silent_for < on_time_seconds()
        )
        return Liveness(status, health, last, checkpoint, silent_for, on_time, cordoned)

    def status_q(self, status: str) -> Q:
        """The rule as a database filter: the agents `judge` would give `status`."""
        deleted = Q(deleted_at__isnull=False)
        if status == Status.TERMINATED:
            return deleted
        if status not in Status.values:
            return Q(pk__in=[])
        if not self.ok:
            return ~deleted if status == Status.UNKNOWN else Q(pk__in=[])
        beating = Q(pk__in=self._beating_ids)
        cordoned = Q(cordoned_at__isnull=False)
        present = Q(pk__in=self._present_ids) if self.in_grace else Q()
        if status == Status.UNKNOWN:
            return ~deleted & ~present if self.in_grace else Q(pk__in=[])
        if status == Status.UNHEALTHY:
            return ~deleted & present & ~beating
        if status == Status.CORDONED:
            return ~deleted & beating & cordoned
        return ~deleted & beating & ~cordoned

    def connected_q(self) -> Q:
        """Beating now, cordoned or not (Healthy or Cordoned)."""
        return Q(deleted_at__isnull=True, pk__in=self._beating_ids)

    def status_case(self) -> Case:
        """The status as an annotation (for ordering), from the same filters."""
        whens = [When(self.status_q(s), then=Value(i)) for i, s in enumerate(PROBLEM_ORDER)]
        return Case(*whens, default=Value(len(PROBLEM_ORDER)), output_field=models.IntegerField())

    @functools.cached_property
    def _beating_ids(self) -> list[str]:
        return store.seen_ids_after(self.deployment_id, self.silent_before)

    @functools.cached_property
    def _present_ids(self) -> list[str]:
        return store.seen_ids(self.deployment_id)


def read(deployment_id) -> Fleet:
    """A snapshot of a deployment's heartbeat times, in one Redis round trip. When Redis cannot
    be read the snapshot says so (`ok` False) and every status it gives is Unknown."""
    now = round(store.now() * 1000) / 1000
    try:
        epoch_raw, ver, _, (live,) = store.clock(
            deployment_id, counts_after=[now - on_time_seconds()]
        )
        if epoch_raw is None:
            store.mark_epoch()
        epoch = store.epoch() if epoch_raw is None else float(epoch_raw)
    except store.Unavailable:
        return Fleet(deployment_id, now=now, epoch=None)
    epoch = now if epoch is None else epoch
    return Fleet(deployment_id, now=now, epoch=epoch, ver=int(ver or 0), live=live)


def rows(fleet: Fleet, agents: list["Agent"]) -> list[LiveAgent]:
    """Each agent with its liveness (one Redis round trip for all of them)."""
    seen: dict = {}
    if fleet.ok and agents:
        try:
            seen = store.seen_many(fleet.deployment_id, [a.pk for a in agents])
        except store.Unavailable:
            fleet = Fleet(fleet.deployment_id, now=fleet.now, epoch=None)
    return [LiveAgent(a, fleet.judge(a, seen.get(str(a.pk)))) for a in agents]


def known_rows(deployment_id, agents: list["Agent"]) -> list[LiveAgent] | None:
    """As `rows`, for callers that must not act on Unknown (tasks recording history): None
    when Redis cannot be read."""
    fleet = read(deployment_id)
    if not fleet.ok:
        return None
    try:
        seen = store.seen_many(deployment_id, [a.pk for a in agents]) if agents else {}
    except store.Unavailable:
        return None
    return [LiveAgent(a, fleet.judge(a, seen.get(str(a.pk)))) for a in agents]


def of(agent: "Agent") -> Liveness:
    """One agent's liveness (the admin, the API's detail answers)."""
    return rows(read(agent.deployment_id), [agent])[0].liveness


def counts(fleet: Fleet, agents) -> Counts:
    """How many of `agents` (a deployment's live agents, as a queryset) are in each status.

    Costs two small queries and one Redis round trip whatever the fleet's size: the healthy
    count comes from Redis's sorted set, only the (few) cordoned agents are looked up one by one.
    """
    total = agents.count()
    if not fleet.ok:
        return Counts(total, None, None, None, total, None)
    cordoned = agents.filter(cordoned_at__isnull=False).values_list("pk", flat=True)
    cordoned_ids = [str(pk) for pk in cordoned]
    try:
        beating, present, scores = store.seen_counts(
            fleet.deployment_id, after=fleet.silent_before, ids=cordoned_ids
        )
    except store.Unavailable:
        return Counts(total, None, None, None, total, None)
    cordoned_beating = sum(1 for ts in scores if ts is not None and ts > fleet.silent_before)
    unknown = unknown_cordoned = 0
    if fleet.in_grace:
        unknown = total - present
        unknown_cordoned = sum(1 for ts in scores if ts is None)
    healthy = beating - cordoned_beating
    if present > total or healthy + cordoned_beating + unknown > total:
        # Redis holds times of agents the database no longer has (deleted while Redis was
        # unreachable, or removed by hand; the sweep drops them): count exactly instead.
        try:
            return _exact_counts(fleet, agents, total)
        except store.Unavailable:
            return Counts(total, None, None, None, total, None)
    unhealthy = total - healthy - cordoned_beating - unknown
    unhealthy_cordoned = len(cordoned_ids) - cordoned_beating - unknown_cordoned
    return Counts(total, healthy, unhealthy, cordoned_beating, unknown, unhealthy_cordoned)


def _exact_counts(fleet: Fleet, agents, total: int) -> Counts:
    n = {s: agents.filter(fleet.status_q(s)).count() for s in PROBLEM_ORDER}
    silent_cordoned = agents.filter(fleet.status_q(Status.UNHEALTHY), cordoned_at__isnull=False)
    return Counts(
        total,
        n[Status.HEALTHY],
        n[Status.UNHEALTHY],
        n[Status.CORDONED],
        n[Status.UNKNOWN],
        silent_cordoned.count(),
    )


def connected(fleet: Fleet, agents) -> list[LiveAgent] | None:
    """The agents (of a queryset) beating now, cordoned or not; None when that cannot be
    known because Redis cannot be read."""
    if not fleet.ok:
        return None
    try:
        beating = list(agents.filter(fleet.connected_q()))
    except store.Unavailable:
        return None
    return rows(fleet, beating)


def is_current(deployment_id, version: str, access_key: str) -> bool:
    """Whether an Agents table drawn at `version` still shows the truth, and this session's
    access was checked recently: one Redis round trip, no SQL.

    Not current when something was written (the change counter moved), or when, since the
    table was drawn, an agent passed the on-time or the health threshold, one came back, or
    the grace period after a Redis data loss ended.
    """
    try:
        epoch_v, ver_v, drawn_ms, live_v = version.split(".")
        drawn, live_then = int(drawn_ms) / 1000, int(live_v)
    except ValueError:
        return False
    now = store.now()
    if drawn > now:
        return False
    late, silent = on_time_seconds(), healthy_seconds()
    allowed, epoch_raw, ver, crossed, live_now = store.poll_clock(
        deployment_id,
        access_key,
        windows=[(drawn - late, now - late), (drawn - silent, now - silent)],
        after=now - late,
    )
    if not allowed or epoch_raw is None:
        return False
    epoch = float(epoch_raw)
    if f"{epoch:.0f}" != epoch_v or str(int(ver or 0)) != ver_v:
        return False
    if any(crossed) or live_now != live_then:
        return False
    return not (drawn < epoch + silent <= now)
