"""Agent token authentication for Django REST framework views, over the same cache and rule as
the agent API's own route (tokens/cache.py). The agent API itself does not go through DRF (see
agents/ingest.py); this class documents the bearer scheme in the OpenAPI schemas and serves any
DRF view that agents may call."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from astro_ui.net import client_ip
from tokens import cache, secret
from tokens.cache import USAGE_KEY, flush_usage  # noqa: F401 - the beat task's entry point

REALM = "agent-api"

MISSING = "No agent token was sent. Send it in the header 'Authorization: Bearer <agent token>'."
NOT_BEARER = "The Authorization header must be 'Bearer <agent token>', with nothing else in it."
NOT_ASCII = (
    "The Authorization header contains bytes that are not ASCII, so it cannot hold an agent "
    "token. Copy the full value again from your secret store."
)
MALFORMED = (
    "The agent token is malformed: its length, prefix or checksum is wrong, so it was probably "
    "truncated or mistyped. Copy the full value again from your secret store."
)


@dataclass(frozen=True)
class TokenInfo:
    """What a view knows about the token a request authenticated with (`request.auth`)."""

    id: uuid.UUID
    deployment_id: uuid.UUID
    name: str
    digest: str
    expires_at: datetime | None


@dataclass(frozen=True)
class AgentPrincipal:
    """`request.user` on the agent API: the agent holding a valid token, not a person."""

    token: TokenInfo

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> uuid.UUID:
        return self.token.id

    def __str__(self) -> str:
        return f"agent token {self.token.name}"


def bearer_value(header: bytes) -> tuple[str | None, tuple[str, str] | None]:
    """(token text, None) from an Authorization header, or (None, (error code, detail))."""
    parts = header.split()
    if not parts:
        return None, ("token_missing", MISSING)
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        if not header.isascii():
            return None, ("token_malformed", NOT_ASCII)
        return None, ("token_malformed", NOT_BEARER)
    try:
        value = parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None, ("token_malformed", NOT_ASCII)
    if not secret.is_well_formed(value):
        return None, ("token_malformed", MALFORMED)
    return value, None


class AgentTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <agent token>`; the token must belong to the URL's deployment."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

    def authenticate(self, request) -> tuple[AgentPrincipal, TokenInfo]:
        value, problem = bearer_value(get_authorization_header(request))
        dep = ((getattr(request, "parser_context", None) or {}).get("kwargs") or {}).get(
            "deployment_id"
        )
        if problem is None and dep is not None and value is not None:
            digest = secret.digest(value)
            entry = cache.lookup(dep, digest)
            problem = cache.refusal(dep, entry, datetime.now(tz=UTC).timestamp())
        if problem is not None:
            code, detail = problem
            if code == "token_wrong_deployment":
                raise exceptions.PermissionDenied(detail, code=code)
            raise exceptions.AuthenticationFailed(detail, code=code)
        if dep is None:
            raise exceptions.AuthenticationFailed(MALFORMED, code="token_malformed")
        cache.record_use(entry["id"], client_ip(request))
        info = TokenInfo(
            id=uuid.UUID(entry["id"]),
            deployment_id=uuid.UUID(str(dep)),
            name=entry["name"],
            digest=digest,
            expires_at=datetime.fromtimestamp(entry["exp"], tz=UTC) if entry["exp"] else None,
        )
        return AgentPrincipal(info), info
