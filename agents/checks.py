"""The agent's built-in test run: a fixed list of checks, nothing sent by the console is run.

Each check returns a status (passed, failed, skipped, not_checked), a detail a person can act on,
and how long it took.
"""

import importlib
import importlib.util
import json
import os
import platform
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

MAX_SKEW_SECONDS = 5.0


@dataclass
class CheckConfig:
    """What the checks look at, from the agent's values file (all optional)."""

    secret_backend: str = ""
    xcom_backend: str = ""
    dag_bundles: list[dict] = field(default_factory=list)


@dataclass
class Result:
    name: str
    status: str
    detail: str
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


def config_from_values(values: dict) -> CheckConfig:
    """What the checks need from a values file: the backends' class names and the DAG bundles
    (`dagBundleConfigList` is a JSON string in the chart's format)."""
    bundles = values.get("dagBundleConfigList") or []
    if isinstance(bundles, str):
        try:
            bundles = json.loads(bundles) if bundles.strip() else []
        except ValueError:
            bundles = []
    return CheckConfig(
        secret_backend=str(values.get("secretBackend") or ""),
        xcom_backend=str(values.get("xcomBackend") or ""),
        dag_bundles=[b for b in bundles if isinstance(b, dict)]
        if isinstance(bundles, list)
        else [],
    )


def run_all(
    *,
    url: str,
    server_time: str,
    agent_version: str,
    config: CheckConfig,
    log: Callable[[str], None],
) -> list[Result]:
    steps: list[tuple[str, Callable[[], tuple[str, str]]]] = [
        ("clock", lambda: clock_skew(server_time)),
        ("proxy", lambda: proxy_for(url)),
        ("versions", lambda: versions(agent_version)),
        ("secrets_backend", lambda: importable(config.secret_backend, "secrets backend")),
        ("xcom_backend", lambda: importable(config.xcom_backend, "XCom backend")),
        ("dag_source", lambda: dag_source(config.dag_bundles)),
    ]
    results = []
    for name, step in steps:
        started = time.monotonic()
        try:
            status, detail = step()
        except Exception as exc:  # a check must report, not crash the agent
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        result = Result(name, status, detail, time.monotonic() - started)
        log(f"{name}: {status}: {detail}")
        results.append(result)
    return results


def clock_skew(server_time: str) -> tuple[str, str]:
    try:
        server = datetime.fromisoformat(server_time.replace("Z", "+00:00"))
    except ValueError:
        return "not_checked", "The server sent no usable time."
    skew = (datetime.now(UTC) - server).total_seconds()
    status = "passed" if abs(skew) <= MAX_SKEW_SECONDS else "failed"
    return status, f"Clock is {skew:+.1f} s from the server's (limit ±{MAX_SKEW_SECONDS:.0f} s)."


def proxy_for(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return "passed", f"Reaches the console through proxy {_redact(proxy)}."
    return "passed", "Reaches the console directly (no proxy applies)."


def _redact(proxy: str) -> str:
    parts = urlsplit(proxy)
    if parts.password:
        return proxy.replace(f":{parts.password}@", ":***@")
    return proxy


def versions(agent_version: str) -> tuple[str, str]:
    airflow = _airflow_version()
    text = f"Agent {agent_version}, Python {platform.python_version()}"
    return "passed", text + (f", Airflow {airflow}." if airflow else "; Airflow not installed.")


def _airflow_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("apache-airflow")
    except Exception:
        return None


def importable(dotted: str, what: str) -> tuple[str, str]:
    if not dotted:
        return "skipped", f"No {what} is configured."
    if importlib.util.find_spec("airflow") is None:
        return "not_checked", f"Airflow is not installed here, so {dotted} cannot be imported."
    module, _, attr = dotted.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        hint = _provider_package(dotted)
        extra = f" Install {hint}." if hint else ""
        return "failed", f"Cannot import {dotted}: {exc}.{extra}"
    return "passed", f"{what.capitalize()} {obj.__module__}.{obj.__qualname__} imports."


def _provider_package(dotted: str) -> str | None:
    """`airflow.providers.amazon.aws...` lives in `apache-airflow-providers-amazon`."""
    parts = dotted.split(".")
    if len(parts) > 2 and parts[:2] == ["airflow", "providers"]:
        return f"apache-airflow-providers-{parts[2].replace('_', '-')}"
    return None


def dag_source(bundles: list[dict]) -> tuple[str, str]:
    if not bundles:
        return "skipped", "No DAG source is configured."
    notes = []
    worst = "passed"
    for bundle in bundles:
        status, detail = _bundle(bundle)
        notes.append(f"{bundle.get('name', '?')}: {detail}")
        if status == "failed" or (status == "not_checked" and worst == "passed"):
            worst = status
    return worst, " ".join(notes)


def _bundle(bundle: dict) -> tuple[str, str]:
    classpath = str(bundle.get("classpath", ""))
    kwargs = bundle.get("kwargs") or {}
    if classpath.endswith("LocalDagBundle"):
        path = Path(str(kwargs.get("path", "")))
        return (
            ("passed", f"{path} exists.")
            if path.is_dir()
            else ("failed", f"{path} is not a directory here.")
        )
    if classpath.endswith("GitDagBundle"):
        conn_id = str(kwargs.get("git_conn_id", ""))
        env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "")
        host, port = _git_host(env)
        if not host:
            return "not_checked", (
                f"Git connection {conn_id!r} is kept by Airflow; set AIRFLOW_CONN_"
                f"{conn_id.upper()} here to check that its host is reachable."
            )
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as exc:
            return "failed", f"Cannot reach Git host {host}:{port}: {exc}."
        return "passed", f"Git host {host}:{port} is reachable."
    return "not_checked", f"{classpath or 'This bundle'} is checked by Airflow itself."


def _git_host(conn: str) -> tuple[str | None, int]:
    if conn.startswith("{"):
        try:
            conn = json.loads(conn).get("host", "")
        except ValueError:
            return None, 0
    parts = urlsplit(conn if "://" in conn else f"ssh://{conn}")
    default = 443 if parts.scheme in ("https", "http") else 22
    try:
        return parts.hostname, parts.port or default
    except ValueError:
        return None, 0
