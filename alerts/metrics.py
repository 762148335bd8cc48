"""Prometheus metrics at /metrics.

Almost every figure is read at scrape time from what all processes share (the database and
Redis): agent counts by the same rule as the Agents page, heartbeats and refusals counted by the
agent API in Redis, flush and sweep runs, alert deliveries. So whichever web process answers,
the answer is the same. What a process measures about itself (how long scrapes take) goes
through prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set, which the
production server needs: it runs several worker processes.
"""

import hmac
import ipaddress
import logging
import os
import time
from collections import Counter

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from agents import liveness, store
from agents.models import Agent
from alerts import stats
from alerts.models import AlertState
from astro_ui import keys
from astro_ui.net import client_ip
from deployments.models import Deployment

log = logging.getLogger(__name__)

PREFIX = "remote_agents"

SCRAPE_SECONDS = Histogram(
    f"{PREFIX}_scrape_duration_seconds",
    "Time taken to gather the figures of one /metrics answer, in any web process.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# Heartbeats and refusals per deployment, and refusals that named no known deployment, as the
# agent API counts them (astro_ui/keys.py names them).
k_stats = keys.stats
REFUSED_UNKNOWN = keys.REFUSED


class ConsoleCollector(Collector):
    def collect(self):
        deployments = list(Deployment.objects.select_related("workspace__organization"))
        yield _deployment_info(deployments)
        try:
            store.client().ping()
            redis_up = True
        except store.Unavailable:
            redis_up = False
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_up", "1 when Redis (heartbeats, broker) answers.", value=int(redis_up)
        )
        yield from _agents(deployments)
        yield _alerts_firing()
        if redis_up:
            try:
                yield from _redis_counters(deployments)
            except store.Unavailable:
                log.warning("Redis went away during a scrape; its counters are left out")


def _deployment_info(deployments) -> GaugeMetricFamily:
    info = GaugeMetricFamily(
        f"{PREFIX}_deployment_info",
        "Names of each deployment id used in other labels.",
        labels=["deployment", "deployment_name", "workspace", "organization"],
    )
    for d in deployments:
        info.add_metric([str(d.pk), d.name, d.workspace.name, d.workspace.organization.name], 1)
    return info


def _agents(deployments):
    """Agents by deployment, status, component and version, and by queue: each agent's status is
    the one the Agents page shows (the console's one liveness rule; Unknown for all of them while
    Redis is unreachable)."""
    agents = GaugeMetricFamily(
        f"{PREFIX}_agents",
        "Agents (not deleted) by status as the Agents page shows it.",
        labels=["deployment", "status", "component", "version"],
    )
    queues = GaugeMetricFamily(
        f"{PREFIX}_queue_agents",
        "Agents serving each queue, by status; an agent serving two queues counts in both.",
        labels=["deployment", "queue", "status"],
    )
    fields = ("id", "deployment_id", "component", "version", "queues", "cordoned_at")
    live = Agent.objects.live().only(*fields, "deleted_at", "heartbeat_checkpoint_at")
    for deployment in deployments:
        rows = list(live.filter(deployment=deployment))
        if not rows:
            continue
        by_status: Counter = Counter()
        by_queue: Counter = Counter()
        for row in liveness.rows(liveness.read(deployment.pk), rows):
            status = row.liveness.status
            by_status[(status, row.agent.component, row.agent.version)] += 1
            for queue in row.agent.queues or []:
                if isinstance(queue, str):
                    by_queue[(queue, status)] += 1
        for (status, component, version), n in sorted(by_status.items()):
            agents.add_metric([str(deployment.pk), status, component, version], n)
        for (queue, status), n in sorted(by_queue.items()):
            queues.add_metric([str(deployment.pk), queue, status], n)
    yield agents
    yield queues


def _alerts_firing() -> GaugeMetricFamily:
    firing = GaugeMetricFamily(
        f"{PREFIX}_alerts_firing",
        "Subjects (agents, queues, tokens) an alert rule currently fires for.",
        labels=["deployment", "rule"],
    )
    rows = (
        AlertState.objects.values("channel__deployment_id", "rule")
        .annotate(n=Count("subject", distinct=True))
        .order_by("channel__deployment_id", "rule")
    )
    for row in rows:
        firing.add_metric([str(row["channel__deployment_id"]), row["rule"]], row["n"])
    return firing


def _redis_counters(deployments):
    heartbeats = CounterMetricFamily(
        f"{PREFIX}_heartbeats_received",
        "Heartbeats the agent API accepted.",
        labels=["deployment"],
    )
    refused = CounterMetricFamily(
        f"{PREFIX}_refused_requests",
        "Agent API requests refused, by error code (deployment empty: unknown deployment).",
        labels=["deployment", "reason"],
    )
    pipe = store.client().pipeline(transaction=False)
    for d in deployments:
        pipe.hgetall(k_stats(d.pk))
    pipe.hgetall(REFUSED_UNKNOWN)
    *per_deployment, unknown = pipe.execute()
    for d, fields in zip(deployments, per_deployment, strict=True):
        for raw_field, value in sorted(fields.items()):
            name = raw_field.decode()
            if name == "heartbeats":
                heartbeats.add_metric([str(d.pk)], int(value))
            elif name.startswith("refused:"):
                refused.add_metric([str(d.pk), name.removeprefix("refused:")], int(value))
    for raw_field, value in sorted(unknown.items()):
        refused.add_metric(["", raw_field.decode()], int(value))
    yield heartbeats
    yield refused
    yield from _jobs()
    deliveries = CounterMetricFamily(
        f"{PREFIX}_alert_deliveries",
        "Alert delivery attempts by channel kind and outcome (delivered, retrying, failed).",
        labels=["kind", "outcome"],
    )
    for (kind, outcome), n in sorted(stats.deliveries().items()):
        deliveries.add_metric([kind, outcome], n)
    yield deliveries


JOBS = {"flush": "rows written", "sweep": "health transitions recorded"}


def _jobs():
    pipe = store.client().pipeline(transaction=False)
    for name in JOBS:
        pipe.hgetall(store.k_job(name))
    for (name, size_name), raw in zip(JOBS.items(), pipe.execute(), strict=True):
        job = {k.decode(): float(v) for k, v in raw.items()}
        size_metric = "rows" if name == "flush" else "transitions"
        yield SummaryMetricFamily(
            f"{PREFIX}_{name}_duration_seconds",
            f"Runs of the heartbeat {name} and the time they took.",
            count_value=int(job.get("runs", 0)),
            sum_value=job.get("seconds", 0.0),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_{name}_{size_metric}",
            f"Total {size_name} by the {name}.",
            value=int(job.get("size", 0)),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_{name}_last_duration_seconds",
            f"Duration of the latest {name}.",
            value=job.get("last_seconds", 0.0),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_{name}_last_{size_metric}",
            f"{size_name.capitalize()} by the latest {name}.",
            value=job.get("last_size", 0.0),
        )


_console = CollectorRegistry(auto_describe=False)
_console.register(ConsoleCollector())


def _process_figures() -> bytes:
    """This process's own metrics, or every web process's when they share a multiprocess
    directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _refusal(request) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and hmac.compare_digest(presented.encode(), token.encode()):
        return None
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        address = None
    if address is not None and any(address in n for n in settings.METRICS_ALLOWED_IPS):
        return None
    if token:
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Metrics are not served to this address.\n", status=403)


@require_GET
def metrics(request) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        refusal["Content-Type"] = "text/plain; charset=utf-8"
        return refusal
    started = time.perf_counter()
    body = _process_figures() + generate_latest(_console)
    SCRAPE_SECONDS.observe(time.perf_counter() - started)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
