from datetime import UTC, datetime

import pytest

from agents.models import Agent
from fleet import history
from tests.agents import conftest as agent_fixtures

# The agents tests' heartbeat fixtures, shared rather than copied.
beat = agent_fixtures.beat
heartbeat_url = agent_fixtures.heartbeat_url
token_value = agent_fixtures.token_value

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock(time_machine):
    """Time stands still at START until a test moves it."""
    time_machine.move_to(START, tick=False)
    return time_machine


@pytest.fixture
def tick(clock, beat):
    """Move time on by `seconds`; then, as beat would, heartbeat (unless silent), flush, sweep
    and sample the fleet history."""

    def step(seconds: float, *, names=("worker-0",), silent=False, **overrides):
        clock.shift(seconds)
        if not silent:
            for name in names:
                assert beat(name=name, **overrides).status_code == 200
        Agent.objects.flush_heartbeats()
        Agent.objects.sweep()
        history.sample()

    return step
