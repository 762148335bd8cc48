import pytest
from django.test import Client

from api.models import ApiToken
from deployments.models import Role, RoleGrant
from tests.api.test_agent_tokens import _assert_error

pytestmark = pytest.mark.django_db


def _cordon(client, url, agent):
    return client.post(
        url(f"/agents/{agent.pk}/action"), {"action": "CORDON"}, content_type="application/json"
    )


def test_an_api_token_authenticates_without_a_session(api_token, admin, url, deployment):
    client, _ = api_token(admin, Role.ADMIN)
    response = client.post(url("/agent-tokens"), {"name": "ci"}, content_type="application/json")
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.last_used_at is not None


def test_an_api_token_needs_no_csrf_token(api_token, admin, url):
    _, value = api_token(admin, Role.ADMIN)
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {value}"})
    response = client.post(url("/agent-tokens"), {"name": "ci"}, content_type="application/json")
    assert response.status_code == 200


def test_a_revoked_token_is_refused(api_token, admin, url):
    client, _ = api_token(admin)
    ApiToken.objects.get().revoke(by=admin)
    response = client.get(url("/agents"))
    _assert_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer raapi_nonsense", "Bearer ragt_" + "a" * 38, "Bearer", "Bearer a b", "Bearer é"],
)
def test_a_malformed_or_unknown_token_is_refused(url, admin, header):
    response = Client(headers={"Authorization": header}).get(url("/agents"))
    _assert_error(response, 401)


def test_a_token_does_not_reach_outside_its_deployment(api_token, admin, other_deployment):
    from tests.api.conftest import api_url

    RoleGrant.objects.create(user=admin, deployment=other_deployment, role=Role.ADMIN)
    client, _ = api_token(admin, Role.ADMIN)
    _assert_error(client.get(api_url(other_deployment, "/agents")), 404)


def test_a_workspace_token_reaches_every_deployment_of_its_workspace(
    api_token, django_user_model, workspace, deployment, other_deployment
):
    from tests.api.conftest import api_url

    lead = django_user_model.objects.create_user("lead")
    RoleGrant.objects.create(user=lead, workspace=workspace, role=Role.OPERATOR)
    client, _ = api_token(lead, Role.VIEWER, workspace=workspace)
    assert client.get(api_url(deployment, "/agents")).status_code == 200
    assert client.get(api_url(other_deployment, "/agents")).status_code == 200


def test_the_token_role_caps_what_it_may_do(api_token, admin, url, agent):
    client, _ = api_token(admin, Role.VIEWER)
    assert client.get(url("/agents")).status_code == 200
    data = _assert_error(_cordon(client, url, agent), 403)
    assert "this API token has Viewer" in data["message"]


def test_the_users_current_role_caps_the_token(api_token, admin, url, agent, deployment):
    client, _ = api_token(admin, Role.ADMIN)
    RoleGrant.objects.filter(user=admin, deployment=deployment).update(role=Role.OPERATOR)
    assert _cordon(client, url, agent).status_code == 200
    _assert_error(client.delete(url(f"/agents/{agent.pk}")), 403)
    RoleGrant.objects.filter(user=admin).delete()
    _assert_error(client.get(url("/agents")), 404)


def test_a_deactivated_users_token_is_refused(api_token, admin, url):
    client, _ = api_token(admin)
    admin.is_active = False
    admin.save()
    _assert_error(client.get(url("/agents")), 401)


def test_a_token_cannot_be_issued_above_the_users_role(operator, deployment, workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        ApiToken.objects.issue(operator, name="x", role=Role.ADMIN, deployment=deployment)
    assert "role" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        ApiToken.objects.issue(operator, name="x", role=Role.VIEWER, workspace=workspace)
    assert "scope" in error.value.message_dict


def test_a_session_post_without_csrf_token_is_refused(admin, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(url("/agent-tokens"), {"name": "x"}, content_type="application/json")
    data = _assert_error(response, 403)
    assert "CSRF" in data["message"]


def test_a_session_post_with_csrf_token_is_accepted(admin, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    client.get("/account/api-tokens/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url("/agent-tokens"),
        {"name": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
