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
AGENT_CLIENT = ROOT / "agents" / "management" / "commands" / "run_agent.py"


def _log_in(page: Page, live_server, django_user_model, deployment) -> None:
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=deployment.name)).to_be_visible()


def _download_inline_values(page: Page, live_server, deployment, tmp_path) -> Path:
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/register/")
    expect(page.get_by_role("heading", name="Register a Remote Agent")).to_be_visible()
    expect(page.get_by_text("1 thing to fix before the file is ready")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "register-agent-start.png"), full_page=True)

    page.get_by_label("Create a new token now").check()
    page.get_by_label("Token name").fill("e2e-agent")
    page.get_by_label("Kubernetes secret").fill("")
    page.get_by_label("Write the token into values.yaml").check()
    page.locator("#id_namespace").fill("airflow-agents")
    page.get_by_label("Object storage path").fill("s3://acme-xcom/xcom")
    page.get_by_role("button", name="+ Add worker").click()
    expect(page.get_by_role("group", name="Worker 2")).to_be_visible()
    expect(page.locator("#id_namespace")).to_have_value("airflow-agents")

    # The live preview follows the form without a page load.
    expect(page.locator("#values-yaml")).to_contain_text("namespace: airflow-agents")
    expect(page.get_by_text("The token will be written into this file")).to_be_visible()
    page.screenshot(path=str(SHOTS / "register-agent.png"), full_page=True)
    page.screenshot(path=str(SHOTS / "register-agent-viewport.png"))

    with page.expect_download() as info:
        page.get_by_role("button", name="Create token and download").click()
    download = info.value
    assert download.suggested_filename == values.file_name(deployment)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


def test_complete_the_wizard_and_download_an_inline_values_file(
    page: Page, live_server, django_user_model, deployment, tmp_path
):
    _log_in(page, live_server, django_user_model, deployment)
    path = _download_inline_values(page, live_server, deployment, tmp_path)

    data = yaml.safe_load(path.read_text())
    values.validate(data)
    assert data["agentApiUrl"] == f"{live_server.url}/api/agent/v1/deployments/{deployment.pk}/"
    assert data["agentToken"].startswith("ragt_")
    assert "agentTokenSecretName" not in data
    assert "agentTokenFile" not in data
    assert data["imagePullSecretName"] == "agent-image-pull"
    assert data["namespace"] == "airflow-agents"
    assert data["xcomBackend"]["path"] == "s3://acme-xcom/xcom"
    assert [w["name"] for w in data["workers"]] == ["default", "worker-2"]
    assert {"name": "AGENT_DEPLOYMENT_ID", "value": str(deployment.pk)} in data["commonEnv"]
    assert deployment.agent_tokens.get().name == "e2e-agent"


@pytest.mark.skipif(
    not AGENT_CLIENT.exists(), reason="the agent client (run_agent) is not here yet"
)
def test_the_downloaded_file_starts_an_agent_that_shows_healthy(
    page: Page, live_server, django_user_model, deployment, tmp_path
):
    _log_in(page, live_server, django_user_model, deployment)
    path = _download_inline_values(page, live_server, deployment, tmp_path)

    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    agent = subprocess.Popen(
        [sys.executable, "manage.py", "run_agent", "--values", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        # One agent per worker replica, the DAG processor and the triggerer.
        while deployment.agents.count() < 3:
            assert agent.poll() is None, agent.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "no heartbeat arrived within 30 s"
            time.sleep(0.5)
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
        for name in ("etl-prod-worker-default", "etl-prod-dag-processor", "etl-prod-triggerer"):
            row = page.get_by_role("row").filter(has_text=name)
            expect(row).to_contain_text("Healthy")
    finally:
        agent.terminate()
        agent.wait(timeout=10)
