"""The whole loop in a browser: a real agent client heartbeats to the live server, a real Celery
worker runs the flush and sweep over Redis, and the page follows without reloads."""

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from playwright.sync_api import Page, expect

from agents import store
from agents.models import Agent
from agents.tasks import flush_heartbeats, sweep_agent_health
from astro_ui.celery import app
from deployments.models import Role, RoleGrant
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture
def celery_worker_and_beat():
    """A real worker in this process, fed every second as beat would feed it."""
    stop = threading.Event()

    def beat():
        while not stop.wait(1):
            flush_heartbeats.delay()
            sweep_agent_health.delay()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join()
    connection.close()


def _start_agent(url: str, token_file: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_agent",
            "--url",
            url,
            "--token-file",
            str(token_file),
            "--name",
            name,
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_an_agent_appears_goes_silent_is_cordoned_uncordoned_and_deleted(
    page: Page,
    live_server,
    settings,
    django_user_model,
    deployment,
    tmp_path,
    celery_worker_and_beat,
):
    settings.AGENT_HEALTHY_SECONDS = 3
    settings.HEARTBEAT_INTERVAL_SECONDS = 1
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    _, value = AgentToken.objects.issue(deployment, name="e2e", expires_in_days=1)
    token_file = tmp_path / "token"
    token_file.write_text(value)
    agent_url = live_server.url + deployment.agent_api_path

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()

    agent = _start_agent(agent_url, token_file, "e2e-worker")
    try:
        row = page.locator('tr[data-agent="e2e-worker"]')
        expect(row.locator('[data-status="healthy"]')).to_be_visible(timeout=20_000)
        expect(row.locator("time[data-live]")).to_have_text("live")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "agents-healthy.png"), full_page=True)
    finally:
        agent.send_signal(signal.SIGINT)
        output, _ = agent.communicate(timeout=20)
    assert agent.returncode == 0, output
    assert "registered as" in output

    expect(row.locator('[data-status="unhealthy"]')).to_be_visible(timeout=30_000)
    expect(page.locator('[data-count="unhealthy"]')).to_have_text("1")

    row.get_by_role("link", name="Cordon").click()
    dialog = page.locator("dialog#agent-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason").fill("draining for node upgrade")
    dialog.get_by_role("button", name="Cordon agent").click()
    expect(dialog).to_be_hidden()
    # Silent and cordoned: Unhealthy, with the cordon shown beside it.
    expect(row.locator("[data-cordoned]")).to_be_visible(timeout=10_000)
    expect(row.locator('[data-status="unhealthy"]')).to_be_visible()
    expect(row).to_contain_text("draining for node upgrade")
    page.screenshot(path=str(SHOTS / "agents-cordoned.png"), full_page=True)

    heartbeat = httpx.post(
        agent_url + "heartbeat",
        json={
            "name": "e2e-worker",
            "component": "worker",
            "version": "1.3.2",
            "queues": ["default"],
            "slots": {"used": 0, "total": 4},
            "hostname": "e2e",
        },
        headers={"Authorization": f"Bearer {value}"},
    ).json()
    assert heartbeat["cordoned"] is True
    assert heartbeat["cordon_reason"] == "draining for node upgrade"

    row.get_by_role("link", name="Uncordon").click()
    dialog.get_by_role("button", name="Uncordon agent").click()
    expect(row.locator('[data-status="cordoned"], [data-cordoned]')).to_have_count(
        0, timeout=10_000
    )

    row.get_by_role("link", name="Delete").click()
    expect(dialog).to_contain_text("registers as a new agent")
    dialog.get_by_role("button", name="Delete agent").click()
    expect(row).to_have_count(0, timeout=10_000)


def test_the_address_keeps_filters_search_and_sort_across_reload_and_back(
    browser, live_server, django_user_model, deployment
):
    user = django_user_model.objects.create_user("vera", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.VIEWER)
    store.client().set(store.EPOCH, store.now() - 3600)
    for name, age in [("api-0", 5), ("api-1", 120), ("db-0", 300), ("db-1", 4)]:
        agent = Agent.objects.create(deployment=deployment, name=name, component="worker")
        store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - age})
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    agents_url = f"{live_server.url}/deployments/{deployment.pk}/agents/"
    page.goto(agents_url)
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    rows = page.locator("tr[data-agent]")
    expect(rows).to_have_count(4)
    # Times in the viewer's zone, the zone named; the exact UTC time on hover.
    first_seen = rows.first.locator("time").first
    expect(first_seen).to_contain_text("GMT+9")
    assert first_seen.get_attribute("title").endswith(" UTC")

    page.get_by_label("Status").select_option("unhealthy")
    expect(rows).to_have_count(2)
    page.get_by_label("Sort").select_option("problems")
    page.get_by_label("Search agents by name").fill("db")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=db"))
    assert "status=unhealthy" in page.url and "sort=problems" in page.url

    page.reload()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-agent", "db-0")
    expect(page.get_by_label("Status")).to_have_value("unhealthy")
    expect(page.get_by_label("Search agents by name")).to_have_value("db")

    page.go_back()  # the search replaced its entry: back is before the search
    expect(page).not_to_have_url(re.compile(r"q=db"))
    expect(rows).to_have_count(2)
    page.go_back()  # and before the sort
    expect(page).not_to_have_url(re.compile(r"sort=problems"))
    expect(page.get_by_label("Sort")).to_have_value("name")
    context.close()
