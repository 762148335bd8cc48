"""Notification channels, what they have been told (alert states) and what was sent (deliveries).

A channel belongs to one deployment and switches each rule on or off. An alert state row says
"this channel has been told that <rule> holds for <subject>"; it exists from the firing message
until the resolved one, so each transition is announced exactly once. A delivery is one message
to one channel, sent by Celery, with its attempts, status code and the start of the answer.
"""

import logging
import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from audit.record import record
from tokens import secret as secrets_format

log = logging.getLogger(__name__)

MAX_CHANNELS_PER_DEPLOYMENT = 20
MAX_RECIPIENTS = 20
SECRET_PREFIX = "rawhs_"  # noqa: S105 - a prefix, not a secret
EXCERPT_CHARS = 500


class Kind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    EMAIL = "email", "E-mail"


class Rule(models.TextChoices):
    AGENT_SILENT = "agent_silent", "Agent silent"
    QUEUE_UNSERVED = "queue_unserved", "Queue without a healthy agent"
    TOKEN_EXPIRING = "token_expiring", "Agent token expiring"
    TOKEN_EXPIRED = "token_expired", "Agent token expired"
    IP_REFUSALS = "ip_refusals", "Refused addresses"
    AGENT_VERSION = "agent_version", "Unsupported agent version"
    TEST = "test", "Test message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def _http_url(value: str) -> None:
    URLValidator(schemes=["http", "https"])(value)


class ChannelQuerySet(models.QuerySet["Channel"]):
    def enabled(self) -> "ChannelQuerySet":
        return self.filter(enabled=True)

    def create_channel(self, deployment, *, by=None, ip: str | None = None, **fields):
        """Create a channel; returns (channel, secret). The webhook signing secret is returned
        here only: pages and the API never show it again.

        The deployment row is locked while counting, so concurrent creates cannot pass the limit.
        Raises ValidationError with field errors.
        """
        channel = self.model(deployment=deployment, created_by=by, **fields)
        value = None
        if channel.kind == Kind.WEBHOOK:
            value = secrets_format.generate(SECRET_PREFIX)
            channel.secret = value
        channel.full_clean(exclude=["deployment", "created_by"], validate_constraints=False)
        with transaction.atomic():
            type(deployment).objects.select_for_update().filter(pk=deployment.pk).first()
            existing = self.filter(deployment=deployment)
            if existing.count() >= MAX_CHANNELS_PER_DEPLOYMENT:
                raise ValidationError(
                    f"This deployment already has {MAX_CHANNELS_PER_DEPLOYMENT} notification "
                    "channels, the most it can have. Delete one first.",
                    code="too_many",
                )
            if existing.filter(name__iexact=channel.name).exists():
                raise ValidationError({"name": NAME_TAKEN})
            _save(channel)
            record(
                "alert_channel.create",
                target=channel,
                deployment=deployment,
                user=by,
                ip=ip,
                details={"kind": channel.kind, "name": channel.name, "rules": channel.rules()},
            )
        return channel, value


