"""Fleet insight in a browser: version badges, the agent detail page's chart (uPlot from our own
static files) and the Queues view's banner, at desktop and phone widths."""

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agents.models import Agent
from deployments.models import Role, RoleGrant
from fleet import history
from fleet.models import AgentRollup, QueueRollup
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"1280": (1280, 800), "390": (390, 844)}


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def _fleet(live_server, deployment, operator) -> None:
    """Three agents through the real agent API, a day of hourly history, a cordon."""
    _, value = AgentToken.objects.issue(deployment, name="e2e", expires_in_days=1)
    url = live_server.url + deployment.agent_api_path + "heartbeat"
    for name, version, queues in [
        ("worker-a", "1.6.0", ["default", "gpu"]),
        ("worker-b", "1.3.1", ["default"]),
        ("dag-processor", "1.7.0", []),
    ]:
        body = {
            "name": name,
            "component": "dag-processor" if not queues else "worker",
            "version": version,
            "queues": queues,
            "slots": {"used": 2 if queues else 0, "total": 8 if queues else 0},
            "hostname": f"{name}.agents.svc",
        }
        response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 200, response.text
    agent = Agent.objects.get(name="worker-a")
    agent.cordon(by=operator, reason="node pool upgrade")
    agent.uncordon(by=operator)
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(first_seen_at=now - timedelta(days=2))
    hours = [
        history.bucket_time(history.bucket_of((now - timedelta(hours=h)).timestamp()))
        for h in range(1, 25)
    ]
    AgentRollup.objects.bulk_create(
        AgentRollup(
            deployment=deployment,
            agent=agent,
            bucket=at,
            samples=60,
            healthy_samples=60,
            slots_used_avg=2 + i % 5,
            slots_used_max=3 + i % 5,
            slots_total=8,
            running_avg=1 + i % 3,
            version="1.6.0",
        )
        for i, at in enumerate(hours)
    )
    QueueRollup.objects.bulk_create(
        QueueRollup(
            deployment=deployment,
            queue=q,
            bucket=at,
            samples=60,
            agents_avg=1,
            healthy_avg=1,
            slots_used_avg=(i % 6) + 1,
            slots_total_avg=8,
        )
        for q in ("default", "gpu")
        for i, at in enumerate(hours)
    )


def test_badges_detail_page_and_queues(
    page: Page, live_server, settings, django_user_model, deployment, operator
):
    settings.AGENT_HEALTHY_SECONDS = 20
    _fleet(live_server, deployment, operator)
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    rows = page.locator("tr[data-agent]")
    expect(rows).to_have_count(3)
    expect(page.locator('tr[data-agent="worker-b"] [data-support="unsupported"]')).to_contain_text(
        "Unsupported since"
    )
    expect(page.locator('tr[data-agent="worker-a"] [data-support]')).to_be_visible()
    _shoot(page, "fleet-agents-badges")
    page.get_by_role("navigation", name="Deployment").get_by_role("link", name="Overview").click()
    counts = page.locator("[data-version-counts]")
    expect(counts.locator('[data-support-count="unsupported"] strong')).to_have_text("1")
    _shoot(page, "fleet-overview-counts")
    page.get_by_role("navigation", name="Deployment").get_by_role(
        "link", name="Remote Agents"
    ).click()

    page.get_by_role("link", name="worker-a").click()
    expect(page.get_by_role("heading", name="worker-a")).to_be_visible()
    chart = page.locator("[data-uplot]")
    expect(chart).to_have_attribute("data-drawn", "24")
    expect(chart.locator("canvas")).to_have_count(1)
    timeline = page.locator("[data-transition]")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(1)).to_contain_text("by oscar: “node pool upgrade”")
    _shoot(page, "fleet-agent-detail")

    page.get_by_role("link", name="← All agents").click()
    page.get_by_role("tab", name="Queues").click()
    expect(page).to_have_url(f"{live_server.url}/deployments/{deployment.pk}/agents/queues/")
    gpu = page.locator('tr[data-queue="gpu"]')
    expect(gpu.locator('[data-cell="agents"]')).to_have_text("1 / 1")
    expect(gpu.locator("svg.spark path")).to_have_count(1)
    _shoot(page, "fleet-queues")
    # Nobody heartbeats any more: the banner comes on its own, by polling.
    expect(page.locator('[data-no-healthy="gpu"]')).to_be_visible(timeout=30_000)
    _shoot(page, "fleet-queues-banner")

    page.get_by_role("navigation", name="Deployment").get_by_role("link", name="Settings").click()
    panel = page.locator("#cleanup-panel")
    panel.get_by_label("Remove agents silent for more than").fill("3")
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator("[data-cleanup-state]")).to_contain_text("3 days")
    _shoot(page, "fleet-settings-cleanup")
