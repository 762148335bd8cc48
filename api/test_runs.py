"""Test runs in the management API: start one, read it, list a deployment's history.

The same model methods as the console's page; the same roles (Operators and Admins start runs,
everyone with a role reads them).
"""

from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from agents.models import Agent
from agents.runs import TestRun
from api.access import access_for
from api.serializers import (
    ListQuerySerializer,
    StrictCharField,
    page_serializer,
)
from api.views import ManagementView, _errors, _page, _valid
from deployments.models import Role

ERRORS = _errors(400, 401, 403, 404)


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["passed", "failed", "skipped", "not_checked"])
    detail = serializers.CharField(allow_blank=True)
    seconds = serializers.FloatField()


class TestRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    queue = serializers.CharField(allow_blank=True)
    agentId = serializers.UUIDField(source="agent_id", allow_null=True)
    state = serializers.ChoiceField(
        choices=["QUEUED", "TAKEN", "RUNNING", "PASSED", "FAILED", "TIMED_OUT"],
        source="api_state",
    )
    reason = serializers.CharField(allow_blank=True)
    takenByAgentId = serializers.UUIDField(source="taken_by_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    deadlineAt = serializers.DateTimeField(source="deadline_at")
    takenAt = serializers.DateTimeField(source="taken_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    checks = CheckSerializer(many=True)
    log = serializers.ListField(child=serializers.CharField(allow_blank=True))


NOT_BLANK = RegexValidator(r"\S", "Name a queue.", code="blank")


class TestRunCreateSerializer(serializers.Serializer):
    """Exactly one of agentId (that agent only) or queue (any eligible agent serving it)."""

    agentId = serializers.UUIDField(required=False)
    queue = StrictCharField(required=False, max_length=200, validators=[NOT_BLANK])

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({k: "Not a field of a test run." for k in unknown})
        if ("agentId" in attrs) == ("queue" in attrs):
            raise serializers.ValidationError("Give exactly one of agentId or queue.")
        return attrs


# The schema says what `validate` checks: one of two shapes.
CREATE_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "title": "On one agent",
            "properties": {"agentId": {"type": "string", "format": "uuid"}},
            "required": ["agentId"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "On any eligible agent serving a queue",
            "properties": {
                "queue": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
            },
            "required": ["queue"],
            "additionalProperties": False,
        },
    ]
}


class OneOfBodySchema(AutoSchema):
    """A raw request schema (CREATE_SCHEMA) is optional to drf-spectacular; this body is not."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


TestRunPageSerializer = page_serializer("TestRunPage", TestRunSerializer, "testRuns")


class TestRunList(ManagementView):
    schema = OneOfBodySchema()

    @extend_schema(
        operation_id="listTestRuns",
        tags=["Test runs"],
        parameters=[ListQuerySerializer],
        responses={200: TestRunPageSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id).deployment
        query = _valid(ListQuerySerializer, request.query_params)
        rows = TestRun.objects.filter(deployment=deployment).order_by("-created_at", "id")
        return _page(
            rows, query, "testRuns", lambda items: TestRunSerializer(items, many=True).data
        )

    @extend_schema(
        operation_id="createTestRun",
        tags=["Test runs"],
        request={"application/json": CREATE_SCHEMA},
        responses={200: TestRunSerializer, **ERRORS},
    )
    def post(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id, role=Role.OPERATOR).deployment
        data = _valid(TestRunCreateSerializer, request.data)
        agent = None
        if data.get("agentId"):
            agent = get_object_or_404(
                Agent.objects.live(), pk=data["agentId"], deployment=deployment
            )
        run = TestRun.objects.start(
            deployment,
            queue=data.get("queue", "").strip(),  # "  gpu " serves queue gpu
            agent=agent,
            by=request.user,
            ip=self.ip(),
        )
        return Response(TestRunSerializer(run).data)


class TestRunDetail(ManagementView):
    @extend_schema(
        operation_id="getTestRun",
        tags=["Test runs"],
        responses={200: TestRunSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id, run_id):
        deployment = access_for(request, org_id, dep_id).deployment
        run = get_object_or_404(TestRun.objects.filter(deployment=deployment), pk=run_id)
        return Response(TestRunSerializer(run).data)
