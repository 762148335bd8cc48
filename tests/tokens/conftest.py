import pytest
from django.test import Client

from tokens.models import AgentToken


@pytest.fixture
def issue(admin):
    """Create a token the way the console does; returns (token, value)."""

    def _issue(deployment, name="prod-cluster", expires_in_days=None, **kwargs):
        kwargs.setdefault("by", admin)
        return AgentToken.objects.issue(
            deployment, name=name, expires_in_days=expires_in_days, **kwargs
        )

    return _issue


@pytest.fixture
def superuser_client(django_user_model, deployment):
    """Support staff, with a client of their own so tests can use it beside a member's."""
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(root)
    return client
