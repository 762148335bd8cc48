"""The agent-facing API: what agents in customers' clusters call. JSON in, JSON out.

Every error body is {"error": <code>, "detail": <what went wrong and what to do>} so an operator
reading agent logs can tell a stale token from a wrong deployment id from a blocked network.
"""

import contextlib
import json
import re

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from agents import store
from agents.liveness import utc_datetime
from agents.models import Agent, Component
from astro_ui import redis_client
from astro_ui.net import client_ip
from deployments.ipranges import check_agent_ip, ranges_key
from tokens import secret
from tokens.auth import AgentTokenAuthentication
from tokens.auth import entry_key as token_entry_key

MAX_BODY_BYTES = 64 * 1024
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
AGENT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB."
    default_code = "body_too_large"


class RemoteExecutionOff(exceptions.PermissionDenied):
    default_code = "remote_execution_disabled"


class StoreUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The heartbeat store is unavailable. Retry shortly."
    default_code = "heartbeat_store_unavailable"


class SlotsSerializer(serializers.Serializer):
    used = serializers.IntegerField(min_value=0, max_value=1_000_000)
    total = serializers.IntegerField(min_value=0, max_value=1_000_000)

    def validate(self, attrs):
        if attrs["used"] > attrs["total"]:
            raise serializers.ValidationError({"used": "Cannot be more than total."})
        return attrs


class HeartbeatSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=253)
    component = serializers.ChoiceField(choices=Component.values)
    version = serializers.CharField(max_length=64)
    queues = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=100, allow_empty=True
    )
    slots = SlotsSerializer()
    hostname = serializers.CharField(max_length=253, allow_blank=True)
    airflow_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    python_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    running_tasks = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)

    def validate_name(self, value: str) -> str:
        if not AGENT_NAME.match(value):
            raise serializers.ValidationError(
                "Use letters, digits, '.', '_' or '-', starting and ending with a letter or digit."
            )
        return value

    def validate_version(self, value: str) -> str:
        if not SEMVER.match(value):
            raise serializers.ValidationError("Must be a semantic version such as 1.3.2.")
        return value


_TEXT = {"name": 253, "version": 64, "hostname": 253, "airflow_version": 64, "python_version": 64}
_REQUIRED = ("name", "component", "version", "queues", "slots", "hostname")
_MAX_COUNT = 1_000_000


def validate_heartbeat(data) -> dict:
    """What HeartbeatSerializer checks, without its per-request cost on the hot path.

    HeartbeatSerializer stays the documented contract; tests hold the two to the same answers.
    """
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict = {}
    for field in _REQUIRED:
        if field not in data:
            errors[field] = ["This field is required."]
    for field, limit in _TEXT.items():
        value = data.get(field)
        if field not in data:
            continue
        if not isinstance(value, str):
            errors[field] = ["Not a valid string."]
        elif len(value) > limit:
            errors[field] = [f"Ensure this field has no more than {limit} characters."]
        elif not value.strip() and field in ("name", "version"):
            errors[field] = ["This field may not be blank."]
    if "name" not in errors and "name" in data and not AGENT_NAME.match(data["name"]):
        errors["name"] = [
            "Use letters, digits, '.', '_' or '-', starting and ending with a letter or digit."
        ]
    if "version" not in errors and "version" in data and not SEMVER.match(data["version"]):
        errors["version"] = ["Must be a semantic version such as 1.3.2."]
    if "component" in data and data["component"] not in Component.values:
        errors["component"] = [f'"{data["component"]}" is not a valid choice.']
    queues = data.get("queues")
    if "queues" in data:
        if not isinstance(queues, list):
            errors["queues"] = ['Expected a list of items but got type "str".']
        elif len(queues) > 100:
            errors["queues"] = ["Ensure this field has no more than 100 elements."]
        elif any(not isinstance(q, str) or not q.strip() or len(q) > 200 for q in queues):
            errors["queues"] = ["Each queue must be a non-blank string of at most 200 characters."]
    if "slots" in data:
        slots_errors = _slots_errors(data["slots"])
        if slots_errors:
            errors["slots"] = slots_errors
    running = data.get("running_tasks", 0)
    if not _count(running):
        errors["running_tasks"] = [f"Must be a whole number from 0 to {_MAX_COUNT}."]
    if errors:
        raise serializers.ValidationError(errors)
    return data


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT


