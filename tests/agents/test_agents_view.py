import pytest
from django.urls import reverse

from agents import store
from agents.models import Agent, Health
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(beat):
    """Three agents that heartbeat, one of each component."""
    beat(name="worker-0")
    beat(name="dag-processor", component="dag-processor", queues=[])
    beat(name="triggerer", component="triggerer", queues=[])
    return {a.name: a for a in Agent.objects.all()}


def _page(client, deployment, **params):
    return client.get(reverse("agents", args=[deployment.pk]), params)


def test_it_lists_agents_with_status_and_counts(viewer_client, deployment, fleet):
    response = _page(viewer_client, deployment)
    body = response.content.decode()
    assert response.status_code == 200
    for name in fleet:
        assert f'data-agent="{name}"' in body
    assert body.count('data-status="healthy"') == 3
    counts = response.context["counts"]
    assert (counts.healthy, counts.unhealthy, counts.cordoned, counts.total) == (3, 0, 0, 3)
    assert "<time datetime=" in body


def test_a_silent_agent_shows_unhealthy_even_if_no_sweep_ran(
    viewer_client, deployment, fleet, age_heartbeat, old_epoch
):
    age_heartbeat(fleet["triggerer"], 90)
    assert Agent.objects.get(name="triggerer").health == Health.HEALTHY  # as the sweep left it
    response = _page(viewer_client, deployment)
    assert response.context["counts"].unhealthy == 1
    row = next(a for a in response.context["agents"] if a.name == "triggerer")
    assert row.liveness.status == "unhealthy"


def test_it_orders_by_name_unless_asked_for_problems_first(
    viewer_client, deployment, fleet, age_heartbeat, old_epoch
):
    age_heartbeat(fleet["worker-0"], 90)
    Agent.objects.sweep()
    names = [a.name for a in _page(viewer_client, deployment).context["agents"]]
    assert names == ["dag-processor", "triggerer", "worker-0"]
    problems = _page(viewer_client, deployment, sort="problems").context["agents"]
    assert [a.name for a in problems] == ["worker-0", "dag-processor", "triggerer"]


def test_it_searches_and_filters(
    viewer_client, deployment, fleet, operator, django_capture_on_commit_callbacks
):
    assert [a.name for a in _page(viewer_client, deployment, q="trig").context["agents"]] == [
        "triggerer"
    ]
    workers = _page(viewer_client, deployment, component="worker").context["agents"]
    assert [a.name for a in workers] == ["worker-0"]
    with django_capture_on_commit_callbacks(execute=True):
        fleet["dag-processor"].cordon(by=operator, reason="")
    cordoned = _page(viewer_client, deployment, status="cordoned").context["agents"]
    assert [a.name for a in cordoned] == ["dag-processor"]
    healthy = _page(viewer_client, deployment, status="healthy").context["agents"]
    assert sorted(a.name for a in healthy) == ["triggerer", "worker-0"]


def test_nonsense_filters_are_ignored_not_errors(viewer_client, deployment, fleet):
    response = _page(viewer_client, deployment, status="<script>", component="x", page="-4")
    assert response.status_code == 200
    assert len(response.context["agents"]) == 3


def test_it_pages_by_fifty(viewer_client, deployment, beat):
    for i in range(55):
        beat(name=f"w-{i:02d}")
    first = _page(viewer_client, deployment)
    assert len(first.context["agents"]) == 50
    assert first.context["pages"] == 2
    second = _page(viewer_client, deployment, page=2)
    assert [a.name for a in second.context["agents"]] == [f"w-{i}" for i in range(50, 55)]
    assert _page(viewer_client, deployment, page=99).context["page"] == 2


def test_an_unchanged_poll_is_a_204_without_sql_or_templates(
    viewer_client, deployment, fleet, django_assert_num_queries
):
    poll_url = _page(viewer_client, deployment).context["poll_url"]
    assert "v=" in poll_url
    with django_assert_num_queries(0):
        response = viewer_client.get(poll_url)
    assert response.status_code == 204
    assert response.content == b""
    assert not response.templates


