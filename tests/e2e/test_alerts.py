"""Create a notification channel, send a test, see it delivered in the log: a real receiver on
loopback and a real Celery worker."""

from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from playwright.sync_api import Page, expect

from astro_ui.celery import app
from deployments.models import Role, RoleGrant
from tests.alerts.receivers import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    connection.close()


def test_create_a_channel_send_a_test_and_see_it_in_the_delivery_log(
    page: Page, live_server, django_user_model, deployment, receiver, worker
):
    user = django_user_model.objects.create_user("alice", password="correct horse battery")
    RoleGrant.objects.create(user=user, deployment=deployment, role=Role.ADMIN)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/agents/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("tab", name="Alerts").click()
    expect(page.get_by_role("heading", name="No notification channels yet")).to_be_visible()
    page.get_by_role("link", name="Channel", exact=True).click()
    page.get_by_label("Name").fill("on-call hook")
    page.get_by_label("Webhook").check()
    expect(page.get_by_label("E-mail addresses")).to_be_hidden()
    page.get_by_label("URL").fill(receiver.url + "/hook")
    page.get_by_label("for more than").fill("10")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alerts-form.png"), full_page=True)
    page.get_by_role("button", name="Create channel").click()

    expect(page.get_by_role("heading", name="Channel “on-call hook” created")).to_be_visible()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("rawhs_")
    expect(page.locator("#delivery-log")).to_contain_text("Nothing sent yet")

    page.get_by_role("button", name="Send test").click()
    log = page.locator("#delivery-log")
    expect(log.get_by_role("row").nth(1)).to_contain_text("Delivered", timeout=20_000)
    expect(log).to_contain_text("Test message")
    expect(log).to_contain_text("200")
    (body,) = receiver.json("/hook")
    assert body["type"] == "test" and body["requestedBy"] == "alice"
    page.screenshot(path=str(SHOTS / "alerts-channel.png"), full_page=True)

    page.get_by_role("link", name="← Alerts").click()
    expect(page.get_by_role("row", name="on-call hook")).to_contain_text("Delivered")
    page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "alerts-narrow.png"), full_page=True)
    page.get_by_role("link", name="on-call hook").click()
    expect(page.get_by_role("button", name="Send test")).to_be_visible()
    assert secret not in page.content()
    page.screenshot(path=str(SHOTS / "alerts-channel-narrow.png"), full_page=True)
