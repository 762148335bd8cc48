import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse

from audit.record import record
from deployments import ipranges


class Role(models.IntegerChoices):
    """Ordered: a higher role can do everything a lower one can."""

    VIEWER = 10, "Viewer"
    OPERATOR = 20, "Operator"
    ADMIN = 30, "Admin"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkspaceQuerySet(models.QuerySet["Workspace"]):
    def visible_to(self, user) -> "WorkspaceQuerySet":
        """Workspaces the user may see: a grant on the workspace or on one of its deployments."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        granted = Q(grants__user=user) | Q(deployments__grants__user=user)
        return self.filter(pk__in=self.model.objects.filter(granted).values("pk"))

    def granted_to(self, user) -> "WorkspaceQuerySet":
        """Workspaces the user holds a role on as a whole (a workspace grant)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(grants__user=user)


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="workspaces"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("workspace", args=[self.pk])

    def role_of(self, user) -> Role | None:
        """The user's role on the workspace as a whole: its workspace grant (superusers: Admin).
        A deployment grant gives no role here."""
        if not user.is_authenticated or not user.is_active:
            return None
        if user.is_superuser:
            return Role.ADMIN
        grant = RoleGrant.objects.filter(user=user, workspace=self).values("role").first()
        return None if grant is None else Role(grant["role"])


class DeploymentQuerySet(models.QuerySet["Deployment"]):
    def visible_to(self, user) -> "DeploymentQuerySet":
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(grants__user=user) | Q(workspace__grants__user=user)).distinct()


class Deployment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    runtime_version = models.CharField(
        max_length=20, default="3.1-3", help_text="Runtime image tag, e.g. 3.1-3"
    )
    airflow_version = models.CharField(max_length=20, default="3.1.3")
    remote_execution = models.BooleanField(default=True)
    allowed_ip_ranges = models.JSONField(
        default=list, blank=True, help_text="CIDR ranges agents may connect from; empty = any"
    )
    stale_agent_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Remove agents silent for more than this many days; empty = never",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("deployment", args=[self.pk])

    @property
    def organization(self) -> Organization:
        return self.workspace.organization

    @property
    def agent_api_path(self) -> str:
        return f"/api/agent/v1/deployments/{self.pk}/"

    def agent_api_url(self, request=None) -> str:
        """This server's agent endpoint for the deployment, as agents must be configured."""
        if settings.PUBLIC_URL:
            return settings.PUBLIC_URL + self.agent_api_path
        if request is not None:
            return request.build_absolute_uri(self.agent_api_path)
        return "http://localhost:8000" + self.agent_api_path

    def role_of(self, user) -> Role | None:
        """The user's effective role: the higher of the deployment's and the workspace's grant."""
        if not user.is_authenticated or not user.is_active:
            return None
        if user.is_superuser:
            return Role.ADMIN
        best = (
            RoleGrant.objects.filter(user=user)
            .filter(Q(deployment=self) | Q(workspace_id=self.workspace_id))
            .aggregate(best=models.Max("role"))["best"]
        )
        return None if best is None else Role(best)

    def update_general(self, *, by=None, ip: str | None = None, **changes) -> bool:
        """Change name / description / remote execution, auditing before and after.

        Returns whether anything changed. The settings page and the management API both call it.
        """
        allowed = {"name", "description", "remote_execution"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"update_general() cannot change {sorted(unknown)}")
        before = {f: getattr(self, f) for f in changes}
        after = {f: v for f, v in changes.items() if v != before[f]}
        if not after:
            return False
        with transaction.atomic():
            Deployment.objects.filter(pk=self.pk).update(**after)
            for field, value in after.items():
                setattr(self, field, value)
            record(
                "deployment.update",
                target=self,
                deployment=self,
                user=by,
                ip=ip,
                details={"before": {f: before[f] for f in after}, "after": after},
            )
            if "remote_execution" in after:
                # agents sits above deployments (its models import these): imported here so
                # that loading deployments never loads agents.
                from agents import store

                enabled = self.remote_execution
                transaction.on_commit(lambda: store.publish_enabled(self.pk, enabled))
        return True

    def set_stale_agent_days(self, days: int | None, *, by=None, ip: str | None = None) -> bool:
        """Switch the stale-agent clean-up on (N days) or off (None), audited."""
        before = self.stale_agent_days
        if days == before:
            return False
        with transaction.atomic():
            Deployment.objects.filter(pk=self.pk).update(stale_agent_days=days)
            self.stale_agent_days = days
            record(
                "deployment.stale_agents",
                target=self,
                deployment=self,
                user=by,
                ip=ip,
                details={"before": before, "after": days},
            )
        return True

    def set_allowed_ip_ranges(
        self,
        ranges: list[str],
        *,
        by=None,
        ip: str | None = None,
        allow_everything: bool = False,
        allow_lockout: bool = False,
    ) -> list[str]:
        """Replace the allowed IP ranges; return the saved, normalised list.

        Raises ValidationError for a malformed list, for 0.0.0.0/0 or ::/0 without
        allow_everything, and (code "lockout") when the list would refuse a connected agent
        (or, when the heartbeat store cannot say who is connected, any agent) without
        allow_lockout. Agent requests see the new list as soon as it commits.
        """
        after = ipranges.parse_ranges(ranges, allow_everything=allow_everything)
        lockout = ipranges.lockout_preview(self, after)
        if lockout.blocked and not allow_lockout:
            raise ValidationError(
                ipranges.lockout_message(lockout) + "; confirm to save it anyway.",
                code="lockout",
            )
        with transaction.atomic():
            locked = Deployment.objects.select_for_update().only("allowed_ip_ranges")
            before = locked.get(pk=self.pk).allowed_ip_ranges
            self.allowed_ip_ranges = after
            if before == after:
                return after
            Deployment.objects.filter(pk=self.pk).update(allowed_ip_ranges=after)
            record(
                "deployment.ip_ranges",
                target=self,
                deployment=self,
                user=by,
                ip=ip,
                details={"before": before, "after": after},
            )
            ipranges.publish_on_commit(self.pk, after)
        return after


class RoleGrant(models.Model):
    """A user's role on one deployment, or on every deployment of a workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants"
    )
    role = models.IntegerField(choices=Role.choices)
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(workspace__isnull=True, deployment__isnull=False)
                | Q(workspace__isnull=False, deployment__isnull=True),
                name="grant_on_exactly_one_scope",
            ),
            models.UniqueConstraint(
                fields=["user", "workspace"],
                condition=Q(workspace__isnull=False),
                name="one_grant_per_user_workspace",
            ),
            models.UniqueConstraint(
                fields=["user", "deployment"],
                condition=Q(deployment__isnull=False),
                name="one_grant_per_user_deployment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} on {self.workspace or self.deployment}"
