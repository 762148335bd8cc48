import pytest
from django.urls import reverse

from agents import store
from agents.models import Agent
from audit.models import AuditEvent
from fleet import cleanup
from fleet.tasks import remove_stale_agents

pytestmark = pytest.mark.django_db
DAY = 86400


@pytest.fixture
def silent_fleet(tick, clock):
    """Agents last heard 10 days, 8 days, 5 days and a minute ago."""
    tick(0, names=["gone-10d"])
    clock.shift(2 * DAY)
    tick(0, names=["gone-8d"])
    clock.shift(3 * DAY)
    tick(0, names=["gone-5d"])
    clock.shift(5 * DAY)
    tick(0, names=["alive"])
    return {a.name: a for a in Agent.objects.all()}


def _url(deployment):
    return reverse("stale-agents", args=[deployment.pk])


def test_preview_and_run_agree_and_nothing_else_is_removed(
    viewer_client, admin_client, deployment, silent_fleet, other_deployment, beat
):
    preview = viewer_client.get(_url(deployment), {"days": 7})
    listed = [s.agent.name for s in preview.context["preview"]]
    assert listed == ["gone-10d", "gone-8d"]
    assert 'data-stale="gone-8d"' in preview.content.decode()

    response = admin_client.post(_url(deployment), {"days": 7, "action": "save"})
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.stale_agent_days == 7
    assert AuditEvent.objects.filter(action="deployment.stale_agents", actor_label="alice").exists()

    assert remove_stale_agents() == 2
    assert (
        sorted(Agent.objects.filter(deleted_at__isnull=False).values_list("name", flat=True))
        == listed
    )
    assert sorted(Agent.objects.live().values_list("name", flat=True)) == ["alive", "gone-5d"]
    deletes = AuditEvent.objects.filter(action="agent.delete")
    assert sorted(deletes.values_list("target_label", flat=True)) == listed
    assert set(deletes.values_list("actor_type", "actor_label")) == {("system", "system")}
    assert remove_stale_agents() == 0


def test_it_is_off_by_default_and_can_be_switched_off(admin_client, deployment, silent_fleet):
    assert deployment.stale_agent_days is None
    assert remove_stale_agents() == 0
    admin_client.post(_url(deployment), {"days": 3, "action": "save"})
    admin_client.post(_url(deployment), {"days": "", "action": "save"})
    deployment.refresh_from_db()
    assert deployment.stale_agent_days is None
    assert remove_stale_agents() == 0


def test_a_recent_heartbeat_in_redis_outweighs_an_old_checkpoint(deployment, silent_fleet):
    agent = silent_fleet["gone-10d"]
    store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now() - 60})
    assert [s.agent.name for s in cleanup.stale_agents(deployment, 7)] == ["gone-8d"]


def test_nothing_is_removed_when_heartbeat_times_cannot_be_read(
    deployment, silent_fleet, monkeypatch
):
    deployment.set_stale_agent_days(7)

    def down(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(store, "seen_many", down)
    assert cleanup.stale_agents(deployment, 7) is None
    assert remove_stale_agents() == 0
    assert Agent.objects.live().count() == 4


@pytest.mark.parametrize("days", ["0", "-3", "3651", "abc", "1e3", "9" * 400, ""])
def test_it_refuses_bad_days_with_a_message(admin_client, deployment, days):
    response = admin_client.post(_url(deployment), {"days": days, "action": "save"})
    if days == "":
        assert response.status_code == 302  # empty = off
        return
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.stale_agent_days is None


def test_roles(client, stranger_client, viewer_client, operator_client, deployment):
    assert client.get(_url(deployment)).status_code == 302
    assert stranger_client.get(_url(deployment)).status_code == 404
    assert viewer_client.post(_url(deployment), {"days": 3, "action": "save"}).status_code == 403
    assert operator_client.post(_url(deployment), {"days": 3, "action": "save"}).status_code == 403
    # Anyone with a role may preview.
    assert viewer_client.post(_url(deployment), {"days": 3, "action": "preview"}).status_code == 200
    assert viewer_client.put(_url(deployment)).status_code == 405
    deployment.refresh_from_db()
    assert deployment.stale_agent_days is None


def test_the_settings_page_shows_the_panel_and_htmx_swaps_it(admin_client, deployment):
    page = admin_client.get(reverse("deployment-settings", args=[deployment.pk]))
    assert 'id="cleanup-panel"' in page.content.decode()
    response = admin_client.post(
        _url(deployment), {"days": 30, "action": "save"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="cleanup-panel"')
    assert "30 days" in body and "Saved." in body
