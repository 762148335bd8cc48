"""A cordon drains in front of the operator: an agent client that runs work is cordoned, reads
Draining while its tasks finish, then Drained, without a reload."""

import threading
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from agents.client import Agent as AgentClient
from agents.client import AgentSpec
from agents.work import Work
from deployments.models import Role, RoleGrant
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_cordoned_agent_drains_then_reads_drained(
    page: Page, live_server, settings, django_user_model, deployment, celery_worker_and_beat
):
    settings.HEARTBEAT_INTERVAL_SECONDS = 1
    user = django_user_model.objects.create_user("oscar", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.OPERATOR)
    _, token = AgentToken.objects.issue(deployment, name="e2e", expires_in_days=1)
    stop = threading.Event()
    work = Work()
    client = AgentClient(
        url=live_server.url + deployment.agent_api_path,
        token=token,
        spec=AgentSpec("busy-worker", "worker", slots_total=4),
        stop=stop,
        http=httpx.Client(timeout=10),
        work=work,
    )
    # Two tasks running: long enough to see the drain, short enough for a test.
    work.start_task(12)
    work.start_task(14)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    try:
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
        page.get_by_label("Username").fill("oscar")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        row = page.locator('tr[data-agent="busy-worker"]')
        expect(row.locator('[data-status="healthy"]')).to_be_visible(timeout=20_000)
        expect(row).to_contain_text("2 / 4", timeout=10_000)

        row.get_by_role("link", name="Cordon").click()
        dialog = page.locator("dialog#agent-dialog")
        dialog.get_by_label("Reason").fill("node pool upgrade")
        dialog.get_by_role("button", name="Cordon agent").click()
        expect(row.locator('[data-drain="draining"]')).to_have_text(
            "Draining (2 running)", timeout=10_000
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "agents-draining.png"), full_page=True)
        # Cordoned: the client takes no new work, and its two tasks end on their own.
        expect(row.locator('[data-drain="drained"]')).to_have_text(
            "Drained — safe to upgrade or delete", timeout=30_000
        )
        page.screenshot(path=str(SHOTS / "agents-drained.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / "agents-drained-phone.png"), full_page=True)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert client.cordoned is True
