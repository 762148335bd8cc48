"""The management API's request and response shapes. Field names are camelCase, enum values
upper-case, as API clients expect; the models keep their own names.

Responses follow the shapes clients generated from the vendor's published OpenAPI expect (the
README's API section maps them): a field the vendor declares as a plain string or date-time is
left out when we have no value, because such clients parse a null there as an error. Requests are
read strictly, so the schema and the server agree: JSON strings, integers and booleans only, no
"5" for 5 or 1 for true.
"""

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Component, Status
from deployments import ipranges
from deployments.models import Deployment
from tokens.models import MAX_EXPIRY_DAYS

MAX_LIMIT = 1000
# Databases refuse offsets beyond 64 bits; no list comes near this.
MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 20

AGENT_STATUSES = [s.value.upper() for s in Status]
FILTER_STATUSES = [
    s.value.upper()
    for s in (
        Status.HEALTHY,
        Status.UNHEALTHY,
        Status.CORDONED,
        Status.UNKNOWN,
        Status.TERMINATED,
    )
]


def component_name(value: str) -> str:
    """worker -> WORKER, dag-processor -> DAG_PROCESSOR."""
    return value.upper().replace("-", "_")


COMPONENTS = {component_name(c.value): c.value for c in Component}


# --- strict request fields ------------------------------------------------------------------


# DRF refuses NUL characters (PostgreSQL cannot store them); as a pattern the schema says so too.
NO_NUL = RegexValidator(
    r"^[^\x00]*$", "Null characters are not allowed.", code="null_characters_not_allowed"
)


class StrictCharField(serializers.CharField):
    """A JSON string; DRF's CharField would turn 5 into "5"."""

    default_error_messages = {"unicode": "Not valid Unicode (a lone surrogate escape)."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ] + [NO_NUL]

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode()
        except UnicodeEncodeError:
            self.fail("unicode")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer; DRF's IntegerField would take "30", 30.0 and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false; DRF's BooleanField would take 0, 1, "yes" and "off"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class OmitEmptySerializer(serializers.Serializer):
    """Leaves out the fields in OMIT_WHEN_NULL whose value is None (see the module docstring);
    they are declared with required=False, so the schema calls them optional, not nullable."""

    OMIT_WHEN_NULL: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.OMIT_WHEN_NULL:
            if data.get(name, "") is None:
                del data[name]
        return data


