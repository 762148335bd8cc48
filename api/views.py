"""The management API: agent tokens, agents and a deployment's remote execution settings.

Every view starts with `access_for` (the UI's access check) and changes state only through
the same model methods the UI calls.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import liveness, store
from agents.models import Agent
from api import errors
from api import serializers as s
from api.access import access_for
from api.auth import ApiTokenAuthentication
from astro_ui.net import client_ip
from deployments import ipranges
from deployments.models import Deployment, Role
from tokens.models import AgentToken


def _errors(*codes: int) -> dict:
    """The error answers of an operation; every one may also be 429: too many wrong API tokens
    from the caller's address (api/auth.py)."""
    return {code: OpenApiResponse(s.ErrorSerializer) for code in (*codes, 429)}


ERRORS = _errors(400, 401, 403, 404)


class BoundedJSONParser(JSONParser):
    """JSON whose nesting Python's parser can follow: deeper bodies (`[[[[…`) are a 400, not a
    RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


class ManagementView(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return errors.api_exception_handler

    def ip(self) -> str | None:
        return client_ip(self.request) or None


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _page(rows, query: dict, key: str, serialize) -> Response:
    """One page of `rows` as {limit, offset, totalCount, <key>: serialize(items)}."""
    start, limit = query["offset"], query["limit"]
    items = list(rows[start : start + limit]) if limit else []
    page = {"limit": limit, "offset": start, "totalCount": rows.count()}
    return Response({**page, key: serialize(items)})


# --- agent tokens ----------------------------------------------------------------------------


def _tokens(deployment: Deployment):
    return (
        AgentToken.objects.filter(deployment=deployment)
        .live()
        .with_agent_counts()
        .select_related("created_by")
    )


class AgentTokenList(ManagementView):
    @extend_schema(
        operation_id="listAgentTokens",
        tags=["Agent tokens"],
        parameters=[s.TokenListQuerySerializer],
        responses={200: s.AgentTokenPageSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id).deployment
        query = _valid(s.TokenListQuerySerializer, request.query_params)
        rows = _tokens(deployment).order_by(*query.get("sorts", []), "-created_at", "id")
        return _page(
            rows, query, "tokens", lambda items: s.AgentTokenSerializer(items, many=True).data
        )

    @extend_schema(
        operation_id="createAgentToken",
        tags=["Agent tokens"],
        request=s.AgentTokenCreateSerializer,
        description="Answers 200, as the vendor's API does, with the token value in `token`: "
        "the only time it is shown.",
        responses={200: s.AgentTokenCreatedSerializer, **ERRORS},
    )
    def post(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        data = _valid(s.AgentTokenCreateSerializer, request.data)
        try:
            token, value = AgentToken.objects.issue(
                deployment,
                name=data["name"],
                description=data.get("description", ""),
                expires_in_days=data.get("tokenExpiryPeriodInDays"),
                by=request.user,
                ip=self.ip(),
            )
        except ValidationError as error:
            raise errors.from_django(
                error, {"expires_in_days": "tokenExpiryPeriodInDays"}
            ) from None
        # Read back through the list's query, so the new token carries its (zero) agent count.
        token = _tokens(deployment).get(pk=token.pk)
        body = {**s.AgentTokenSerializer(token).data, "token": value}
        return Response(body, headers={"Cache-Control": "no-store"})


class AgentTokenDetail(ManagementView):
    def token(self, deployment, token_id) -> AgentToken:
        return get_object_or_404(_tokens(deployment), pk=token_id)

    @extend_schema(
        operation_id="getAgentToken",
        tags=["Agent tokens"],
        responses={200: s.AgentTokenSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, org_id, dep_id, token_id):
        deployment = access_for(request, org_id, dep_id).deployment
        return Response(s.AgentTokenSerializer(self.token(deployment, token_id)).data)

    @extend_schema(
        operation_id="deleteAgentToken",
        tags=["Agent tokens"],
        responses={204: OpenApiResponse(description="Deleted"), **_errors(401, 403, 404)},
    )
    def delete(self, request, org_id, dep_id, token_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        self.token(deployment, token_id).revoke(by=request.user, ip=self.ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- agents ----------------------------------------------------------------------------------


def _agent_data(deployment: Deployment, agent: Agent) -> dict:
    return s.AgentSerializer(liveness.rows(liveness.read(deployment.pk), [agent])[0]).data


class HealthUnknown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The heartbeat store is unavailable, so agents cannot be filtered by health right now. "
        "Retry shortly, or list without the status filter (statuses then read UNKNOWN)."
    )
    default_code = "heartbeat_store_unavailable"


class AgentList(ManagementView):
    @extend_schema(
        operation_id="listAgents",
        tags=["Agents"],
        parameters=[s.AgentListQuerySerializer],
        responses={200: s.AgentPageSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id).deployment
        query = _valid(s.AgentListQuerySerializer, request.query_params)
        rows = Agent.objects.filter(deployment=deployment)
        if query.get("status") == "TERMINATED":
            rows = rows.filter(deleted_at__isnull=False)
        else:
            rows = rows.live()
        if query.get("search"):
            rows = rows.filter(name__icontains=query["search"].strip())
        if query.get("component"):
            rows = rows.filter(component=s.COMPONENTS[query["component"]])
        fleet = liveness.read(deployment.pk)
        if query.get("status"):
            if not fleet.ok and query["status"] not in ("UNKNOWN", "TERMINATED"):
                raise HealthUnknown()
            try:
                rows = rows.filter(fleet.status_q(query["status"].lower()))
            except store.Unavailable:
                raise HealthUnknown() from None
        rows = rows.order_by(*query.get("sorts", []), "name", "id")
        return _page(
            rows,
            query,
            "agents",
            lambda items: s.AgentSerializer(liveness.rows(fleet, items), many=True).data,
        )


class AgentDetail(ManagementView):
    @extend_schema(
        operation_id="getAgent",
        tags=["Agents"],
        description="Deleted agents are still returned, with status TERMINATED.",
        responses={200: s.AgentSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, org_id, dep_id, agent_id):
        deployment = access_for(request, org_id, dep_id).deployment
        agent = get_object_or_404(Agent, pk=agent_id, deployment=deployment)
        return Response(_agent_data(deployment, agent))

    @extend_schema(
        operation_id="deleteAgent",
        tags=["Agents"],
        description="Deletes (terminates) the agent. If it heartbeats again it registers anew.",
        responses={204: OpenApiResponse(description="Deleted"), **_errors(401, 403, 404)},
    )
    def delete(self, request, org_id, dep_id, agent_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        agent = get_object_or_404(Agent.objects.live(), pk=agent_id, deployment=deployment)
        agent.terminate(by=request.user, ip=self.ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentAction(ManagementView):
    @extend_schema(
        operation_id="actOnAgent",
        tags=["Agents"],
        description="CORDON: the agent takes no new work, running work continues. "
        "UNCORDON: it takes work again. CORDON of a cordoned agent with a new reason replaces "
        "the reason; otherwise repeating an action changes nothing.",
        request=s.AgentActionSerializer,
        responses={200: s.AgentSerializer, **ERRORS},
    )
    def post(self, request, org_id, dep_id, agent_id):
        deployment = access_for(request, org_id, dep_id, role=Role.OPERATOR).deployment
        agent = get_object_or_404(Agent.objects.live(), pk=agent_id, deployment=deployment)
        data = _valid(s.AgentActionSerializer, request.data)
        if data["action"] == "CORDON":
            agent.cordon(by=request.user, reason=data.get("reason", ""), ip=self.ip())
        else:
            agent.uncordon(by=request.user, ip=self.ip())
        agent.refresh_from_db()
        return Response(_agent_data(deployment, agent))


# --- the deployment --------------------------------------------------------------------------


def _deployment_data(request, deployment: Deployment) -> dict:
    return s.DeploymentSerializer(deployment, context={"request": request}).data


HINTS = {
    "everything": ' Send "confirmAllowAll": true to allow it.',
    "lockout": ' Send "confirmLockout": true to save it anyway.',
}


def _range_errors(error: ValidationError) -> exceptions.ValidationError:
    """parse_ranges / set_allowed_ip_ranges errors as field errors, each at its entry."""
    where: dict[str, list] = {}
    field = "remoteExecution.allowedIpAddressRanges"
    codes = [e.code or "invalid" for e in error.error_list]
    for (index, message), code in zip(ipranges.error_messages(error), codes, strict=True):
        path = "confirmLockout" if code == "lockout" else field
        path += "" if index is None else f".{index}"
        detail = exceptions.ErrorDetail(message + HINTS.get(code, ""), code=code)
        where.setdefault(path, []).append(detail)
    return exceptions.ValidationError(where)


UPDATE = (
    "Changes remote execution settings with the settings page's rules: ranges are validated and "
    'normalised; a list that would lock out healthy agents needs "confirmLockout": true, and '
    '0.0.0.0/0 or ::/0 needs "confirmAllowAll": true. Fields left out stay as they are.'
)


class DeploymentDetail(ManagementView):
    @extend_schema(
        operation_id="getDeployment",
        tags=["Deployment"],
        responses={200: s.DeploymentSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id).deployment
        return Response(_deployment_data(request, deployment))

    @extend_schema(
        operation_id="updateDeployment",
        tags=["Deployment"],
        description=UPDATE,
        request=s.DeploymentPatchSerializer,
        responses={200: s.DeploymentSerializer, **ERRORS},
    )
    def patch(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        data = _valid(s.DeploymentPatchSerializer, request.data)
        remote = data.get("remoteExecution", {})
        with transaction.atomic():
            if "allowedIpAddressRanges" in remote:
                try:
                    deployment.set_allowed_ip_ranges(
                        remote["allowedIpAddressRanges"],
                        by=request.user,
                        ip=self.ip(),
                        allow_everything=data["confirmAllowAll"],
                        allow_lockout=data["confirmLockout"],
                    )
                except ValidationError as error:
                    raise _range_errors(error) from None
            if "enabled" in remote:
                deployment.update_general(
                    remote_execution=remote["enabled"], by=request.user, ip=client_ip(request)
                )
        return Response(_deployment_data(request, deployment))

    @extend_schema(
        operation_id="updateDeploymentByPost",
        tags=["Deployment"],
        description=UPDATE + " The same as PATCH, for clients that update with POST as the "
        "vendor's API does; other fields of the vendor's request body are ignored.",
        request=s.DeploymentPatchSerializer,
        responses={200: s.DeploymentSerializer, **ERRORS},
    )
    def post(self, request, org_id, dep_id):
        return self.patch(request, org_id, dep_id)
