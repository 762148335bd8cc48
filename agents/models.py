import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from agents import store
from audit.models import ActorType, AuditEvent
from audit.record import record

log = logging.getLogger(__name__)


class Component(models.TextChoices):
    WORKER = "worker", "Worker"
    DAG_PROCESSOR = "dag-processor", "DAG processor"
    TRIGGERER = "triggerer", "Triggerer"


class Health(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Status(models.TextChoices):
    """What the table's badge says."""

    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    CORDONED = "cordoned", "Cordoned"
    TERMINATED = "terminated", "Terminated"
    UNKNOWN = "unknown", "Unknown"


# What a heartbeat carries that the table shows; a change of any of these re-renders the table.
HEARTBEAT_FIELDS = [
    "component",
    "version",
    "airflow_version",
    "python_version",
    "queues",
    "slots_used",
    "slots_total",
    "running_tasks",
    "hostname",
    "last_ip",
]


def _sql_value(value):
    return None if value is None else str(value) if isinstance(value, uuid.UUID) else value


def utc_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@dataclass(frozen=True)
class Liveness:
    """Health as derived from heartbeat times, independent of whether the sweep has run."""

    health: str | None  # Health value, or None when it cannot be known
    last_heartbeat_at: datetime | None


class AgentQuerySet(models.QuerySet["Agent"]):
    def live(self) -> "AgentQuerySet":
        return self.filter(deleted_at__isnull=True)

    def unhealthy_first(self) -> "AgentQuerySet":
        order = Case(When(health=Health.UNHEALTHY, then=Value(0)), default=Value(1))
        return self.order_by(order, "name")

    def with_status(self, status: str) -> "AgentQuerySet":
        if status == Status.CORDONED:
            return self.filter(cordoned_at__isnull=False)
        if status in (Status.HEALTHY, Status.UNHEALTHY):
            return self.filter(cordoned_at__isnull=True, health=status)
        return self

    def totals(self) -> dict:
        return self.aggregate(
            total=models.Count("id"),
            cordoned=models.Count("id", filter=Q(cordoned_at__isnull=False)),
        )

    def health_counts(self, deployment_id, totals: dict, *, epoch: float | None) -> dict:
        """Healthy / unhealthy / cordoned among a deployment's live agents (this queryset), from
        heartbeat times in Redis rather than the sweep's record. Raises store.Unavailable."""
        now = store.now()
        if epoch is None or now - epoch < settings.AGENT_HEALTHY_SECONDS:
            healthy = self.filter(cordoned_at__isnull=True, health=Health.HEALTHY).count()
        else:
            since = now - settings.AGENT_HEALTHY_SECONDS
            cordoned = list(self.filter(cordoned_at__isnull=False).values_list("id", flat=True))
            seen = store.seen_many(deployment_id, cordoned)
            healthy_cordoned = sum(1 for ts in seen.values() if ts is not None and ts >= since)
            healthy = store.count_seen_since(deployment_id, since) - healthy_cordoned
        unhealthy = totals["total"] - totals["cordoned"] - healthy
        return {"healthy": healthy, "unhealthy": max(0, unhealthy), "cordoned": totals["cordoned"]}

    def register(self, deployment_id, name: str, *, fields: dict, token_id) -> "Agent":
        """The agent called `name`, created on its first heartbeat, and cached for the next ones.

        `fields` are the heartbeat's HEARTBEAT_FIELDS, so the new row is complete at once.
        """
        agent = self.live().filter(deployment_id=deployment_id, name=name).first()
        if agent is None:
            values = {f: fields[f] for f in HEARTBEAT_FIELDS if f in fields}
            values["last_ip"] = values.get("last_ip") or None
            try:
                with transaction.atomic():
                    agent = self.create(
                        deployment_id=deployment_id, name=name, token_id=token_id, **values
                    )
                    record(
                        "agent.register",
                        target=agent,
                        deployment=agent.deployment,
                        agent_name=name,
                        ip=values["last_ip"],
                        details={"component": agent.component, "version": agent.version},
                    )
            except IntegrityError:
                # Another first heartbeat of the same name won the race.
                agent = self.live().get(deployment_id=deployment_id, name=name)
            else:
                store.bump(deployment_id)
        store.remember(deployment_id, name, agent.pk, agent.cordon_state)
        return agent

    def flush_heartbeats(self) -> int:
        """Write waiting heartbeat bodies to the database; returns the number of rows written.

        A row is written only when something the table shows changed, or when its stored
        last_heartbeat_at is older than AGENT_CHECKPOINT_SECONDS: health itself comes from Redis.
        """
        written = 0
        for dep in store.dirty_deployments():
            pending = store.take_pending(dep)
            if not pending:
                continue
            changed, visible = [], False
            rows = self.live().filter(deployment_id=dep)
            for agent in rows.only("id", "token_id", *HEARTBEAT_FIELDS, "last_heartbeat_at"):
                body = pending.get(str(agent.pk))
                if body is None:
                    continue
                new = {f: body.get(f, getattr(agent, f)) for f in HEARTBEAT_FIELDS}
                differs = any(getattr(agent, f) != v for f, v in new.items())
                token_id = body.get("token_id") or agent.token_id
                at = utc_datetime(body["at"])
                due = (
                    at - agent.last_heartbeat_at
                ).total_seconds() >= settings.AGENT_CHECKPOINT_SECONDS
                if differs or due or str(token_id) != str(agent.token_id):
                    for f, v in new.items():
                        setattr(agent, f, v)
                    agent.token_id = token_id
                    agent.last_heartbeat_at = at
                    changed.append(agent)
                visible = visible or differs
            if changed:
                self._bulk_set(changed, [*HEARTBEAT_FIELDS, "token_id", "last_heartbeat_at"])
                written += len(changed)
            if visible:
                store.bump(dep)
            else:
                store.bump_for_time(dep, settings.AGENT_TABLE_TIME_REFRESH_SECONDS)
        return written

    def _bulk_set(self, agents: list["Agent"], fields: list[str]) -> None:
        """One UPDATE for all of them.

        On PostgreSQL the rows travel as arrays (UPDATE ... FROM unnest(...)): a fixed number of
        parameters and linear cost, where bulk_update's CASE WHEN per row grows quadratically
        and took minutes for 10,000 agents.
        """
        if connection.vendor != "postgresql":
            self.model._default_manager.bulk_update(agents, fields, batch_size=len(agents))
            return
        types = {
            "queues": "jsonb",
            "slots_used": "integer",
            "slots_total": "integer",
            "running_tasks": "integer",
            "last_ip": "inet",
            "token_id": "uuid",
            "last_heartbeat_at": "timestamptz",
            "health": "varchar",
        }
        columns = ["id", *fields]
        arrays = [
            [str(a.pk) for a in agents],
            *(
                [
                    json.dumps(getattr(a, f)) if f == "queues" else _sql_value(getattr(a, f))
                    for a in agents
                ]
                for f in fields
            ),
        ]
        casts = ", ".join(
            f"%s::{'uuid' if c == 'id' else types.get(c, 'varchar')}[]" for c in columns
        )
        sets = ", ".join(f'"{c}" = v."{c}"' for c in fields)
        table = self.model._meta.db_table
        sql = (
            f'UPDATE "{table}" AS a SET {sets} '  # noqa: S608 - names are ours, values are params
            f"FROM unnest({casts}) AS v({', '.join(columns)}) WHERE a.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, arrays)

    def sweep(self) -> int:
        """Record health transitions (each exactly once); returns how many there were.

        Runs under a Redis lock, so two sweeps never judge the same agents at once. If Redis
        cannot be read, nothing is decided: silence we could not observe is not silence.
        """
        try:
            lock = store.client().lock("ra:sweep:lock", timeout=60, blocking_timeout=60)
            if not lock.acquire():
                return 0
        except store.Unavailable:
            log.warning("heartbeat store unavailable; health sweep skipped")
            return 0
        try:
            return self._sweep_locked()
        except store.Unavailable:
            log.warning("heartbeat store unavailable mid-sweep; transitions so far are kept")
            return 0
        finally:
            with contextlib.suppress(*store.Unavailable, redis.exceptions.LockError):
                lock.release()

    def _sweep_locked(self) -> int:
        now = store.now()
        epoch = store.epoch()
        if epoch is None:
            store.mark_epoch()
            return 0
        just_started = now - epoch < settings.AGENT_HEALTHY_SECONDS
        threshold = now - settings.AGENT_HEALTHY_SECONDS
        transitions = 0
        deps = self.live().values_list("deployment_id", flat=True).distinct().order_by()
        for dep in list(deps):
            seen = store.seen_all(dep)
            live = list(
                self.live()
                .filter(deployment_id=dep)
                .only("id", "name", "health", "last_heartbeat_at", "cordoned_at", "cordon_reason")
            )
            store.reconcile(dep, {a.name: (str(a.pk), a.cordon_state) for a in live})
            moved = []
            for agent in live:
                ts = seen.get(str(agent.pk))
                if ts is None and just_started:
                    continue
                new = Health.HEALTHY if ts is not None and ts >= threshold else Health.UNHEALTHY
                if new != agent.health:
                    agent.health = new
                    if ts is not None:
                        agent.last_heartbeat_at = utc_datetime(ts)
                    moved.append(agent)
            if moved:
                with transaction.atomic():
                    self._bulk_set(moved, ["health", "last_heartbeat_at"])
                    AuditEvent.objects.bulk_create(
                        [
                            AuditEvent(
                                actor_type=ActorType.SYSTEM,
                                actor_label="system",
                                action=f"agent.{a.health}",
                                target_type="agent",
                                target_id=str(a.pk),
                                target_label=a.name,
                                deployment_id=dep,
                                details={"last_heartbeat_at": a.last_heartbeat_at.isoformat()},
                            )
                            for a in moved
                        ]
                    )
                store.bump(dep)
                transitions += len(moved)
        store.client().set(store.SWEEP_LAST, now)
        return transitions


class Agent(models.Model):
    """One agent process that heartbeats: a worker pod, the DAG processor or the triggerer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="agents"
    )
    token = models.ForeignKey(
        "tokens.AgentToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agents",
        help_text="The token this agent last authenticated with",
    )
    name = models.CharField(max_length=253)
    component = models.CharField(max_length=20, choices=Component.choices)
    version = models.CharField(max_length=64, blank=True)
    airflow_version = models.CharField(max_length=64, blank=True)
    python_version = models.CharField(max_length=64, blank=True)
    queues = models.JSONField(default=list, blank=True)
    slots_used = models.PositiveIntegerField(default=0)
    slots_total = models.PositiveIntegerField(default=0)
    running_tasks = models.PositiveIntegerField(default=0)
    hostname = models.CharField(max_length=253, blank=True)
    last_ip = models.GenericIPAddressField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The last health the sweep recorded; what a page shows is also derived from
    # last_heartbeat_at, so a stopped sweep can never leave a silent agent looking healthy.
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.HEALTHY)
    cordoned_at = models.DateTimeField(null=True, blank=True)
    cordoned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cordon_reason = models.CharField(max_length=1024, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "name"],
                condition=Q(deleted_at__isnull=True),
                name="unique_live_agent_name",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_cordoned(self) -> bool:
        return self.cordoned_at is not None

    @property
    def cordon_state(self) -> str | None:
        """What heartbeat responses say: None when not cordoned, else the reason (maybe '')."""
        return self.cordon_reason if self.is_cordoned else None

    def liveness(self, seen_ts: float | None, *, epoch: float | None) -> Liveness:
        """Health from heartbeat times: Redis's if it has one, else the stored checkpoint.

        Never trusts the sweep's recorded health alone, so a stopped Celery cannot leave a
        silent agent looking healthy.
        """
        now = store.now()
        if seen_ts is not None:
            healthy = now - seen_ts < settings.AGENT_HEALTHY_SECONDS
            return Liveness(Health.HEALTHY if healthy else Health.UNHEALTHY, utc_datetime(seen_ts))
        if epoch is None or now - epoch < settings.AGENT_HEALTHY_SECONDS:
            # Redis lost its data moments ago: this agent may simply not have beaten since.
            return Liveness(self.health, self.last_heartbeat_at)
        return Liveness(Health.UNHEALTHY, self.last_heartbeat_at)

    def status(self, liveness: Liveness | None) -> str:
        if self.deleted_at is not None:
            return Status.TERMINATED
        if self.is_cordoned:
            return Status.CORDONED
        if liveness is None or liveness.health is None:
            return Status.UNKNOWN
        return liveness.health

    def _after_commit(self, action) -> None:
        def run():
            try:
                action()
                store.bump(self.deployment_id)
            except store.Unavailable:
                # The sweep re-syncs the cache with the database when Redis is back.
                log.warning("heartbeat store unavailable; %s will sync on the next sweep", self)

        transaction.on_commit(run)

    def cordon(self, *, by, reason: str = "", ip: str | None = None) -> bool:
        """Stop new work going to the agent; running work continues. False if nothing changed."""
        reason = reason.strip()
        with transaction.atomic():
            changed = (
                Agent.objects.live()
                .filter(pk=self.pk, cordoned_at__isnull=True)
                .update(cordoned_at=timezone.now(), cordoned_by=by, cordon_reason=reason)
            )
            if not changed:
                return False
            self.refresh_from_db()
            record(
                "agent.cordon",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"reason": reason},
            )
            self._after_commit(
                lambda: store.remember(self.deployment_id, self.name, self.pk, reason)
            )
        return True

    def uncordon(self, *, by, ip: str | None = None) -> bool:
        with transaction.atomic():
            changed = (
                Agent.objects.live()
                .filter(pk=self.pk, cordoned_at__isnull=False)
                .update(cordoned_at=None, cordoned_by=None, cordon_reason="")
            )
            if not changed:
                return False
            self.refresh_from_db()
            record("agent.uncordon", target=self, deployment=self.deployment, user=by, ip=ip)
            self._after_commit(lambda: store.remember(self.deployment_id, self.name, self.pk, None))
        return True

    def terminate(self, *, by, ip: str | None = None) -> bool:
        """Delete the agent. If it heartbeats again, it registers as a new agent."""
        with transaction.atomic():
            changed = (
                Agent.objects.live()
                .filter(pk=self.pk)
                .update(deleted_at=timezone.now(), deleted_by=by)
            )
            if not changed:
                return False
            self.refresh_from_db()
            record(
                "agent.delete",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"component": self.component, "hostname": self.hostname},
            )
            self._after_commit(lambda: store.forget(self.deployment_id, self.name, self.pk))
        return True
