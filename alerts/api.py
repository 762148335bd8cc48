"""Management API for notification channels and their delivery log: the UI's rules and roles
(everyone with a role reads; Admins manage), the API's error shape."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from alerts import serializers as s
from alerts.models import Channel
from api import errors
from api.access import access_for
from api.views import ManagementView, _errors, _page, _valid
from deployments.models import Role

ERRORS = _errors(400, 401, 403, 404)
TAGS = ["Alerts"]


def _shown(channel: Channel) -> Channel:
    # The serializer reads these: the API's names for the kind and the rules.
    channel.api_kind = channel.kind.upper()  # type: ignore[attr-defined]
    channel.api_rules = {  # type: ignore[attr-defined]
        name: getattr(channel, field) for name, field in s.RULE_FIELDS.items()
    }
    return channel


def _fields(data: dict) -> dict:
    """Model fields from a validated create or patch body."""
    fields = {k: data[k] for k in ("name", "url", "recipients") if k in data}
    for name, value in data.get("rules", {}).items():
        fields[s.RULE_FIELDS[name]] = value
    return fields


def _model_errors(error: ValidationError):
    return errors.from_django(error, s.ERROR_FIELDS)


def _channels(deployment):
    return Channel.objects.filter(deployment=deployment).select_related("created_by")


class ChannelList(ManagementView):
    @extend_schema(
        operation_id="listAlertChannels",
        tags=TAGS,
        parameters=[s.ChannelListQuerySerializer],
        responses={200: s.ChannelPageSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id).deployment
        query = _valid(s.ChannelListQuerySerializer, request.query_params)
        rows = _channels(deployment).order_by(*query.get("sorts", []), "name", "id")
        return _page(
            rows,
            query,
            "channels",
            lambda items: s.ChannelSerializer([_shown(c) for c in items], many=True).data,
        )

    @extend_schema(
        operation_id="createAlertChannel",
        tags=TAGS,
        description="A WEBHOOK channel's signing secret is in this response only.",
        request=s.ChannelCreateSerializer,
        responses={201: s.ChannelCreatedSerializer, **ERRORS},
    )
    def post(self, request, org_id, dep_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        data = _valid(s.ChannelCreateSerializer, request.data)
        try:
            channel, secret = Channel.objects.create_channel(
                deployment,
                kind=s.KINDS[data["type"]],
                by=request.user,
                ip=self.ip(),
                **_fields(data),
            )
        except ValidationError as error:
            raise _model_errors(error) from None
        body = {**s.ChannelSerializer(_shown(channel)).data, "signingSecret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ChannelDetail(ManagementView):
    def channel(self, deployment, channel_id) -> Channel:
        channel = get_object_or_404(_channels(deployment), pk=channel_id)
        channel.deployment = deployment
        return channel

    @extend_schema(
        operation_id="getAlertChannel",
        tags=TAGS,
        responses={200: s.ChannelSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, org_id, dep_id, channel_id):
        deployment = access_for(request, org_id, dep_id).deployment
        return Response(s.ChannelSerializer(_shown(self.channel(deployment, channel_id))).data)

    @extend_schema(
        operation_id="updateAlertChannel",
        tags=TAGS,
        description="Changes the name, destination, rules, or enables/disables the channel. "
        "The type cannot change.",
        request=s.ChannelPatchSerializer,
        responses={200: s.ChannelSerializer, **ERRORS},
    )
    def patch(self, request, org_id, dep_id, channel_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        channel = self.channel(deployment, channel_id)
        data = _valid(s.ChannelPatchSerializer, request.data)
        try:
            channel.update(by=request.user, ip=self.ip(), **_fields(data))
        except ValidationError as error:
            raise _model_errors(error) from None
        if data.get("enabled") is True and not channel.enabled:
            channel.enable(by=request.user, ip=self.ip())
        elif data.get("enabled") is False and channel.enabled:
            channel.disable(by=request.user, ip=self.ip())
        return Response(s.ChannelSerializer(_shown(channel)).data)

    @extend_schema(
        operation_id="deleteAlertChannel",
        tags=TAGS,
        responses={204: OpenApiResponse(description="Deleted"), **_errors(401, 403, 404)},
    )
    def delete(self, request, org_id, dep_id, channel_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        self.channel(deployment, channel_id).remove(by=request.user, ip=self.ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _delivery_data(items) -> list:
    return list(s.DeliverySerializer(items, many=True).data)


class DeliveryList(ManagementView):
    @extend_schema(
        operation_id="listAlertDeliveries",
        tags=TAGS,
        description="The channel's delivery log, newest first.",
        parameters=[s.DeliveryListQuerySerializer],
        responses={200: s.DeliveryPageSerializer, **ERRORS},
    )
    def get(self, request, org_id, dep_id, channel_id):
        deployment = access_for(request, org_id, dep_id).deployment
        channel = get_object_or_404(Channel, pk=channel_id, deployment=deployment)
        query = _valid(s.DeliveryListQuerySerializer, request.query_params)
        rows = channel.deliveries.order_by(*query.get("sorts", []), "-created_at", "id")
        return _page(rows, query, "deliveries", _delivery_data)


class ChannelTest(ManagementView):
    @extend_schema(
        operation_id="testAlertChannel",
        tags=TAGS,
        description="Queues a test message; follow it in the delivery log.",
        request=None,
        responses={202: s.DeliverySerializer, **_errors(401, 403, 404)},
    )
    def post(self, request, org_id, dep_id, channel_id):
        deployment = access_for(request, org_id, dep_id, role=Role.ADMIN).deployment
        channel = get_object_or_404(Channel, pk=channel_id, deployment=deployment)
        channel.deployment = deployment
        delivery = channel.send_test(by=request.user)
        return Response(_delivery_data([delivery])[0], status=status.HTTP_202_ACCEPTED)
