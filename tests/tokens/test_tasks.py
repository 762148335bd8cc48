"""Beat tasks: the expiry sweep and the last-used flush."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from tokens.models import AgentToken
from tokens.tasks import flush_token_usage, record_expired_tokens


def _expire(token, ago=timedelta(minutes=1)) -> None:
    AgentToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - ago)


def test_it_records_each_expiry_once(deployment, issue):
    token, _ = issue(deployment, name="old", expires_in_days=7)
    issue(deployment, name="fresh", expires_in_days=7)
    issue(deployment, name="forever")
    _expire(token)

    assert record_expired_tokens() == 1
    assert record_expired_tokens() == 0

    event = AuditEvent.objects.get(action="token.expire")
    assert event.actor_type == ActorType.SYSTEM
    assert event.target_id == str(token.pk)
    assert event.deployment == deployment
    token.refresh_from_db()
    assert token.expiry_recorded_at is not None


def test_it_ignores_deleted_tokens(deployment, issue, admin):
    token, _ = issue(deployment, expires_in_days=7)
    _expire(token)
    token.revoke(by=admin)
    assert record_expired_tokens() == 0
    assert not AuditEvent.objects.filter(action="token.expire").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_each_expiry_once(deployment):
    tokens = [
        AgentToken.objects.issue(deployment, name=f"t{i}", expires_in_days=1)[0] for i in range(10)
    ]
    AgentToken.objects.filter(pk__in=[t.pk for t in tokens]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    start = threading.Barrier(2)
    results = []

    def sweep():
        try:
            start.wait()
            results.append(record_expired_tokens())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 10
    assert AuditEvent.objects.filter(action="token.expire").count() == 10


def test_the_flush_does_nothing_without_pending_uses(deployment, issue):
    issue(deployment)
    assert flush_token_usage() == 0
    assert not AgentToken.objects.filter(last_used_at__isnull=False).exists()


def test_both_tasks_are_on_the_beat_schedule():
    tasks = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["tokens.tasks.flush_token_usage"] == 30.0
    assert tasks["tokens.tasks.record_expired_tokens"] == 60.0