class Channel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.CharField(
        max_length=2000, blank=True, help_text="Where webhook and Slack messages are POSTed"
    )
    recipients = models.JSONField(default=list, blank=True, help_text="E-mail addresses")
    # Kept so messages can be signed; shown once, at creation, never again.
    secret = models.CharField(max_length=64, blank=True, editable=False)

    on_silent = models.BooleanField("Agent silent", default=True)
    silent_minutes = models.PositiveIntegerField(default=5)
    on_queue = models.BooleanField("Queue without a healthy agent", default=True)
    on_tokens = models.BooleanField("Agent token expiring or expired", default=True)
    on_refusals = models.BooleanField("Refused addresses", default=True)
    refusals_per_hour = models.PositiveIntegerField(default=100)
    on_versions = models.BooleanField("Agent on an unsupported version", default=True)

    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "deployment",
                Lower("name"),
                name="unique_alert_channel_name",
                violation_error_message="A channel with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        errors: dict[str, ValidationError] = {}
        if not self.name:
            errors["name"] = ValidationError("Give the channel a name.", code="blank")
        if self.kind in (Kind.WEBHOOK, Kind.SLACK):
            self.recipients = []
            try:
                _http_url(self.url)
            except ValidationError:
                errors["url"] = ValidationError("Enter an http:// or https:// URL.", code="url")
        elif self.kind == Kind.EMAIL:
            self.url = ""
            problem = _recipients_problem(self.recipients)
            if problem:
                errors["recipients"] = ValidationError(problem, code="recipients")
        if not 1 <= self.silent_minutes <= 1440:
            errors["silent_minutes"] = ValidationError("Choose 1 to 1440 minutes.", code="range")
        if not 1 <= self.refusals_per_hour <= 1_000_000:
            errors["refusals_per_hour"] = ValidationError(
                "Choose 1 to 1,000,000 requests.", code="range"
            )
        if errors:
            raise ValidationError(errors)

    def rules(self) -> list[str]:
        """The rules this channel hears about."""
        chosen = []
        if self.on_silent:
            chosen.append(Rule.AGENT_SILENT)
        if self.on_queue:
            chosen.append(Rule.QUEUE_UNSERVED)
        if self.on_tokens:
            chosen += [Rule.TOKEN_EXPIRED, Rule.TOKEN_EXPIRING]
        if self.on_refusals:
            chosen.append(Rule.IP_REFUSALS)
        if self.on_versions:
            chosen.append(Rule.AGENT_VERSION)
        return [str(r) for r in chosen]

    @property
    def destination(self) -> str:
        """Where messages go, as pages show it: a Slack webhook URL is itself a credential."""
        if self.kind == Kind.EMAIL:
            return ", ".join(self.recipients)
        if self.kind == Kind.SLACK:
            return _masked(self.url)
        return self.url

    def update(self, *, by=None, ip: str | None = None, **changes) -> bool:
        """Change settings (not the kind); clears states of rules switched off. Audited."""
        before = {f: getattr(self, f) for f in changes}
        for field, value in changes.items():
            setattr(self, field, value)
        after = {f: v for f, v in changes.items() if v != before[f]}
        if not after:
            return False
        self.full_clean(exclude=["deployment", "created_by"], validate_constraints=False)
        name_taken = (
            Channel.objects.filter(deployment_id=self.deployment_id, name__iexact=self.name)
            .exclude(pk=self.pk)
            .exists()
        )
        if name_taken:
            raise ValidationError({"name": NAME_TAKEN})
        with transaction.atomic():
            _save(self)
            # A rule switched off forgets what it had announced; switched on again, it starts over.
            self.alert_states.exclude(rule__in=self.rules()).delete()
            record(
                "alert_channel.update",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"after": {f: _jsonable(after[f]) for f in after if f != "secret"}},
            )
        return True

    def enable(self, *, by=None, ip: str | None = None) -> None:
        with transaction.atomic():
            Channel.objects.filter(pk=self.pk).update(
                enabled=True, disabled_reason="", disabled_at=None, consecutive_failures=0
            )
            self.refresh_from_db()
            record("alert_channel.enable", target=self, deployment=self.deployment, user=by, ip=ip)

    def disable(self, *, by=None, ip: str | None = None) -> None:
        who = by.get_username() if by is not None else "the system"
        with transaction.atomic():
            Channel.objects.filter(pk=self.pk, enabled=True).update(
                enabled=False, disabled_reason=f"Disabled by {who}.", disabled_at=timezone.now()
            )
            self.refresh_from_db()
            record("alert_channel.disable", target=self, deployment=self.deployment, user=by, ip=ip)

    def remove(self, *, by=None, ip: str | None = None) -> None:
        with transaction.atomic():
            record(
                "alert_channel.delete",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"kind": self.kind, "name": self.name},
            )
            self.delete()

    def send_test(self, *, by=None) -> "Delivery":
        from alerts import messages

        who = by.get_username() if by is not None else "the API"
        payload = messages.test_payload(self, who)
        return Delivery.objects.queue(self, payload, rules=[Rule.TEST])

    def record_outcome(self, *, delivered: bool, reason: str) -> None:
        """Count consecutive failed deliveries; after ALERT_CHANNEL_MAX_FAILURES in a row the
        channel is switched off with the last failure as its reason."""
        if delivered:
            Channel.objects.filter(pk=self.pk).update(consecutive_failures=0)
            return
        limit = settings.ALERT_CHANNEL_MAX_FAILURES
        with transaction.atomic():
            Channel.objects.filter(pk=self.pk).update(
                consecutive_failures=F("consecutive_failures") + 1
            )
            switched = Channel.objects.filter(
                pk=self.pk, enabled=True, consecutive_failures__gte=limit
            ).update(
                enabled=False,
                disabled_at=timezone.now(),
                disabled_reason=f"Disabled after {limit} failed deliveries in a row; "
                f"the last: {reason}"[:500],
            )
            if switched:
                self.refresh_from_db()
                record(
                    "alert_channel.disable",
                    target=self,
                    deployment=self.deployment,
                    details={"reason": self.disabled_reason},
                )


