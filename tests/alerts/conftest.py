"""Real receivers on loopback: an HTTP server that answers as scripted and records every
request, an SMTP server (aiosmtpd) that keeps every message, and a Celery worker."""

import json
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.db import connection

from agents import store
from agents.models import Agent
from alerts.models import Channel, Delivery, Kind
from astro_ui.celery import app

# Ports of our own on loopback; a port still held by an earlier test is skipped.
PORTS = range(18600, 18700)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


class Receiver:
    """Answers each POST with the next scripted (status, body); the last one repeats."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, str]] = [(200, "ok")]
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status, text = (
                        receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                    )
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def json(self, path: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.on(path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
