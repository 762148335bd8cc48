from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from astro_ui.celery import app
from audit.models import ActorType, AuditEvent
from audit.tasks import prune_audit_events


def _event(age_days: int) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_type=ActorType.SYSTEM,
        actor_label="system",
        action="test.event",
        created_at=timezone.now() - timedelta(days=age_days),
    )


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_prunes_old_audit_events_over_the_redis_broker(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old, recent = _event(45), _event(5)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = prune_audit_events.apply_async(ignore_result=False)
        assert result.get(timeout=20) == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
