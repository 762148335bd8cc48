"""The management API's access check: the UI's, plus an API token's scope and role cap."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from api.models import ApiToken
from deployments.access import get_deployment_for
from deployments.models import Deployment, Role


def deployment_for(request, org_id, dep_id, role: Role = Role.VIEWER) -> Deployment:
    """The deployment, if the caller may act on it with `role`.

    404 for strangers, for a deployment outside the URL's organisation and outside the token's
    scope (none of them may learn it exists); 403 when the role is too low.
    """
    token = request.auth if isinstance(request.auth, ApiToken) else None
    # With a token, the user's own role is checked first and the cap applied after.
    deployment = get_deployment_for(request, dep_id, role=Role.VIEWER if token else role)
    if deployment.workspace.organization_id != org_id:
        raise Http404("No such deployment")
    if token is None:
        return deployment
    capped = token.role_on(deployment)
    if capped is None:
        raise Http404("No such deployment")
    if capped < role:
        raise PermissionDenied(
            f"This needs the {role.label} role on {deployment.name}; this API token has "
            f"{capped.label}."
        )
    deployment.user_role = capped  # type: ignore[attr-defined]
    return deployment
