"""The one access check every view and API uses.

Strangers get 404 (they must not learn that a deployment exists); members whose role is too low
get 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from deployments.models import Deployment, Role


def get_deployment_for(request, pk, role: Role = Role.VIEWER) -> Deployment:
    try:
        deployment = Deployment.objects.select_related("workspace__organization").get(pk=pk)
    except (Deployment.DoesNotExist, ValueError):
        raise Http404("No such deployment") from None
    user_role = deployment.role_of(request.user)
    if user_role is None:
        raise Http404("No such deployment")
    if user_role < role:
        raise PermissionDenied(f"This needs the {role.label} role on {deployment.name}")
    deployment.user_role = user_role  # type: ignore[attr-defined]
    return deployment
