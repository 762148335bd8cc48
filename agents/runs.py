"""Test runs: a fixed, built-in check that an agent runs to prove it can do work.

A run waits in the console (and in `waiting`, for the heartbeat path) until an eligible agent
takes it in the answer to its heartbeat; the agent then reports progress and a result through the
agent API. Nothing the console sends is executed: the agent only learns the run's id.
"""

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from agents import liveness, store
from agents import run_queue as waiting
from audit.record import record

if TYPE_CHECKING:
    from agents.models import Agent

log = logging.getLogger(__name__)

MAX_LOG_LINES = 200
MAX_LINE = 500


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    TAKEN = "taken", "Taken"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"


FINISHED = (State.PASSED, State.FAILED, State.TIMED_OUT)


class TestRunQuerySet(models.QuerySet["TestRun"]):
    def unfinished(self) -> "TestRunQuerySet":
        return self.exclude(state__in=FINISHED)

    def start(self, deployment, *, queue: str = "", agent: "Agent | None" = None, by, ip=None):
        """Queue a run for `agent`, or for any eligible agent serving `queue`."""
        timeout = settings.TEST_RUN_TIMEOUT_SECONDS
        with transaction.atomic():
            run = self.create(
                deployment=deployment,
                queue=queue,
                agent=agent,
                created_by=by,
                deadline_at=timezone.now() + timedelta(seconds=timeout),
            )
            record(
                "test_run.start",
                target=run,
                deployment=deployment,
                user=by,
                ip=ip,
                details={"queue": queue, "agent": agent.name if agent else None},
            )
            transaction.on_commit(lambda: run.publish())
        return run

    def expire(self) -> int:
        """Finish every run past its deadline, saying why; returns how many."""
        now = timezone.now()
        expired = 0
        for run in self.unfinished().filter(deadline_at__lte=now).select_related("agent"):
            expired += run.time_out()
        return expired


class TestRun(models.Model):
    __test__ = False  # not a pytest test class, whatever its name says

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="test_runs"
    )
    queue = models.CharField(max_length=200, blank=True)
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField()
    taken_by = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="test_runs",
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField(default=list, blank=True)
    log = models.JSONField(default=list, blank=True)

    objects = TestRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["deployment", "-created_at"])]

    def __str__(self) -> str:
        return f"test run {str(self.pk)[:8]}"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED

    @property
    def api_state(self) -> str:
        return self.state.upper()

    @property
    def target_label(self) -> str:
        if self.agent_id:
            return self.agent.name if self.agent else "a deleted agent"
        return f"any healthy agent serving queue {self.queue}"

    def publish(self) -> None:
        try:
            waiting.publish(self.deployment_id, self.pk, self.queue, self.agent_id)
        except store.Unavailable:
            # The run stays queued in the database and times out with a reason that says so.
            log.warning("heartbeat store unavailable; %s cannot reach an agent", self)

    def take(self, agent_id) -> bool:
        """The agent whose heartbeat claimed this run from the waiting list now holds it."""
        changed = TestRun.objects.filter(pk=self.pk, state=State.QUEUED).update(
            state=State.TAKEN, taken_by_id=agent_id, taken_at=timezone.now()
        )
        if changed:
            self.refresh_from_db()
        return bool(changed)

    def report(self, agent: "Agent", *, state: str, checks: list, log_lines: list) -> bool:
        """Progress or a result from the agent that took the run; False once it is finished."""
        with transaction.atomic():
            run = TestRun.objects.select_for_update().get(pk=self.pk)
            if run.is_finished:
                return False
            run.state = state
            run.checks = checks
            run.log = (run.log + [line[:MAX_LINE] for line in log_lines])[-MAX_LOG_LINES:]
            if state in FINISHED:
                run.finished_at = timezone.now()
                failed = [c["name"] for c in checks if c.get("status") == "failed"]
                run.reason = f"Failed: {', '.join(failed)}" if failed else ""
            run.save(update_fields=["state", "checks", "log", "finished_at", "reason"])
            if state in FINISHED:
                record(
                    "test_run.result",
                    target=run,
                    deployment=run.deployment,
                    agent_name=agent.name,
                    details={"state": state, "reason": run.reason},
                )
        self.refresh_from_db()
        return True

    def time_out(self) -> int:
        """Finish the run at its deadline: no agent took it (and why), or it never reported."""
        if self.state == State.QUEUED:
            waiting.withdraw_quietly(self.deployment_id, self.pk)
            state, reason = State.FAILED, why_not_taken(self)
        else:
            state = State.TIMED_OUT
            reason = "The agent did not report a result before the deadline."
        changed = TestRun.objects.filter(pk=self.pk, state=self.state).update(
            state=state, reason=reason, finished_at=timezone.now()
        )
        if changed:
            self.refresh_from_db()
            record(
                "test_run.result",
                target=self,
                deployment=self.deployment,
                details={"state": state, "reason": reason},
            )
        return changed


def why_not_taken(run: TestRun) -> str:
    """Why no agent took the run, from the fleet as it is now."""
    # By name: agents.models imports this module (its models are the app's models).
    Agent = apps.get_model("agents", "Agent")
    if run.agent_id:
        agent = Agent.objects.live().filter(pk=run.agent_id).first()
        if agent is None:
            return "The agent was deleted before it could take the run."
        candidates = [agent]
    else:
        candidates = [
            a
            for a in Agent.objects.live().filter(deployment_id=run.deployment_id)
            if run.queue in (a.queues or [])
        ]
        if not candidates:
            return f"No agent serves queue {run.queue}."
    healthy = _healthy(run.deployment_id, candidates)
    open_ = [a for a in healthy if not a.is_cordoned]
    free = [a for a in open_ if a.slots_used < a.slots_total]
    if run.agent_id:
        name = candidates[0].name
        if not healthy:
            return f"Agent {name} is not healthy."
        if not open_:
            return f"Agent {name} is cordoned."
        if not free:
            return f"Agent {name} had no free slot."
        late = f"Agent {name} did not heartbeat"
    else:
        if not healthy:
            return f"No healthy agent serves queue {run.queue}."
        if not open_:
            return f"Every healthy agent serving queue {run.queue} is cordoned."
        if not free:
            return f"No free slot on the healthy agents serving queue {run.queue}."
        late = f"No eligible agent serving queue {run.queue} heartbeated"
    return (
        f"{late} before the deadline ({settings.TEST_RUN_TIMEOUT_SECONDS} s; agents heartbeat "
        f"every {settings.HEARTBEAT_INTERVAL_SECONDS} s)."
    )


def _healthy(dep, agents: list["Agent"]) -> list["Agent"]:
    """The agents that are beating now (cordoned or not); none when Redis cannot say."""
    rows = liveness.known_rows(dep, agents) or []
    return [row.agent for row in rows if row.liveness.connected]
