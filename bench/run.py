"""`make bench`: the heartbeat path, database writes, dashboard cost, sweep and flush, a burst.

    .venv/bin/python -m bench.run            # the real thing: a few minutes, bench/results/<date>.*
    .venv/bin/python -m bench.run --smoke    # tiny sizes, seconds, written to a temporary directory

It configures itself as production does (DEBUG off, a generated SECRET_KEY, loopback hosts only),
on a database and a Redis database of its own (see `environment`), and stops everything it started.
Every figure is the median of several runs; see README.md, "Benchmark", for how to read them.

Django and the apps are imported inside the steps: they need django.setup(), which `run` calls
once the environment (database, Redis, settings) is chosen.
"""

import argparse
import contextlib
import cProfile
import datetime
import http.client
import io
import json
import math
import os
import platform
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import django

from bench import environment, history, load, report, servers

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    heartbeat_agents: int
    tokens: int
    table_sizes: tuple[int, ...]
    sweep_agents: int
    burst_agents: int
    runs: int
    seconds: float
    connections: int
    warmup_seconds: float
    in_process_heartbeats: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(1000, 10, (10, 1000, 10000), 10000, 10000, 3, 8.0, 16, 2.0, 300)

    @classmethod
    def smoke(cls) -> "Sizes":
        return cls(20, 2, (3, 30, 100), 100, 100, 1, 1.0, 4, 0.0, 10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", default=os.environ.get("BENCH_SMOKE") == "1"
    )
    parser.add_argument("--out", type=Path, help="report directory (default bench/results)")
    parser.add_argument("--var-dir", type=Path, help="working directory (default var/bench)")
    parser.add_argument("--database", default="auto", help="auto, sqlite or a PostgreSQL URL")
    parser.add_argument("--redis", default="auto", help="auto, embedded or a redis:// URL")
    parser.add_argument("--servers", default=",".join(servers.NAMES))
    parser.add_argument("--runs", type=int, help="runs per figure (median taken)")
    parser.add_argument("--seconds", type=float, help="seconds per load run")
    parser.add_argument("--max-minutes", type=float, default=30, help="hard stop for the whole run")
    args = parser.parse_args(argv)

    sizes = Sizes.smoke() if args.smoke else Sizes.full()
    if args.runs or args.seconds:
        sizes = Sizes(
            **{
                **asdict(sizes),
                "runs": args.runs or sizes.runs,
                "seconds": args.seconds or sizes.seconds,
            }
        )
    names = [n for n in args.servers.split(",") if n]
    if args.smoke and args.servers == ",".join(servers.NAMES):
        names = names[:1]
    var_dir = args.var_dir or (
        Path(tempfile.mkdtemp(prefix="bench-")) if args.smoke else ROOT / "var" / "bench"
    )
    var_dir.mkdir(parents=True, exist_ok=True)
    out = args.out or (var_dir if args.smoke else ROOT / "bench" / "results")

    signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(int(args.max_minutes * 60))
    env = environment.prepare(var_dir, database=args.database, redis_choice=args.redis)
    try:
        result = Bench(sizes, names, env, var_dir).run()
    finally:
        signal.alarm(0)
        env.close()
    result["smoke"] = args.smoke
    paths = report.write(result, out)
    for p in paths:
        print(f"wrote {p}")
    return 0


def _too_long(*_):
    raise TimeoutError("the benchmark ran past --max-minutes; stopped")


