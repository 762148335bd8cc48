from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents.models import Agent
from deployments.models import Role, RoleGrant
from tokens import secret
from tokens.models import AgentToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _log_in(page: Page, live_server, django_user_model, deployment) -> None:
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_create_a_token_see_it_once_then_delete_it(
    page: Page, live_server, django_user_model, deployment
):
    _log_in(page, live_server, django_user_model, deployment)
    AgentToken.objects.issue(
        deployment, name="staging-cluster", description="Staging workers", expires_in_days=5
    )
    tokens_url = f"{live_server.url}/deployments/{deployment.pk}/tokens/"
    page.goto(tokens_url)

    page.get_by_role("link", name="Agent Token").click()
    dialog = page.get_by_role("dialog", name="Create an agent token")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("1 of 50")
    expect(dialog.get_by_label("Days until it expires")).to_be_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "tokens-form.png"))
    dialog.get_by_label("Name").fill("prod-eu-cluster")
    dialog.get_by_label("Expiration").select_option("custom")
    dialog.get_by_label("Days until it expires").fill("45")
    dialog.get_by_label("Description").fill("Workers in the Frankfurt cluster")
    dialog.get_by_role("button", name="Create token").click()

    created = page.get_by_role("dialog", name="Token “prod-eu-cluster” created")
    expect(created).to_be_visible()
    expect(created).to_contain_text("You cannot see it again")
    value = created.get_by_label("Agent token").input_value()
    assert secret.is_well_formed(value)
    expect(created.get_by_role("button", name="Copy")).to_be_visible()
    # The list behind the dialog already shows the new token.
    expect(page.locator("#token-list")).to_contain_text("prod-eu-cluster")
    page.screenshot(path=str(SHOTS / "tokens-created.png"))

    # Escape first warns that the value was not copied; a second Escape closes. However the
    # dialog is closed, the value leaves the page, and it is not on the next load.
    page.keyboard.press("Escape")
    expect(created.get_by_role("alert").filter(has_text="You have not copied")).to_be_visible()
    expect(created.get_by_label("Agent token")).to_have_value(value)
    page.keyboard.press("Escape")
    expect(page.locator("#token-value")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert value not in page.content()
    page.get_by_role("link", name="Agent Token").click()
    expect(page.get_by_role("dialog", name="Create an agent token")).to_contain_text("2 of 50")
    page.keyboard.press("Escape")
    page.reload()
    expect(page.locator(".token-name .name", has_text="prod-eu-cluster")).to_be_visible()
    assert value not in page.content()

    created_token = AgentToken.objects.get(name="prod-eu-cluster")
    Agent.objects.create(
        deployment=deployment, token=created_token, name="worker-0", component="worker"
    )
    page.reload()
    expect(page.get_by_role("row", name="prod-eu-cluster")).to_contain_text("1")
    expect(page.get_by_role("row", name="staging-cluster")).to_contain_text("expires in 5 days")
    page.screenshot(path=str(SHOTS / "tokens.png"), full_page=True)

    page.get_by_role("link", name="Delete prod-eu-cluster").click()
    confirm = page.get_by_role("dialog", name="Delete the token “prod-eu-cluster”?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("1 agent currently uses this token.")
    page.screenshot(path=str(SHOTS / "tokens-delete.png"))
    confirm.get_by_role("button", name="Delete token").click()

    expect(confirm).to_be_hidden()
    expect(page.locator(".token-name .name", has_text="prod-eu-cluster")).to_have_count(0)
    expect(page.locator(".token-name .name", has_text="staging-cluster")).to_be_visible()
    assert AgentToken.objects.get(name="prod-eu-cluster").revoked_at is not None


def _focused(page: Page) -> str:
    return page.evaluate("document.activeElement.textContent.trim()")


def test_it_takes_a_keyboard_user_through_creating_copying_and_closing_a_token(
    page: Page, live_server, django_user_model, deployment
):
    _log_in(page, live_server, django_user_model, deployment)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    AgentToken.objects.issue(deployment, name="staging", expires_in_days=None)
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/tokens/")
    opener = page.get_by_role("link", name="Agent Token")

    # The skip link comes first and lands in the page's content, a few Tabs from + Agent Token.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    presses = 0
    while presses < 10 and not opener.evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")
        presses += 1
    # Three deployment tabs, the selected view of the Agents/Tokens/Queues switch, the button.
    assert presses <= 5, f"{presses} Tab presses from the content to + Agent Token"
    # Within the switch, the arrow keys move between views.
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("tab", name="Tokens")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Queues")).to_be_focused()
    page.keyboard.press("Tab")
    expect(opener).to_be_focused()

    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create an agent token")
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.type("prod-eu")
    page.keyboard.press("Enter")

    created = page.get_by_role("dialog", name="Token “prod-eu” created")
    copy = created.locator("[data-copy]")
    expect(copy).to_have_text("Copy")
    expect(copy).to_be_focused()
    # While it is open, the toolbar and the list agree on how many tokens there are.
    expect(page.locator("#token-count")).to_have_text("2 of 50 tokens")
    expect(page.locator(".token-footnote")).to_contain_text("2 of 50 agent tokens used")
    value = created.get_by_label("Agent token").input_value()
    page.keyboard.press("Enter")
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == value

    page.keyboard.press("Escape")
    # The section reloads without the value, and the new + Agent Token has the focus.
    expect(page.locator("#token-value")).to_have_count(0)
    expect(opener).to_be_focused()
    assert value not in page.content()

    # Not copied: closing warns first, and its own button closes without the value.
    page.keyboard.press("Enter")
    page.keyboard.type("prod-us")
    page.keyboard.press("Enter")
    created = page.get_by_role("dialog", name="Token “prod-us” created")
    expect(created.get_by_role("button", name="Copy", exact=True)).to_be_focused()
    created.get_by_role("link", name="I have stored it").focus()
    page.keyboard.press("Enter")
    warning = created.get_by_role("alert").filter(has_text="You have not copied the token.")
    expect(warning).to_be_visible()
    expect(created.get_by_role("button", name="Copy", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    assert _focused(page) == "Close without copying"
    page.keyboard.press("Enter")
    expect(page.locator("#token-value")).to_have_count(0)
    expect(opener).to_be_focused()
    expect(page.locator("#token-count")).to_have_text("3 of 50 tokens")
