from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from agents.models import Agent


@pytest.fixture
def make_agent(deployment):
    """An agent row as the heartbeat flush leaves it: healthy unless told how long ago it beat."""

    def make(name: str, ip: str | None, *, seconds_ago: int = 5, deleted: bool = False, **kw):
        return Agent.objects.create(
            deployment=kw.pop("deployment", deployment),
            name=name,
            component=kw.pop("component", "worker"),
            last_ip=ip,
            last_heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago),
            deleted_at=timezone.now() if deleted else None,
            **kw,
        )

    return make


@pytest.fixture
def agent_request():
    """A bare agent API request from a given peer address, optionally with X-Forwarded-For."""
    factory = RequestFactory()

    def make(remote_addr: str, forwarded_for: str | None = None):
        extra = {"REMOTE_ADDR": remote_addr}
        if forwarded_for is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
        return factory.post("/api/agent/v1/heartbeat", **extra)

    return make
