"""What the agent API does for test runs: hand a waiting run to a heartbeat, take its reports.

Every heartbeat's script reads the waiting runs in its one round trip (`ra:{dep}:runs`, empty
almost always). `eligible` decides in memory whether this agent may take one, so runs waiting for
other agents cost a heartbeat neither SQL nor another round trip; only `claim` (a run is taken)
and `report` (a few calls per run) touch the database.
"""

import uuid

from agents import messages, store
from agents import run_queue as waiting
from agents.runs import FINISHED, TestRun


class ReportError(Exception):
    def __init__(self, status: int, error: str, detail: str, fields: dict | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.fields = status, error, detail, fields


def eligible(agent_id: str, fields: dict, cordon: str | None, raw_waiting) -> str | None:
    """The waiting run this heartbeat's agent may take now, if any. No I/O."""
    if not raw_waiting:
        return None
    return waiting.pick(
        waiting.decode(raw_waiting),
        agent_id=str(agent_id),
        queues=fields.get("queues") or [],
        cordoned=cordon is not None,
        slots_used=fields.get("slots_used", 0),
        slots_total=fields.get("slots_total", 0),
    )


def claim(dep, run_id: str, agent_id: str) -> dict | None:
    """Take the run for the agent: off the waiting list (one winner), then recorded. The offer
    as the heartbeat's answer shows it, or None when another agent was quicker."""
    try:
        if not waiting.withdraw(dep, run_id):
            return None
    except store.Unavailable:
        return None
    run = TestRun.objects.filter(pk=run_id, deployment_id=dep).first()
    if run is None or not run.take(agent_id):
        return None
    return {
        "id": str(run.pk),
        "queue": run.queue,
        "deadline": run.deadline_at.isoformat().replace("+00:00", "Z"),
    }


def report(dep, run_id: str, body: bytes) -> TestRun:
    """Record a progress report or result; raises ReportError with the cause."""
    try:
        data = messages.parse_report(body)
    except messages.BodyError as problem:
        raise ReportError(400, problem.code, problem.detail, problem.fields) from None
    try:
        run = TestRun.objects.select_related("taken_by").get(
            pk=uuid.UUID(str(run_id)), deployment_id=dep
        )
    except (TestRun.DoesNotExist, ValueError):
        raise ReportError(
            404, "test_run_not_found", f"No test run {run_id} in this deployment."
        ) from None
    if run.taken_by is None or run.taken_by.name != data.name:
        raise ReportError(
            409, "test_run_not_yours", f"Test run {run_id} was not given to agent {data.name}."
        )
    if run.state in FINISHED:
        raise ReportError(409, "test_run_finished", f"Test run {run_id} is already {run.state}.")
    checks = [
        {"name": c.name, "status": c.status, "detail": c.detail, "seconds": round(c.seconds, 3)}
        for c in data.checks
    ]
    run.report(run.taken_by, state=data.state, checks=checks, log_lines=data.log)
    return run
