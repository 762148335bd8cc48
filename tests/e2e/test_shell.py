from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from deployments.models import Role, RoleGrant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_log_in_open_the_deployment_and_switch_agents_and_tokens(
    page: Page, live_server, django_user_model, deployment
):
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)

    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name=deployment.name).click()
    page.get_by_role("navigation", name="Deployment").get_by_role(
        "link", name="Remote Agents"
    ).click()
    expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()

    page.get_by_role("tab", name="Tokens").click()
    expect(page.get_by_role("heading", name="No agent tokens yet")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/deployments/{deployment.pk}/tokens/")
    expect(page.get_by_role("tab", name="Tokens")).to_have_attribute("aria-selected", "true")

    page.get_by_role("tab", name="Agents").click()
    expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "remote-agents-shell.png"), full_page=True)

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/deployments/{deployment.pk}/tokens/")
