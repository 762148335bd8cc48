"""The management API's access check: the UI's, plus an API token's scope and role cap."""

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.request import Request

from api.models import ApiToken
from deployments.access import Access, get_access
from deployments.models import Role


def access_for(request: Request, org_id: UUID, dep_id: UUID, role: Role = Role.VIEWER) -> Access:
    """What the caller may do on the deployment, if at least `role`.

    404 for strangers, for a deployment outside the URL's organisation and outside the token's
    scope (none of them may learn it exists); 403 when the role is too low.
    """
    token = request.auth if isinstance(request.auth, ApiToken) else None
    # With a token, the user's own role is checked first and the cap applied after.
    access = get_access(request, dep_id, role=Role.VIEWER if token else role)
    if access.deployment.workspace.organization_id != org_id:
        raise Http404("No such deployment")
    if token is None:
        return access
    if not token.covers(access.deployment):
        raise Http404("No such deployment")
    capped = access.capped(Role(token.role))
    if capped.role < role:
        raise PermissionDenied(
            f"This needs the {role.label} role on {capped.deployment.name}; this API token has "
            f"{capped.role.label}."
        )
    return capped
