import re

import pytest

from api.models import ApiToken
from audit.models import AuditEvent
from deployments.models import Role
from tests.api.conftest import api_url

pytestmark = pytest.mark.django_db

PAGE = "/account/api-tokens/"


def test_it_lists_the_scopes_the_user_has(admin_client, deployment, other_deployment):
    body = admin_client.get(PAGE).content.decode()
    assert f'value="deployment:{deployment.pk}"' in body
    assert f"deployment:{other_deployment.pk}" not in body
    assert "workspace:" not in body


def test_it_creates_a_token_and_shows_the_value_once(admin_client, admin, deployment):
    response = admin_client.post(
        PAGE, {"name": "ci", "scope": f"deployment:{deployment.pk}", "role": Role.OPERATOR}
    )
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    value = re.search(r'value="(raapi_[0-9A-Za-z]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.role, token.deployment) == (admin, Role.OPERATOR, deployment)
    assert AuditEvent.objects.filter(action="api_token.create").exists()
    assert value not in admin_client.get(PAGE).content.decode()
    headers = {"Authorization": f"Bearer {value}"}
    assert admin_client.get(api_url(deployment, "/agents"), headers=headers).status_code == 200


def test_it_refuses_a_role_above_the_users(viewer_client, deployment):
    response = viewer_client.post(
        PAGE, {"name": "ci", "scope": f"deployment:{deployment.pk}", "role": Role.ADMIN}
    )
    assert "a token cannot have more than that" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_refuses_a_scope_the_user_cannot_see(stranger_client, deployment):
    response = stranger_client.post(
        PAGE, {"name": "ci", "scope": f"deployment:{deployment.pk}", "role": Role.VIEWER}
    )
    assert response.status_code == 200
    assert not ApiToken.objects.exists()


def test_it_revokes_only_the_users_own_tokens(admin_client, viewer_client, viewer, deployment):
    token, _ = ApiToken.objects.issue(viewer, name="mine", role=Role.VIEWER, deployment=deployment)
    assert admin_client.post(f"{PAGE}{token.pk}/revoke").status_code == 404
    response = viewer_client.post(f"{PAGE}{token.pk}/revoke")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "mine" not in viewer_client.get(PAGE).content.decode()


def test_revoking_needs_post(viewer_client, viewer, deployment):
    token, _ = ApiToken.objects.issue(viewer, name="mine", role=Role.VIEWER, deployment=deployment)
    assert viewer_client.get(f"{PAGE}{token.pk}/revoke").status_code == 405


def test_anonymous_is_sent_to_login(anonymous):
    response = anonymous.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_top_bar_links_to_it(admin_client):
    assert f'href="{PAGE}"' in admin_client.get(PAGE).content.decode()
