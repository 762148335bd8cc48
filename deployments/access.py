"""The one access check every view and API uses, and what it answers: an `Access`.

Strangers get 404 (they must not learn that a deployment exists); members whose role is too low
get 403. Views pass the `Access` to templates as `access`; templates ask `access.can_operate`,
never compare role numbers.
"""

from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from deployments.models import Deployment, Role


@dataclass(frozen=True)
class Access:
    """What the current caller may do on one deployment."""

    deployment: Deployment
    role: Role

    @property
    def can_view(self) -> bool:
        return self.role >= Role.VIEWER

    @property
    def can_operate(self) -> bool:
        return self.role >= Role.OPERATOR

    @property
    def can_admin(self) -> bool:
        return self.role >= Role.ADMIN

    def require(self, role: Role) -> "Access":
        """Itself, when the role is at least `role`; 403 otherwise (the caller is a member)."""
        if self.role < role:
            raise PermissionDenied(f"This needs the {role.label} role on {self.deployment.name}")
        return self

    def capped(self, role: Role) -> "Access":
        """The same deployment with a role no higher than `role` (an API token's cap)."""
        return Access(self.deployment, min(self.role, role))


def get_access(request: HttpRequest, pk: UUID | str, role: Role = Role.VIEWER) -> Access:
    try:
        deployment = Deployment.objects.select_related("workspace__organization").get(pk=pk)
    except (Deployment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such deployment") from None
    granted = deployment.role_of(request.user)
    if granted is None:
        raise Http404("No such deployment")
    return Access(deployment, granted).require(role)
