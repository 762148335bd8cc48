"""A test run from start to result: the console queues it, the agent client takes it with a
heartbeat, runs its built-in checks and reports each one."""

import threading
import time

import pytest

from agents.checks import CheckConfig
from agents.client import AgentSpec, run_fleet
from agents.models import Agent
from agents.runs import State, TestRun
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = ["clock", "proxy", "versions", "secrets_backend", "xcom_backend", "dag_source"]


@pytest.fixture
def fast_beats(settings):
    settings.HEARTBEAT_INTERVAL_SECONDS = 1


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_agent_takes_a_run_and_reports_every_check(
    live_server, deployment, admin, fast_beats, tmp_path
):
    token = AgentToken.objects.issue(deployment, name="t", expires_in_days=None)[1]
    config = CheckConfig(
        secret_backend="airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        dag_bundles=[
            {"name": "local", "classpath": "LocalDagBundle", "kwargs": {"path": str(tmp_path)}}
        ],
    )
    spec = AgentSpec("worker-0", "worker", checks=config)
    stop = threading.Event()
    url = live_server.url + deployment.agent_api_path
    thread = threading.Thread(target=run_fleet, args=(url, token, [spec], stop))
    thread.start()
    try:
        assert _wait(lambda: Agent.objects.filter(name="worker-0").exists())
        run = TestRun.objects.start(deployment, queue="default", by=admin)
        assert _wait(lambda: TestRun.objects.get(pk=run.pk).is_finished)
    finally:
        stop.set()
        thread.join(timeout=20)
    run.refresh_from_db()
    assert run.state == State.PASSED, run.reason
    assert run.taken_by.name == "worker-0"
    results = {c["name"]: c for c in run.checks}
    assert list(results) == CHECKS
    assert results["clock"]["status"] == "passed"
    assert results["secrets_backend"]["status"] == "not_checked"
    assert "Airflow is not installed" in results["secrets_backend"]["detail"]
    assert results["xcom_backend"]["status"] == "skipped"
    assert results["dag_source"]["status"] == "passed"
    assert any("clock: passed" in line for line in run.log)
