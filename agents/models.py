import contextlib
import json
import logging
import uuid

import redis
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from agents import liveness, store
from agents.liveness import Health, utc_datetime
from agents.liveness import Status as Status  # re-exported: callers import it from here
from audit.models import ActorType, AuditEvent
from audit.record import record

log = logging.getLogger(__name__)


class Component(models.TextChoices):
    WORKER = "worker", "Worker"
    DAG_PROCESSOR = "dag-processor", "DAG processor"
    TRIGGERER = "triggerer", "Triggerer"


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


class AgentQuerySet(models.QuerySet["Agent"]):
    def live(self) -> "AgentQuerySet":
        return self.filter(deleted_at__isnull=True)

    def problems_first(self, fleet: "liveness.Fleet") -> "AgentQuerySet":
        """Unhealthy, then Unknown, Cordoned and Healthy; by name within each. Raises
        store.Unavailable."""
        return self.annotate(problem_rank=fleet.status_case()).order_by("problem_rank", "name")

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

        A row is written only when something the table shows changed, or when its
        heartbeat_checkpoint_at is older than AGENT_CHECKPOINT_SECONDS: liveness comes from Redis.
        """
        written = 0
        for dep in store.dirty_deployments():
            pending = store.take_pending(dep)
            if not pending:
                continue
            changed, visible = [], False
            rows = self.live().filter(deployment_id=dep)
            for agent in rows.only("id", "token_id", *HEARTBEAT_FIELDS, "heartbeat_checkpoint_at"):
                body = pending.get(str(agent.pk))
                if body is None:
                    continue
                new = {f: body.get(f, getattr(agent, f)) for f in HEARTBEAT_FIELDS}
                differs = any(getattr(agent, f) != v for f, v in new.items())
                token_id = body.get("token_id") or agent.token_id
                at = utc_datetime(body["at"])
                due = (
                    at - agent.heartbeat_checkpoint_at
                ).total_seconds() >= settings.AGENT_CHECKPOINT_SECONDS
                if differs or due or str(token_id) != str(agent.token_id):
                    for f, v in new.items():
                        setattr(agent, f, v)
                    agent.token_id = token_id
                    agent.heartbeat_checkpoint_at = at
                    changed.append(agent)
                visible = visible or differs
            if changed:
                fields = [*HEARTBEAT_FIELDS, "token_id", "heartbeat_checkpoint_at"]
                self._bulk_set(changed, fields)
                written += len(changed)
            # Moving heartbeat times alone change nothing the table shows: it shows "live" for
            # agents on time, and its poll notices when one is late (liveness.is_current).
            if visible:
                store.bump(dep)
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
            "heartbeat_checkpoint_at": "timestamptz",
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
        if store.epoch() is None:
            store.mark_epoch()
            return 0
        transitions = 0
        deps = self.live().values_list("deployment_id", flat=True).distinct().order_by()
        for dep in list(deps):
            fleet = liveness.read(dep)
            if not fleet.ok:
                raise redis.ConnectionError("heartbeat store unreadable")
            seen = store.seen_all(dep)
            live = list(
                self.live()
                .filter(deployment_id=dep)
                .only(
                    "id",
                    "name",
                    "health",
                    "heartbeat_checkpoint_at",
                    "cordoned_at",
                    "cordon_reason",
                    "deleted_at",
                )
            )
            store.reconcile(dep, {a.name: (str(a.pk), a.cordon_state) for a in live})
            # Times of agents deleted while Redis was unreachable (or removed from the database
            # by hand). `seen` was read before the rows, and a new agent's row is committed
            # before its first time is written, so an id missing from the rows is gone.
            ids = {str(a.pk) for a in live}
            store.drop_seen(dep, [i for i in seen if i not in ids])
            moved = []
            for agent in live:
                ts = seen.get(str(agent.pk))
                new = fleet.judge(agent, ts).health
                if new is not None and new != agent.health:
                    agent.health = new
                    if ts is not None:
                        agent.heartbeat_checkpoint_at = utc_datetime(ts)
                    moved.append(agent)
            if moved:
                with transaction.atomic():
                    self._bulk_set(moved, ["health", "heartbeat_checkpoint_at"])
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
                                details={
                                    "last_heartbeat_at": a.heartbeat_checkpoint_at.isoformat()
                                },
                            )
                            for a in moved
                        ]
                    )
                store.bump(dep)
                transitions += len(moved)
        store.client().set(store.SWEEP_LAST, store.now())
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
    # Not liveness: heartbeat times live in Redis (see agents/liveness.py). The flush copies an
    # agent's time here every AGENT_CHECKPOINT_SECONDS, so the database has a recent-enough
    # value to show when Redis cannot be read.
    heartbeat_checkpoint_at = models.DateTimeField(
        default=timezone.now,
        db_index=True,
        verbose_name="heartbeat checkpoint",
        help_text="A copy of the last heartbeat time, refreshed every AGENT_CHECKPOINT_SECONDS.",
    )
    # The last transition the sweep recorded (for the audit trail); what anyone shows comes from
    # the liveness rule, so a stopped sweep can never leave a silent agent looking healthy.
    health = models.CharField(
        max_length=10,
        choices=Health.choices,
        default=Health.HEALTHY,
        verbose_name="health recorded by the sweep",
    )
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
        """Stop new work going to the agent; running work continues. On a cordoned agent, a new
        reason replaces the old one. False if nothing changed."""
        reason = reason.strip()
        with transaction.atomic():
            live = Agent.objects.live().filter(pk=self.pk)
            changed = live.filter(cordoned_at__isnull=True).update(
                cordoned_at=timezone.now(), cordoned_by=by, cordon_reason=reason
            )
            if not changed and reason:
                changed = (
                    live.filter(cordoned_at__isnull=False)
                    .exclude(cordon_reason=reason)
                    .update(cordoned_by=by, cordon_reason=reason)
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
