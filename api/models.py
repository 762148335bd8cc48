"""API tokens: how people and automation call the management API without a browser session.

A token acts for the user who created it, on one workspace or one deployment, with a role that
is never more than that user's own role there, now: a user who loses a role loses it for their
tokens too. Only the SHA-256 digest of the value is stored; the value is shown once.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from audit.record import record
from deployments.models import Deployment, Role, Workspace
from tokens import secret

PREFIX = "raapi_"
MAX_TOKENS_PER_USER = 50
# A token's last use is written at most this often, so busy automation does not write on
# every request.
USAGE_EVERY = timedelta(minutes=1)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)

    def issue(
        self,
        user,
        *,
        name: str,
        role: Role,
        workspace: Workspace | None = None,
        deployment: Deployment | None = None,
        ip: str | None = None,
    ) -> tuple["ApiToken", str]:
        """Create a token for `user` and return it with its value, which is never stored.

        Raises ValidationError (field errors) when the scope is not exactly one of workspace or
        deployment, or when the role is above the user's own role there.
        """
        name = (name or "").strip()
        scope = deployment or workspace
        if scope is None or (workspace is not None and deployment is not None):
            raise ValidationError({"scope": "Choose one workspace or one deployment."})
        own = scope.role_of(user)
        if own is None:
            raise ValidationError({"scope": "You have no role there."})
        if role > own:
            raise ValidationError(
                {"role": f"You are {own.label} on {scope}; a token cannot have more than that."}
            )
        value = secret.generate(PREFIX)
        token = self.model(
            user=user,
            name=name,
            role=role,
            workspace=workspace,
            deployment=deployment,
            digest=secret.digest(value),
            hint=secret.hint(value, PREFIX),
        )
        token.full_clean(exclude=["digest", "hint"])
        with transaction.atomic():
            # The user's row lock makes concurrent creates for one user count one after another.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if self.filter(user=user).live().count() >= MAX_TOKENS_PER_USER:
                raise ValidationError(
                    f"You already have {MAX_TOKENS_PER_USER} API tokens. "
                    "Revoke one you no longer use."
                )
            token.save()
            record(
                "api_token.create",
                target=token,
                deployment=deployment,
                user=user,
                ip=ip,
                details={"name": token.name, "role": Role(role).label, "scope": str(scope)},
            )
        return token, value

    def authenticate(self, value: str) -> "ApiToken | None":
        """The live token with this value, or None. Malformed values cost no query."""
        if not secret.is_well_formed(value, PREFIX):
            return None
        token = self.live().select_related("user").filter(digest=secret.digest(value)).first()
        if token is not None:
            token.mark_used()
        return token


class ApiToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    role = models.IntegerField(choices=Role.choices)
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(workspace__isnull=True, deployment__isnull=False)
                | Q(workspace__isnull=False, deployment__isnull=True),
                name="api_token_on_exactly_one_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> Workspace | Deployment:
        scope = self.deployment or self.workspace
        assert scope is not None, "the api_token_on_exactly_one_scope constraint"
        return scope

    def covers(self, deployment: Deployment) -> bool:
        if self.deployment_id is not None:
            return self.deployment_id == deployment.pk
        return self.workspace_id == deployment.workspace_id

    def mark_used(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= USAGE_EVERY:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now

    def revoke(self, *, by, ip: str | None = None) -> bool:
        """Stop the token working from the next request on. False if it already was revoked."""
        with transaction.atomic():
            revoked = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            if not revoked:
                return False
            self.refresh_from_db(fields=["revoked_at"])
            record(
                "api_token.delete",
                target=self,
                deployment=self.deployment,
                user=by,
                ip=ip,
                details={"name": self.name, "hint": self.hint},
            )
        return True
