"""The management API's request and response shapes. Field names are camelCase, enum values
upper-case, as API clients expect; the models keep their own names."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Component, Status
from deployments.models import Deployment
from tokens.models import MAX_EXPIRY_DAYS

MAX_LIMIT = 1000
# Databases refuse offsets beyond 64 bits; no list comes near this.
MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 20

AGENT_STATUSES = [s.value.upper() for s in Status]
FILTER_STATUSES = [s.value.upper() for s in (Status.HEALTHY, Status.UNHEALTHY, Status.CORDONED)]


def component_name(value: str) -> str:
    """worker -> WORKER, dag-processor -> DAG_PROCESSOR."""
    return value.upper().replace("-", "_")


COMPONENTS = {component_name(c.value): c.value for c in Component}


# --- errors ----------------------------------------------------------------------------------


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path of the field; empty for the whole body.")
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    requestId = serializers.CharField(help_text="Also in the X-Request-ID response header.")
    statusCode = serializers.IntegerField()
    fieldErrors = FieldErrorSerializer(many=True)


# --- lists -----------------------------------------------------------------------------------


class ListQuerySerializer(serializers.Serializer):
    """offset/limit/sorts. `sorts` entries are `<key>:asc` or `<key>:desc`, repeated or
    comma-separated; SORTS maps each key to its database ordering."""

    SORTS: dict[str, str] = {}

    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(
        min_value=0,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"At most {MAX_LIMIT}. 0 returns only totalCount.",
    )
    sorts = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=10,
        help_text="Sort keys with a direction, e.g. name:asc or createdAt:desc.",
    )

    def validate_sorts(self, value: list[str]) -> list[str]:
        order = []
        for entry in (part.strip() for item in value for part in item.split(",")):
            key, _, direction = entry.partition(":")
            if key not in self.SORTS or direction not in ("asc", "desc"):
                keys = ", ".join(sorted(self.SORTS))
                raise serializers.ValidationError(
                    f'"{entry}" is not a sort; use <key>:asc or <key>:desc with key one of {keys}.',
                    code="invalid_sort",
                )
            order.append(("-" if direction == "desc" else "") + self.SORTS[key])
        return order


def page_serializer(name: str, item: type[serializers.Serializer], key: str):
    fields = {
        "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
        "totalCount": serializers.IntegerField(),
        key: item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)


# --- agent tokens ----------------------------------------------------------------------------


class TokenListQuerySerializer(ListQuerySerializer):
    SORTS = {
        "name": "name",
        "createdAt": "created_at",
        "expiresAt": "expires_at",
        "lastUsedAt": "last_used_at",
    }


class AgentTokenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    tokenHint = serializers.CharField(source="hint", help_text="Prefix, first and last characters.")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    isExpired = serializers.BooleanField(source="is_expired")
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    lastUsedIp = serializers.IPAddressField(source="last_used_ip", allow_null=True)
    agentCount = serializers.IntegerField(source="agent_count", help_text="Agents using it.")


class AgentTokenCreatedSerializer(AgentTokenSerializer):
    token = serializers.CharField(help_text="The token value. Shown in this response only.")


class AgentTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    tokenExpiryPeriodInDays = serializers.IntegerField(
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        required=False,
        allow_null=True,
        help_text="Days until the token expires; absent or null: it never expires.",
    )


AgentTokenPageSerializer = page_serializer("AgentTokenPage", AgentTokenSerializer, "tokens")


# --- agents ----------------------------------------------------------------------------------


class AgentListQuerySerializer(ListQuerySerializer):
    SORTS = {
        "name": "name",
        "component": "component",
        "version": "version",
        "createdAt": "first_seen_at",
        "lastHeartbeatAt": "last_heartbeat_at",
    }

    status = serializers.ChoiceField(choices=FILTER_STATUSES, required=False)
    component = serializers.ChoiceField(choices=list(COMPONENTS), required=False)
    search = serializers.CharField(max_length=100, required=False, help_text="Part of the name.")


class SlotsSerializer(serializers.Serializer):
    used = serializers.IntegerField(source="slots_used")
    total = serializers.IntegerField(source="slots_total")


class AgentSerializer(serializers.Serializer):
    # The view sets the api_* attributes: they come from Redis, not from the row.
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=AGENT_STATUSES, source="api_status")
    statusReason = serializers.CharField(source="api_status_reason", allow_null=True)
    isCordoned = serializers.BooleanField(source="is_cordoned")
    cordoningReason = serializers.CharField(source="cordon_state", allow_null=True)
    lastHeartbeatAt = serializers.DateTimeField(source="api_last_heartbeat", allow_null=True)
    version = serializers.CharField()
    queues = serializers.ListField(child=serializers.CharField())
    slots = SlotsSerializer(source="*")
    component = serializers.ChoiceField(choices=list(COMPONENTS), source="api_component")
    hostname = serializers.CharField()
    createdAt = serializers.DateTimeField(source="first_seen_at")
    deletedAt = serializers.DateTimeField(source="deleted_at", allow_null=True)


class AgentActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["CORDON", "UNCORDON"])
    reason = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, help_text="For CORDON; optional."
    )


AgentPageSerializer = page_serializer("AgentPage", AgentSerializer, "agents")


# --- the deployment --------------------------------------------------------------------------


class RemoteExecutionSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    allowedIpAddressRanges = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=200),
        required=False,
        max_length=1000,
        help_text="CIDR ranges agents may connect from; empty: any address.",
    )
    remoteApiUrl = serializers.CharField(
        read_only=True, help_text="The agent API URL agents are configured with."
    )


class DeploymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    organizationId = serializers.UUIDField(source="workspace.organization_id")
    workspaceId = serializers.UUIDField(source="workspace_id")
    runtimeVersion = serializers.CharField(source="runtime_version")
    airflowVersion = serializers.CharField(source="airflow_version")
    createdAt = serializers.DateTimeField(source="created_at")
    remoteExecution = serializers.SerializerMethodField()

    @extend_schema_field(RemoteExecutionSerializer)
    def get_remoteExecution(self, deployment: Deployment) -> dict:
        return {
            "enabled": deployment.remote_execution,
            "allowedIpAddressRanges": list(deployment.allowed_ip_ranges or []),
            "remoteApiUrl": deployment.agent_api_url(self.context.get("request")),
        }


class DeploymentPatchSerializer(serializers.Serializer):
    remoteExecution = RemoteExecutionSerializer(required=False)
    confirmLockout = serializers.BooleanField(
        default=False, help_text="Save even though connected agents would be locked out."
    )
    confirmAllowAll = serializers.BooleanField(
        default=False, help_text="Allow 0.0.0.0/0 or ::/0 (every address)."
    )
