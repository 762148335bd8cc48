from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

APPEND_ONLY = "The audit trail is append-only: events cannot be changed or deleted."


class ActorType(models.TextChoices):
    USER = "user", "User"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Appends only. Deletes and updates through the ORM are refused here and on the model; on
    PostgreSQL a trigger refuses them in the database too (migration 0002), whatever path they
    take. The one change allowed is a deleted user's or deployment's link becoming NULL."""

    def delete(self) -> NoReturn:
        raise PermissionDenied(APPEND_ONLY)

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionDenied(APPEND_ONLY)


class AuditEvent(models.Model):
    """Who did what, to what, from where, and when. Never holds a secret."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=200, help_text="User name, agent name or 'system'")
    action = models.CharField(max_length=50, db_index=True, help_text="e.g. agent.cordon")
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    # SET_NULL: deleting a deployment keeps its history (names are in the labels).
    deployment = models.ForeignKey(
        "deployments.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_label}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionDenied(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionDenied(APPEND_ONLY)
