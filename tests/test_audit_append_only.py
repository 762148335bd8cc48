"""The audit trail is append-only for everyone: no change or delete through any path."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.test import Client

from audit.models import ActorType, AuditEvent
from audit.record import record
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(deployment, admin):
    return record("deployment.update", target=deployment, deployment=deployment, user=admin)


@pytest.fixture
def root_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    return client


def test_the_model_refuses_delete_and_change(event):
    with pytest.raises(PermissionDenied):
        event.delete()
    event.action = "something.else"
    with pytest.raises(PermissionDenied):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "deployment.update"


def test_querysets_refuse_delete_and_update(event):
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    assert AuditEvent.objects.filter(pk=event.pk, action="deployment.update").exists()


def test_new_events_are_still_recorded(deployment):
    AuditEvent.objects.create(actor_type=ActorType.SYSTEM, actor_label="system", action="a.b")
    assert AuditEvent.objects.filter(action="a.b").count() == 1


def test_the_admin_lists_events_read_only_with_no_delete(root_client, event):
    changelist = root_client.get("/admin/audit/auditevent/")
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert "delete_selected" not in body
    assert "Delete selected" not in body
    url = f"/admin/audit/auditevent/{event.pk}/delete/"
    assert root_client.get(url).status_code == 403
    assert root_client.post(url, {"post": "yes"}).status_code == 403
    # The bulk action, posted by hand, is refused too.
    action = {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    root_client.post("/admin/audit/auditevent/", action)
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    change = root_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "x"})
    assert change.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "deployment.update"


def test_deleting_a_deployment_or_user_keeps_their_history(event, deployment, admin):
    Deployment.objects.filter(pk=deployment.pk).delete()
    admin.delete()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert (kept.deployment_id, kept.actor_user_id) == (None, None)
    assert kept.actor_label == "alice"
    assert kept.target_label == "etl-prod"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_raw_deletes_and_changes(event):
    for sql in [
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditevent SET action = 'x'",
        "UPDATE audit_auditevent SET deployment_id = NULL, details = '{\"x\": 1}'::jsonb",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).action == "deployment.update"
