"""`make bench` keeps working: its smoke run (tiny sizes, seconds) writes a complete report.

It runs in a subprocess on its own SQLite file and embedded Redis under tmp_path, so it touches
neither the test database nor the test Redis (nor anyone else's).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent


def test_it_writes_a_complete_report(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BENCH_SMOKE"] = "1"
    out = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--database",
            "sqlite",
            "--redis",
            "embedded",
            "--var-dir",
            str(tmp_path / "var"),
            "--out",
            str(out),
            "--max-minutes",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    [md] = out.glob("*.md")
    [js] = out.glob("*.json")
    text = md.read_text()
    for section in report.SECTIONS:
        assert section in text
    r = json.loads(js.read_text())
    assert r["smoke"] is True
    assert r["machine"]["cpus"] >= 1
    assert "SQLite" in r["database"] and "embedded" in r["redis"]

    hb = r["heartbeat"]["servers"][r["heartbeat"]["winner"]]
    for kind in ("heartbeat", "django_set", "wsgi_set", "poll", "django_get"):
        assert hb[kind]["requests"] > 0, kind
        assert hb[kind]["errors"] == hb[kind]["timeouts"] == 0, kind
    assert r["heartbeat"]["flush"]["heartbeats"] > 0
    assert r["db_writes"]["steady_queries_per_heartbeat"] == 0
    assert r["db_writes"]["registration_queries_per_agent"] > 0
    assert 0 < hb["poll"]["bytes_per_response"] < hb["poll_request_bytes"] + 1000

    sizes = r["dashboard"]["sizes"]
    assert [s["healthy_shown"] for s in sizes.values()] == [s["agents"] for s in sizes.values()]
    assert all(s["queries"] > 0 and s["ms"] > 0 for s in sizes.values())

    sf = r["sweep_flush"]
    assert sf["flush_unchanged_rows"] == 0
    assert sf["flush_changed"][0]["ms"] > 0 and sf["sweep_silent"][0]["ms"] > 0

    burst = r["burst"]
    assert burst["ok"] == burst["agents"] and burst["errors"] == burst["timeouts"] == 0
    assert burst["all_healthy_after_seconds"] is not None
    assert burst["table_shows_healthy"] == burst["agents"]
    assert {t["target"] for t in r["targets"]} and all("met" in t for t in r["targets"])
