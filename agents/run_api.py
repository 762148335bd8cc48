"""What the agent API does for test runs: hand a waiting run to a heartbeat, take its reports.

`offer` runs inside every heartbeat: with nothing waiting (the common case) it returns at once,
without SQL or another Redis round trip; with runs waiting only for other agents it decides that
in memory. `report` is the slow path an agent calls a few times per run.
"""

import uuid

from agents import run_queue as waiting
from agents import store
from agents.runs import FINISHED, State, TestRun

CHECK_STATUSES = ("passed", "failed", "skipped", "not_checked")
REPORT_STATES = (State.RUNNING, State.PASSED, State.FAILED)
MAX_CHECKS = 20
MAX_LINES = 50


class ReportError(Exception):
    def __init__(self, status: int, error: str, detail: str, fields: dict | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.fields = status, error, detail, fields


def offer(dep, agent_id: str, fields: dict, cordon: str | None, raw_waiting) -> dict | None:
    """The test run this heartbeat's agent takes now, as the response shows it, or None."""
    if not raw_waiting:
        return None
    run_id = waiting.pick(
        waiting.decode(raw_waiting),
        agent_id=str(agent_id),
        queues=fields.get("queues") or [],
        cordoned=cordon is not None,
        slots_used=fields.get("slots_used", 0),
        slots_total=fields.get("slots_total", 0),
    )
    if run_id is None:
        return None
    try:
        if not waiting.withdraw(dep, run_id):
            return None  # another agent's heartbeat took it a moment ago
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


def report(dep, run_id: str, data) -> TestRun:
    """Record a progress report or result; raises ReportError with the cause."""
    body = _validate(data)
    try:
        run = TestRun.objects.select_related("taken_by").get(
            pk=uuid.UUID(str(run_id)), deployment_id=dep
        )
    except (TestRun.DoesNotExist, ValueError):
        raise ReportError(
            404, "test_run_not_found", f"No test run {run_id} in this deployment."
        ) from None
    if run.taken_by is None or run.taken_by.name != body["name"]:
        raise ReportError(
            409, "test_run_not_yours", f"Test run {run_id} was not given to agent {body['name']}."
        )
    if run.state in FINISHED:
        raise ReportError(409, "test_run_finished", f"Test run {run_id} is already {run.state}.")
    run.report(run.taken_by, state=body["state"], checks=body["checks"], log_lines=body["log"])
    return run


def _validate(data) -> dict:
    if not isinstance(data, dict):
        raise ReportError(400, "invalid_body", "Expected a JSON object.")
    errors: dict[str, list[str]] = {}
    name, state = data.get("name"), data.get("state")
    if not isinstance(name, str) or not name or len(name) > 253:
        errors["name"] = ["The agent's name: a string of 1 to 253 characters."]
    if state not in REPORT_STATES:
        errors["state"] = [f"One of {', '.join(REPORT_STATES)}."]
    checks = data.get("checks", [])
    if (
        not isinstance(checks, list)
        or len(checks) > MAX_CHECKS
        or not all(_check_ok(c) for c in checks)
    ):
        errors["checks"] = [
            f"At most {MAX_CHECKS} objects with name, status ({', '.join(CHECK_STATUSES)}), "
            "detail and seconds."
        ]
    lines = data.get("log", [])
    if (
        not isinstance(lines, list)
        or len(lines) > MAX_LINES
        or not all(isinstance(x, str) for x in lines)
    ):
        errors["log"] = [f"At most {MAX_LINES} strings."]
    if errors:
        raise ReportError(400, "invalid_body", "The report has errors; see fields.", errors)
    return {
        "name": name,
        "state": state,
        "checks": [
            {
                "name": c["name"][:100],
                "status": c["status"],
                "detail": str(c.get("detail", ""))[:500],
                "seconds": round(float(c.get("seconds", 0)), 3),
            }
            for c in checks
        ],
        "log": lines,
    }


def _check_ok(c) -> bool:
    return (
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and c.get("status") in CHECK_STATUSES
        and isinstance(c.get("detail", ""), str)
        and isinstance(c.get("seconds", 0), int | float)
        and not isinstance(c.get("seconds", 0), bool)
    )
