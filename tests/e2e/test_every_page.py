"""Every page at a laptop's and a phone's size: nothing wider than the window, every row action on
screen and not covered, nothing missing, and no serious or critical axe-core finding (axe runs from
the copy that ships inside the axe-playwright-python package; nothing is fetched)."""

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, expect

from agents.models import Agent
from agents.runs import TestRun
from alerts.models import Channel, DeliveryStatus, Kind
from api.models import ApiToken
from deployments import ipranges
from deployments.models import Role, RoleGrant
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR", Path(settings.BASE_DIR) / "var" / "screenshots"))
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
AXE = Axe()

# Row actions: whatever a user presses inside a table row.
ROW_ACTIONS = "td a, td button, td input:not([type=hidden]), td select"

MEASURE = """(selector) => {
  const width = window.innerWidth;
  const doc = document.documentElement.scrollWidth;
  const actions = [];
  // Behind a modal dialog nothing can be pressed; only the dialog's own actions count then.
  const scope = document.querySelector("dialog[open]") || document;
  for (const el of scope.querySelectorAll(selector)) {
    if (!el.checkVisibility()) continue;
    // Scroll the window only: a user should not have to scroll a table sideways to act.
    const top = el.getBoundingClientRect().top + window.scrollY;
    window.scrollTo(0, top - window.innerHeight / 2);
    const box = el.getBoundingClientRect();
    const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    actions.push({
      label: (el.getAttribute("aria-label") || el.textContent || el.name || "").trim(),
      left: box.left, right: box.right, covered: !(hit && (hit === el || el.contains(hit))),
    });
  }
  window.scrollTo(0, 0);
  return {width, doc, actions};
}"""


@pytest.fixture
def world(deployment, admin, client):
    """A deployment with a live fleet, tokens, refused addresses and API tokens."""
    admin.is_staff = True
    admin.save()
    RoleGrant.objects.filter(user=admin).update(role=Role.ADMIN)
    token, value = AgentToken.objects.issue(
        deployment,
        name="production-cluster-eu-central-1",
        description="Workers, DAG processor and triggerer in the Frankfurt cluster",
        expires_in_days=5,
    )
    AgentToken.objects.issue(deployment, name="staging", expires_in_days=None)
    url = reverse("agent-heartbeat", kwargs={"deployment_id": deployment.pk})
    for name, component in [
        ("worker-default-7d9f8c6b5-x2x9q", "worker"),
        ("worker-high-memory-5c7b9d-qq8zt", "worker"),
        ("dag-processor-0", "dag-processor"),
        ("triggerer-0", "triggerer"),
    ]:
        response = client.post(
            url,
            {
                "name": name,
                "component": component,
                "version": "1.3.2",
                "queues": ["default", "high-memory", "reporting"],
                "slots": {"used": 3, "total": 20},
                "hostname": f"{name}.agents.svc.cluster.local",
            },
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {value}",
        )
        assert response.status_code == 200, response.content
    Agent.objects.filter(name="triggerer-0").update(
        cordoned_at=token.created_at, cordon_reason="Node drain for a kernel upgrade"
    )
    deployment.allowed_ip_ranges = ["10.0.0.0/8", "127.0.0.1/32"]
    deployment.save()
    ipranges.record_blocked(
        deployment.pk, "203.0.113.77", token_name="staging", agent_name="worker-edge-0"
    )
    ipranges.record_blocked(deployment.pk, "2001:db8:85a3::8a2e:370:7334")
    ApiToken.objects.issue(admin, name="ci-deploys", role=Role.ADMIN, deployment=deployment)
    channel, _ = Channel.objects.create_channel(
        deployment,
        kind=Kind.WEBHOOK,
        name="platform-on-call",
        url="https://hooks.example.com/remote-agents/production-cluster-eu-central-1",
    )
    failed = channel.send_test()
    failed.status, failed.status_code = DeliveryStatus.FAILED, 400
    failed.response_excerpt = '{"error": "unknown hook id 7f3a9c", "documentation": "https://…"}'
    failed.save()
    worker = Agent.objects.get(name="worker-default-7d9f8c6b5-x2x9q")
    TestRun.objects.start(deployment, agent=worker, by=admin)
    TestRun.objects.start(deployment, queue="no-such-queue", by=admin).time_out()
    return deployment, admin


