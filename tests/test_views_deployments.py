import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments.models import Role, RoleGrant


def test_it_redirects_anonymous_users_to_login(client, deployment):
    for name in ["deployment", "deployment-settings", "agents", "tokens"]:
        url = reverse(name, args=[deployment.pk])
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_it_hides_deployments_from_strangers(stranger_client, deployment):
    for name in ["deployment", "deployment-settings", "agents", "tokens"]:
        assert stranger_client.get(reverse(name, args=[deployment.pk])).status_code == 404


def test_it_shows_the_overview_with_the_agent_api_url(viewer_client, deployment):
    response = viewer_client.get(reverse("deployment", args=[deployment.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"http://testserver/api/agent/v1/deployments/{deployment.pk}/" in body
    assert "Remote Agents" in body


def test_home_goes_straight_to_the_only_workspace(viewer_client, deployment):
    response = viewer_client.get("/")
    assert response["Location"] == reverse("workspace", args=[deployment.workspace.pk])


def test_workspace_lists_only_visible_deployments(viewer_client, deployment, other_deployment):
    body = viewer_client.get(reverse("workspace", args=[deployment.workspace.pk])).content.decode()
    assert deployment.name in body
    assert other_deployment.name not in body


def test_a_workspace_grant_reaches_every_deployment_in_it(
    client, django_user_model, deployment, other_deployment
):
    user = django_user_model.objects.create_user("wendy")
    RoleGrant.objects.create(user=user, workspace=deployment.workspace, role=Role.OPERATOR)
    client.force_login(user)
    body = client.get(reverse("workspace", args=[deployment.workspace.pk])).content.decode()
    assert deployment.name in body and other_deployment.name in body
    assert client.get(reverse("agents", args=[other_deployment.pk])).status_code == 200


def test_strangers_get_404_for_a_workspace(stranger_client, deployment):
    assert (
        stranger_client.get(reverse("workspace", args=[deployment.workspace.pk])).status_code == 404
    )


def test_admin_can_rename_and_it_is_audited(admin_client, deployment):
    url = reverse("deployment-settings", args=[deployment.pk])
    response = admin_client.post(
        url, {"name": "etl-main", "description": "", "remote_execution": "on"}
    )
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.name == "etl-main"
    event = AuditEvent.objects.get(action="deployment.update")
    assert event.actor_label == "alice"
    assert event.details["before"]["name"] == "etl-prod"
    assert event.source_ip == "127.0.0.1"


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_too_low_roles_cannot_change_settings(request, persona, deployment):
    client = request.getfixturevalue(persona)
    url = reverse("deployment-settings", args=[deployment.pk])
    response = client.post(url, {"name": "hijacked", "remote_execution": "on"})
    assert response.status_code == 403
    deployment.refresh_from_db()
    assert deployment.name == "etl-prod"
    assert not AuditEvent.objects.exists()


def test_a_blank_name_is_a_field_error(admin_client, deployment):
    url = reverse("deployment-settings", args=[deployment.pk])
    response = admin_client.post(url, {"name": "   ", "remote_execution": "on"})
    assert response.status_code == 200
    assert (
        "This field is required." in response.content.decode()
        or "Enter a name." in response.content.decode()
    )
    deployment.refresh_from_db()
    assert deployment.name == "etl-prod"


def test_settings_reject_wrong_methods(admin_client, deployment):
    url = reverse("deployment-settings", args=[deployment.pk])
    assert admin_client.delete(url).status_code == 405


def test_overview_rejects_post(admin_client, deployment):
    assert admin_client.post(reverse("deployment", args=[deployment.pk])).status_code == 405


def test_the_toggle_renders_a_fragment_for_htmx(viewer_client, deployment):
    url = reverse("tokens", args=[deployment.pk])
    response = viewer_client.get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="remote-agents"')
    assert "<html" not in body
    full = viewer_client.get(url).content.decode()
    assert "<html" in full and 'id="remote-agents"' in full


def test_superusers_see_everything(client, django_user_model, deployment):
    root = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(root)
    assert client.get(reverse("deployment-settings", args=[deployment.pk])).status_code == 200


def test_the_overview_counts_agents_and_shows_recent_activity(viewer_client, deployment, admin):
    from agents import store
    from agents.models import Agent

    agent = Agent.objects.create(deployment=deployment, name="w-0", component="worker")
    store.client().set(store.EPOCH, store.now() - 3600)
    store.client().zadd(store.k_seen(deployment.pk), {str(agent.pk): store.now()})
    agent.cordon(by=admin, reason="patching <kernel>")
    response = viewer_client.get(reverse("deployment", args=[deployment.pk]))
    counts = response.context["counts"]
    assert (counts.healthy, counts.unhealthy, counts.cordoned, counts.total) == (0, 0, 1, 1)
    body = response.content.decode()
    assert "agent.cordon" in body and "alice" in body
    assert "patching &lt;kernel&gt;" in body
