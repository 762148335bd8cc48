"""Who is calling the management API: a browser session, or an API token.

Session requests are CSRF-checked (DRF's SessionAuthentication does that for unsafe methods).
An API token acts as its user, with `request.auth` holding the token so the access check can cap
the role at the token's.

Guessing is throttled per address: after API_TOKEN_GUESS_LIMIT wrong tokens within a window of
API_TOKEN_GUESS_WINDOW seconds, every token from that address is refused (429, Retry-After) until
the window ends, so the guesses are not even checked. A valid token costs one cache read and
never counts. The counts live in the cache (Redis): while it is unreachable nothing is counted.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.models import PREFIX, ApiToken
from astro_ui.net import client_ip

REALM = "api"


def _guess_key(request) -> tuple[str, float]:
    """The address's counter for the current window, and the seconds left in that window."""
    window = settings.API_TOKEN_GUESS_WINDOW
    now = time.time()
    index = int(now // window)
    return f"api-token-guesses:{client_ip(request)}:{index}", (index + 1) * window - now


def _refuse_if_guessing(request) -> None:
    key, left = _guess_key(request)
    if (cache.get(key) or 0) >= settings.API_TOKEN_GUESS_LIMIT:
        raise exceptions.Throttled(
            wait=left,
            detail=f"Too many wrong API tokens from your address; try again in {int(left) + 1} s.",
        )


def _count_guess(request) -> None:
    key, left = _guess_key(request)
    cache.add(key, 0, timeout=int(left) + 1)
    try:
        cache.incr(key)
    except ValueError:  # the key expired in between, or the cache is unreachable
        cache.add(key, 1, timeout=int(left) + 1)


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer raapi_…`. No header: not this scheme; let the session try."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            _count_guess(request)
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <API token>', with nothing else in it."
            )
        _refuse_if_guessing(request)
        try:
            value = header[1].decode("ascii")
        except UnicodeDecodeError:
            value = ""
        token = ApiToken.objects.authenticate(value)
        if token is None:
            _count_guess(request)
            raise exceptions.AuthenticationFailed(
                f"The API token is malformed, unknown or revoked. API tokens start with {PREFIX}; "
                "create one under Account -> API tokens."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API token is deactivated.")
        return token.user, token
