from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from agents import store
from agents.models import Agent
from deployments.ipranges import IPNotAllowed, check_agent_ip
from deployments.models import Role, RoleGrant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _row(panel, number: int):
    return panel.get_by_role("textbox", name=f"Range {number}", exact=True)


def _knock_from_localhost(live_server, deployment) -> None:
    """An agent request from 127.0.0.1: over HTTP once the agent API exists, else in-process."""
    try:
        path = reverse("agent-heartbeat", kwargs={"deployment_id": deployment.pk})
    except NoReverseMatch:
        request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1")
        with pytest.raises(IPNotAllowed):
            check_agent_ip(request, deployment.pk)
        return
    response = httpx.post(live_server.url + path, json={}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"] == "ip_not_allowed"


def test_restrict_ranges_see_the_lockout_then_allow_a_blocked_address(
    page: Page, live_server, django_user_model, deployment, settings
):
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    # A fleet up for hours: heartbeats in Redis seconds ago, database checkpoints long past
    # AGENT_CHECKPOINT_SECONDS.
    checkpoint = timezone.now() - timedelta(seconds=settings.AGENT_CHECKPOINT_SECONDS + 3600)
    store.client().set(store.EPOCH, store.now() - 3 * 3600)
    for name, ip in [("worker-local", "127.0.0.1"), ("worker-vpc", "10.20.0.7")]:
        agent = Agent.objects.create(
            deployment=deployment,
            name=name,
            component="worker",
            last_ip=ip,
            version="1.0.0",
            heartbeat_checkpoint_at=checkpoint,
        )
        store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - 5})

    page.goto(live_server.url + reverse("deployment-settings", args=[deployment.pk]))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    panel = page.locator("#ip-ranges")
    expect(panel.get_by_role("heading", name="Allowed IP ranges")).to_be_visible()
    expect(panel.get_by_text("Any address", exact=True)).to_be_visible()
    _row(panel, 1).fill("10.0.0.0/8")
    panel.get_by_role("button", name="+ Add row").click()
    expect(_row(panel, 2)).to_be_visible()
    expect(_row(panel, 1)).to_have_value("10.0.0.0/8")
    _row(panel, 2).fill("10.0.0.5/24")
    panel.get_by_role("button", name="Preview impact").click()
    expect(panel.get_by_text("did you mean 10.0.0.0/24?")).to_be_visible()
    _row(panel, 2).fill("2001:db8::/32")

    panel.get_by_role("button", name="Preview impact").click()
    impact = panel.locator("[data-impact]")
    expect(impact).to_contain_text("This change would block 1 of 2 connected agents.")
    expect(impact).to_contain_text("worker-local")
    expect(impact).to_contain_text("127.0.0.1")
    expect(impact).not_to_contain_text("worker-vpc")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ip-ranges-preview.png"), full_page=True)

    # Enter in a field saves (not "Remove" of the first row); this list still needs the tick.
    _row(panel, 2).press("Enter")
    expect(panel.get_by_role("alert")).to_contain_text("Tick the confirmation below")
    expect(_row(panel, 1)).to_have_value("10.0.0.0/8")
    panel.get_by_label("I understand that the agents listed above").check()
    panel.get_by_role("button", name="Save ranges").click()
    expect(panel.get_by_role("status")).to_contain_text("Allowed IP ranges saved.")
    expect(panel.get_by_text("2 ranges", exact=True)).to_be_visible()
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8", "2001:db8::/32"]

    _knock_from_localhost(live_server, deployment)
    page.reload()
    blocked = panel.locator(".ipr-blocked")
    row = blocked.get_by_role("row").filter(has_text="127.0.0.1")
    expect(row).to_be_visible()
    page.screenshot(path=str(SHOTS / "ip-ranges.png"), full_page=True)

    row.get_by_role("button", name="Allow this IP").click()
    deployment.refresh_from_db()
    assert "127.0.0.1/32" not in deployment.allowed_ip_ranges, "it asks before widening the list"
    confirm = panel.get_by_role("button", name="Allow 127.0.0.1")
    expect(confirm).to_be_focused()
    confirm.press("Enter")
    expect(panel.get_by_role("status")).to_contain_text(
        "127.0.0.1/32 added to the allowed IP ranges.", timeout=15_000
    )
    expect(_row(panel, 3)).to_have_value("127.0.0.1/32")
    expect(blocked.get_by_role("row").filter(has_text="127.0.0.1")).to_contain_text("Allowed now")
    page.screenshot(path=str(SHOTS / "ip-ranges-allowed.png"), full_page=True)
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32"]
