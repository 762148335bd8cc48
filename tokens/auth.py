"""Agent token authentication for the agent API.

Every heartbeat authenticates, so the steady state must cost no SQL: the token is looked up by
digest in Redis, and only a cache miss reads the database. Revoking a token overwrites its cache
entry with a revoked marker (see `forget`), and cache fills use SET NX, so a request that read the
row just before the revoke committed cannot put a live copy back.

Use is recorded in Redis at most once a minute per token; `flush_usage` (a beat task) writes the
pending uses to the database in bulk.
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import redis
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from astro_ui import redis_client
from astro_ui.net import client_ip
from tokens import secret

log = logging.getLogger(__name__)

REALM = "agent-api"
CACHE_SECONDS = 300
UNKNOWN_CACHE_SECONDS = 30
USAGE_EVERY_SECONDS = 60
_ENTRY_KEY = "agent-token:{digest}"
_USED_KEY = "agent-token:used:{id}"
USAGE_KEY = "agent-token:usage"
_STALE = b"stale"
_UNKNOWN = b"{}"


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


class AgentTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <agent token>`; the token must belong to the URL's deployment."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

    def authenticate(self, request) -> tuple[AgentPrincipal, TokenInfo]:
        value = _bearer_value(request)
        if not secret.is_well_formed(value):
            raise exceptions.AuthenticationFailed(
                "The agent token is malformed: its length, prefix or checksum is wrong, so it was "
                "probably truncated or mistyped. Copy the full value again from your secret store.",
                code="token_malformed",
            )
        digest = secret.digest(value)
        entry = _lookup(digest, request)
        if entry is None:
            raise exceptions.AuthenticationFailed(
                "This agent token is not known. Check that the agent uses a token created for "
                "this deployment, or create a new one under Remote Agents → Tokens.",
                code="token_unknown",
            )
        info = TokenInfo(
            id=uuid.UUID(entry["id"]),
            deployment_id=uuid.UUID(entry["deployment_id"]),
            name=entry["name"],
            digest=digest,
            expires_at=_parse_time(entry["expires_at"]),
        )
        if entry["revoked"]:
            raise exceptions.AuthenticationFailed(
                f"The agent token '{info.name}' was deleted. Create a new token under Remote "
                "Agents → Tokens and update the agent's configuration.",
                code="token_revoked",
            )
        if info.expires_at is not None and info.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(
                f"The agent token '{info.name}' expired at {info.expires_at.isoformat()}. Create a "
                "new token under Remote Agents → Tokens and update the agent's configuration.",
                code="token_expired",
            )
        _check_deployment(request, info)
        _record_use(info, client_ip(request))
        return AgentPrincipal(info), info


def forget(digest: str) -> None:
    """Make the next request with this token read the database again.

    Called after a revoke commits. It writes a revoked marker rather than deleting the entry, so
    a request that read the row before the commit cannot re-cache the token as live.
    """
    try:
        _redis().set(_ENTRY_KEY.format(digest=digest), _STALE, ex=CACHE_SECONDS)
    except redis.RedisError:
        log.exception("Could not drop the cached agent token; it expires within %ss", CACHE_SECONDS)


def flush_usage() -> int:
    """Write the pending token uses from Redis to the database; returns how many tokens."""
    from tokens.models import AgentToken

    client = _redis()
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(USAGE_KEY)
    pipe.delete(USAGE_KEY)
    pending, _ = pipe.execute()
    if not pending:
        return 0
    tokens = []
    for raw_id, raw in pending.items():
        use = json.loads(raw)
        tokens.append(
            AgentToken(
                pk=uuid.UUID(raw_id.decode()),
                last_used_at=_parse_time(use["at"]),
                last_used_ip=use["ip"] or None,
            )
        )
    try:
        AgentToken.objects.bulk_update(tokens, ["last_used_at", "last_used_ip"])
    except Exception:
        # Put the uses back (without overwriting newer ones) so the next flush retries them.
        for raw_id, raw in pending.items():
            client.hsetnx(USAGE_KEY, raw_id, raw)
        raise
    return len(tokens)


# --- internals -----------------------------------------------------------------------------------


_redis = redis_client.client


def _bearer_value(request) -> str:
    header = get_authorization_header(request).split()
    if not header:
        raise exceptions.AuthenticationFailed(
            "No agent token was sent. Send it in the header 'Authorization: Bearer <agent token>'.",
            code="token_missing",
        )
    if len(header) != 2 or header[0].lower() != b"bearer":
        raise exceptions.AuthenticationFailed(
            "The Authorization header must be 'Bearer <agent token>', with nothing else in it.",
            code="token_malformed",
        )
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            "The agent token contains characters no agent token has. Copy the full value again "
            "from your secret store.",
            code="token_malformed",
        ) from None


def _check_deployment(request, info: TokenInfo) -> None:
    kwargs = getattr(request, "parser_context", None) or {}
    url_deployment = (kwargs.get("kwargs") or {}).get("deployment_id")
    if url_deployment is None:
        return
    if str(url_deployment) != str(info.deployment_id):
        raise exceptions.PermissionDenied(
            f"This agent token belongs to deployment {info.deployment_id}, but it was sent to "
            f"the agent API URL of deployment {url_deployment}. Use a token created for "
            f"deployment {url_deployment}, or correct the agent API URL.",
            code="token_wrong_deployment",
        )


def entry_key(digest: str) -> str:
    return _ENTRY_KEY.format(digest=digest)


def _lookup(digest: str, request=None) -> dict | None:
    """The cached entry for a digest, filled from the database on a miss; None if unknown."""
    key = entry_key(digest)
    try:
        cached = redis_client.get(request, key)
    except redis.RedisError:
        log.warning("Redis is unavailable; agent token looked up in the database")
        return _from_database(digest)
    if cached is not None and cached != _STALE:
        return json.loads(cached) or None
    entry = _from_database(digest)
    # Over a stale marker the row read above is newer than the revoke that wrote the marker, so
    # it may replace it; otherwise only fill an empty slot, never overwrite a marker.
    only_if_empty = cached is None
    try:
        if entry is None:
            _redis().set(key, _UNKNOWN, ex=UNKNOWN_CACHE_SECONDS, nx=only_if_empty)
        else:
            _redis().set(key, json.dumps(entry), ex=CACHE_SECONDS, nx=only_if_empty)
    except redis.RedisError:
        log.warning("Redis is unavailable; agent token not cached")
    return entry


def _from_database(digest: str) -> dict | None:
    from tokens.models import AgentToken

    row = (
        AgentToken.objects.filter(digest=digest)
        .values("id", "deployment_id", "name", "expires_at", "revoked_at")
        .first()
    )
    if row is None:
        return None
    return {
        "id": str(row["id"]),
        "deployment_id": str(row["deployment_id"]),
        "name": row["name"],
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        "revoked": row["revoked_at"] is not None,
    }


# Per process: when each token's use is next worth telling Redis about. Spares the hot path a
# round trip on all but one request a minute per token and process; SET NX below keeps the
# once-a-minute promise across processes.
_next_use_due: dict[uuid.UUID, float] = {}


def _record_use(info: TokenInfo, ip: str) -> None:
    now = time.monotonic()
    if _next_use_due.get(info.id, 0.0) > now:
        return
    _next_use_due[info.id] = now + USAGE_EVERY_SECONDS
    try:
        client = _redis()
        if client.set(_USED_KEY.format(id=info.id), 1, ex=USAGE_EVERY_SECONDS, nx=True):
            use = {"at": timezone.now().isoformat(), "ip": ip or None}
            client.hset(USAGE_KEY, str(info.id), json.dumps(use))
    except redis.RedisError:
        log.warning("Redis is unavailable; agent token use not recorded")


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
