"""The fleet history's share of `make bench`: how much history N agents write in an hour.

Self-contained: `measure()` seeds its own deployment, runs the real sampler as Celery beat would
over one simulated hour (one sample per HISTORY_SAMPLE_SECONDS), lets the next sample write the
finished hour, and counts rows and bytes. `targets()` and `markdown()` add its lines to the
report.
"""

import time


def measure(seed, workspace, agents: int, flush_rows_per_heartbeat: float | None) -> dict:
    # After django.setup(), which bench.run calls once the environment is chosen.
    from django.conf import settings
    from django.db import connection

    from fleet import history
    from fleet.models import AgentRollup, QueueRollup

    dep = seed.deployment(workspace, f"history-{agents}")
    seed.agents(dep, agents, prefix="hist", seen_age=1)
    every = settings.HISTORY_SAMPLE_SECONDS
    hour = history.bucket_of(time.time()) + history.BUCKET_SECONDS
    before = _bytes(connection)
    timings = []
    # Only this deployment: the benchmark's other fleets are in the same database.
    for k in range(history.BUCKET_SECONDS // every + 1):  # the last one opens the next hour
        started = time.perf_counter()
        history.sample(now=hour + k * every, deployments=[dep.pk])
        timings.append(time.perf_counter() - started)
    rows = (
        AgentRollup.objects.filter(deployment=dep).count()
        + QueueRollup.objects.filter(deployment=dep).count()
    )
    after = _bytes(connection)
    heartbeats = agents * 3600 / settings.HEARTBEAT_INTERVAL_SECONDS
    per_hb = rows / heartbeats
    total = None if flush_rows_per_heartbeat is None else flush_rows_per_heartbeat + per_hb
    timings.sort()
    return {
        "agents": agents,
        "samples_per_hour": len(timings) - 1,
        "rows_per_hour": rows,
        "bytes_per_hour": None if before is None or after is None else after - before,
        "heartbeats_per_hour": int(heartbeats),
        "history_rows_per_heartbeat": round(per_hb, 6),
        "rows_per_heartbeat_with_history": None if total is None else round(total, 5),
        "sample_ms_p50": round(timings[len(timings) // 2] * 1000, 1),
        "sample_ms_max": round(timings[-1] * 1000, 1),
    }


def _bytes(connection) -> int | None:
    """On-disk size of the history tables (PostgreSQL: heap, indexes and TOAST)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('fleet_agentrollup')"
            " + pg_total_relation_size('fleet_queuerollup')"
        )
        return cursor.fetchone()[0]


def targets(r: dict) -> list[dict]:
    h = r.get("history")
    if not h:
        return []
    value = h["rows_per_heartbeat_with_history"]
    return [
        {
            "target": "Database rows per heartbeat with history on (flush + history)",
            "goal": "<= 0.02",
            "measured": value,
            "met": value is not None and value <= 0.02,
        }
    ]


def markdown(r: dict) -> list[str]:
    h = r.get("history")
    if not h:
        return []
    size = "n/a on SQLite" if h["bytes_per_hour"] is None else f"{h['bytes_per_hour']:,} bytes"
    return [
        "",
        "## 6. Fleet history",
        "",
        f"{h['agents']:,} healthy agents; the history sampler (`fleet.history.sample`) run "
        f"{h['samples_per_hour']} times over one simulated hour, as Celery beat runs it, then "
        "once more to write the finished hour. Heartbeats themselves write no history.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| **history rows written per hour** | **{h['rows_per_hour']:,}** |",
        f"| history size written per hour (tables and indexes) | {size} |",
        f"| heartbeats the same agents send per hour | {h['heartbeats_per_hour']:,} |",
        f"| history rows per heartbeat | {h['history_rows_per_heartbeat']} |",
        "| **rows per heartbeat with history on** (section 2's flush + history) "
        f"| **{h['rows_per_heartbeat_with_history']}** |",
        f"| one sample, p50 / slowest | {h['sample_ms_p50']} / {h['sample_ms_max']} ms |",
    ]
