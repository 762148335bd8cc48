"""Where the fleet pages read liveness. One function, so it follows the console's single
liveness rule (agents/liveness.py) wherever that rule lives."""

from agents import liveness
from agents.liveness import Liveness


def read(deployment_id, agents) -> dict[str, Liveness] | None:
    """Each agent's liveness now, by agent id; None when heartbeat times cannot be read."""
    rows = liveness.known_rows(deployment_id, list(agents))
    return None if rows is None else {str(r.agent.pk): r.liveness for r in rows}