def test_a_poll_after_a_change_renders_the_table(
    viewer_client, deployment, fleet, operator, django_capture_on_commit_callbacks
):
    poll_url = _page(viewer_client, deployment).context["poll_url"]
    with django_capture_on_commit_callbacks(execute=True):
        fleet["worker-0"].cordon(by=operator, reason="disk pressure")
    response = viewer_client.get(poll_url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="agent-table"')
    assert "disk pressure" in body and 'data-status="cordoned"' in body


def test_a_new_agent_changes_the_version(viewer_client, deployment, fleet, beat):
    poll_url = _page(viewer_client, deployment).context["poll_url"]
    beat(name="worker-1")
    assert viewer_client.get(poll_url).status_code == 200


def test_polls_need_a_login_and_a_role(client, stranger_client, deployment, fleet):
    url = reverse("agents-table", args=[deployment.pk]) + "?v=1.0"
    assert client.get(url).status_code == 302
    assert stranger_client.get(url).status_code == 404


def test_anonymous_and_strangers_cannot_see_agents(client, stranger_client, deployment, fleet):
    assert client.get(reverse("agents", args=[deployment.pk])).status_code == 302
    assert stranger_client.get(reverse("agents", args=[deployment.pk])).status_code == 404


def test_the_page_rejects_post(viewer_client, deployment):
    assert viewer_client.post(reverse("agents", args=[deployment.pk])).status_code == 405


def test_viewers_get_no_action_buttons(
    viewer_client, operator_client, admin_client, deployment, fleet
):
    assert "Cordon</a>" not in _page(viewer_client, deployment).content.decode()
    operator_page = _page(operator_client, deployment).content.decode()
    assert "Cordon</a>" in operator_page and "Delete</a>" not in operator_page
    assert "Delete</a>" in _page(admin_client, deployment).content.decode()


# --- row actions ---------------------------------------------------------------------------------


def _url(name, deployment, agent):
    return reverse(name, args=[deployment.pk, agent.pk])


def test_an_operator_cordons_with_a_reason(operator_client, deployment, fleet):
    agent = fleet["worker-0"]
    response = operator_client.post(
        _url("agent-cordon", deployment, agent), {"reason": "kernel patch"}
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.is_cordoned and agent.cordon_reason == "kernel patch"
    assert agent.cordoned_by.username == "oscar"
    event = AuditEvent.objects.get(action="agent.cordon")
    assert event.details == {"reason": "kernel patch"} and event.actor_label == "oscar"


def test_cordon_over_htmx_closes_the_dialog_and_refreshes(operator_client, deployment, fleet):
    response = operator_client.post(
        _url("agent-cordon", deployment, fleet["worker-0"]),
        {"reason": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response["HX-Trigger"] == "agents-changed"


def test_the_cordon_form_renders_as_a_page_and_as_a_dialog(operator_client, deployment, fleet):
    url = _url("agent-cordon", deployment, fleet["worker-0"])
    page = operator_client.get(url).content.decode()
    assert "<html" in page and "Cordon worker-0?" in page
    fragment = operator_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith("<form")


def test_a_too_long_reason_is_a_field_error(operator_client, deployment, fleet):
    agent = fleet["worker-0"]
    response = operator_client.post(_url("agent-cordon", deployment, agent), {"reason": "x" * 1025})
    assert response.status_code == 200
    assert "at most 1024 characters" in response.content.decode()
    agent.refresh_from_db()
    assert not agent.is_cordoned


def test_viewers_cannot_cordon(viewer_client, deployment, fleet):
    agent = fleet["worker-0"]
    assert (
        viewer_client.post(_url("agent-cordon", deployment, agent), {"reason": ""}).status_code
        == 403
    )
    agent.refresh_from_db()
    assert not agent.is_cordoned


def test_strangers_and_anonymous_cannot_act(client, stranger_client, deployment, fleet):
    agent = fleet["worker-0"]
    for name in ("agent-cordon", "agent-uncordon", "agent-delete"):
        assert stranger_client.post(_url(name, deployment, agent)).status_code == 404
        assert client.post(_url(name, deployment, agent)).status_code == 302
    agent.refresh_from_db()
    assert not agent.is_cordoned and agent.deleted_at is None


def test_actions_reject_other_methods(admin_client, deployment, fleet):
    assert admin_client.put(_url("agent-cordon", deployment, fleet["worker-0"])).status_code == 405
    assert (
        admin_client.delete(_url("agent-delete", deployment, fleet["worker-0"])).status_code == 405
    )


def test_an_operator_uncordons(operator_client, operator, deployment, fleet):
    agent = fleet["worker-0"]
    agent.cordon(by=operator, reason="x")
    response = operator_client.post(_url("agent-uncordon", deployment, agent))
    assert response.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_cordoned
    assert AuditEvent.objects.filter(action="agent.uncordon").count() == 1


def test_only_admins_delete(operator_client, deployment, fleet):
    agent = fleet["worker-0"]
    assert operator_client.post(_url("agent-delete", deployment, agent)).status_code == 403
    agent.refresh_from_db()
    assert agent.deleted_at is None


def test_an_admin_deletes_and_the_agent_leaves_the_table(admin_client, deployment, fleet):
    agent = fleet["worker-0"]
    confirm = admin_client.get(_url("agent-delete", deployment, agent)).content.decode()
    assert "registers as a new agent" in confirm
    assert admin_client.post(_url("agent-delete", deployment, agent)).status_code == 302
    agent.refresh_from_db()
    assert agent.deleted_at is not None
    assert 'data-agent="worker-0"' not in _page(admin_client, deployment).content.decode()
    assert AuditEvent.objects.get(action="agent.delete").actor_label == "alice"


def test_acting_on_a_deleted_agent_is_a_404(admin_client, admin, deployment, fleet):
    agent = fleet["worker-0"]
    agent.terminate(by=admin)
    assert admin_client.post(_url("agent-cordon", deployment, agent)).status_code == 404


def test_the_store_version_moves_on_cordon(
    deployment, fleet, operator, django_capture_on_commit_callbacks
):
    before = store.version(deployment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        fleet["worker-0"].cordon(by=operator)
    assert store.version(deployment.pk) != before


def test_a_revoked_role_stops_the_polls_once_the_access_check_expires(
    viewer_client, viewer, deployment, fleet, redis_client
):
    poll_url = _page(viewer_client, deployment).context["poll_url"]
    viewer.grants.all().delete()
    assert viewer_client.get(poll_url).status_code == 204  # nothing but "unchanged" for <= 60 s
    for key in redis_client.scan_iter("ra:access:*"):
        redis_client.delete(key)  # as if ACCESS_TTL had passed
    assert viewer_client.get(poll_url).status_code == 404


def test_a_stale_version_gets_the_table(viewer_client, deployment, fleet):
    url = reverse("agents-table", args=[deployment.pk]) + "?v=0.0"
    response = viewer_client.get(url)
    assert response.status_code == 200
    assert 'id="agent-table"' in response.content.decode()
