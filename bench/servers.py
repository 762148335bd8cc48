"""The production server configurations the benchmark compares, and starting/stopping them.

Every server binds 127.0.0.1 only, serves `bench.baseline_wsgi:application` (the real app with the
baselines in front) and runs 2 worker processes, one per core of the reference machine.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APP = "bench.baseline_wsgi:application"
ASGI_APP = "bench.baseline_asgi:application"
WORKERS = 2


def argv(name: str, port: int, app: str | None = None) -> list[str]:
    """The exact command line of each configuration (`app` swapped for astro_ui's in prod)."""
    bind = f"127.0.0.1:{port}"
    if name == "granian-asgi":
        # Production: the ASGI front (astro_ui/asgi.py). Headers are read in Rust with a
        # deadline, bodies on the event loop; Django runs in WEB_THREADS threads per worker.
        return [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--loop",
            "uvloop",
            "--workers",
            str(WORKERS),
            "--backlog",
            "2048",
            "--http1-header-read-timeout",
            "10000",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            "--log-level",
            "warning",
            app or ASGI_APP,
        ]
    app = app or APP
    if name == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(WORKERS),
            # One Python thread per worker, like a sync worker: granian's WSGI default allows
            # hundreds, and under a burst each opens its own database connection and takes one
            # from the Redis pool (PostgreSQL refuses past max_connections; redis-py's pool stops
            # at 100): 500s and 503s. Requests wait in granian's queue instead.
            "--blocking-threads",
            "1",
            "--backlog",
            "2048",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            "--log-level",
            "warning",
            app,
        ]
    if name == "gunicorn-sync":
        return [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind", bind, app]
    if name == "gunicorn-gthread":
        return [
            str(BIN / "gunicorn"),
            "--workers",
            str(WORKERS),
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--bind",
            bind,
            app,
        ]
    raise ValueError(f"unknown server {name!r}")


NAMES = ["granian-asgi", "granian", "gunicorn-sync", "gunicorn-gthread"]
DEFAULT = ["granian-asgi", "granian"]


def display(name: str, port: int = 8000) -> str:
    """The command line as a person would type it (relative paths)."""
    app = "astro_ui.asgi:application" if name == "granian-asgi" else "astro_ui.wsgi:application"
    parts = argv(name, port, app)
    parts[0] = ".venv/bin/" + Path(parts[0]).name
    return " ".join(parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.port = free_port()
        self.log = (log_dir / f"server-{name}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            argv(name, self.port),
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers form one group we can stop together
        )
        self._wait_ready()

    def _wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {url} within {seconds} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
