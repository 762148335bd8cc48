"""Bounded fleet history: one row per agent per hour, one per queue per hour, kept N days.

Heartbeats never write history. A Celery beat job samples the fleet every
HISTORY_SAMPLE_SECONDS into Redis accumulators (one hash per deployment and hour); when the hour
is over, each accumulator becomes rows here, in one bulk insert. Transitions (health, cordon,
drained, delete) are audit events.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from agents.models import Agent
from deployments.models import Deployment


class RollupQuerySet(models.QuerySet):
    def since(self, when: datetime) -> "RollupQuerySet":
        return self.filter(bucket__gte=when)

    def expired(self, now: datetime | None = None) -> "RollupQuerySet":
        now = now or timezone.now()
        return self.filter(bucket__lt=now - timedelta(days=settings.HISTORY_RETENTION_DAYS))


class AgentRollup(models.Model):
    """What one agent did during one hour, from the samples taken in it."""

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="+"
    )
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="rollups")
    bucket = models.DateTimeField(help_text="Start of the hour")
    samples = models.PositiveIntegerField()
    healthy_samples = models.PositiveIntegerField()
    slots_used_avg = models.FloatField(null=True, help_text="Over healthy samples")
    slots_used_max = models.PositiveIntegerField(default=0)
    slots_total = models.PositiveIntegerField(default=0)
    running_avg = models.FloatField(null=True, help_text="Over healthy samples")
    version = models.CharField(max_length=64, blank=True)

    objects = RollupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "bucket"], name="one_rollup_per_agent_hour")
        ]
        indexes = [models.Index(fields=["bucket"], name="agentrollup_bucket")]

    def __str__(self) -> str:
        return f"{self.agent_id} at {self.bucket:%Y-%m-%d %H:00}"


class QueueRollup(models.Model):
    """One queue of one deployment during one hour: averages over the samples taken in it."""

    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="+"
    )
    queue = models.CharField(max_length=200)
    bucket = models.DateTimeField()
    samples = models.PositiveIntegerField()
    agents_avg = models.FloatField()
    healthy_avg = models.FloatField()
    slots_used_avg = models.FloatField()
    slots_total_avg = models.FloatField()

    objects = RollupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "queue", "bucket"], name="one_rollup_per_queue_hour"
            )
        ]
        indexes = [models.Index(fields=["deployment", "bucket"], name="queuerollup_dep_bucket")]

    def __str__(self) -> str:
        return f"{self.queue} at {self.bucket:%Y-%m-%d %H:00}"

    @property
    def utilisation(self) -> float | None:
        return self.slots_used_avg / self.slots_total_avg if self.slots_total_avg else None


def bucket_time(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket, tz=UTC)


def write_bucket(dep, bucket: int, agents: dict, queues: dict) -> int:
    """Turn one finished accumulator into rows; returns how many. Idempotent: a bucket written
    twice (a crash between the insert and the clean-up) keeps its first rows."""
    if not Deployment.objects.filter(pk=dep).exists():
        return 0  # deleted since: its hour goes with it
    at = bucket_time(bucket)
    # Agents deleted for good (a deployment removed) take their hour with them.
    existing = {
        str(pk)
        for pk in Agent.objects.filter(pk__in=list(agents)).values_list("pk", flat=True).order_by()
    }
    agent_rows = [
        AgentRollup(
            deployment_id=dep,
            agent_id=agent_id,
            bucket=at,
            samples=a["n"],
            healthy_samples=a["h"],
            slots_used_avg=a["u"] / a["h"] if a["h"] else None,
            slots_used_max=a["m"],
            slots_total=a["t"],
            running_avg=a["r"] / a["h"] if a["h"] else None,
            version=a["v"][:64],
        )
        for agent_id, a in agents.items()
        if agent_id in existing
    ]
    queue_rows = [
        QueueRollup(
            deployment_id=dep,
            queue=name[:200],
            bucket=at,
            samples=q["n"],
            agents_avg=q["a"] / q["n"],
            healthy_avg=q["h"] / q["n"],
            slots_used_avg=q["u"] / q["n"],
            slots_total_avg=q["t"] / q["n"],
        )
        for name, q in queues.items()
        if q["n"]
    ]
    with transaction.atomic():
        AgentRollup.objects.bulk_create(agent_rows, batch_size=2000, ignore_conflicts=True)
        QueueRollup.objects.bulk_create(queue_rows, batch_size=2000, ignore_conflicts=True)
    return len(agent_rows) + len(queue_rows)
