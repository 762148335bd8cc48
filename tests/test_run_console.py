"""`make run`'s promises, on the embedded defaults a new user gets: the console comes up with a
demo fleet that heartbeats, and one Ctrl-C stops every process it started."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

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


def test_make_run_starts_a_live_demo_fleet_and_ctrl_c_stops_everything():
    var_dir = tempfile.mkdtemp(prefix="console-", dir="/tmp")
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEMO_AGENTS"}
    }
    env.update(VAR_DIR=var_dir, ADDR=addr)
    console = subprocess.Popen(
        [sys.executable, "manage.py", "run_console"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        fleet = _wait_for(
            lambda: (found := _demo_agents(var_dir)) and len(found) == 3 and found, 30
        )
        assert sorted(fleet.values()) == ["dag-processor", "triggerer", "worker"]
        assert _processes_with(var_dir), "the console's processes should be running"
    finally:
        console.send_signal(signal.SIGINT)
        output, _ = console.communicate(timeout=60)
    assert console.returncode == 0, output
    assert f"Console running at http://{addr}/" in output
    assert "password:" in output  # the admin password, shown on first run only
    assert _wait_for(lambda: not _processes_with(var_dir), 10), output
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the web server should be gone"