class Bench:
    def __init__(self, sizes: Sizes, server_names: list[str], env, var_dir: Path):
        self.sizes = sizes
        self.server_names = server_names
        self.env = env
        self.var_dir = var_dir

    # --- the steps, in order ------------------------------------------------------------------

    def run(self) -> dict:
        django.setup()
        # after django.setup() (see the module docstring)
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        # after django.setup() (see the module docstring)
        from bench import seed

        self.seed = seed
        self.workspace, self.user = seed.world()
        seed.old_epoch()
        result = {
            "date": datetime.date.today().isoformat(),
            "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": _machine(),
            "database": self.env.database_label,
            "redis": self.env.redis_label,
            "load_tool": _tool_label(),
            "sizes": asdict(self.sizes),
        }
        _say("sweep and flush")
        big = seed.deployment(self.workspace, f"table-{self.sizes.sweep_agents}")
        big_rows = seed.agents(big, self.sizes.sweep_agents, prefix="big", seen_age=1)
        result["sweep_flush"] = self.sweep_and_flush(big, big_rows)
        _say("dashboard fragment")
        result["dashboard"] = self.dashboard(big)
        _say("heartbeat fleet")
        fleet = self.heartbeat_fleet()
        result["db_writes"] = fleet["db_writes"]
        result["profile"] = fleet["profile"]
        _say("servers")
        result["heartbeat"] = self.servers(fleet)
        _say("burst")
        result["burst"] = self.burst(result["heartbeat"]["winner"])
        _say("fleet history")
        flush_rows = result["heartbeat"]["flush"]["rows_per_heartbeat"]
        result["history"] = history.measure(
            seed, self.workspace, self.sizes.sweep_agents, flush_rows
        )
        result["targets"] = report.targets(result)
        return result

    def sweep_and_flush(self, dep, rows) -> dict:
        """One sweep and one flush over `rows`, every agent with a waiting heartbeat body.

        The steady state (no transitions, bodies unchanged) runs at full size. Worst cases (every
        body changed; every agent falling silent at once) climb a ladder of sizes and stop before
        a step that would take longer than LADDER_BUDGET_S, judging by the growth so far.
        """
        # after django.setup() (see the module docstring)
        from agents.models import Agent

        seed, runs = self.seed, self.sizes.runs
        sweeps, flushes, written = [], [], []
        for _ in range(runs):
            seed.age(dep, rows, 1)
            sweeps.append(_timed(Agent.objects.sweep)[0])
            seed.pending(dep, rows, slots_used=0)  # what every row already holds
            elapsed, n = _timed(Agent.objects.flush_heartbeats)
            flushes.append(elapsed)
            written.append(n)
        steps = sorted({max(1, len(rows) // 10), max(1, len(rows) // 4), len(rows)})
        changed = self._ladder(steps, lambda k: self._flush_changed(dep, rows[:k]))
        Agent.objects.filter(deployment=dep).update(slots_used=0)
        silent = self._ladder(steps, lambda k: self._sweep_silent(dep, rows, k))
        self.sweep_affordable = silent[-1]["ms"] is not None
        sweep_ms, flush_ms = _ms(statistics.median(sweeps)), _ms(statistics.median(flushes))
        full_changed = changed[-1]
        return {
            "agents": len(rows),
            "sweep_ms": sweep_ms,
            "flush_unchanged_ms": flush_ms,
            "flush_unchanged_rows": statistics.median(written),
            "sweep_plus_flush_ms": round(sweep_ms + flush_ms, 1),
            "flush_changed": changed,
            "sweep_silent": silent,
            "sweep_plus_flush_changed_ms": round(
                sweep_ms + (full_changed["ms"] or full_changed["projected_ms"]), 1
            ),
            "sweep_plus_flush_changed_projected": full_changed["ms"] is None,
        }

    def _flush_changed(self, dep, subset) -> float:
        # after django.setup() (see the module docstring)
        from agents.models import Agent

        self._slots = getattr(self, "_slots", 0) + 1
        self.seed.pending(dep, subset, slots_used=self._slots)  # differs from every row
        elapsed, n = _timed(Agent.objects.flush_heartbeats)
        assert n == len(subset), (n, len(subset))
        return elapsed

    def _sweep_silent(self, dep, rows, k: int) -> float:
        # after django.setup() (see the module docstring)
        from agents.models import Agent

        self.seed.age(dep, rows[:k], 120)
        elapsed, moved = _timed(Agent.objects.sweep)
        assert moved == k, (moved, k)
        self.seed.age(dep, rows[:k], 1)
        Agent.objects.sweep()  # back to healthy, untimed
        return elapsed

    def _ladder(self, steps: list[int], measure) -> list[dict]:
        out: list[dict] = []
        for i, k in enumerate(steps):
            times = [measure(k)]
            while len(times) < self.sizes.runs and times[0] < REPEAT_BELOW_S:
                times.append(measure(k))
            median = statistics.median(times)
            out.append({"agents": k, "ms": _ms(median), "runs": len(times)})
            if i + 1 < len(steps):
                # Growth so far (at least linear): what the next step would cost.
                growth = 1.0
                if len(out) > 1 and out[-2]["ms"]:
                    prev = out[-2]
                    growth = max(
                        1.0, math.log(out[-1]["ms"] / prev["ms"]) / math.log(k / prev["agents"])
                    )
                nxt = steps[i + 1]
                projected = median * (nxt / k) ** max(growth, 1.0)
                if projected * 2 > LADDER_BUDGET_S:
                    out.append(
                        {"agents": nxt, "ms": None, "runs": 0, "projected_ms": _ms(projected)}
                    )
                    break
        return out

    def dashboard(self, big) -> dict:
        """Full renders of the Agents table fragment (no `v`), in process, at each size."""
        # after django.setup() (see the module docstring)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        sizes: dict[str, dict[str, Any]] = {}
        client = self._client()
        for size in self.sizes.table_sizes:
            if size == self.sizes.sweep_agents:
                dep = big
            else:
                dep = self.seed.deployment(self.workspace, f"table-{size}")
                self.seed.agents(dep, size, prefix=f"t{size}", seen_age=1)
            url = f"/deployments/{dep.pk}/agents/table"
            client.get(url)  # warm: templates compiled, connections open
            times, queries, size_bytes = [], 0, 0
            for _ in range(max(5, self.sizes.runs)):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                queries, size_bytes = len(captured), len(response.content)
            healthy = _count(response.content, "healthy")
            sizes[str(size)] = {
                "agents": size,
                "ms": _ms(statistics.median(times)),
                "queries": queries,
                "bytes": size_bytes,
                "healthy_shown": healthy,
            }
            if size == self.sizes.table_sizes[1]:
                self.poll_deployment = dep
        smallest, largest = self.sizes.table_sizes[0], self.sizes.table_sizes[-1]
        ratio = sizes[str(largest)]["ms"] / sizes[str(smallest)]["ms"]
        return {"sizes": sizes, "largest_over_smallest": round(ratio, 2)}

    def heartbeat_fleet(self) -> dict:
        """Agents registered by one real heartbeat each; SQL per steady-state heartbeat."""
        # after django.setup() (see the module docstring)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from agents.models import Agent

        sizes, seed = self.sizes, self.seed
        dep = seed.deployment(self.workspace, "heartbeats")
        issued = seed.tokens(dep, sizes.tokens)
        names = [f"hb-{i:05d}" for i in range(sizes.heartbeat_agents)]
        self.fleet_lines = [f"{n} {issued[i % len(issued)][1]}" for i, n in enumerate(names)]
        self.fleet_file = self.var_dir / "agents.txt"
        self.fleet_file.write_text("\n".join(self.fleet_lines) + "\n")
        self.fleet_dep = dep
        client = self._client()
        path = f"/api/agent/v1/deployments/{dep.pk}/heartbeat"

        def beat(line: str):
            name, token = line.split()
            return client.post(
                path,
                seed.body(name),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )

        with CaptureQueriesContext(connection) as registration:
            statuses = [beat(line).status_code for line in self.fleet_lines]
        assert set(statuses) == {200}, f"registration failed: {set(statuses)}"
        # Counted at once: a later request empties the connection's query log.
        registration_queries = len(registration)
        Agent.objects.flush_heartbeats()  # registration stored everything already

        sample = [
            self.fleet_lines[i % len(self.fleet_lines)] for i in range(sizes.in_process_heartbeats)
        ]
        with CaptureQueriesContext(connection) as steady:
            started = time.perf_counter()
            for line in sample:
                assert beat(line).status_code == 200
            elapsed = time.perf_counter() - started
        steady_queries = len(steady)
        Agent.objects.flush_heartbeats()

        profiler = cProfile.Profile()
        profiler.enable()
        for line in sample:
            beat(line)
        profiler.disable()
        Agent.objects.flush_heartbeats()
        return {
            "db_writes": {
                "registration_queries_per_agent": round(registration_queries / len(names), 2),
                "steady_heartbeats": len(sample),
                "steady_queries": steady_queries,
                "steady_queries_per_heartbeat": round(steady_queries / len(sample), 4),
                "in_process_ms_per_heartbeat": _ms(elapsed / len(sample)),
            },
            "profile": _top(profiler, 14),
        }

    def servers(self, fleet) -> dict:
        per_server = {}
        for name in self.server_names:
            _say(f"  {name}")
            per_server[name] = self._one_server(name)
        winner = _winner({n: s["heartbeat"] for n, s in per_server.items()})
        beats = sum(s["_beats"] for s in per_server.values())
        rows = sum(s["_rows"] for s in per_server.values())
        for s in per_server.values():
            del s["_beats"], s["_rows"]
        return {
            "agents": self.sizes.heartbeat_agents,
            "tokens": self.sizes.tokens,
            "connections": self.sizes.connections,
            "seconds_per_run": self.sizes.seconds,
            "runs": self.sizes.runs,
            "servers": per_server,
            "winner": winner,
            "winner_command": servers.display(winner),
            "flush": {
                "heartbeats": beats,
                "rows_written": rows,
                "rows_per_heartbeat": round(rows / beats, 5) if beats else None,
            },
        }

    def _one_server(self, name: str) -> dict:
        # after django.setup() (see the module docstring)
        from agents import store
        from agents.models import Agent

        sizes = self.sizes
        hb_path = f"/api/agent/v1/deployments/{self.fleet_dep.pk}/heartbeat"
        cookie = self._session_cookie()
        poll_dep = self.poll_deployment
        table = f"/deployments/{poll_dep.pk}/agents/table"
        raw = [self._fallback_request(line) for line in self.fleet_lines]

        def heartbeat_load(path: str):
            reqs = [("POST", path, h, b) for _, _, h, b in raw]
            return load.Load("heartbeat.lua", "", [str(self.fleet_file), path], reqs)

        runs: dict[str, list[dict]] = {k: [] for k in KINDS}
        beats = rows = 0
        with servers.Server(name, self.env.server_env(), self.var_dir) as server:
            port = server.port
            for path in (hb_path, "/bench/django-set", "/bench/wsgi-set"):
                # Warm up: lazy imports, connections, the token and IP range caches.
                if sizes.warmup_seconds:
                    load.run(
                        port,
                        heartbeat_load(path),
                        seconds=sizes.warmup_seconds,
                        connections=sizes.connections,
                    )
            Agent.objects.flush_heartbeats()
            for _ in range(sizes.runs):
                hb = load.run(
                    port,
                    heartbeat_load(hb_path),
                    seconds=sizes.seconds,
                    connections=sizes.connections,
                )
                runs["heartbeat"].append(hb)
                beats += hb["requests"] - hb["errors"] - hb["timeouts"]
                rows += Agent.objects.flush_heartbeats()
                for kind, path in (
                    ("django_set", "/bench/django-set"),
                    ("wsgi_set", "/bench/wsgi-set"),
                ):
                    runs[kind].append(
                        load.run(
                            port,
                            heartbeat_load(path),
                            seconds=sizes.seconds,
                            connections=sizes.connections,
                        )
                    )
                version = self._fresh_poll(port, cookie, table)
                poll = f"{table}?v={version}"
                get = load.Load("get.lua", poll, [cookie], [("GET", poll, {"Cookie": cookie}, b"")])
                runs["poll"].append(
                    load.run(port, get, seconds=sizes.seconds, connections=sizes.connections)
                )
                assert version.startswith(store.version(poll_dep.pk) + "."), (
                    "the table changed during the poll run"
                )
                base = "/bench/django-get"
                get = load.Load("get.lua", base, [cookie], [("GET", base, {"Cookie": cookie}, b"")])
                runs["django_get"].append(
                    load.run(port, get, seconds=sizes.seconds, connections=sizes.connections)
                )
        out: dict[str, Any] = {kind: load.median_of(r) for kind, r in runs.items()}
        hb, a, b = out["heartbeat"], out["django_set"], out["wsgi_set"]
        poll, c = out["poll"], out["django_get"]
        out["ratios"] = {
            "heartbeat_rps_over_django_set": _ratio(hb["rps"], a["rps"]),
            "heartbeat_rps_over_wsgi_set": _ratio(hb["rps"], b["rps"]),
            "django_set_rps_over_wsgi_set": _ratio(a["rps"], b["rps"]),
            "heartbeat_p99_over_django_set": _ratio(hb["p99_ms"], a["p99_ms"]),
            "heartbeat_p50_over_django_set": _ratio(hb["p50_ms"], a["p50_ms"]),
            "poll_cost_over_django_get": _ratio(c["rps"], poll["rps"]),
            "poll_p50_over_django_get": _ratio(poll["p50_ms"], c["p50_ms"]),
        }
        out["poll_request_bytes"] = len(_request_bytes("GET", f"{table}?v=0.0", cookie, port))
        out["command"] = servers.display(name)
        out["_beats"], out["_rows"] = beats, rows
        return out

    def burst(self, server_name: str) -> dict:
        """`burst_agents` registered, silent agents all heartbeat within one second."""

        # after django.setup() (see the module docstring)
        from agents import store
        from agents.models import Agent

        seed, n = self.seed, self.sizes.burst_agents
        dep = seed.deployment(self.workspace, "burst")
        issued = seed.tokens(dep, self.sizes.tokens)
        rows = seed.agents(dep, n, prefix="burst", seen_age=300, token=issued[0][0])
        path = f"/api/agent/v1/deployments/{dep.pk}/heartbeat"
        healthy_at: list[float] = []
        with servers.Server(server_name, self.env.server_env(), self.var_dir) as server:
            requests = []
            for i, a in enumerate(rows):
                token = issued[i % len(issued)][1]
                body = json.dumps(seed.body(a.name)).encode()
                requests.append(_raw_post(path, body, token, server.port))
            started = time.time()
            watcher = threading.Thread(
                target=_watch_healthy, args=(dep.pk, n, started, healthy_at), daemon=True
            )
            watcher.start()
            outcome = load.burst(
                server.port, requests, spread=1.0, timeout=10.0, retry_for=BURST_RETRY_S
            )
            watcher.join(timeout=BURST_RETRY_S + 10)
        seen = store.count_seen_since(dep.pk, started)
        sweep_s = moved = None
        if self.sweep_affordable:  # else it would take minutes (see the sweep ladder)
            sweep_s, moved = _timed(Agent.objects.sweep)
        client = self._client()
        shown = _count(client.get(f"/deployments/{dep.pk}/agents/table").content, "healthy")
        outcome.update(
            {
                "server": server_name,
                "heartbeats_recorded": seen,
                "all_healthy_after_seconds": round(healthy_at[0] - started, 3)
                if healthy_at
                else None,
                "table_shows_healthy": shown,
                "sweep_after_ms": None if sweep_s is None else _ms(sweep_s),
                "sweep_after_transitions": moved,
            }
        )
        return outcome

    # --- helpers --------------------------------------------------------------------------------

    def _client(self):
        # after django.setup() (see the module docstring)
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(self.user)
        return client

    def _session_cookie(self) -> str:
        # after django.setup() (see the module docstring)
        from django.conf import settings

        client = self._client()
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    def _fresh_poll(self, port: int, cookie: str, table: str) -> str:
        """A full render over HTTP (as the page load does), then check that the poll is a 204."""

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", table, headers={"Cookie": cookie})
        response = conn.getresponse()
        html = response.read().decode()
        assert response.status == 200, f"full render: {response.status}"
        found = re.search(r"v=([0-9.]+)", html)
        assert found is not None, "the table names no version to poll with"
        version = found.group(1)
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"{table}?v={version}", headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 204, f"an unchanged poll answered {response.status}"
        return version

    def _fallback_request(self, line: str):
        name, token = line.split()
        body = json.dumps(self.seed.body(name)).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return ("POST", "", headers, body)


KINDS = ("heartbeat", "django_set", "wsgi_set", "poll", "django_get")
REPEAT_BELOW_S = 2.0  # slower worst-case steps run once, not `runs` times
LADDER_BUDGET_S = 60.0
BURST_RETRY_S = 60.0


def _winner(heartbeat: dict[str, dict]) -> str:
    """The fastest configuration that is also robust: no errors, and a p99 within 3x the best."""
    fine = {n: h for n, h in heartbeat.items() if h["errors"] == h["timeouts"] == 0} or heartbeat
    best_p99 = min(h["p99_ms"] for h in fine.values())
    robust = {n: h for n, h in fine.items() if h["p99_ms"] <= 3 * best_p99} or fine
    return max(robust, key=lambda n: robust[n]["rps"])


def _watch_healthy(dep_pk, n: int, since: float, out: list[float]) -> None:
    """Poll ZCOUNT (what the table's Healthy count reads) until every agent counts."""
    # after django.setup() (see the module docstring)
    from agents import store

    deadline = time.monotonic() + BURST_RETRY_S + 5
    while time.monotonic() < deadline:
        if store.count_seen_since(dep_pk, since) >= n:
            out.append(time.time())
            return
        time.sleep(0.02)


def _raw_post(path: str, body: bytes, token: str, port: int) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _request_bytes(method: str, path: str, cookie: str, port: int) -> bytes:
    """The poll request as wrk sends it (a browser adds its own headers on top)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n".encode()
    )


def _count(html: bytes, which: str) -> int | None:
    found = re.search(rf'data-count="{which}">\s*(\d+)', html.decode())
    return int(found.group(1)) if found else None


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _top(profiler: cProfile.Profile, n: int) -> list[dict]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    calls = stats.stats.items()  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in stats.stats.values()) or 1  # type: ignore[attr-defined]
    rows = sorted(calls, key=lambda kv: kv[1][2], reverse=True)[:n]
    return [
        {
            "function": f"{_short(file)}:{line}({fn})",
            "calls": nc,
            "own_ms": _ms(tt),
            "own_share": round(tt / total, 3),
            "cumulative_ms": _ms(ct),
        }
        for (file, line, fn), (_, nc, tt, ct, _) in rows
    ]


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return Path(file).name if "/lib/python3" in file else file


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _tool_label() -> str:
    if not load.have_wrk():
        return "python threaded client (wrk not installed)"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)  # noqa: S607
        return (out.stdout or out.stderr).split("\n", 1)[0].strip()
    return "wrk"


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
