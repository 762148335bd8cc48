"""/metrics: who may read it, what it reports, and that it parses."""

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from agents.tasks import flush_heartbeats, sweep_agent_health
from alerts import stats
from alerts.metrics import REFUSED_UNKNOWN, k_stats


def scrape(client=None, **headers) -> dict:
    """{(name, labels as a sorted tuple): value} for every sample."""
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def parse(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def by_status(samples: dict, deployment) -> dict:
    totals: dict[str, float] = {}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if name == "remote_agents_agents" and labels["deployment"] == str(deployment.pk):
            totals[labels["status"]] = totals.get(labels["status"], 0) + value
    return totals


@pytest.fixture
def fleet(deployment, make_agent, old_epoch, admin, django_capture_on_commit_callbacks):
    make_agent("w1", version="1.3.2", queues=["default", "gpu"])
    make_agent("w2", version="1.3.1", queues=["default"])
    make_agent("w3", version="1.3.2", silent_for=600)
    with django_capture_on_commit_callbacks(execute=True):
        make_agent("w4", queues=["gpu"]).cordon(by=admin)
        make_agent("gone").terminate(by=admin)


def test_it_counts_agents_as_the_agents_page_does(viewer_client, deployment, fleet):
    page = viewer_client.get(reverse("agents", args=[deployment.pk])).context
    samples = scrape()
    assert (
        by_status(samples, deployment)
        == {
            "healthy": page["counts"].healthy,
            "unhealthy": page["counts"].unhealthy,
            "cordoned": page["counts"].cordoned,
        }
        == {"healthy": 2, "unhealthy": 1, "cordoned": 1}
    )
    dep = str(deployment.pk)
    labels = (("component", "worker"), ("deployment", dep), ("status", "healthy"))
    assert samples[("remote_agents_agents", (*labels, ("version", "1.3.2")))] == 1
    assert (
        samples[
            (
                "remote_agents_queue_agents",
                (("deployment", dep), ("queue", "gpu"), ("status", "cordoned")),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "remote_agents_deployment_info",
                (
                    ("deployment", dep),
                    ("deployment_name", "etl-prod"),
                    ("organization", "Acme"),
                    ("workspace", "Data"),
                ),
            )
        ]
        == 1
    )
    assert samples[("remote_agents_redis_up", ())] == 1


def test_it_reads_the_agent_api_counters_from_redis(deployment, redis_client):
    # The agent API writes these on every heartbeat and refusal; here they are set directly.
    redis_client.hincrby(k_stats(deployment.pk), "heartbeats", 41)
    redis_client.hincrby(k_stats(deployment.pk), "heartbeats", 1)
    redis_client.hincrby(k_stats(deployment.pk), "refused:token_expired", 3)
    redis_client.hincrby(REFUSED_UNKNOWN, "deployment_not_found", 5)
    samples = scrape()
    dep = str(deployment.pk)
    assert samples[("remote_agents_heartbeats_received_total", (("deployment", dep),))] == 42
    refused = "remote_agents_refused_requests_total"
    assert samples[(refused, (("deployment", dep), ("reason", "token_expired")))] == 3
    assert samples[(refused, (("deployment", ""), ("reason", "deployment_not_found")))] == 5


def test_it_reports_flush_sweep_and_delivery_figures(deployment, make_agent, old_epoch):
    make_agent("w1", silent_for=600)
    sweep_agent_health()
    flush_heartbeats()
    stats.count_delivery("webhook", "delivered")
    stats.count_delivery("webhook", "retrying")
    samples = scrape()
    assert samples[("remote_agents_sweep_duration_seconds_count", ())] == 1
    assert samples[("remote_agents_sweep_transitions_total", ())] == 1
    assert samples[("remote_agents_sweep_last_transitions", ())] == 1
    assert samples[("remote_agents_flush_duration_seconds_count", ())] == 1
    assert samples[("remote_agents_flush_duration_seconds_sum", ())] > 0
    deliveries = "remote_agents_alert_deliveries_total"
    assert samples[(deliveries, (("kind", "webhook"), ("outcome", "delivered")))] == 1
    assert samples[(deliveries, (("kind", "webhook"), ("outcome", "retrying")))] == 1


def test_it_says_unknown_rather_than_failing_while_redis_is_down(deployment, fleet, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    samples = scrape()
    assert samples[("remote_agents_redis_up", ())] == 0
    assert by_status(samples, deployment) == {"unknown": 4}


def test_it_answers_only_the_allowlist_or_the_bearer_token(db, settings):
    assert Client().get("/metrics").status_code == 200  # loopback is allowed by default
    settings.METRICS_ALLOWED_IPS = []
    assert Client().get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    refused = Client().get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"remote_agents" not in refused.content
    scrape(Authorization="Bearer s3cret-scrape-token")
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
    assert Client().post("/metrics").status_code in (403, 405)
