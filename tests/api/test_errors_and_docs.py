import logging

import pytest
import yaml
from django.contrib.staticfiles import finders

from astro_ui.request_id import RequestIdFilter
from tests.api.test_agent_tokens import _assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/",
        "/api/v1/nothing-here",
        "/api/v1/organizations/1/deployments/2/agents",
        "/api/v1/organizations/{org}/deployments/{dep}/agents/not-a-uuid",
        "/api/v1/organizations/{org}/deployments/{dep}/agents/",
        "/api/v1/organizations/{org}/deployments/a%0Ab/agents",  # an encoded newline
    ],
)
def test_unknown_api_paths_answer_json_404(admin_client, deployment, path):
    path = path.format(org=deployment.workspace.organization_id, dep=deployment.pk)
    response = admin_client.get(path)
    assert response["Content-Type"] == "application/json"
    _assert_error(response, 404)


def test_every_response_carries_a_request_id(admin_client, url):
    first = admin_client.get(url())
    second = admin_client.get("/account/api-tokens/")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_it_keeps_a_safe_incoming_request_id(stranger_client, url):
    response = stranger_client.get(url(), headers={"X-Request-ID": "lb-1234.abcd_EF"})
    assert response["X-Request-ID"] == "lb-1234.abcd_EF"
    assert response.json()["requestId"] == "lb-1234.abcd_EF"


@pytest.mark.parametrize("incoming", ["short", "has space in it", "x" * 65, "new\nline-abcdef"])
def test_it_replaces_an_unsafe_incoming_request_id(stranger_client, url, incoming):
    response = stranger_client.get(url(), headers={"X-Request-ID": incoming})
    assert response["X-Request-ID"] != incoming
    assert response.json()["requestId"] == response["X-Request-ID"]


def test_the_log_line_of_an_error_carries_the_request_id(stranger_client, url, caplog):
    caplog.set_level(logging.INFO, logger="api")
    response = stranger_client.get(url(), headers={"X-Request-ID": "trace-me-0001"})
    assert response.status_code == 404
    [record] = [r for r in caplog.records if r.name == "api"]
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RequestIdFilter) for f in h.filters)
    )
    handler.filter(record)
    line = handler.format(record)
    assert "[trace-me-0001]" in line
    assert "-> 404" in line


def test_the_schema_covers_the_management_api_only(anonymous):
    response = anonymous.get("/api/v1/openapi.yaml")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert all(p.startswith("/api/v1/organizations/") for p in paths)
    assert not any("heartbeat" in p for p in paths)
    operations = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert operations == {
        "getDeployment",
        "updateDeployment",
        "updateDeploymentByPost",
        "listAgentTokens",
        "createAgentToken",
        "getAgentToken",
        "deleteAgentToken",
        "listAgents",
        "getAgent",
        "deleteAgent",
        "actOnAgent",
        "listTestRuns",
        "createTestRun",
        "getTestRun",
        "listAlertChannels",
        "createAlertChannel",
        "getAlertChannel",
        "updateAlertChannel",
        "deleteAlertChannel",
        "testAlertChannel",
        "listAlertDeliveries",
    }
    assert set(schema["components"]["securitySchemes"]) == {"apiToken", "cookieAuth"}
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "requestId", "statusCode", "fieldErrors"}


def test_the_docs_load_their_assets_from_our_static_files(anonymous):
    response = anonymous.get("/api/v1/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
    assert "cdn" not in body.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_an_unknown_path_answers_json_to_a_session_post_without_csrf(admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    _assert_error(client.delete("/api/v1/organizations/x/deployments/y/agent-tokens/null"), 404)


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("post", "/agent-tokens"),
        ("post", "/agents/{agent}/action"),
        ("patch", ""),
        ("post", ""),
    ],
)
def test_deeply_nested_json_is_a_400_in_the_error_shape(
    api_token, admin, url, agent, method, suffix, depth
):
    client, _ = api_token(admin)
    path = url(suffix.format(agent=agent.pk))
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = getattr(client, method)(path, body, content_type="application/json")
        data = _assert_error(response, 400)
        assert "nested too deeply" in data["message"]
