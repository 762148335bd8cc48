"""Property tests against the served schema, with every Schemathesis check: no 5xx, responses as
declared, schema-violating requests refused, schema-valid ones accepted; then its stateful phase,
which follows the schema's links (create a token, read it, delete it, read it again).

The schema is loaded from the app itself (WSGI, no server). Generated requests use an admin's
API token and the real organisation and deployment, so they reach the views rather than stopping
at a 404; agent and token ids are real in about half of the cases. What a negative case made
invalid (a path id, the Authorization header) is sent as generated.

One documented choice (README, "Management API"): a schema-valid request can still break a rule
the schema cannot state, and then gets a 400 whose field errors carry one of BUSINESS_RULES'
codes; any other refusal of schema-valid data fails the test.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from agents.models import Agent
from alerts.models import Channel
from deployments.models import Role
from tokens.models import AgentToken

RANGE_RULES = {
    "invalid",  # the pattern admits 999.1.1.1 and 1:2:3; only a parser can say what is an address
    "prefix",
    "host_bits",
    "duplicate",
    "contained",
    "everything",  # 0.0.0.0/0 or ::/0 without confirmAllowAll
    "lockout",  # would lock out healthy agents, without confirmLockout
}
BUSINESS_RULES = {
    "createAgentToken": {"unique", "too_many"},  # a live token's name; 50 tokens per deployment
    "updateDeployment": RANGE_RULES,
    "updateDeploymentByPost": RANGE_RULES,
    # The schema cannot say that a webhook needs an http(s) URL, e-mail needs addresses, a name
    # is more than spaces, and that text holds no NUL characters (PostgreSQL cannot store them).
    "createAlertChannel": {
        "unique",
        "too_many",
        "url",
        "recipients",
        "blank",
        "null_characters_not_allowed",
    },
    "updateAlertChannel": {"unique", "url", "recipients", "blank", "null_characters_not_allowed"},
}

# Loaded when the module is collected (pytest-django has set Django up by then); the lazy
# fixture-based loader does not support this pytest version.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.yaml", WSGIHandler())

HYPOTHESIS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


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


def _negative(case) -> set:
    if case.meta is None:
        return set()
    return {where for where, info in case.meta.components.items() if info.mode.is_negative}


def _aim(case, world, *, swap_ids: bool = True) -> dict:
    """Point the case at the test's deployment and return the headers to send with it."""
    negative = _negative(case)
    if ParameterLocation.PATH not in negative:
        params = case.path_parameters
        params.update(org_id=world["org_id"], dep_id=world["dep_id"])
        # A generated id starting with an even hex digit is swapped for a real one.
        for key, model in (("agent_id", Agent), ("token_id", AgentToken), ("channel_id", Channel)):
            generated = str(params.get(key, ""))
            if swap_ids and generated[:1] in "02468ace" and generated:
                real = model.objects.filter(deployment_id=world["dep_id"])
                params[key] = str(real.values_list("pk", flat=True).first() or generated)
    if ParameterLocation.HEADER in negative and "Authorization" in (case.headers or {}):
        return {}
    return world["headers"]


def _excluded(case, response) -> list:
    """positive_data_acceptance is skipped only for a documented business-rule refusal."""
    allowed = BUSINESS_RULES.get(case.operation.definition.raw.get("operationId"), set())
    if response.status_code != 400 or not allowed:
        return []
    codes = {error["code"] for error in response.json().get("fieldErrors", [])}
    return [positive_data_acceptance] if codes and codes <= allowed else []


def _call_and_validate(case, headers: dict):
    response = case.call(headers=headers)
    case.validate_response(response, headers=headers, excluded_checks=_excluded(case, response))
    return response


@schema.parametrize()
@settings(max_examples=25, **HYPOTHESIS)
def test_it_honours_its_schema(case, world):
    _call_and_validate(case, _aim(case, world))


def test_its_workflows_honour_the_schema(world):
    class Workflows(schema.as_state_machine()):
        # Each scenario starts from the same data, so Hypothesis can replay and shrink one.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            # Ids come from the links (the token just created), so they are not swapped.
            self.headers = _aim(case, world, swap_ids=False)

        def call(self, case, **kwargs):
            return case.call(headers=self.headers)

        def validate_response(self, response, case, **kwargs):
            excluded = _excluded(case, response)
            case.validate_response(response, headers=self.headers, excluded_checks=excluded)

    run_state_machine_as_test(
        Workflows, settings=settings(max_examples=15, stateful_step_count=6, **HYPOTHESIS)
    )
