import pytest
from django.urls import reverse

from agents.models import Agent
from agents.runs import TestRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs_url(deployment):
    return reverse("test-runs", args=[deployment.pk])


def test_an_operator_starts_a_run_for_a_queue_and_lands_on_its_panel(operator_client, runs_url):
    response = operator_client.post(runs_url, {"queue": "default"})
    run = TestRun.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/test-runs/{run.pk}/")
    page = operator_client.get(response.url)
    assert b"any healthy agent serving queue default" in page.content
    assert b"Waiting for an eligible agent" in page.content


def test_it_starts_a_run_for_one_agent(operator_client, runs_url, deployment):
    agent = Agent.objects.create(deployment=deployment, name="w", component="worker")
    operator_client.post(runs_url, {"agent": str(agent.pk), "queue": "ignored"})
    run = TestRun.objects.get()
    assert run.agent == agent and run.queue == ""


def test_it_asks_for_a_queue_or_an_agent(operator_client, runs_url):
    response = operator_client.post(runs_url, {"queue": ""})
    assert response.status_code == 400 and b"Name a queue" in response.content
    assert not TestRun.objects.exists()


def test_it_refuses_an_agent_of_another_deployment(operator_client, runs_url, other_deployment):
    agent = Agent.objects.create(deployment=other_deployment, name="w", component="worker")
    assert operator_client.post(runs_url, {"agent": str(agent.pk)}).status_code == 400
    assert not TestRun.objects.exists()


def test_a_viewer_sees_the_history_but_cannot_start(viewer_client, runs_url, deployment, admin):
    TestRun.objects.start(deployment, queue="gpu", by=admin)
    page = viewer_client.get(runs_url)
    assert page.status_code == 200 and b"gpu" in page.content
    assert b"Start test run" not in page.content
    assert viewer_client.post(runs_url, {"queue": "x"}).status_code == 403


def test_strangers_get_404_and_anonymous_users_log_in(stranger_client, client, runs_url):
    assert stranger_client.get(runs_url).status_code == 404
    response = client.get(runs_url)
    assert response.status_code == 302 and "/login/" in response.url


def test_it_refuses_other_methods(operator_client, runs_url):
    assert operator_client.put(runs_url).status_code == 405


def test_the_live_panel_is_a_fragment_that_stops_polling_when_done(
    operator_client, deployment, admin
):
    run = TestRun.objects.start(deployment, queue="gpu", by=admin)
    url = reverse("test-run", args=[deployment.pk, run.pk])
    fragment = operator_client.get(url, headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b'hx-trigger="every 2s' in fragment.content
    run.time_out()
    done = operator_client.get(url, headers={"HX-Request": "true"}).content
    assert b"hx-trigger" not in done and b"No agent serves queue gpu." in done
