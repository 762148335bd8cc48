import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Component(models.TextChoices):
    WORKER = "worker", "Worker"
    DAG_PROCESSOR = "dag-processor", "DAG processor"
    TRIGGERER = "triggerer", "Triggerer"


class Health(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


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
