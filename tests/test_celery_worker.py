from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from astro_ui.celery import app
from audit.models import AuditEvent
from tokens.models import AgentToken
from tokens.tasks import record_expired_tokens


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_expired_tokens_over_the_redis_broker(deployment):
    expired, _ = AgentToken.objects.issue(deployment, name="old", expires_in_days=1)
    AgentToken.objects.issue(deployment, name="fresh", expires_in_days=30)
    AgentToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = record_expired_tokens.apply_async(ignore_result=False)
        assert result.get(timeout=20) == 1
    events = AuditEvent.objects.filter(action="token.expire")
    assert [e.target_id for e in events] == [str(expired.pk)]
