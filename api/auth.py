"""Who is calling the management API: a browser session, or an API token.

Session requests are CSRF-checked (DRF's SessionAuthentication does that for unsafe methods).
An API token acts as its user, with `request.auth` holding the token so the access check can cap
the role at the token's.
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.models import PREFIX, ApiToken

REALM = "api"


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer raapi_…`. No header: not this scheme; let the session try."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <API token>', with nothing else in it."
            )
        try:
            value = header[1].decode("ascii")
        except UnicodeDecodeError:
            value = ""
        token = ApiToken.objects.authenticate(value)
        if token is None:
            raise exceptions.AuthenticationFailed(
                f"The API token is malformed, unknown or revoked. API tokens start with {PREFIX}; "
                "create one under Account -> API tokens."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API token is deactivated.")
        return token.user, token
