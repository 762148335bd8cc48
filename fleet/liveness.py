"""Where the fleet pages read liveness. One function, so it follows the console's single
liveness rule wherever that rule lives."""

from agents import store
from agents.models import Liveness


def read(deployment_id, agents) -> dict[str, Liveness] | None:
    """Each agent's liveness now, by agent id; None when heartbeat times cannot be read."""
    try:
        epoch = store.epoch()
        seen = store.seen_many(deployment_id, [a.pk for a in agents])
    except store.Unavailable:
        return None
    return {str(a.pk): a.liveness(seen.get(str(a.pk)), epoch=epoch) for a in agents}