def _pages(deployment) -> dict[str, str]:
    agent = Agent.objects.get(name="worker-default-7d9f8c6b5-x2x9q")
    pk = deployment.pk
    return {
        "workspaces": reverse("workspaces"),
        "workspace": deployment.workspace.get_absolute_url(),
        "overview": reverse("deployment", args=[pk]),
        "agents": reverse("agents", args=[pk]),
        "agent-cordon": reverse("agent-cordon", args=[pk, agent.pk]),
        "agent-detail": reverse("agent-detail", args=[pk, agent.pk]),
        "queues": reverse("agent-queues", args=[pk]),
        "stale-agents": reverse("stale-agents", args=[pk]),
        "agents-bulk": reverse("agents-bulk", args=[pk]),
        "test-runs": reverse("test-runs", args=[pk]),
        "test-run": reverse("test-run", args=[pk, TestRun.objects.earliest("created_at").pk]),
        "tokens": reverse("tokens", args=[pk]),
        "token-create": reverse("token-create", args=[pk]),
        "settings": reverse("deployment-settings", args=[pk]),
        "register": reverse("register-agent", args=[pk]),
        "alerts": reverse("alerts", args=[pk]),
        "alert-channel": reverse("alert-channel", args=[pk, Channel.objects.get().pk]),
        "alert-channel-create": reverse("alert-channel-create", args=[pk]),
        "api-tokens": reverse("api-tokens"),
        "api-docs": reverse("api-docs"),
    }


def _problems(page, name: str, size: str) -> list[str]:
    found = []
    m = page.evaluate(MEASURE, ROW_ACTIONS)
    if m["doc"] > m["width"]:
        found.append(f"{name}@{size}: document is {m['doc']} px wide in a {m['width']} px window")
    for action in m["actions"]:
        if action["left"] < 0 or action["right"] > m["width"] + 0.5:
            found.append(
                f"{name}@{size}: row action {action['label']!r} spans "
                f"{action['left']:.0f}-{action['right']:.0f} px of {m['width']}"
            )
        if action["covered"]:
            found.append(f"{name}@{size}: row action {action['label']!r} is covered")
    results = AXE.run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            found.append(f"{name}@{size}: axe {violation['id']} ({violation['impact']}): {targets}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
    return found


@pytest.mark.parametrize("size", SIZES)
def test_it_fits_every_page_to_the_window_with_no_serious_accessibility_finding(
    browser: Browser, live_server, world, size
):
    deployment, admin = world
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    problems = []
    # Nothing a page asks for is missing (the favicon included).
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"{r.url} answered {r.status}"),
    )

    page.goto(live_server.url + reverse("login"))
    problems += _problems(page, "login", size)

    session = Client()
    session.force_login(admin)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    for name, path in _pages(deployment).items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        problems += _problems(page, name, size)
        if name == "token-create":
            # The one-time display of a new token, in its dialog.
            page.get_by_label("Name").fill(f"new-{size}")
            page.get_by_role("button", name="Create token").click()
            expect(page.get_by_role("button", name="Copy", exact=True)).to_be_focused()
            problems += _problems(page, "token-created", size)
    if size == "phone":
        # The sidebar folds into a menu that the keyboard opens.
        page.goto(live_server.url + reverse("workspaces"))
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        menu = page.get_by_role("button", name="Menu")
        menu.focus()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Workspaces")).to_be_visible()
        page.screenshot(path=str(SHOTS / f"menu-{size}.png"))
    favicon = page.request.get(live_server.url + "/favicon.ico")
    assert favicon.ok and favicon.headers["content-type"] == "image/svg+xml"
    context.close()
    assert not problems, "\n".join(problems)