class Constant(serializers.ChoiceField):
    """A response value that is the same for every object: an enum of one in the schema."""

    def __init__(self, value: str, **kwargs):
        super().__init__(choices=[value], source="*", read_only=True, **kwargs)
        self.value = value

    def to_representation(self, instance) -> str:
        return self.value


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
    """offset/limit, and `sorts` in subclasses: each entry `<key>:asc` or `<key>:desc`, the
    parameter repeated for several keys. An empty value (`?status=`) is refused rather than
    read as absent, as the schema says."""

    SORTS: dict[str, str] = {}  # sort key -> database ordering, in subclasses that sort

    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(
        min_value=0,
        max_value=MAX_LIMIT,
        default=DEFAULT_LIMIT,
        help_text=f"At most {MAX_LIMIT}. 0 returns only totalCount.",
    )

    def to_internal_value(self, data):
        blank: dict[str, list] = {
            name: [serializers.ErrorDetail("Give a value or leave the parameter out.", "blank")]
            for name in list(self.fields)
            if name in data and "" in data.getlist(name)
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def validate_sorts(self, value: list[str]) -> list[str]:
        """`name:desc` -> `-name`, through the subclass's SORTS map."""
        order = []
        for entry in value:
            key, _, direction = entry.partition(":")
            order.append(("-" if direction == "desc" else "") + self.SORTS[key])
        return order


def sorts_field(keys) -> serializers.ListField:
    choices = [f"{key}:{direction}" for key in keys for direction in ("asc", "desc")]
    return serializers.ListField(
        child=serializers.ChoiceField(
            choices=choices,
            error_messages={
                "invalid_choice": '"{input}" is not a sort; use <key>:asc or <key>:desc with '
                f"key one of {', '.join(keys)}."
            },
        ),
        required=False,
        max_length=10,
        help_text="Sort keys with a direction, e.g. name:asc; repeat the parameter for more.",
    )


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
    # The vendor's sort keys, then ours. Tokens are never edited, so the updated* keys sort as
    # the created* ones; a token is valid from its creation (tokenStartAt).
    SORTS = {
        "name": "name",
        "description": "description",
        "createdAt": "created_at",
        "updatedAt": "created_at",
        "createdById": "created_by_id",
        "updatedById": "created_by_id",
        "tokenStartAt": "created_at",
        "endAt": "expires_at",
        "lastUsedAt": "last_used_at",
    }
    sorts = sorts_field(list(SORTS))


class SubjectSerializer(OmitEmptySerializer):
    """Who did something: the vendor's BasicSubjectProfile, for a user."""

    id = serializers.CharField(source="pk")
    subjectType = Constant("USER")
    username = serializers.CharField()
    fullName = serializers.CharField(source="get_full_name", required=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not data.get("fullName"):
            data.pop("fullName", None)
        return data


class TokenRoleSerializer(serializers.Serializer):
    entityId = serializers.CharField(source="deployment_id")
    entityType = Constant("DEPLOYMENT")
    role = Constant("AGENT", help_text="An agent token lets agents heartbeat, nothing more.")


class AgentTokenSerializer(OmitEmptySerializer):
    """The vendor's ApiToken, plus isExpired, lastUsedIp and agentCount."""

    OMIT_WHEN_NULL = (
        "endAt",
        "expiryPeriodInDays",
        "lastUsedAt",
        "createdBy",
        "updatedBy",
        "lastUsedIp",
    )

    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    shortToken = serializers.CharField(
        source="hint", help_text="Prefix, first and last characters."
    )
    kind = Constant("STANDARD")
    scope = Constant("DEPLOYMENT")
    roles = serializers.SerializerMethodField()
    startAt = serializers.DateTimeField(source="created_at", help_text="Valid from creation.")
    endAt = serializers.DateTimeField(
        source="expires_at", required=False, help_text="Absent: it never expires."
    )
    expiryPeriodInDays = serializers.IntegerField(
        source="expiry_period_days", required=False, help_text="As asked for at creation."
    )
    isExpired = serializers.BooleanField(source="is_expired")
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = SubjectSerializer(source="created_by", required=False)
    updatedAt = serializers.DateTimeField(source="created_at", help_text="Tokens are never edited.")
    updatedBy = SubjectSerializer(source="created_by", required=False)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", required=False)
    lastUsedIp = serializers.IPAddressField(source="last_used_ip", required=False)
    agentCount = serializers.IntegerField(source="agent_count", help_text="Agents using it.")

    @extend_schema_field(TokenRoleSerializer(many=True))
    def get_roles(self, token) -> list[dict]:
        return [TokenRoleSerializer(token).data]


class AgentTokenCreatedSerializer(AgentTokenSerializer):
    token = serializers.CharField(help_text="The token value. Shown in this response only.")


class AgentTokenCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    description = StrictCharField(max_length=500, required=False, allow_blank=True)
    tokenExpiryPeriodInDays = StrictIntegerField(
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
    }
    sorts = sorts_field(list(SORTS))

    status = serializers.ChoiceField(
        choices=FILTER_STATUSES,
        required=False,
        help_text="TERMINATED lists deleted agents; without it, deleted agents are left out.",
    )
    component = serializers.ChoiceField(choices=list(COMPONENTS), required=False)
    search = StrictCharField(max_length=100, required=False, help_text="Part of the name.")


class SlotsSerializer(serializers.Serializer):
    used = serializers.IntegerField(source="slots_used")
    total = serializers.IntegerField(source="slots_total")


class ComponentField(serializers.ChoiceField):
    def to_representation(self, value):
        return component_name(value)


# What each kind of agent does, in the vendor's terms: workers run tasks, the triggerer runs
# deferred ones, the DAG processor parses DAG files.
CAPABILITIES = {
    Component.WORKER: ["EXECUTE_TASKS"],
    Component.TRIGGERER: ["RUN_TRIGGERS"],
    Component.DAG_PROCESSOR: ["PROCESS_DAGS"],
}


class AgentSerializer(OmitEmptySerializer):
    """The vendor's Agent, plus component and hostname. status may also be UNKNOWN (ours):
    the heartbeat store cannot be read, so health cannot be known."""

    OMIT_WHEN_NULL = ("statusReason", "cordoningReason", "deletedAt")

    # Serialises liveness.LiveAgent rows: status and heartbeat time come from the liveness
    # rule (Redis), everything else from the agent.
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=AGENT_STATUSES,
        source="liveness.status_name",
        help_text="UNKNOWN (ours): the heartbeat store is unreachable, so health is unknown.",
    )
    statusReason = serializers.CharField(source="liveness.reason", required=False)
    isCordoned = serializers.BooleanField(source="is_cordoned")
    cordoningReason = serializers.CharField(source="cordon_state", required=False)
    lastHeartbeatAt = serializers.DateTimeField(source="liveness.last_known_heartbeat_at")
    version = serializers.CharField()
    queues = serializers.ListField(child=serializers.CharField())
    slots = SlotsSerializer(source="*")
    capabilities = serializers.SerializerMethodField()
    component = ComponentField(choices=list(COMPONENTS))
    hostname = serializers.CharField()
    createdAt = serializers.DateTimeField(source="first_seen_at")
    deletedAt = serializers.DateTimeField(source="deleted_at", required=False)

    def get_capabilities(self, agent) -> list[str]:
        return CAPABILITIES[agent.component]


class AgentActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["CORDON", "UNCORDON"])
    reason = StrictCharField(
        max_length=1024, required=False, allow_blank=True, help_text="For CORDON; optional."
    )


AgentPageSerializer = page_serializer("AgentPage", AgentSerializer, "agents")


# --- the deployment --------------------------------------------------------------------------


# The characters an address or CIDR range can hold; parse_ranges decides the rest (and says what
# is wrong with each entry, so the field itself lets blanks and spaces through to it).
IP_RANGE_PATTERN = r"^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$"


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": ipranges.MAX_ENTRY_LENGTH,
        "pattern": IP_RANGE_PATTERN,
        "description": "An IPv4 or IPv6 address or CIDR range without host bits, "
        "e.g. 10.0.0.0/16 or 2001:db8::/32.",
    }
)
class IpRangeField(serializers.Field):
    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data

    def to_representation(self, value) -> str:
        return value


class RemoteExecutionSerializer(serializers.Serializer):
    enabled = StrictBooleanField(required=False)
    allowedIpAddressRanges = serializers.ListField(
        child=IpRangeField(),
        required=False,
        max_length=ipranges.MAX_RANGES,
        help_text="CIDR ranges agents may connect from; empty: any address. A range inside "
        "another, a repeated one and 0.0.0.0/0 or ::/0 without confirmAllowAll are refused.",
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
    confirmLockout = StrictBooleanField(
        default=False, help_text="Save even though connected agents would be locked out."
    )
    confirmAllowAll = StrictBooleanField(
        default=False, help_text="Allow 0.0.0.0/0 or ::/0 (every address)."
    )
