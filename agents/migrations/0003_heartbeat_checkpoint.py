import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """The database's heartbeat time is a checkpoint, not liveness: its name says so."""

    dependencies = [
        ("agents", "0002_initial"),
    ]

    operations = [
        migrations.RenameField(
            model_name="agent",
            old_name="last_heartbeat_at",
            new_name="heartbeat_checkpoint_at",
        ),
        migrations.AlterField(
            model_name="agent",
            name="heartbeat_checkpoint_at",
            field=models.DateTimeField(
                db_index=True,
                default=django.utils.timezone.now,
                help_text="A copy of the last heartbeat time, refreshed every AGENT_CHECKPOINT_SECONDS.",
                verbose_name="heartbeat checkpoint",
            ),
        ),
        migrations.AlterField(
            model_name="agent",
            name="health",
            field=models.CharField(
                choices=[("healthy", "Healthy"), ("unhealthy", "Unhealthy")],
                default="healthy",
                max_length=10,
                verbose_name="health recorded by the sweep",
            ),
        ),
    ]
