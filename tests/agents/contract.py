"""Checks agent API responses against its OpenAPI document (agents/openapi.yaml)."""

import functools

import jsonschema
import yaml

from agents import openapi


@functools.cache
def _validator(status: int, operation_id: str) -> jsonschema.Draft202012Validator:
    doc = yaml.safe_load(openapi.served())
    operation = doc["paths"][openapi.OPERATIONS[operation_id]]["post"]
    response = operation["responses"].get(str(status))
    assert response is not None, f"{operation_id} documents no {status} response"
    schema = response["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def assert_conforms(status: int, body: dict, operation_id: str = "heartbeat") -> None:
    errors = [e.message for e in _validator(status, operation_id).iter_errors(body)]
    assert not errors, f"{status} {body} breaks agents/openapi.yaml: {errors}"
