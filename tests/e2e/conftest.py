"""What the browser tests share."""

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from agents.tasks import flush_heartbeats, sweep_agent_health
from astro_ui.celery import app


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
