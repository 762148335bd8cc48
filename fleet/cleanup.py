"""Stale-agent clean-up: remove agents silent for more than a deployment's N days."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from agents.models import Agent
from deployments.models import Deployment
from fleet import liveness

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stale:
    agent: Agent
    last_heartbeat_at: datetime


def stale_agents(
    deployment: Deployment, days: int, now: datetime | None = None
) -> list[Stale] | None:
    """Live agents whose last heartbeat is more than `days` days old, oldest first; None when
    heartbeat times cannot be read (nobody is removed on data we could not see)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # The stored time is a checkpoint that lags Redis, never leads it: every stale agent is
    # among these candidates, and Redis has the last word.
    candidates = list(
        Agent.objects.live()
        .filter(deployment=deployment, heartbeat_checkpoint_at__lt=cutoff)
        .select_related("deployment")
    )
    lives = liveness.read(deployment.pk, candidates)
    if lives is None:
        return None
    last = {pk: live.last_known_heartbeat_at for pk, live in lives.items()}
    found = [
        Stale(a, at) for a in candidates if (at := last[str(a.pk)]) is not None and at < cutoff
    ]
    return sorted(found, key=lambda s: (s.last_heartbeat_at, s.agent.name))


def remove_stale(deployment: Deployment, now: datetime | None = None) -> list[Agent]:
    """Delete what the preview lists now, each audited as done by "system"."""
    if not deployment.stale_agent_days:
        return []
    found = stale_agents(deployment, deployment.stale_agent_days, now)
    if found is None:
        log.warning("heartbeat store unavailable; stale-agent clean-up of %s skipped", deployment)
        return []
    return [s.agent for s in found if s.agent.terminate(by=None)]


def remove_stale_everywhere() -> int:
    removed = 0
    for deployment in Deployment.objects.filter(stale_agent_days__isnull=False):
        removed += len(remove_stale(deployment))
    return removed
