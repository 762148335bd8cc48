"""/metrics under the production server: granian with 2 worker processes, prometheus_client's
multiprocess mode, the same database and Redis as the test."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from bench import servers

from .receivers import free_port
from .test_metrics import by_status, parse

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
SCRAPES = 12


def production_command(port: int) -> list[str]:
    """The production server's command line (README, "Production web server"): the one place
    to change when the production command changes."""
    return servers.argv("granian-asgi", port, app="astro_ui.asgi:application")


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def production_server(tmp_path):
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()  # empty at every start, as prometheus_client requires
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=_database_url(),
        DATABASE_CONN_MAX_AGE="0",
        REDIS_URL=settings.REDIS_URL,
        AGENT_REDIS_URL=settings.AGENT_REDIS_URL,
        VAR_DIR=str(settings.VAR_DIR),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        production_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((tmp_path / "server.log").read_text())
        time.sleep(0.2)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)
    log.close()


def test_metrics_parse_under_two_workers_and_match_the_agents_page(
    production_server, deployment, viewer, make_agent, old_epoch
):
    for i in range(3):
        make_agent(f"w{i}")
    make_agent("late", silent_for=900)
    client = Client()
    client.force_login(viewer)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}

    page = httpx.get(
        production_server + reverse("agents", args=[deployment.pk]), cookies=cookies
    ).text
    shown = {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', page)}
    assert shown == {"healthy": 3, "unhealthy": 1, "cordoned": 0, "total": 4}

    # New connections each time, so both worker processes serve some of the scrapes.
    for _ in range(SCRAPES):
        response = httpx.get(production_server + "/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
    samples = parse(response.text)
    counts = by_status(samples, deployment)
    assert {"cordoned": 0, **counts} == {k: v for k, v in shown.items() if k != "total"}
    # Scrape times are measured in whichever process served them and added up across both:
    # the last answer counts every scrape before it.
    assert samples[("remote_agents_scrape_duration_seconds_count", ())] == SCRAPES - 1
