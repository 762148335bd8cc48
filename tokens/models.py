import math
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.utils import timezone

from audit.record import record
from tokens import secret

MAX_TOKENS_PER_DEPLOYMENT = 50
MAX_EXPIRY_DAYS = 3650
EXPIRY_WARNING_DAYS = 7


class AgentTokenQuerySet(models.QuerySet["AgentToken"]):
    def live(self) -> "AgentTokenQuerySet":
        """Not deleted. Expired tokens stay live (listed as Expired) until someone deletes them."""
        return self.filter(revoked_at__isnull=True)

    def free_name(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`...: the first name no live token here uses (names are
        unique per deployment, case-insensitively)."""
        taken = {name.lower() for name in self.live().values_list("name", flat=True)}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def active(self) -> "AgentTokenQuerySet":
        """Live and not expired: the ones that authenticate."""
        return self.live().filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))

    def with_agent_counts(self) -> "AgentTokenQuerySet":
        """Annotate `agent_count`: the agents (not deleted) that last authenticated with it."""
        return self.annotate(
            agent_count=Count("agents", filter=Q(agents__deleted_at__isnull=True), distinct=True)
        )

    def record_expiries(self) -> int:
        """Write one `token.expire` audit event per live token that has expired since the last run.

        The conditional UPDATE claims each token, so two sweeps running at once record each
        expiry exactly once. Returns how many were recorded.
        """
        now = timezone.now()
        due = self.live().filter(expires_at__lte=now, expiry_recorded_at__isnull=True)
        recorded = 0
        for token in due.select_related("deployment"):
            with transaction.atomic():
                claimed = self.filter(pk=token.pk, expiry_recorded_at__isnull=True).update(
                    expiry_recorded_at=now
                )
                if not claimed:
                    continue
                record(
                    "token.expire",
                    target=token,
                    deployment=token.deployment,
                    details={"name": token.name, "expires_at": _iso(token.expires_at)},
                )
                recorded += 1
        return recorded

    def issue(
        self,
        deployment,
        *,
        name: str,
        description: str = "",
        expires_in_days: int | None,
        by=None,
        ip: str | None = None,
    ) -> tuple["AgentToken", str]:
        """Create a token and return it with its secret value, which is never stored.

        The deployment row is locked while counting, so concurrent creates cannot pass the
        50-token limit together. Raises ValidationError (field errors) on a broken rule.
        """
        name = (name or "").strip()
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise ValidationError({"expires_in_days": f"Choose 1 to {MAX_EXPIRY_DAYS} days."})
        value = secret.generate()
        with transaction.atomic():
            type(deployment).objects.select_for_update().filter(pk=deployment.pk).first()
            live = self.filter(deployment=deployment).live()
            if live.count() >= MAX_TOKENS_PER_DEPLOYMENT:
                raise ValidationError(
                    f"This deployment already has {MAX_TOKENS_PER_DEPLOYMENT} agent tokens, the "
                    "most it can have. Delete one you no longer use first.",
                    code="too_many",
                )
            if live.filter(name__iexact=name).exists():
                raise ValidationError({"name": _duplicate_name()})
            token = self.model(
                deployment=deployment,
                name=name,
                description=(description or "").strip(),
                digest=secret.digest(value),
                hint=secret.hint(value),
                expires_at=None
                if expires_in_days is None
                else timezone.now() + timedelta(days=expires_in_days),
                expiry_period_days=expires_in_days,
                created_by=by,
            )
            token.full_clean(exclude=["digest", "hint"], validate_constraints=False)
            try:
                with transaction.atomic():
                    token.save()
            except IntegrityError:
                raise ValidationError({"name": _duplicate_name()}) from None
            record(
                "token.create",
                target=token,
                deployment=deployment,
                user=by,
                ip=ip,
                details={
                    "name": token.name,
                    "hint": token.hint,
                    "expires_at": _iso(token.expires_at),
                },
            )
        return token, value


class AgentToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        "deployments.Deployment", on_delete=models.CASCADE, related_name="agent_tokens"
    )
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=20, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Kept as asked for rather than derived from expires_at: the API reports the period the
    # client chose, and the two timestamps are taken moments apart.
    expiry_period_days = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False, help_text="The expiry period asked for, in days"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    expiry_recorded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the expiry sweep recorded that this token expired"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AgentTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "deployment",
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="unique_live_token_name",
                violation_error_message="A token with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def days_left(self) -> int | None:
        """Whole days until expiry, rounded up (a token expiring in 3 hours has 1 day left)."""
        if self.expires_at is None:
            return None
        return max(0, math.ceil((self.expires_at - timezone.now()).total_seconds() / 86400))

    @property
    def expires_soon(self) -> bool:
        return (
            self.expires_at is not None
            and not self.is_expired
            and self.expires_at - timezone.now() < timedelta(days=EXPIRY_WARNING_DAYS)
        )

    def revoke(self, *, by=None, ip: str | None = None) -> None:
        """Delete the token for good: it stops authenticating on the very next request."""
        with transaction.atomic():
            updated = AgentToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_by=by
            )
            if not updated:
                return
            self.refresh_from_db(fields=["revoked_at", "revoked_by"])
            record(
                "token.delete",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"name": self.name, "hint": self.hint},
            )
            transaction.on_commit(self.forget_cached)

    def forget_cached(self) -> None:
        """Drop any cached copy used by token authentication (see tokens.auth)."""
        from tokens import auth

        auth.forget(self.digest)


def _duplicate_name() -> ValidationError:
    return ValidationError("A token with this name already exists.", code="unique")


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
