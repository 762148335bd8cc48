"""The agent API's contract as an OpenAPI 3.1 document, generated from its message types.

The document is committed as agents/openapi.yaml (a test keeps it equal to what this module
generates) and served at /api/agent/v1/openapi.yaml, next to the management API's
/api/v1/openapi.yaml. Regenerate with `python -m agents.openapi > agents/openapi.yaml`.
"""

import copy
import functools
import sys
from pathlib import Path

import msgspec
import yaml

from agents import messages

PATH = Path(__file__).with_name("openapi.yaml")
REF = "#/components/schemas/{name}"

ERRORS = {
    "400": "The body is not JSON (`malformed_json`) or breaks the contract (`invalid_body`, "
    "with `fields`)",
    "401": "No usable agent token: `token_missing`, `token_malformed`, `token_unknown`, "
    "`token_expired` or `token_revoked`",
    "403": "`ip_not_allowed` (with `ip`), `token_wrong_deployment` or `remote_execution_disabled`",
    "404": "`not_found` (no such endpoint) or `deployment_not_found` (not a deployment id)",
    "405": "`method_not_allowed`",
    "408": "`body_timeout`: the body did not arrive in time",
    "413": "`body_too_large`: over 64 KiB, however the body is framed",
    "429": "`too_many_attempts`: too many unknown tokens from this address; see Retry-After",
    "500": "`internal_error`: a fault of the server (logged with the request id)",
    "503": "`heartbeat_store_unavailable`; see Retry-After",
}


REPORT_ERRORS = {
    "404": "`not_found`, or `test_run_not_found` (no such test run in this deployment)",
    "409": "`test_run_not_yours` (another agent took it) or `test_run_finished`",
}


def document() -> dict:
    _, components = msgspec.json.schema_components(
        [
            messages.Heartbeat,
            messages.HeartbeatResponse,
            messages.TestRunReport,
            messages.TestRunReportResponse,
            messages.Error,
        ],
        ref_template=REF,
    )
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}}}
    responses = {
        "200": {
            "description": "The heartbeat is recorded",
            "content": {
                "application/json": {"schema": {"$ref": REF.format(name="HeartbeatResponse")}}
            },
        },
        **{code: {"description": text, **copy.deepcopy(error)} for code, text in ERRORS.items()},
    }
    report_responses = {
        "200": {
            "description": "The report is recorded",
            "content": {
                "application/json": {"schema": {"$ref": REF.format(name="TestRunReportResponse")}}
            },
        },
        **{
            code: {"description": text, **copy.deepcopy(error)}
            for code, text in {**ERRORS, **REPORT_ERRORS}.items()
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Remote Agents console: agent API",
            "version": "1",
            "description": "What agents call. Errors are always JSON {error, detail}.",
        },
        "servers": [{"url": "/api/agent/v1"}],
        "paths": {
            "/deployments/{deployment_id}/heartbeat": {
                "post": {
                    "operationId": "heartbeat",
                    "summary": (messages.Heartbeat.__doc__ or "").splitlines()[0],
                    "parameters": [
                        {
                            "name": "deployment_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "security": [{"agentToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": REF.format(name="Heartbeat")}}
                        },
                    },
                    "responses": responses,
                }
            },
            "/deployments/{deployment_id}/test-runs/{run_id}": {
                "post": {
                    "operationId": "reportTestRun",
                    "summary": (messages.TestRunReport.__doc__ or "").splitlines()[0],
                    "parameters": [
                        {
                            "name": name,
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                        for name in ("deployment_id", "run_id")
                    ],
                    "security": [{"agentToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": REF.format(name="TestRunReport")}
                            }
                        },
                    },
                    "responses": report_responses,
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"agentToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def text() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True)


@functools.cache
def served() -> bytes:
    """The committed document, as /api/agent/v1/openapi.yaml serves it."""
    return PATH.read_bytes()


OPERATIONS = {
    "heartbeat": "/deployments/{deployment_id}/heartbeat",
    "reportTestRun": "/deployments/{deployment_id}/test-runs/{run_id}",
}


def response_schema(status: int, operation_id: str = "heartbeat") -> dict:
    """A JSON Schema for the body of a response with this status, components included."""
    doc = document()
    operation = doc["paths"][OPERATIONS[operation_id]]["post"]
    response = operation["responses"].get(str(status))
    if response is None:
        raise KeyError(f"the agent API documents no {status} response")
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}


if __name__ == "__main__":
    sys.stdout.write(text())
