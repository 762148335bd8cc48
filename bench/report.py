"""The benchmark's report: targets judged from the figures, written as Markdown and JSON."""

import json
from pathlib import Path

from bench import history

SECTIONS = [
    "## 1. Heartbeat path",
    "## 2. Database writes per heartbeat",
    "## 3. Dashboard",
    "## 4. Sweep and flush",
    "## 5. Burst",
    "## Targets",
]


def _obstacles(r: dict) -> list[str]:
    """What stands between the heartbeat path and its throughput target, in this run's numbers."""
    hb = r["heartbeat"]
    win = hb["servers"][hb["winner"]]
    if win["ratios"]["heartbeat_rps_over_django_set"] >= 0.6:
        return []
    workers = 2
    ours = workers * 1e6 / win["heartbeat"]["rps"]
    base = workers * 1e6 / win["django_set"]["rps"]
    bare = workers * 1e6 / win["wsgi_set"]["rps"]
    return [
        "",
        "### What stands in the way of the heartbeat throughput target",
        "",
        f"Per request and worker, a heartbeat costs about {ours:.0f} µs against {base:.0f} µs for "
        f"baseline (a) and {bare:.0f} µs for the bare WSGI callable (b): the Django middleware "
        f"stack alone is most of (a). The {ours - base:.0f} µs on top of (a) is the work a "
        "heartbeat must do that a single SET does not:",
        "",
        "- **Two Redis round trips instead of one** (one pipeline reading the allowed ranges, the "
        "token's cache entry and the agent's entry; one writing the heartbeat). Reading and "
        "writing in one would need the reads' answers to build the write, so the two trips stay; "
        "the profile's `recv_into`/`sendall` lines are them.",
        "- **The REST framework's request cycle**: its Request wrapper, the authentication class, "
        "content negotiation and the JSON renderer, kept so the agent API shares its error "
        "handling and schema with the rest of the API.",
        "- **Checking the token**: format and checksum, then SHA-256 of the value to find its "
        "cache entry — the price of never storing secrets.",
        "- **Validating and answering**: the body's fields (a lean validator, already about 0.17 "
        "ms cheaper than the serializer it replaced) and a JSON answer with the agent's state.",
        "",
        "What was done from earlier profiles: token use noted once a minute per process instead "
        "of on every request, the three lookups merged into one pipeline (five round trips down "
        "to two), the serializer replaced on the hot path, hiredis for reply parsing, cache "
        "clients reused. Going further means leaving the REST framework for this one endpoint "
        "(a plain Django view) or Django's middleware stack for it (a WSGI route of its own), "
        "which trades the shared error handling and schema for the last tens of percent.",
    ]


def targets(r: dict) -> list[dict]:
    win = r["heartbeat"]["servers"][r["heartbeat"]["winner"]]
    ratios = win["ratios"]
    dash = r["dashboard"]["sizes"]
    largest = max(dash, key=int)
    smallest = min(dash, key=int)
    burst = r["burst"]
    flush = r["heartbeat"]["flush"]

    def t(name: str, goal: str, value, met: bool) -> dict:
        return {"target": name, "goal": goal, "measured": value, "met": bool(met)}

    return [
        t(
            "Heartbeat throughput vs (a)",
            ">= 0.6x",
            f"{ratios['heartbeat_rps_over_django_set']}x",
            ratios["heartbeat_rps_over_django_set"] >= 0.6,
        ),
        t(
            "Heartbeat p99 vs (a)'s p99",
            "<= 2x",
            f"{ratios['heartbeat_p99_over_django_set']}x",
            ratios["heartbeat_p99_over_django_set"] <= 2,
        ),
        t(
            "SQL per steady-state heartbeat",
            "0",
            r["db_writes"]["steady_queries_per_heartbeat"],
            r["db_writes"]["steady_queries_per_heartbeat"] == 0,
        ),
        t(
            "Database rows written per heartbeat",
            "<= 0.02",
            flush["rows_per_heartbeat"],
            flush["rows_per_heartbeat"] is not None and flush["rows_per_heartbeat"] <= 0.02,
        ),
        t(
            f"Table fragment at {int(largest):,} vs {int(smallest):,} agents",
            "<= 3x",
            f"{r['dashboard']['largest_over_smallest']}x",
            r["dashboard"]["largest_over_smallest"] <= 3,
        ),
        t(
            "Unchanged poll cost vs (c)",
            "<= 1.3x",
            f"{ratios['poll_cost_over_django_get']}x",
            ratios["poll_cost_over_django_get"] <= 1.3,
        ),
        t(
            "Unchanged poll bytes on the wire (response)",
            "<= 400",
            win["poll"]["bytes_per_response"],
            win["poll"]["bytes_per_response"] <= 400,
        ),
        t(
            f"Sweep + flush, {r['sweep_flush']['agents']:,} agents, steady state",
            "< 1000 ms",
            f"{r['sweep_flush']['sweep_plus_flush_ms']} ms",
            r["sweep_flush"]["sweep_plus_flush_ms"] < 1000,
        ),
        t(
            f"Sweep + flush, {r['sweep_flush']['agents']:,} agents, every body changed",
            "< 1000 ms",
            f"{r['sweep_flush']['sweep_plus_flush_changed_ms']:,} ms"
            + (" (projected)" if r["sweep_flush"]["sweep_plus_flush_changed_projected"] else ""),
            r["sweep_flush"]["sweep_plus_flush_changed_ms"] < 1000,
        ),
        t(
            f"Burst of {burst['agents']:,}: errors and timeouts",
            "0",
            burst["errors"] + burst["timeouts"],
            burst["errors"] + burst["timeouts"] == 0,
        ),
        *history.targets(r),
    ]


