"""Every page works under the Content-Security-Policy: the browser reports no violation, htmx's
polling still runs, and the API docs render their operations."""

import re

import pytest
from playwright.sync_api import Page, expect

from agents.models import Agent
from deployments.models import Role, RoleGrant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs before any page script and outside the page's policy: collects what the policy blocked.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(page: Page):
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    page.add_init_script(WATCH)
    return console


def _violations(page: Page, console: list[str]) -> list[str]:
    found = page.evaluate("window.__violations")
    return found + [m for m in console if "Content Security Policy" in m]


def test_the_console_pages_and_api_docs_run_without_violations(
    page: Page, watched, live_server, django_user_model, deployment
):
    user = django_user_model.objects.create_superuser("root", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    agent = Agent.objects.create(deployment=deployment, name="worker-1")
    base = live_server.url

    page.goto(base + "/login/")
    assert _violations(page, watched) == []
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    agents = f"{base}/deployments/{deployment.pk}/agents/"
    page.goto(agents)
    # The table still polls (a "poll" event from app.js, not an eval'd htmx filter).
    with page.expect_request(re.compile(r"/agents/table"), timeout=9000):
        pass
    # The Agents/Tokens toggle swaps the section with htmx.
    page.get_by_role("tab", name="Tokens").click()
    expect(page).to_have_url(re.compile(r"/tokens/$"))
    assert _violations(page, watched) == []

    for path in [
        f"/deployments/{deployment.pk}/",
        f"/deployments/{deployment.pk}/agents/queues/",
        f"/deployments/{deployment.pk}/agents/{agent.pk}/",
        f"/deployments/{deployment.pk}/settings/",
        f"/deployments/{deployment.pk}/agents/register/",
        "/account/api-tokens/",
        "/admin/audit/auditevent/",
    ]:
        page.goto(base + path)
        assert _violations(page, watched) == [], path

    page.goto(base + "/api/v1/docs/")
    expect(page.get_by_role("heading", name=re.compile("^Agent tokens"))).to_be_visible(
        timeout=15000
    )
    # Open one operation: Swagger UI renders its schema with inline styling of its own.
    page.get_by_role("button", name=re.compile(r"^GET .*agent-tokens$")).click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert _violations(page, watched) == []

    # The watch works, and the policy is on: an inline style added now is refused.
    page.evaluate(
        "document.head.appendChild(Object.assign(document.createElement('style'),"
        " {textContent: 'body { color: red }'}))"
    )
    expect(page.locator("body")).not_to_have_css("color", "rgb(255, 0, 0)")
    assert any(v.startswith("style-src") for v in _violations(page, watched))
