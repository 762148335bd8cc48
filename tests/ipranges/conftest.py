from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from agents import store
from agents.models import Agent


@pytest.fixture
def make_agent(deployment, redis_client):
    """An agent of a fleet up for hours: its last heartbeat, `seconds_ago`, is in Redis, and its
    database checkpoint is two hours old (the flush writes it only every
    AGENT_CHECKPOINT_SECONDS)."""
    redis_client.set(store.EPOCH, store.now() - 3 * 3600)

    def make(name: str, ip: str | None, *, seconds_ago: int = 5, deleted: bool = False, **kw):
        agent = Agent.objects.create(
            deployment=kw.pop("deployment", deployment),
            name=name,
            component=kw.pop("component", "worker"),
            last_ip=ip,
            heartbeat_checkpoint_at=timezone.now() - timedelta(hours=2),
            deleted_at=timezone.now() if deleted else None,
            **kw,
        )
        if not deleted:
            seen = {str(agent.pk): store.now() - seconds_ago}
            redis_client.zadd(store.k_seen(agent.deployment_id), seen)
        return agent

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
