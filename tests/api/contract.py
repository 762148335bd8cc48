"""Two yardsticks for management API responses.

`vendor_problems` holds a response to what clients generated from the vendor's published OpenAPI
need: our own list, written from the vendor's documentation, of each object's required fields
and JSON types. Such clients fail on a missing required field, on a value of another type, on an
enum value they do not know and on a null where a string or date-time is declared; fields they
do not know they keep aside, so our additions are fine.

`schema_problems` holds a response to the OpenAPI document we serve ourselves, strictly: no
field it does not declare.
"""

from datetime import datetime
from functools import cache

import jsonschema
import yaml
from django.test import Client

STR, INT, BOOL, LIST, OBJ, TIME = "string", "integer", "boolean", "array", "object", "date-time"

SUBJECT = {
    "required": {"id"},
    "types": {
        "id": STR,
        "subjectType": STR,
        "username": STR,
        "fullName": STR,
        "avatarUrl": STR,
        "apiTokenName": STR,
    },
    "enums": {"subjectType": {"USER", "SERVICEKEY"}},
}

TOKEN_ROLE = {
    "required": {"entityId", "entityType", "role"},
    "types": {"entityId": STR, "entityType": STR, "role": STR, "deploymentId": STR},
    "enums": {"entityType": {"DEPLOYMENT", "WORKSPACE", "ORGANIZATION", "DAG", "DAG_TAG"}},
}

API_TOKEN = {
    "required": {
        "id",
        "name",
        "description",
        "shortToken",
        "kind",
        "scope",
        "startAt",
        "createdAt",
        "updatedAt",
    },
    "types": {
        "id": STR,
        "name": STR,
        "description": STR,
        "shortToken": STR,
        "kind": STR,
        "scope": STR,
        "roles": LIST,
        "startAt": TIME,
        "endAt": TIME,
        "expiryPeriodInDays": INT,
        "lastUsedAt": TIME,
        "lastRotatedAt": TIME,
        "createdAt": TIME,
        "createdBy": OBJ,
        "updatedAt": TIME,
        "updatedBy": OBJ,
        "token": STR,
    },
    "enums": {
        "kind": {"STANDARD", "DIRECT_ACCESS"},
        "scope": {"DEPLOYMENT", "WORKSPACE", "ORGANIZATION"},
    },
    "objects": {"createdBy": SUBJECT, "updatedBy": SUBJECT},
    "lists": {"roles": TOKEN_ROLE},
}

# The fourteen values the vendor's list operation declares for `sorts`.
TOKEN_SORTS = [
    f"{key}:{direction}"
    for key in (
        "name",
        "description",
        "createdAt",
        "updatedAt",
        "createdById",
        "updatedById",
        "tokenStartAt",
    )
    for direction in ("asc", "desc")
]

TOKEN_PAGE = {
    "required": {"limit", "offset", "totalCount", "tokens"},
    "types": {"limit": INT, "offset": INT, "totalCount": INT, "tokens": LIST},
    "lists": {"tokens": API_TOKEN},
}

AGENT = {
    "required": {
        "id",
        "name",
        "status",
        "isCordoned",
        "lastHeartbeatAt",
        "version",
        "queues",
        "slots",
        "capabilities",
        "createdAt",
    },
    "types": {
        "id": STR,
        "name": STR,
        "status": STR,
        "statusReason": STR,
        "isCordoned": BOOL,
        "cordoningReason": STR,
        "lastHeartbeatAt": TIME,
        "version": STR,
        "queues": LIST,
        "slots": OBJ,
        "capabilities": LIST,
        "createdAt": TIME,
        "deletedAt": TIME,
    },
    "enums": {"status": {"HEALTHY", "UNHEALTHY", "CORDONED", "TERMINATED"}},
}

REMOTE_EXECUTION = {
    "required": {"allowedIpAddressRanges", "enabled", "remoteApiUrl"},
    "types": {
        "allowedIpAddressRanges": LIST,
        "enabled": BOOL,
        "remoteApiUrl": STR,
        "taskLogBucket": STR,
        "taskLogUrlPattern": STR,
    },
}

DEPLOYMENT = {
    "required": {"id", "remoteExecution"},
    "types": {"id": STR, "remoteExecution": OBJ},
    "objects": {"remoteExecution": REMOTE_EXECUTION},
}


def _type_ok(value, kind: str) -> bool:
    if kind == TIME:
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    python = {STR: str, BOOL: bool, LIST: list, OBJ: dict}
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, python[kind])


def vendor_problems(data: dict, contract: dict, path: str = "") -> list[str]:
    """What a client generated from the vendor's schema would trip over in `data`."""
    problems = [f"{path}{name}: missing" for name in sorted(contract["required"] - set(data))]
    for name, value in data.items():
        kind = contract["types"].get(name)
        if kind is None:
            continue  # one of our additions
        if not _type_ok(value, kind):
            problems.append(f"{path}{name}: {value!r} is not {kind}")
            continue
        enum = contract.get("enums", {}).get(name)
        if enum is not None and value not in enum:
            problems.append(f"{path}{name}: {value!r} is not one of the vendor's values")
        if name in contract.get("objects", {}):
            problems += vendor_problems(value, contract["objects"][name], f"{path}{name}.")
        for index, item in enumerate(value if name in contract.get("lists", {}) else []):
            problems += vendor_problems(item, contract["lists"][name], f"{path}{name}.{index}.")
    return problems


# --- our own OpenAPI ---------------------------------------------------------------------------


@cache
def served_schema() -> dict:
    response = Client().get("/api/v1/openapi.yaml")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes a null type; refs point at components.
    Objects take no undeclared fields, so every field we send must be in the schema."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def schema_problems(response, operation_id: str) -> list[str]:
    """Where the response differs from what our served schema declares for its status code."""
    schema = served_schema()
    [operation] = [
        op
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and op.get("operationId") == operation_id
    ]
    declared = operation["responses"].get(str(response.status_code))
    if declared is None:
        return [f"status {response.status_code} is not declared for {operation_id}"]
    if "content" not in declared:
        return [] if not response.content else ["a body where none is declared"]
    body_schema = _json_schema(declared["content"]["application/json"]["schema"])
    body_schema["definitions"] = _json_schema(schema["components"]["schemas"])
    validator = jsonschema.Draft7Validator(body_schema, format_checker=jsonschema.FormatChecker())
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(response.json())
    ]
