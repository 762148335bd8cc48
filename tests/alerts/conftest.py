"""Real receivers on loopback: an HTTP server that answers as scripted and records every
request, an SMTP server (aiosmtpd) that keeps every message, and a Celery worker."""

import time
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.db import connection

from agents import store
from agents.models import Agent
from alerts.models import Channel, Delivery, Kind
from astro_ui.celery import app

from .receivers import Receiver, free_port


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {"to": envelope.rcpt_tos, "message": message_from_bytes(envelope.content)}
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    """A real SMTP server; Django's SMTP backend sends to it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def worker(settings):
    """A real Celery worker in this process, over the Redis broker; retries come quickly."""
    settings.ALERT_RETRY_BASE_SECONDS = 0
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    connection.close()


def wait_for_deliveries(count: int, timeout: float = 20) -> list[Delivery]:
    """Wait until `count` deliveries exist and all of them are final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Delivery.objects.order_by("created_at"))
        if len(rows) >= count and all(d.is_final for d in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries not final: {list(Delivery.objects.values('status'))}")


@pytest.fixture
def old_epoch():
    """Redis has held our data for long (it did not just lose it)."""
    store.client().set(store.EPOCH, store.now() - 3600)


@pytest.fixture
def make_agent(deployment):
    def make(name="worker-0", *, silent_for=0.0, queues=("default",), **fields):
        agent = Agent.objects.create(
            deployment=deployment, name=name, component="worker", queues=list(queues), **fields
        )
        store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - silent_for})
        return agent

    return make


@pytest.fixture
def make_channel(deployment, admin):
    def make(kind=Kind.WEBHOOK, name=None, **fields):
        channel, _ = Channel.objects.create_channel(
            deployment, kind=kind, name=name or f"{kind}-channel", by=admin, **fields
        )
        return channel

    return make
