"""`make run`'s promises, on the embedded defaults a new user gets: the console comes up with a
demo fleet that heartbeats, and one Ctrl-C stops every process it started."""

import io
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import redis
from django.contrib.auth import get_user_model
from django.core.management import call_command

from deployments.management.commands.seed_demo import generated_password, password_file

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(var_dir: str) -> list[int]:
    """Processes whose environment points at this run's VAR_DIR: the console's children."""
    marker = f"VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    return predicate()


def _demo_agents(var_dir: str) -> dict[str, str]:
    """Component of each demo agent whose heartbeat Redis saw in the last 60 s."""
    try:
        with sqlite3.connect(f"{var_dir}/db.sqlite3") as db:
            rows = db.execute(
                "SELECT id, component FROM agents_agent WHERE deleted_at IS NULL"
            ).fetchall()
        client = redis.Redis(unix_socket_path=f"{var_dir}/redis.sock")
        recent = {
            member.decode()
            for key in client.scan_iter("ra:*:seen")
            for member in client.zrangebyscore(key, time.time() - 60, "+inf")
        }
    except (sqlite3.Error, redis.RedisError):
        return {}
    # SQLite keeps UUIDs as 32 hex digits; Redis has them hyphenated.
    return {pk: component for pk, component in rows if str(uuid.UUID(pk)) in recent}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _test_runs(var_dir: str, base: str, password: str, worker: str) -> tuple[str, float, str]:
    """Log in as the admin, start a test run on the worker and one on a queue nobody serves;
    returns the first run's finished panel, how long it took, and the second's."""
    with sqlite3.connect(f"{var_dir}/db.sqlite3") as db:
        (dep,) = db.execute("SELECT id FROM deployments_deployment").fetchone()
    runs_url = f"{base}/deployments/{uuid.UUID(dep)}/test-runs/"
    with httpx.Client(base_url=base, timeout=10) as http:
        http.get("/login/")
        logged_in = http.post(
            "/login/", data={"username": "admin", "password": password, **_csrf(http)}
        )
        assert logged_in.status_code == 302 and logged_in.headers["location"] == "/"

        def start(**form) -> str:
            http.get(runs_url)
            answer = http.post(runs_url, data={**form, **_csrf(http)})
            assert answer.status_code == 302, answer.text
            return answer.headers["location"]

        on_nothing = start(queue="nowhere")
        began = time.monotonic()
        on_worker = start(agent=str(uuid.UUID(worker)), queue="")
        passed = _wait_for(lambda: _finished(http, on_worker), 40)
        took = time.monotonic() - began
        nowhere = _wait_for(lambda: _finished(http, on_nothing), 40)
    assert passed and 'data-run-state="passed"' in passed, passed
    assert nowhere and 'data-run-state="failed"' in nowhere, nowhere
    return passed, took, nowhere


def _csrf(http: httpx.Client) -> dict:
    return {"csrfmiddlewaretoken": http.cookies["csrftoken"]}


def _finished(http: httpx.Client, url: str) -> str | None:
    page = http.get(url).text
    return page if re.search(r'data-run-state="(passed|failed|timed_out)"', page) else None


class _Lines:
    """The console's output, line by line with the time each arrived; a line that names the URL
    is checked against the port the moment it arrives."""

    def __init__(self, stream, port: int):
        self.lines: list[tuple[float, str]] = []
        self.listening_at_url: bool | None = None
        self._thread = threading.Thread(target=self._read, args=(stream, port), daemon=True)
        self._thread.start()

    def _read(self, stream, port):
        for line in stream:
            if "Console running at" in line and self.listening_at_url is None:
                self.listening_at_url = _listening(port)
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "\n".join(line for _, line in self.lines)


def test_make_run_starts_a_live_demo_fleet_and_ctrl_c_stops_everything():
    var_dir = tempfile.mkdtemp(prefix="console-", dir="/tmp")
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEMO_AGENTS"}
    }
    # A short deadline, so the run that nobody can take fails within the test.
    env.update(VAR_DIR=var_dir, ADDR=addr, TEST_RUN_TIMEOUT_SECONDS="20")
    console = subprocess.Popen(
        [sys.executable, "manage.py", "run_console"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Lines(console.stdout, port)
    try:
        fleet = _wait_for(
            # Generous: the machine may be busy; the wait ends as soon as all three beat.
            lambda: (found := _demo_agents(var_dir)) and len(found) == 3 and found,
            90,
        )
        assert sorted(fleet.values()) == ["dag-processor", "triggerer", "worker"]
        assert _processes_with(var_dir), "the console's processes should be running"
        # Start-up ends with the admin password (the fleet may beat before it is printed).
        assert _wait_for(
            lambda: any(line.startswith("    password: ") for _, line in out.lines), 60
        ), "the console never printed the admin password"
        # Idle with the demo fleet heartbeating and beat ticking every 5 s: under 10 lines a
        # minute (measured over half a minute).
        before = len(out.lines)
        time.sleep(30)
        idle = [line for _, line in out.lines[before:]]
        at_rest = [line for _, line in out.lines]
        worker = next(pk for pk, component in fleet.items() if component == "worker")
        runs = _test_runs(var_dir, f"http://{addr}", at_rest[-1].split(": ", 1)[1], worker)
    finally:
        console.send_signal(signal.SIGINT)
        console.wait(timeout=60)
    output = out.text()
    assert console.returncode == 0, output
    assert len(idle) < 5, f"{len(idle)} lines in 30 s at idle:\n" + "\n".join(idle)
    assert f"Console running at http://{addr}/" in output
    assert out.listening_at_url is True, "the URL was printed before the server listened"
    # The admin password comes last, and waits in a file only its owner can read.
    assert at_rest[-1].startswith("    password: "), output
    password = at_rest[-1].split(": ", 1)[1]
    kept = Path(var_dir) / "admin-password"
    assert kept.read_text().strip() == password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # A test run on the demo worker passes within 20 s and shows every check; one on a queue no
    # agent serves fails at its deadline, saying so.
    passed, took, nowhere = runs
    assert took < 20, f"the test run took {took:.1f} s"
    for check in ("clock", "proxy", "versions", "secrets_backend", "xcom_backend", "dag_source"):
        assert f'data-check="{check}"' in passed
    assert "No agent serves queue nowhere." in nowhere
    with sqlite3.connect(f"{var_dir}/db.sqlite3") as db:
        (description,) = db.execute(
            "SELECT description FROM tokens_agenttoken WHERE revoked_at IS NULL"
        ).fetchone()
    assert description and "`" not in description
    assert _wait_for(lambda: not _processes_with(var_dir), 10), output
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the web server should be gone"


def test_it_forgets_the_generated_password_once_it_is_changed(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", username="admin", stdout=io.StringIO())
    path = password_file("admin")
    password = generated_password("admin")
    assert password and re.fullmatch(r"[\w-]{16}", password)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    user = get_user_model().objects.get(username="admin")
    user.set_password("a new one, chosen by its owner")
    user.save()
    assert generated_password("admin") is None
    assert not path.exists()
