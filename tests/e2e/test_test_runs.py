"""A test run from the Agents table: the panel follows it live to its result."""

import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents.client import AgentSpec, run_fleet
from deployments.models import Role, RoleGrant
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_an_operator_verifies_an_agent_and_watches_the_checks_arrive(
    page: Page, live_server, settings, django_user_model, deployment
):
    settings.HEARTBEAT_INTERVAL_SECONDS = 1
    user = django_user_model.objects.create_user("oscar", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.OPERATOR)
    _, token = AgentToken.objects.issue(deployment, name="e2e", expires_in_days=1)
    stop = threading.Event()
    url = live_server.url + deployment.agent_api_path
    fleet = threading.Thread(
        target=run_fleet, args=(url, token, [AgentSpec("worker-0", "worker")], stop), daemon=True
    )
    fleet.start()
    try:
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
        page.get_by_label("Username").fill("oscar")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        row = page.locator('tr[data-agent="worker-0"]')
        expect(row.locator('[data-status="healthy"]')).to_be_visible(timeout=20_000)

        row.get_by_role("link", name="Test").click()
        chosen = page.get_by_label("Agent", exact=True).locator("option:checked")
        expect(chosen).to_have_text("worker-0")
        page.get_by_role("button", name="Start test run").click()
        panel = page.locator("#run-panel")
        expect(panel.locator('[data-run-state="passed"]')).to_be_visible(timeout=20_000)
        for check in ("clock", "proxy", "versions", "secrets_backend", "dag_source"):
            expect(panel.locator(f'tr[data-check="{check}"]')).to_be_visible()
        expect(panel).to_contain_text("Taken by worker-0")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "test-run-passed.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / "test-run-passed-phone.png"), full_page=True)
        page.get_by_role("link", name="← Test runs").click()
        expect(page.locator("table")).to_contain_text("worker-0")
        page.screenshot(path=str(SHOTS / "test-runs-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=str(SHOTS / "test-runs.png"), full_page=True)
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/bulk/")
        page.screenshot(path=str(SHOTS / "bulk.png"), full_page=True)
    finally:
        stop.set()
        fleet.join(timeout=20)
