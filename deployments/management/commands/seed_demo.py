import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from deployments.models import Deployment, Organization, Workspace


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
        self.stdout.write(self.style.SUCCESS("Created an admin user. This password is shown once:"))
        self.stdout.write(f"    username: {username}\n    password: {password}")
