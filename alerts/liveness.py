"""Where the alert rules read liveness: the console's one rule (agents.liveness), in one place."""

from agents import liveness as rule


def read(deployment_id, agents) -> dict[str, rule.Liveness] | None:
    """Each agent's liveness by id; None when Redis cannot be read, since silence nobody could
    observe is not silence. An agent whose status is Unknown (Redis just lost its data) is not
    judged either."""
    rows = rule.known_rows(deployment_id, agents)
    if rows is None:
        return None
    return {str(row.agent.pk): row.liveness for row in rows}


def silent_since(liveness: rule.Liveness) -> float | None:
    """When a silent agent last beat (its checkpoint if Redis has no time for it); None when it
    is not silent or nothing can be said."""
    if liveness.health != rule.Health.UNHEALTHY:
        return None
    last = liveness.last_known_heartbeat_at
    return last.timestamp() if last else 0.0


def is_unknown(liveness: rule.Liveness) -> bool:
    return liveness.status == rule.Status.UNKNOWN


def is_healthy(liveness: rule.Liveness) -> bool:
    return liveness.health == rule.Health.HEALTHY
