"""Property tests against the served schema: no 5xx, and every response matches the schema.

The schema is loaded from the app itself (WSGI, no server). Generated requests use an admin's
API token and the real organisation and deployment, so they reach the views rather than stopping
at a 404; agent and token ids are real in about half of the cases.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agents.models import Agent
from alerts.models import Channel
from deployments.models import Role
from tokens.models import AgentToken

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded when the module is collected (pytest-django has set Django up by then); the lazy
# fixture-based loader does not support this pytest version.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.yaml", WSGIHandler())


@pytest.fixture
def world(deployment, admin, api_token, heartbeat):
    _, value = api_token(admin, Role.ADMIN)
    for name in ("worker-0", "worker-1"):
        heartbeat(name)
    Channel.objects.create_channel(
        deployment, kind="webhook", name="hook", url="http://127.0.0.1:9/"
    )
    # As Django's test client does: the WSGI handler must not close the test's connection (and
    # with it the transaction the test runs in) after each request. Done after the heartbeats,
    # because the test client reconnects these signals when its own request is over.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {
        "org_id": str(deployment.workspace.organization_id),
        "dep_id": str(deployment.pk),
        "headers": {"Authorization": f"Bearer {value}"},
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_ids(case, world) -> None:
    params = case.path_parameters
    params.update(org_id=world["org_id"], dep_id=world["dep_id"])
    # A generated id starting with an even hex digit is swapped for a real one.
    for key, model in (("agent_id", Agent), ("token_id", AgentToken), ("channel_id", Channel)):
        generated = str(params.get(key, ""))
        if generated[:1] in "02468ace" and generated:
            real = model.objects.filter(deployment_id=world["dep_id"]).values_list("pk", flat=True)
            params[key] = str(real.first() or generated)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_it_honours_its_schema(case, world):
    _real_ids(case, world)
    case.call_and_validate(headers=world["headers"], checks=CHECKS)