NAME_TAKEN = ValidationError("A channel with this name already exists.", code="unique")


def _save(channel: Channel) -> None:
    """Save; a name taken by a concurrent request between the check and the write is still a
    field error, not a crash."""
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise ValidationError({"name": NAME_TAKEN}) from None


def _recipients_problem(recipients) -> str | None:
    if not isinstance(recipients, list) or not recipients:
        return "Enter at least one e-mail address."
    if len(recipients) > MAX_RECIPIENTS:
        return f"At most {MAX_RECIPIENTS} addresses."
    check = EmailValidator()
    for address in recipients:
        try:
            if not isinstance(address, str):
                raise ValidationError("not text")
            check(address)
        except ValidationError:
            return f"{str(address)[:100]!r} is not an e-mail address."
    if len({a.lower() for a in recipients}) != len(recipients):
        return "An address is listed twice."
    return None


def parse_recipients(text: str) -> list[str]:
    """Addresses typed one per line or separated by commas."""
    return [a.strip() for a in text.replace(",", "\n").splitlines() if a.strip()]


def _masked(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/…{path[-4:]}" if path else url


def _jsonable(value):
    return value if isinstance(value, str | int | bool | list | None) else str(value)


class AlertState(models.Model):
    """This channel has been told that `rule` holds for `subject`, since `since`."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="alert_states")
    rule = models.CharField(max_length=20, choices=Rule.choices)
    subject = models.CharField(max_length=300)
    label = models.CharField(max_length=300)
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "rule", "subject"], name="one_alert_state_per_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.label}"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def queue(self, channel: Channel, payload: dict, *, rules: list[str]) -> "Delivery":
        """Store a message and hand it to Celery once the transaction commits."""
        from alerts.tasks import deliver

        delivery = self.create(
            channel=channel,
            rules=sorted(set(rules)),
            summary=payload["summary"][:500],
            payload=payload,
        )
        deliver.delay_on_commit(str(delivery.pk))
        return delivery

    def prune(self) -> int:
        cutoff = timezone.now() - timedelta(days=settings.ALERT_DELIVERY_RETENTION_DAYS)
        return self.filter(created_at__lt=cutoff).delete()[0]


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    rules = models.JSONField(default=list)
    summary = models.CharField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.IntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=EXCERPT_CHARS, blank=True)
    error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["channel", "-created_at"], name="delivery_log")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return self.summary

    @property
    def api_status(self) -> str:
        """The status as the management API spells it."""
        return self.status.upper()

    @property
    def is_final(self) -> bool:
        return self.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)

    @property
    def rule_labels(self) -> list[str]:
        return [Rule(r).label if r in Rule.values else r for r in self.rules]

    def attempt(self) -> float | None:
        """Send once. Returns the seconds to wait before the next try, or None when done.

        Server errors (5xx), timeouts and connection failures are retried with exponential
        backoff, up to ALERT_DELIVERY_RETRIES more times; a 4xx is final at once.
        """
        from alerts import send, stats

        result = send.send(self.channel, self)
        self.attempts += 1
        self.status_code = result.status_code
        self.response_excerpt = result.excerpt[:EXCERPT_CHARS]
        self.error = result.error[:500]
        retry = not result.ok and result.retry and self.attempts <= settings.ALERT_DELIVERY_RETRIES
        if result.ok:
            self.status = DeliveryStatus.DELIVERED
        elif retry:
            self.status = DeliveryStatus.RETRYING
        else:
            self.status = DeliveryStatus.FAILED
        if self.is_final:
            self.finished_at = timezone.now()
        self.save(
            update_fields=[
                "attempts",
                "status_code",
                "response_excerpt",
                "error",
                "status",
                "finished_at",
            ]
        )
        stats.count_delivery(self.channel.kind, self.status)
        if self.is_final:
            self.channel.record_outcome(delivered=result.ok, reason=result.describe())
            return None
        base = settings.ALERT_RETRY_BASE_SECONDS * 2 ** (self.attempts - 1)
        return base * random.uniform(1.0, 1.25)  # jitter: channels that failed together spread
