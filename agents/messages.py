"""The agent API's messages as msgspec types: the body a heartbeat sends and what it gets back.

These types are the contract: the agent API validates with them and its OpenAPI document
(`agents/openapi.py`) is generated from them. Error messages and field paths are the documented
ones (`fields` in a 400 names each field, `slots` nests `used`/`total`).
"""

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

MAX_COUNT = 1_000_000
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
AGENT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")

Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
Component = Literal["worker", "dag-processor", "triggerer"]


def _text(limit: int, description: str) -> type:
    return Annotated[str, Meta(max_length=limit, description=description)]  # type: ignore[return-value]


class Slots(msgspec.Struct, forbid_unknown_fields=False):
    used: Count
    total: Count


class Heartbeat(msgspec.Struct, forbid_unknown_fields=False):
    """Report that an agent is alive; the first heartbeat of a name registers it."""

    name: Annotated[
        str,
        Meta(
            max_length=253,
            pattern=AGENT_NAME.pattern,
            description="Unique within the deployment; letters, digits, '.', '_', '-'",
        ),
    ]
    component: Component
    version: Annotated[str, Meta(max_length=64, pattern=SEMVER.pattern)]
    queues: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=200)]], Meta(max_length=100)
    ]
    slots: Slots
    hostname: _text(253, "The host the agent runs on")  # type: ignore[valid-type]
    airflow_version: _text(64, "Airflow version of the agent's image") = ""  # type: ignore[valid-type]
    python_version: _text(64, "Python version of the agent's image") = ""  # type: ignore[valid-type]
    running_tasks: Count = 0


class TestRunOffer(msgspec.Struct):
    """A test run for this agent: run the built-in check and report to test-runs/{id}."""

    __test__ = False  # not a pytest test class, whatever its name says

    id: Annotated[str, Meta(extra_json_schema={"format": "uuid"})]
    queue: str
    deadline: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class HeartbeatResponse(msgspec.Struct):
    agent_id: Annotated[str, Meta(extra_json_schema={"format": "uuid"})]
    status: Literal["healthy", "cordoned"]
    cordoned: bool
    cordon_reason: str
    heartbeat_interval_seconds: int
    server_time: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    test_run: TestRunOffer | msgspec.UnsetType = msgspec.UNSET


class Check(msgspec.Struct, forbid_unknown_fields=False):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    status: Literal["passed", "failed", "skipped", "not_checked"]
    detail: Annotated[str, Meta(max_length=2000)] = ""
    seconds: Annotated[float, Meta(ge=0, le=86_400)] = 0.0


class TestRunReport(msgspec.Struct, forbid_unknown_fields=False):
    """Report a test run's progress (running) or its result (passed, failed)."""

    __test__ = False

    name: Annotated[str, Meta(min_length=1, max_length=253, description="The agent's name")]
    state: Literal["running", "passed", "failed"]
    checks: Annotated[list[Check], Meta(max_length=20)] = []
    log: Annotated[list[Annotated[str, Meta(max_length=2000)]], Meta(max_length=50)] = []


class TestRunReportResponse(msgspec.Struct):
    __test__ = False

    id: Annotated[str, Meta(extra_json_schema={"format": "uuid"})]
    state: Literal["queued", "taken", "running", "passed", "failed", "timed_out"]


class Error(msgspec.Struct, forbid_unknown_fields=True):
    error: str
    detail: str
    fields: dict | msgspec.UnsetType = msgspec.UNSET
    ip: str | msgspec.UnsetType = msgspec.UNSET


class BodyError(Exception):
    """A heartbeat body that is not JSON (`malformed_json`) or breaks the contract
    (`invalid_body`, with the problems by field)."""

    def __init__(self, code: str, detail: str, fields: dict | None = None):
        super().__init__(detail)
        self.code, self.detail, self.fields = code, detail, fields


_decoder = msgspec.json.Decoder(Heartbeat)
_NUMBER = f"Must be a whole number from 0 to {MAX_COUNT}."
_MESSAGES = {
    "name": "Use letters, digits, '.', '_' or '-', starting and ending with a letter or digit.",
    "version": "Must be a semantic version such as 1.3.2.",
    "queues": "Each queue must be a non-blank string of at most 200 characters.",
    "running_tasks": _NUMBER,
    "used": _NUMBER,
    "total": _NUMBER,
}
_PATH = re.compile(r" - at `\$((?:\.[A-Za-z_]+|\[\d+\])*)`$")
_MISSING = re.compile(r"^Object missing required field `([A-Za-z_]+)`")


def parse(body: bytes) -> Heartbeat:
    """The heartbeat in a request body; raises BodyError."""
    try:
        beat = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError(
            "invalid_body", "The heartbeat body has errors; see fields.", _fields(str(exc))
        ) from None
    except msgspec.DecodeError as exc:
        raise BodyError("malformed_json", f"JSON parse error - {exc}") from None
    except RecursionError:
        # An unknown field is skipped, but still parsed: deep nesting there ends here.
        raise BodyError(
            "invalid_body",
            "The heartbeat body has errors; see fields.",
            {"non_field_errors": ["The JSON is nested too deeply."]},
        ) from None
    problems: dict[str, list[str] | dict[str, list[str]]] = {}
    if not beat.name.strip():
        problems["name"] = ["This field may not be blank."]
    if any(not q.strip() for q in beat.queues):
        problems["queues"] = [_MESSAGES["queues"]]
    if beat.slots.used > beat.slots.total:
        problems["slots"] = {"used": ["Cannot be more than total."]}
    if problems:
        raise BodyError("invalid_body", "The heartbeat body has errors; see fields.", problems)
    return beat


def _fields(message: str) -> dict:
    """msgspec names the first problem and where it is; say it in the documented shape."""
    match = _PATH.search(message)
    path = match.group(1) if match else ""
    names = [part for part in path.split(".") if part and not part.startswith("[")]
    names = [n.split("[")[0] for n in names]
    missing = _MISSING.match(message)
    if missing:
        names.append(missing.group(1))
        text = "This field is required."
    elif not names:
        return {"non_field_errors": ["Expected a JSON object."]}
    elif names == ["slots"]:
        return {"slots": {"non_field_errors": ["Expected an object with used and total."]}}
    elif names == ["queues"] and "length <= 100" in message:
        text = "Ensure this field has no more than 100 elements."
    elif names == ["queues"] and "Expected `array`" in message:
        text = "Expected a list of items but got a single value."
    elif names[-1] == "component":
        text = '"{}" is not a valid choice.'.format(message.split("'")[1] if "'" in message else "")
    elif "length <=" in message:
        limit = message.split("length <= ")[1].split(" ")[0]
        text = f"Ensure this field has no more than {limit} characters."
    elif names[-1] in _MESSAGES:
        text = _MESSAGES[names[-1]]
    elif "Expected `str`" in message:
        text = "Not a valid string."
    else:
        text = message.split(" - at ")[0]
    fields: dict = {}
    node = fields
    for name in names[:-1]:
        node = node.setdefault(name, {})
    node[names[-1]] = [text]
    return fields


_report_decoder = msgspec.json.Decoder(TestRunReport)


def parse_report(body: bytes) -> TestRunReport:
    """A test run report in a request body; raises BodyError, by field, as `parse` does."""
    detail = "The report has errors; see fields."
    try:
        return _report_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError("invalid_body", detail, _fields(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise BodyError("malformed_json", f"JSON parse error - {exc}") from None
    except RecursionError:
        raise BodyError(
            "invalid_body", detail, {"non_field_errors": ["The JSON is nested too deeply."]}
        ) from None
