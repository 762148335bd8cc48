"""The management API's shapes for notification channels and their delivery log."""

from rest_framework import serializers

from alerts.models import Kind
from api.serializers import ListQuerySerializer, page_serializer

KINDS = {k.value.upper(): k.value for k in Kind}

# API name -> model field, for the rules object.
RULE_FIELDS = {
    "agentSilent": "on_silent",
    "agentSilentMinutes": "silent_minutes",
    "queueWithoutHealthyAgent": "on_queue",
    "tokenExpiry": "on_tokens",
    "refusedAddresses": "on_refusals",
    "refusedAddressesPerHour": "refusals_per_hour",
    "unsupportedVersion": "on_versions",
}
# Model field -> dotted API path, for the model's validation errors.
ERROR_FIELDS = {field: f"rules.{name}" for name, field in RULE_FIELDS.items()}


class RulesSerializer(serializers.Serializer):
    agentSilent = serializers.BooleanField(required=False)
    agentSilentMinutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    queueWithoutHealthyAgent = serializers.BooleanField(required=False)
    tokenExpiry = serializers.BooleanField(
        required=False, help_text="A token expiring within 7 days, and an expired token."
    )
    refusedAddresses = serializers.BooleanField(required=False)
    refusedAddressesPerHour = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False
    )
    unsupportedVersion = serializers.BooleanField(
        required=False, help_text="An agent on a version the vendor no longer maintains."
    )


class ChannelSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=list(KINDS), source="api_kind")
    destination = serializers.CharField(
        help_text="The URL (a Slack webhook URL masked: it is a credential) or the addresses."
    )
    recipients = serializers.ListField(child=serializers.CharField())
    rules = RulesSerializer(source="api_rules")
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(source="disabled_reason")
    disabledAt = serializers.DateTimeField(source="disabled_at", allow_null=True)
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by.username", allow_null=True, default=None)


class ChannelCreatedSerializer(ChannelSerializer):
    signingSecret = serializers.CharField(
        allow_null=True, help_text="Webhooks only. Shown in this response only."
    )


class ChannelWriteSerializer(serializers.Serializer):
    # Text is passed on as sent: the channel's own checks say what is wrong with it (a blank
    # name, an address that is not one), so the UI and the API give the same answer.
    name = serializers.CharField(max_length=100, trim_whitespace=False)
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254, allow_blank=True, trim_whitespace=False),
        required=False,
        max_length=100,
    )
    rules = RulesSerializer(required=False)


class ChannelCreateSerializer(ChannelWriteSerializer):
    type = serializers.ChoiceField(choices=list(KINDS))


class ChannelPatchSerializer(ChannelWriteSerializer):
    name = serializers.CharField(max_length=100, required=False, trim_whitespace=False)
    enabled = serializers.BooleanField(
        required=False,
        help_text="true enables a disabled channel (failures reset); false disables it.",
    )


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    createdAt = serializers.DateTimeField(source="created_at")
    rules = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["PENDING", "RETRYING", "DELIVERED", "FAILED"], source="api_status"
    )
    attempts = serializers.IntegerField()
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseExcerpt = serializers.CharField(source="response_excerpt")
    error = serializers.CharField()
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)


class ChannelListQuerySerializer(ListQuerySerializer):
    SORTS = {"name": "name", "createdAt": "created_at"}


class DeliveryListQuerySerializer(ListQuerySerializer):
    SORTS = {"createdAt": "created_at"}


ChannelPageSerializer = page_serializer("AlertChannelPage", ChannelSerializer, "channels")
DeliveryPageSerializer = page_serializer("DeliveryPage", DeliverySerializer, "deliveries")
