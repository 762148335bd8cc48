from celery import shared_task
from django.conf import settings

from audit.models import AuditEvent


@shared_task
def prune_audit_events() -> int:
    """Drop audit events older than AUDIT_RETENTION_DAYS; returns how many went."""
    deleted, _ = AuditEvent.objects.older_than(settings.AUDIT_RETENTION_DAYS).delete()
    return deleted