def write(r: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{r['date']}.md", out / f"{r['date']}.json"
    js.write_text(json.dumps(r, indent=2) + "\n")
    md.write_text(markdown(r))
    return [md, js]


def markdown(r: dict) -> str:
    hb = r["heartbeat"]
    win = hb["winner"]
    s = r["sizes"]
    lines = [
        f"# Benchmark report, {r['date']}"
        + (" (smoke run: tiny sizes, not figures)" if r.get("smoke") else ""),
        "",
        f"Generated {r['generated_at']} by `make bench` (`bench/run.py`). Every figure is the "
        f"median of {s['runs']} runs on a shared {r['machine']['cpus']}-core machine; other "
        "work on the machine adds noise, so compare ratios (measured side by side in the same "
        "run) rather than absolute figures.",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs | {r['machine']['cpus']} (load average at start: "
        f"{', '.join(map(str, r['machine']['load_average_at_start']))}) |",
        f"| Python | {r['machine']['python']} on {r['machine']['platform']} |",
        f"| Database | {r['database']} |",
        f"| Redis | {r['redis']} |",
        f"| Load generator | {r['load_tool']}, {hb['connections']} connections, "
        f"{hb['seconds_per_run']} s per run |",
        "| Settings | `DEBUG=0`, generated `SECRET_KEY`, `ALLOWED_HOSTS=127.0.0.1,localhost`, "
        "`SECURE_SSL_REDIRECT=0` (plain HTTP on loopback) |",
        f"| Headline server | **{win}**: `{hb['winner_command']}` |",
        "",
        "## 1. Heartbeat path",
        "",
        f"{hb['agents']:,} agents registered in advance (one real heartbeat each), {hb['tokens']} "
        "real agent tokens; `bench/heartbeat.lua` POSTs heartbeats round-robin over them. "
        "Baselines on the same server process (`bench/baseline_wsgi.py`, never part of the app): "
        "(a) a minimal Django view doing one Redis SET, (b) a bare WSGI callable doing one Redis "
        "SET — both sent the same request as the heartbeat.",
        "",
        "| server | heartbeat req/s | p50 ms | p99 ms | (a) req/s | (a) p99 ms | (b) req/s "
        "| heartbeat / (a) | heartbeat / (b) | p99 / (a) p99 | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, x in hb["servers"].items():
        h, a, b, q = x["heartbeat"], x["django_set"], x["wsgi_set"], x["ratios"]
        errs = sum(
            x[k]["errors"] + x[k]["timeouts"] for k in ("heartbeat", "django_set", "wsgi_set")
        )
        mark = f"**{name}**" if name == win else name
        lines.append(
            f"| {mark} | {h['rps']:,.0f} | {h['p50_ms']} | {h['p99_ms']} | {a['rps']:,.0f} "
            f"| {a['p99_ms']} | {b['rps']:,.0f} | {q['heartbeat_rps_over_django_set']}x "
            f"| {q['heartbeat_rps_over_wsgi_set']}x | {q['heartbeat_p99_over_django_set']}x "
            f"| {errs} |"
        )
    lines += [
        "",
        f"Fastest on the heartbeat path: **{win}**. Commands (with `astro_ui.wsgi:application` "
        "in production; the benchmark serves `bench.baseline_wsgi:application`):",
        "",
    ]
    lines += [f"- {name}: `{x['command']}`" for name, x in hb["servers"].items()]
    dw, fl = r["db_writes"], hb["flush"]
    lines += [
        "",
        "## 2. Database writes per heartbeat",
        "",
        "| figure | value |",
        "|---|---|",
        f"| heartbeats received over HTTP during the steady-state runs | {fl['heartbeats']:,} |",
        f"| rows written by `flush_heartbeats()` after each run | {fl['rows_written']:,} |",
        f"| **rows written per heartbeat** | **{fl['rows_per_heartbeat']}** |",
        f"| **SQL queries per steady-state heartbeat** (in process, {dw['steady_heartbeats']} "
        f"heartbeats, `CaptureQueriesContext`) | **{dw['steady_queries_per_heartbeat']}** |",
        "| SQL queries per first heartbeat (registration) "
        f"| {dw['registration_queries_per_agent']} |",
        "| in-process time per steady-state heartbeat (test client) "
        f"| {dw['in_process_ms_per_heartbeat']} ms |",
        "",
        "The load sends what a steady fleet sends: the same body each time. A row is written only "
        "when something the table shows changed, or as a checkpoint every "
        "`AGENT_CHECKPOINT_SECONDS`; the flush runs after each load run (about every "
        f"{hb['seconds_per_run']} s, as Celery beat's 5 s schedule would).",
        "",
        "## 3. Dashboard",
        "",
        "Full render of the Agents table fragment (`GET …/agents/table` without `v`), in process "
        "(Django test client, same settings), agents all healthy, Redis epoch an hour old:",
        "",
        "| agents | server time ms | SQL queries | bytes |",
        "|---|---|---|---|",
    ]
    for x in r["dashboard"]["sizes"].values():
        lines.append(f"| {x['agents']:,} | {x['ms']} | {x['queries']} | {x['bytes']:,} |")
    w = hb["servers"][win]
    p, c, q = w["poll"], w["django_get"], w["ratios"]
    lines += [
        "",
        f"Largest over smallest: **{r['dashboard']['largest_over_smallest']}x**.",
        "",
        f"Unchanged poll (`GET …/agents/table?v=<current>` with a logged-in session cookie, the "
        f"204) over HTTP on {win}, against (c) a minimal Django view doing one Redis GET (also "
        "a 204, same cookie):",
        "",
        "| | req/s | p50 ms | p99 ms | response bytes | errors |",
        "|---|---|---|---|---|---|",
        f"| unchanged poll | {p['rps']:,.0f} | {p['p50_ms']} | {p['p99_ms']} "
        f"| {p['bytes_per_response']} | {p['errors'] + p['timeouts']} |",
        f"| (c) Django + one GET | {c['rps']:,.0f} | {c['p50_ms']} | {c['p99_ms']} "
        f"| {c['bytes_per_response']} | {c['errors'] + c['timeouts']} |",
        "",
        f"Cost of a poll over (c) (inverse throughput): **{q['poll_cost_over_django_get']}x**; "
        f"p50 ratio {q['poll_p50_over_django_get']}x. Bytes on the wire per poll: "
        f"**{p['bytes_per_response']}** in the response (headers included) and "
        f"{w['poll_request_bytes']} in the request as the load generator sends it (a browser "
        "adds its own headers).",
    ]
    sf = r["sweep_flush"]
    lines += [
        "",
        "## 4. Sweep and flush",
        "",
        f"{sf['agents']:,} agents in one deployment, a waiting heartbeat body for each of them.",
        "",
        "| operation | agents | ms | rows written |",
        "|---|---|---|---|",
        f"| `Agent.objects.sweep()`, steady state (no transitions) | {sf['agents']:,} "
        f"| {sf['sweep_ms']} | 0 |",
        f"| `Agent.objects.flush_heartbeats()`, bodies unchanged | {sf['agents']:,} "
        f"| {sf['flush_unchanged_ms']} | {sf['flush_unchanged_rows']:,.0f} |",
        f"| **sweep + flush, steady state** | {sf['agents']:,} "
        f"| **{sf['sweep_plus_flush_ms']}** | |",
    ]
    for label, steps, rows in (
        ("`flush_heartbeats()`, every body changed", sf["flush_changed"], "{n:,}"),
        ("`sweep()`, every agent falls silent at once", sf["sweep_silent"], "{n:,} + audit"),
    ):
        for x in steps:
            ms = x["ms"] if x["ms"] is not None else f"not run: ~{x['projected_ms']:,.0f} projected"
            runs = f" ({x['runs']} run{'s' if x['runs'] != 1 else ''})" if x["runs"] else ""
            lines.append(
                f"| {label}{runs} | {x['agents']:,} | {ms} | {rows.format(n=x['agents'])} |"
            )
    projected = " (projected)" if sf["sweep_plus_flush_changed_projected"] else ""
    lines += [
        f"| **sweep + flush, every body changed** | {sf['agents']:,} "
        f"| **{sf['sweep_plus_flush_changed_ms']:,}{projected}** | |",
        "",
        "Worst cases climb sizes and skip a step whose projection (from the growth between the "
        "previous steps) exceeds the benchmark's time budget; steps slower than 2 s run once.",
    ]
    b = r["burst"]
    sweep_after = (
        f"{b['sweep_after_transitions']:,} (all deployments), {b['sweep_after_ms']} ms"
        if b["sweep_after_ms"] is not None
        else "not run (too slow at this size, see section 4)"
    )
    outcomes = ", ".join(f"{k}: {v:,}" for k, v in b["outcomes"].items())
    lines += [
        "",
        "## 5. Burst",
        "",
        f"{b['agents']:,} registered agents, all silent for 5 minutes (Unhealthy), heartbeat "
        f"within {b['spread_seconds']} s: an asyncio client (in the benchmark's process, on the "
        "same machine) opens one connection per agent, evenly spread over that second, with no "
        "cap on concurrency (`Connection: close`) and the agent client's 10 s timeout, against "
        f"{b['server']} (same command as above). Errors and timeouts count first attempts; an "
        "agent that failed then retries as the agent client does (exponential backoff with "
        "jitter, `Retry-After` honoured) for up to a minute.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| first attempt answered 200 | {b['ok']:,} |",
        f"| **errors** (first attempt) | **{b['errors']:,}** |",
        f"| **timeouts** (first attempt, 10 s) | **{b['timeouts']:,}** |",
        f"| first-attempt outcomes | {outcomes} |",
        f"| latency of first-attempt successes, p50 / p99 | {b['p50_ms']} / {b['p99_ms']} ms |",
        f"| failed agents that succeeded on a retry / never | {b['retried_ok']:,} / "
        f"{b['never_ok']:,} ({b['attempts']:,} requests in all) |",
        f"| **all {b['agents']:,} Healthy after** (Redis ZCOUNT, which the table's count reads) "
        f"| **{b['all_healthy_after_seconds']} s** |",
        f"| Healthy shown by the table afterwards | {b['table_shows_healthy']} |",
        f"| the next sweep: transitions recorded, time | {sweep_after} |",
        *history.markdown(r),
        "",
        "## Targets",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
    ]
    for t in r["targets"]:
        verdict = "met" if t["met"] else "**missed**"
        lines.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {verdict} |")
    lines += _obstacles(r)
    lines += [
        "",
        "## Profile of the heartbeat view",
        "",
        f"cProfile over {dw['steady_heartbeats']} in-process steady-state heartbeats (test "
        "client included), the functions with the most own time:",
        "",
        "| function | calls | own ms | share |",
        "|---|---|---|---|",
    ]
    for x in r["profile"]:
        lines.append(
            f"| `{x['function']}` | {x['calls']} | {x['own_ms']} | {x['own_share'] * 100:.1f}% |"
        )
    if r.get("notes"):
        lines += ["", "## Notes", "", *r["notes"]]
    return "\n".join(lines) + "\n"