def _slots_errors(slots):
    if not isinstance(slots, dict):
        return {"non_field_errors": ["Expected an object with used and total."]}
    errors = {
        k: [f"Must be a whole number from 0 to {_MAX_COUNT}."]
        for k in ("used", "total")
        if not _count(slots.get(k))
    }
    if not errors and slots["used"] > slots["total"]:
        errors["used"] = ["Cannot be more than total."]
    return errors


class HeartbeatResponseSerializer(serializers.Serializer):
    agent_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["healthy", "cordoned"])
    cordoned = serializers.BooleanField()
    cordon_reason = serializers.CharField(allow_blank=True)
    heartbeat_interval_seconds = serializers.IntegerField()
    server_time = serializers.DateTimeField()


class AgentErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()


def agent_exception_handler(exc, context):
    if isinstance(exc, store.Unavailable):
        exc = StoreUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": "invalid_body",
            "detail": "The heartbeat body has errors; see fields.",
            "fields": exc.detail,
        }
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"error": "malformed_json", "detail": str(exc.detail)}
    elif isinstance(response.data, dict) and "error" in response.data:
        pass  # already in our shape (e.g. ip_not_allowed)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "error": codes if isinstance(codes, str) else exc.default_code,
            "detail": str(exc.detail),
        }
    if isinstance(exc, StoreUnavailable):
        response["Retry-After"] = "5"
    return response


class AgentAPIView(APIView):
    authentication_classes = [AgentTokenAuthentication]
    permission_classes: list = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return agent_exception_handler

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        self.prefetch(request, str(kwargs["deployment_id"]))
        # The network check comes first: a blocked address learns nothing about tokens.
        check_agent_ip(request, kwargs["deployment_id"])
        super().initial(request, *args, **kwargs)

    def prefetch(self, request, dep: str) -> None:
        """Read what this request will need from Redis in one round trip: the allowed ranges,
        the token's cache entry and the agent's. A failure here is left to each owner's own
        fallback (the database for ranges and tokens, a 503 for heartbeats)."""
        keys = [ranges_key(dep), store.k_enabled(dep)]
        value = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if secret.is_well_formed(value):
            keys.append(token_entry_key(secret.digest(value)))
        fields = []
        name = _peek_name(request)
        if name:
            fields.append((store.k_agents(dep), name))
        with contextlib.suppress(*store.Unavailable):
            redis_client.prefetch(request, keys, fields)


def _peek_name(request) -> str | None:
    try:
        name = json.loads(request.body).get("name")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


class HeartbeatView(AgentAPIView):
    serializer_class = HeartbeatSerializer

    @extend_schema(
        tags=["agent"],
        request=HeartbeatSerializer,
        responses={
            200: HeartbeatResponseSerializer,
            **{code: AgentErrorSerializer for code in (400, 401, 403, 413, 503)},
        },
        summary="Report that an agent is alive; the first heartbeat of a name registers it",
    )
    def post(self, request, deployment_id):
        dep = str(deployment_id)
        if not store.remote_execution_enabled(dep, request):
            raise RemoteExecutionOff(
                f"Remote execution is switched off for deployment {dep}, so it takes no agents. "
                "An Admin can switch it on under the deployment's Settings."
            )
        data = validate_heartbeat(request.data)
        at = store.now()
        fields = {
            "at": at,
            "component": data["component"],
            "version": data["version"],
            "airflow_version": data.get("airflow_version", ""),
            "python_version": data.get("python_version", ""),
            "queues": data["queues"],
            "slots_used": data["slots"]["used"],
            "slots_total": data["slots"]["total"],
            "running_tasks": data.get("running_tasks", 0),
            "hostname": data["hostname"],
            "last_ip": client_ip(request),
            "token_id": str(request.auth.id),
        }
        entry = store.lookup(dep, data["name"], request)
        if entry is None:
            agent = Agent.objects.register(
                dep, data["name"], fields=fields, token_id=request.auth.id
            )
            entry = {"id": str(agent.pk), "cordon": agent.cordon_state}
        store.beat(dep, entry["id"], fields, at)
        cordoned = entry["cordon"] is not None
        return Response(
            {
                "agent_id": entry["id"],
                "status": "cordoned" if cordoned else "healthy",
                "cordoned": cordoned,
                "cordon_reason": entry["cordon"] or "",
                "heartbeat_interval_seconds": settings.HEARTBEAT_INTERVAL_SECONDS,
                "server_time": _iso(at),
            }
        )


def _iso(ts: float) -> str:
    return utc_datetime(ts).isoformat().replace("+00:00", "Z")
