import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from deployments.models import Deployment, Organization, Workspace


def password_file(username: str) -> Path:
    """Where the generated password waits, readable by this user only, until it is changed."""
    return Path(settings.VAR_DIR) / f"{username}-password"


def generated_password(username: str) -> str | None:
    """The generated password while it is still the user's; a stale file is removed."""
    path = password_file(username)
    try:
        password = path.read_text().strip()
    except OSError:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is not None and user.check_password(password):
        return password
    path.unlink(missing_ok=True)
    return None


def _keep_password(username: str, password: str) -> None:
    path = password_file(username)
    path.unlink(missing_ok=True)
    # Created 0600 from the start: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")


class Command(BaseCommand):
    help = "Create the demo organisation, workspace and deployment, and an admin user (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    @transaction.atomic
    def handle(self, *args, username: str, **options) -> None:
        org, _ = Organization.objects.get_or_create(name="Demo Organization")
        workspace, _ = Workspace.objects.get_or_create(organization=org, name="Data Platform")
        deployment, created = Deployment.objects.get_or_create(
            workspace=workspace,
            name="production-etl",
            defaults={
                "description": "Nightly ETL running on agents in our own cluster",
                "remote_execution": True,
            },
        )
        if created:
            self.stdout.write(f"Created demo deployment {deployment.name} ({deployment.pk})")

        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"User {username!r} already exists; its password was printed when it was created. "
                f"Set a new one with: .venv/bin/python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        _keep_password(username, password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created an admin user; its password is also in {password_file(username)} "
                "until you change it:"
            )
        )
        self.stdout.write(f"    username: {username}\n    password: {password}")
