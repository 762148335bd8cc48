"""Test runs: dispatched through heartbeats, reported through the agent API, timed out with a
reason; and timed cordons."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from agents import run_queue, store
from agents.models import Agent
from agents.runs import State, TestRun
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(beat, old_epoch):
    assert beat(name="worker-0", queues=["default"]).status_code == 200
    return Agent.objects.get(name="worker-0")


@pytest.fixture
def cordon(admin, django_capture_on_commit_callbacks):
    """Cordon as an Operator would, the agent's cache update on commit included."""

    def run(agent, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return agent.cordon(by=admin, **kwargs)

    return run


@pytest.fixture
def start(deployment, admin, django_capture_on_commit_callbacks):
    """Start a run as an Admin would, its commit hooks (publishing it to agents) included."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return TestRun.objects.start(deployment, by=admin, **kwargs)

    return run


def _report(client, deployment, run, token, **body):
    data = {"name": "worker-0", "state": "passed", "checks": [], "log": [], **body}
    return client.post(
        reverse("agent-test-run-report", args=[deployment.pk, run.pk]),
        data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_it_answers_a_heartbeat_without_sql_when_nothing_waits(
    beat, worker, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = beat(name="worker-0")
    assert "test_run" not in response.json()


def test_it_keeps_heartbeats_sql_free_while_runs_wait_for_others(
    start, beat, worker, deployment, admin, django_assert_num_queries
):
    run = start(queue="gpu")
    with django_assert_num_queries(0):
        response = beat(name="worker-0", queues=["default"])
    assert "test_run" not in response.json()
    assert str(run.pk) in run_queue.decode(run_queue_raw(deployment))


def run_queue_raw(deployment):
    return store.client().hgetall(run_queue.key(deployment.pk))


def test_it_hands_a_waiting_run_to_the_first_eligible_agent_only(
    start, beat, worker, deployment, admin
):
    assert beat(name="worker-1", queues=["default"]).status_code == 200
    run = start(queue="default")
    first = beat(name="worker-0").json()
    second = beat(name="worker-1").json()
    assert first["test_run"]["id"] == str(run.pk)
    assert "test_run" not in second
    run.refresh_from_db()
    assert run.state == State.TAKEN and run.taken_by == worker
    assert run_queue_raw(deployment) == {}


def test_it_never_gives_a_run_to_a_cordoned_agent(cordon, start, beat, worker, deployment, admin):
    cordon(worker, reason="upgrade")
    run = start(agent=worker)
    assert "test_run" not in beat(name="worker-0").json()
    run.refresh_from_db()
    assert run.state == State.QUEUED


def test_it_never_gives_a_run_to_an_agent_without_a_free_slot(
    start, beat, worker, deployment, admin
):
    start(queue="default")
    assert "test_run" not in beat(name="worker-0", slots={"used": 20, "total": 20}).json()
    assert "test_run" in beat(name="worker-0", slots={"used": 19, "total": 20}).json()


def test_a_run_aimed_at_an_agent_goes_to_it_alone(start, beat, worker, deployment, admin):
    beat(name="worker-1", queues=["default"])
    other = Agent.objects.get(name="worker-1")
    run = start(agent=other)
    assert "test_run" not in beat(name="worker-0").json()
    assert beat(name="worker-1").json()["test_run"]["id"] == str(run.pk)


def test_a_run_taken_before_a_cordon_finishes_and_is_reported(
    cordon, start, client, beat, worker, deployment, admin, token_value
):
    run = start(queue="default")
    beat(name="worker-0")
    cordon(worker, reason="drain")
    check = {"name": "clock", "status": "passed", "detail": "ok", "seconds": 0.01}
    assert _report(client, deployment, run, token_value, state="running").status_code == 200
    response = _report(client, deployment, run, token_value, checks=[check], log=["done"])
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.state == State.PASSED and run.checks == [check] and run.log == ["done"]
    assert AuditEvent.objects.filter(action="test_run.result", actor_label="worker-0").exists()


def test_a_failed_check_fails_the_run_and_names_it(
    start, client, beat, worker, deployment, admin, token_value
):
    run = start(queue="default")
    beat(name="worker-0")
    bad = {"name": "xcom_backend", "status": "failed", "detail": "Cannot import", "seconds": 0}
    _report(client, deployment, run, token_value, state="failed", checks=[bad])
    run.refresh_from_db()
    assert run.state == State.FAILED and run.reason == "Failed: xcom_backend"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "exploded"}, "state"),
        ({"name": ""}, "name"),
        ({"checks": [{"name": "x", "status": "maybe"}]}, "checks"),
        ({"checks": "nope"}, "checks"),
        ({"log": [1, 2]}, "log"),
        ({"log": ["x"] * 51}, "log"),
        ({"checks": [{"name": "x", "status": "passed", "seconds": True}]}, "checks"),
    ],
)
def test_it_refuses_a_malformed_report(
    start, client, beat, worker, deployment, admin, token_value, body, field
):
    run = start(queue="default")
    beat(name="worker-0")
    response = _report(client, deployment, run, token_value, **body)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    run.refresh_from_db()
    assert run.state == State.TAKEN


def test_it_refuses_a_report_from_another_agent_or_after_the_end(
    start, client, beat, worker, deployment, admin, token_value
):
    run = start(queue="default")
    beat(name="worker-0")
    assert _report(client, deployment, run, token_value, name="worker-9").status_code == 409
    assert _report(client, deployment, run, token_value).status_code == 200
    again = _report(client, deployment, run, token_value)
    assert again.status_code == 409 and again.json()["error"] == "test_run_finished"


def test_it_refuses_a_report_without_a_valid_token(start, client, beat, worker, deployment, admin):
    run = start(queue="default")
    beat(name="worker-0")
    assert _report(client, deployment, run, "ragt_nope").status_code == 401


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("nobody", "No agent serves queue gpu."),
        ("silent", "No healthy agent serves queue gpu."),
        ("cordoned", "Every healthy agent serving queue gpu is cordoned."),
        ("full", "No free slot on the healthy agents serving queue gpu."),
    ],
)
def test_a_run_nobody_takes_fails_at_its_deadline_saying_why(
    cordon, start, beat, deployment, old_epoch, setup, reason
):
    slots = {"used": 20, "total": 20} if setup == "full" else {"used": 0, "total": 20}
    if setup != "nobody":
        beat(name="gpu-0", queues=["gpu"], slots=slots)
        if setup == "cordoned":
            cordon(Agent.objects.get(name="gpu-0"))
    run = start(queue="gpu")
    assert TestRun.objects.expire() == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)):
        if setup not in ("nobody", "silent"):
            beat(name="gpu-0", queues=["gpu"], slots=slots)  # still beating at the deadline
        assert TestRun.objects.expire() == 1
    run.refresh_from_db()
    assert run.state == State.FAILED and run.reason == reason
    assert run_queue_raw(deployment) == {}


def test_a_taken_run_that_never_reports_times_out(start, beat, worker, deployment, admin):
    run = start(queue="default")
    beat(name="worker-0")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)):
        TestRun.objects.expire()
    run.refresh_from_db()
    assert run.state == State.TIMED_OUT


def test_a_timed_cordon_lifts_itself_and_the_next_heartbeat_says_so(
    cordon, beat, worker, deployment, admin, django_capture_on_commit_callbacks
):
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        cordon(worker, reason="patching", until=until)
    assert beat(name="worker-0").json()["cordoned"] is True
    assert Agent.objects.lift_expired_cordons() == 0
    with (
        time_machine.travel(until + dt.timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert Agent.objects.lift_expired_cordons() == 1
    worker.refresh_from_db()
    assert not worker.is_cordoned and worker.cordoned_until is None
    event = AuditEvent.objects.filter(action="agent.uncordon").get()
    assert event.actor_label == "system" and "ran out" in event.details["cause"]
    answer = beat(name="worker-0").json()
    assert answer["cordoned"] is False


def test_a_timed_cordon_set_again_by_hand_is_not_lifted(cordon, beat, worker, deployment, admin):
    cordon(worker, until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    worker.uncordon(by=admin)
    cordon(worker, reason="for good")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)):
        assert Agent.objects.lift_expired_cordons() == 0
    worker.refresh_from_db()
    assert worker.is_cordoned
