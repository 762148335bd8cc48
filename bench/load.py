"""Load generators: wrk when it is installed, a small threaded client when it is not, and the
asyncio client of the burst. Each returns the same figures (a dict), so the report does not
care which one ran."""

import asyncio
import contextlib
import http.client
import json
import random
import resource
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


@dataclass(frozen=True)
class Load:
    """One load run: `script` is heartbeat.lua or get.lua; `requests` is what the fallback sends."""

    script: str
    path: str
    script_args: list[str]
    requests: list[tuple[str, str, dict, bytes]]  # method, path, headers, body


def run(port: int, load: Load, *, seconds: float, connections: int, threads: int = 1) -> dict:
    if have_wrk():
        return _wrk(port, load, seconds=seconds, connections=connections, threads=threads)
    return _threaded(port, load, seconds=seconds, connections=min(connections, 8))


def _wrk(port: int, load: Load, *, seconds: float, connections: int, threads: int) -> dict:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / load.script),
        f"http://127.0.0.1:{port}{load.path}",
        "--",
        *load.script_args,
    ]
    out = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        argv, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    return _figures(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        response_bytes=raw["bytes"],
        errors=raw["connect"] + raw["read"] + raw["write"] + raw["status"],
        timeouts=raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        tool="wrk",
    )


def _threaded(port: int, load: Load, *, seconds: float, connections: int) -> dict:
    """The fallback when wrk is missing: keep-alive connections in threads, same figures."""
    latencies: list[float] = []
    counts = {"bytes": 0, "errors": 0, "timeouts": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, i = [], offset
        while time.monotonic() < deadline:
            method, path, headers, body = load.requests[i % len(load.requests)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                size = len(response.read()) + _header_bytes(response)
                ok = response.status < 400
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except TimeoutError:
                conn.close()
                with lock:
                    counts["timeouts"] += 1
                continue
            except (OSError, http.client.HTTPException):
                conn.close()
                with lock:
                    counts["errors"] += 1
                continue
            mine.append(time.perf_counter() - started)
            with lock:
                counts["bytes"] += size
                counts["errors"] += 0 if ok else 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(n * 7,)) for n in range(connections)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=seconds + 15)
    elapsed = time.monotonic() - started
    latencies.sort()
    return _figures(
        requests=len(latencies) + counts["errors"],
        seconds=elapsed,
        response_bytes=counts["bytes"],
        errors=counts["errors"],
        timeouts=counts["timeouts"],
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
        tool="python",
    )


def _header_bytes(response: http.client.HTTPResponse) -> int:
    status_line = len(f"HTTP/1.1 {response.status} {response.reason}\r\n")
    return status_line + sum(len(f"{k}: {v}\r\n") for k, v in response.getheaders()) + 2


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def _figures(*, requests, seconds, response_bytes, errors, timeouts, p50_ms, p99_ms, tool) -> dict:
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(p50_ms, 3),
        "p99_ms": round(p99_ms, 3),
        "bytes_per_response": round(response_bytes / requests, 1) if requests else 0.0,
        "errors": errors,
        "timeouts": timeouts,
        "tool": tool,
    }


def median_of(runs: list[dict]) -> dict:
    """The median of each figure over runs (errors and timeouts: summed, so none hide)."""
    keys = ("rps", "p50_ms", "p99_ms", "bytes_per_response", "requests", "seconds")
    out = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["timeouts"] = sum(r["timeouts"] for r in runs)
    out["runs"] = len(runs)
    out["tool"] = runs[0]["tool"]
    return out


# --- the burst --------------------------------------------------------------------------------


def burst(
    port: int, requests: list[bytes], *, spread: float, timeout: float, retry_for: float
) -> dict:
    """Each request on its own connection, like separate agents, all started within `spread`
    seconds (evenly spaced); no cap on concurrency beyond the open-file limit.

    The first attempt's outcome is what counts as an error or a timeout. An agent that failed
    then retries as the agent client does (exponential backoff with full jitter, Retry-After
    honoured) for up to `retry_for` seconds, so the report can say when the fleet recovered."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, len(requests) + 1024) if hard != resource.RLIM_INFINITY else len(requests)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return asyncio.run(_burst(port, requests, spread=spread, timeout=timeout, retry_for=retry_for))


async def _send(port: int, raw: bytes, timeout: float) -> tuple[str, float]:
    """One request on a fresh connection: (outcome, Retry-After seconds)."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            response = await reader.read()
    except TimeoutError:
        return "timeout", 0.0
    except OSError as exc:
        return type(exc).__name__, 0.0
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head = response.split(b"\r\n", 1)[0].split()
    retry_after = 0.0
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"retry-after:"):
            with contextlib.suppress(ValueError):
                retry_after = float(line.split(b":", 1)[1])
    return (head[1].decode() if len(head) > 1 else "no response"), retry_after


async def _burst(
    port: int, requests: list[bytes], *, spread: float, timeout: float, retry_for: float
) -> dict:
    first: dict[str, int] = {}
    latencies: list[float] = []
    attempts = [0]
    recovered: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    give_up = start + spread + retry_for

    async def agent(i: int, raw: bytes) -> None:
        await asyncio.sleep(max(0.0, start + spread * i / len(requests) - loop.time()))
        began = loop.time()
        outcome, retry_after = await _send(port, raw, timeout)
        attempts[0] += 1
        first[outcome] = first.get(outcome, 0) + 1
        if outcome == "200":
            latencies.append(loop.time() - began)
            return
        failures = 1
        while loop.time() < give_up:
            ceiling = min(60.0, 2.0 ** min(failures, 6))
            await asyncio.sleep(max(retry_after, random.uniform(ceiling / 2, ceiling)))
            outcome, retry_after = await _send(port, raw, timeout)
            attempts[0] += 1
            if outcome == "200":
                recovered.append(loop.time() - start)
                return
            failures += 1

    await asyncio.gather(*(agent(i, r) for i, r in enumerate(requests)))
    latencies.sort()
    ok = first.get("200", 0)
    timeouts = first.get("timeout", 0)
    failed = len(requests) - ok
    return {
        "agents": len(requests),
        "spread_seconds": spread,
        "ok": ok,
        "timeouts": timeouts,
        "errors": failed - timeouts,
        "outcomes": dict(sorted(first.items())),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "retried_ok": len(recovered),
        "never_ok": failed - len(recovered),
        "attempts": attempts[0],
    }
