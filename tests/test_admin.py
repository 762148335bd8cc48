import pytest
from django.urls import reverse

from agents.models import Agent
from audit.record import record
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("support", password="x"))
    return client


def test_every_model_has_a_working_changelist(staff_client, deployment, admin):
    AgentToken.objects.issue(deployment, name="t", expires_in_days=None)
    Agent.objects.create(deployment=deployment, name="w-0", component="worker")
    record("test.event", deployment=deployment, user=admin)
    for model in ["organization", "workspace", "deployment", "rolegrant"]:
        assert staff_client.get(reverse(f"admin:deployments_{model}_changelist")).status_code == 200
    for url in [
        "admin:agents_agent_changelist",
        "admin:tokens_agenttoken_changelist",
        "admin:audit_auditevent_changelist",
    ]:
        response = staff_client.get(reverse(url), {"q": "w"})
        assert response.status_code == 200


def test_agents_are_read_only_in_the_admin(staff_client, deployment):
    agent = Agent.objects.create(deployment=deployment, name="w-0", component="worker")
    url = reverse("admin:agents_agent_change", args=[agent.pk])
    assert staff_client.get(url).status_code == 200
    staff_client.post(url, {"name": "renamed"})
    agent.refresh_from_db()
    assert agent.name == "w-0"


def test_ip_ranges_cannot_be_edited_around_validation(staff_client, deployment):
    url = reverse("admin:deployments_deployment_change", args=[deployment.pk])
    page = staff_client.get(url).content.decode()
    assert 'name="allowed_ip_ranges"' not in page
