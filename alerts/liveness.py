"""When each agent last heartbeat, as the alert rules read it.

The one place alerts read heartbeat times, so it can follow the console's shared liveness rule
without touching the rules themselves.
"""

from django.conf import settings

from agents import store


def last_heartbeats(deployment_id, agents) -> dict[str, float | None]:
    """Agent id -> time of its last heartbeat, or None when it cannot be known yet.

    Redis holds the times; an agent missing there is judged by the database's checkpoint, except
    just after Redis lost its data, when it may simply not have heartbeat since. Raises
    store.Unavailable when Redis cannot be read: silence nobody could observe is not silence.
    """
    seen = store.seen_all(deployment_id)
    epoch = store.epoch()
    recent_loss = epoch is None or store.now() - epoch < settings.AGENT_HEALTHY_SECONDS
    times: dict[str, float | None] = {}
    for agent in agents:
        ts = seen.get(str(agent.pk))
        if ts is None and not recent_loss:
            ts = agent.last_heartbeat_at.timestamp()
        times[str(agent.pk)] = ts
    return times
