# The audit trail is append-only. On PostgreSQL a trigger refuses DELETE, and any UPDATE other
# than a deleted user's or deployment's link becoming NULL (ON DELETE SET NULL), whatever issues
# it: the ORM, raw SQL, the admin, a shell. SQLite has no such trigger (Django's test flush
# deletes rows there); the model and its QuerySet refuse instead.

import django.db.models.deletion
from django.db import migrations, models

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'The audit trail is append-only: events cannot be deleted.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.created_at, NEW.actor_type, NEW.actor_label, NEW.action, NEW.target_type,
        NEW.target_id, NEW.target_label, NEW.source_ip, NEW.details)
        IS DISTINCT FROM
       (OLD.id, OLD.created_at, OLD.actor_type, OLD.actor_label, OLD.action, OLD.target_type,
        OLD.target_id, OLD.target_label, OLD.source_ip, OLD.details)
       OR (NEW.deployment_id IS DISTINCT FROM OLD.deployment_id AND NEW.deployment_id IS NOT NULL)
       OR (NEW.actor_user_id IS DISTINCT FROM OLD.actor_user_id AND NEW.actor_user_id IS NOT NULL)
    THEN
        RAISE EXCEPTION 'The audit trail is append-only: events cannot be changed.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""

TRIGGER = """
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()
"""

DROP_TRIGGER = "DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent"
DROP_FUNCTION = "DROP FUNCTION IF EXISTS audit_auditevent_append_only()"


def _on_postgresql(*statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("deployments", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="deployment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="audit_events",
                to="deployments.deployment",
            ),
        ),
        migrations.RunPython(
            _on_postgresql(FUNCTION, TRIGGER), _on_postgresql(DROP_TRIGGER, DROP_FUNCTION)
        ),
    ]
