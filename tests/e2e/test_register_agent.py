import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from deployments.models import Role, RoleGrant
from onboarding import values

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"


def _log_in(page: Page, live_server, django_user_model, deployment) -> None:
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=deployment.name)).to_be_visible()


def _token_in_a_secret_then_download(page: Page, live_server, deployment, tmp_path):
    """The recommended path: a new token shown once for a Kubernetes secret, then the file."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/register/")
    expect(page.get_by_role("heading", name="Register a Remote Agent")).to_be_visible()
    expect(page.get_by_text("1 thing to fix before the file is ready")).to_be_visible()

    page.get_by_label("Token name").fill("e2e-agent")
    page.locator("#id_namespace").fill("airflow-agents")
    page.get_by_label("Object storage path").fill("s3://acme-xcom/xcom")
    expect(page.get_by_label("Git connection id")).to_be_hidden()
    page.get_by_label("Git repository").check()
    page.get_by_label("Subdirectory").fill("dags")
    page.get_by_role("button", name="+ Add worker").click()
    expect(page.get_by_role("group", name="Worker 2")).to_be_visible()
    expect(page.locator("#id_namespace")).to_have_value("airflow-agents")

    # The live preview follows the form without a page load.
    preview = page.locator("#values-yaml")
    expect(preview).to_contain_text("namespace: airflow-agents")
    expect(preview).to_contain_text("agentTokenSecretName: agent-token")
    expect(preview).to_contain_text("GitDagBundle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "register-agent.png"), full_page=True)

    page.get_by_role("button", name="Create token and show it once").click()
    value = page.locator("#new-token-value").input_value()
    assert value.startswith("ragt_")
    expect(page.locator("#token-secret-command")).to_contain_text(f"--from-literal=token={value}")

    with page.expect_download() as info:
        page.get_by_role("button", name=f"Download {values.file_name(deployment)}").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert value not in path.read_text()
    token_file = tmp_path / "token"
    token_file.write_text(value + "\n")
    return path, token_file


def test_wizard_secret_download_then_run_agent_shows_the_files_agents_healthy(
    page: Page, live_server, django_user_model, deployment, tmp_path
):
    _log_in(page, live_server, django_user_model, deployment)
    path, token_file = _token_in_a_secret_then_download(page, live_server, deployment, tmp_path)

    data = yaml.safe_load(path.read_text())
    values.validate(data)
    assert data["astroDeploymentAPIURL"] == live_server.url + deployment.agent_api_path
    assert (data["agentTokenSecretName"], data["agentToken"]) == ("agent-token", None)
    assert [w["name"] for w in data["workers"]] == ["default-worker", "worker-2"]
    assert deployment.agent_tokens.get().name == "e2e-agent"

    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    env.pop("AGENT_TOKEN", None)
    command = ["manage.py", "run_agent", "--values", str(path), "--token-file", str(token_file)]
    agent = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    names = [
        "etl-prod-worker-default-worker-0",
        "etl-prod-worker-worker-2-0",
        "etl-prod-dag-processor",
        "etl-prod-triggerer",
    ]
    try:
        deadline = time.monotonic() + 30
        while deployment.agents.count() < len(names):
            assert agent.poll() is None, agent.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "no heartbeat arrived within 30 s"
            time.sleep(0.5)
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
        for name in names:
            expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Healthy")
        worker_2 = page.get_by_role("row").filter(has_text="etl-prod-worker-worker-2-0")
        expect(worker_2).to_contain_text("worker-2")
    finally:
        agent.terminate()
        agent.wait(timeout=10)
