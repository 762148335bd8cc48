import pytest
from django.test import Client

from agents.runs import TestRun

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_operator_starts_a_run_that_reaches_an_agent(
    operator, url, heartbeat, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(operator).post(
            url("/test-runs"), {"queue": "default"}, content_type="application/json"
        )
    assert response.status_code == 200
    run = response.json()
    assert run["state"] == "QUEUED" and run["queue"] == "default" and run["agentId"] is None
    assert heartbeat()["test_run"]["id"] == run["id"]
    got = _client(operator).get(url(f"/test-runs/{run['id']}")).json()
    assert got["state"] == "TAKEN" and got["takenByAgentId"] == str(agent.pk)


def test_it_starts_a_run_for_one_agent(operator, url, agent):
    response = _client(operator).post(
        url("/test-runs"), {"agentId": str(agent.pk)}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["agentId"] == str(agent.pk)


def test_it_lists_runs_newest_first(viewer, operator, url, deployment):
    for queue in ("a", "b"):
        TestRun.objects.start(deployment, queue=queue, by=operator)
    body = _client(viewer).get(url("/test-runs?limit=1")).json()
    assert body["totalCount"] == 2 and [r["queue"] for r in body["testRuns"]] == ["b"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"queue": "   "},
        {"queue": "default", "agentId": "8a4f3c1e-0000-4000-8000-000000000000"},
        {"queue": 5},
        {"queue": "q" * 201},
        {"agentId": "not-a-uuid"},
        {"queue": "default", "priority": 1},
        {"queue": None},
        [[[[[]]]]],
    ],
)
def test_it_refuses_a_bad_body_with_field_errors(operator, url, body):
    response = _client(operator).post(url("/test-runs"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert not TestRun.objects.exists()


def test_it_refuses_an_agent_of_another_deployment(operator, url, other_deployment, admin):
    from agents.models import Agent

    stranger = Agent.objects.create(deployment=other_deployment, name="x", component="worker")
    response = _client(operator).post(
        url("/test-runs"), {"agentId": str(stranger.pk)}, content_type="application/json"
    )
    assert response.status_code == 404 and not TestRun.objects.exists()


def test_a_viewer_reads_runs_but_cannot_start_one(viewer, url):
    assert _client(viewer).get(url("/test-runs")).status_code == 200
    response = _client(viewer).post(
        url("/test-runs"), {"queue": "default"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_strangers_and_anonymous_learn_nothing(stranger, url, anonymous, operator, deployment):
    run = TestRun.objects.start(deployment, queue="q", by=operator)
    assert _client(stranger).get(url(f"/test-runs/{run.pk}")).status_code == 404
    assert anonymous.get(url("/test-runs")).status_code == 401
