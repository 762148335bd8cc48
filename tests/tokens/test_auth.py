"""AgentTokenAuthentication against the real Redis and database."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from astro_ui import keys
from tokens import auth, secret
from tokens.auth import AgentPrincipal, AgentTokenAuthentication, TokenInfo
from tokens.models import AgentToken
from tokens.tasks import flush_token_usage


class Probe(APIView):
    """The smallest agent API endpoint: it answers with what authentication found."""

    authentication_classes = [AgentTokenAuthentication]
    permission_classes: list = []

    def post(self, request, deployment_id):
        assert isinstance(request.user, AgentPrincipal)
        assert isinstance(request.auth, TokenInfo)
        return Response({"token": str(request.auth.id), "name": request.auth.name})


def call(deployment_id, authorization=None, ip="203.0.113.7"):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    request = APIRequestFactory().post(
        f"/api/agent/v1/deployments/{deployment_id}/heartbeat",
        {},
        format="json",
        REMOTE_ADDR=ip,
        **headers,
    )
    response = Probe.as_view()(request, deployment_id=deployment_id)
    response.render()
    return response


def bearer(value: str) -> str:
    return f"Bearer {value}"


def assert_refused(response, code: str, status: int = 401) -> None:
    assert response.status_code == status
    assert response.data["detail"].code == code
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="agent-api"'


def test_it_accepts_a_valid_token(deployment, issue):
    token, value = issue(deployment)
    response = call(deployment.pk, bearer(value))
    assert response.status_code == 200
    assert response.data == {"token": str(token.pk), "name": token.name}


def test_it_authenticates_with_no_sql_once_the_token_is_cached(
    deployment, issue, django_assert_num_queries
):
    _, value = issue(deployment)
    with django_assert_num_queries(1):
        assert call(deployment.pk, bearer(value)).status_code == 200
    with django_assert_num_queries(0):
        assert call(deployment.pk, bearer(value)).status_code == 200
        assert call(deployment.pk, bearer(value)).status_code == 200


def test_it_rejects_a_missing_header(deployment):
    response = call(deployment.pk)
    assert_refused(response, "token_missing")
    assert "Authorization: Bearer" in str(response.data["detail"])


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Token abc"])
def test_it_rejects_a_header_that_is_not_a_bearer_token(deployment, header):
    assert_refused(call(deployment.pk, header), "token_malformed")


def test_it_rejects_a_mistyped_token_without_touching_redis_or_the_database(
    deployment, issue, redis_client, django_assert_num_queries
):
    _, value = issue(deployment)
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    with django_assert_num_queries(0):
        for bad in [value[:-1], value + "x", value.replace("ragt_", "rgt_x"), "ragt_ü", flipped]:
            response = call(deployment.pk, bearer(bad))
            assert_refused(response, "token_malformed")
    assert "checksum" in str(response.data["detail"])
    assert redis_client.dbsize() == 0


def test_it_rejects_an_unknown_token(deployment):
    response = call(deployment.pk, bearer(secret.generate()))
    assert_refused(response, "token_unknown")
    assert "create a new one" in str(response.data["detail"])


def test_it_remembers_unknown_tokens_briefly(deployment, django_assert_num_queries):
    value = secret.generate()
    call(deployment.pk, bearer(value))
    with django_assert_num_queries(0):
        assert_refused(call(deployment.pk, bearer(value)), "token_unknown")


def test_it_rejects_an_expired_token(deployment, issue):
    token, value = issue(deployment, expires_in_days=7)
    AgentToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    response = call(deployment.pk, bearer(value))
    assert_refused(response, "token_expired")
    assert "expired" in str(response.data["detail"])


def test_a_cached_token_stops_working_when_it_expires(deployment, issue, django_assert_num_queries):
    token, value = issue(deployment, expires_in_days=7)
    AgentToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(seconds=1))
    assert call(deployment.pk, bearer(value)).status_code == 200
    time.sleep(1.1)
    with django_assert_num_queries(0):
        assert_refused(call(deployment.pk, bearer(value)), "token_expired")


def test_a_revoked_token_fails_on_the_very_next_request(
    deployment, issue, admin, django_capture_on_commit_callbacks
):
    token, value = issue(deployment)
    assert call(deployment.pk, bearer(value)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        token.revoke(by=admin)
    response = call(deployment.pk, bearer(value))
    assert_refused(response, "token_revoked")
    assert "was deleted" in str(response.data["detail"])
    assert_refused(call(deployment.pk, bearer(value)), "token_revoked")


def test_a_revoked_token_is_refused_even_if_it_was_never_cached(deployment, issue, admin):
    token, value = issue(deployment)
    token.revoke(by=admin)
    assert_refused(call(deployment.pk, bearer(value)), "token_revoked")


def test_a_stale_read_cannot_cache_a_revoked_token_as_live(
    deployment, issue, admin, redis_client, django_capture_on_commit_callbacks
):
    token, value = issue(deployment)
    with django_capture_on_commit_callbacks(execute=True):
        token.revoke(by=admin)
    # A request that read the row before the revoke committed now tries to cache it as live.
    key = keys.token(deployment.pk, token.digest)
    live_copy = {"id": str(token.pk), "name": token.name, "exp": None, "revoked": False}
    assert not redis_client.set(key, json.dumps(live_copy), nx=True)
    assert_refused(call(deployment.pk, bearer(value)), "token_revoked")


def test_it_refuses_a_token_of_another_deployment_and_names_both(
    deployment, other_deployment, issue
):
    _, value = issue(deployment)
    response = call(other_deployment.pk, bearer(value))
    assert_refused(response, "token_wrong_deployment", status=403)
    detail = str(response.data["detail"])
    assert str(deployment.pk) in detail
    assert str(other_deployment.pk) in detail


def test_it_records_use_at_most_once_a_minute_and_the_task_flushes_it(
    deployment, issue, redis_client, django_assert_num_queries
):
    token, value = issue(deployment)
    call(deployment.pk, bearer(value), ip="198.51.100.4")
    token.refresh_from_db()
    assert token.last_used_at is None, "a request must not write to the database"

    assert flush_token_usage() == 1
    token.refresh_from_db()
    assert token.last_used_ip == "198.51.100.4"
    assert timezone.now() - token.last_used_at < timedelta(seconds=10)

    with django_assert_num_queries(0):
        call(deployment.pk, bearer(value), ip="198.51.100.5")
    assert not redis_client.exists(auth.USAGE_KEY)
    assert flush_token_usage() == 0
    token.refresh_from_db()
    assert token.last_used_ip == "198.51.100.4"


def test_the_flush_writes_many_tokens_in_one_statement(
    deployment, issue, django_assert_num_queries
):
    values = [issue(deployment, name=f"t{i}")[1] for i in range(5)]
    for value in values:
        call(deployment.pk, bearer(value))
    with django_assert_num_queries(1):
        assert flush_token_usage() == 5
    assert AgentToken.objects.filter(last_used_ip="203.0.113.7").count() == 5


def test_the_openapi_schema_describes_the_bearer_scheme():
    from django.urls import path
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator(patterns=[path("probe/<uuid:deployment_id>/", Probe.as_view())])
    schema = generator.get_schema(request=None, public=True)
    assert schema["components"]["securitySchemes"]["agentToken"]["scheme"] == "bearer"
