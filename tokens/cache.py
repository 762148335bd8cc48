"""The cached state of agent tokens, as each deployment's agent API sees them.

Every heartbeat authenticates, so the steady state must cost no SQL: a token is looked up by its
digest under the deployment the URL names (`ra:{dep}:tok:<digest>`, see astro_ui/keys.py), and
only a miss reads the database. A token of another deployment is told apart on that miss and
cached as such. The heartbeat script (agents/heartbeat.lua) reads these entries and applies
`refusal`'s rule itself; this module fills them and withdraws them.

Deleting a token overwrites its entry with a revoked marker, and fills use SET NX, so a request
that read the row just before the delete committed cannot put a live copy back. When Redis
refuses that write (out of memory), the entry is deleted instead, so the next request reads the
database; if Redis refuses that too, the delete itself fails (see `withdraw`).

Use is recorded in Redis at most once a minute per token; `flush_usage` (a beat task) writes the
pending uses to the database in bulk.
"""

import json
import logging
import time
import uuid
from datetime import UTC, datetime

import redis
from django.apps import apps

from astro_ui import keys, redis_client
from astro_ui.redis_client import CacheNotUpdated

log = logging.getLogger(__name__)

CACHE_SECONDS = 300
SHORT_CACHE_SECONDS = 30  # unknown digests and tokens of another deployment
USAGE_EVERY_SECONDS = 60
USAGE_KEY = "agent-token:usage"
_USED_KEY = "agent-token:used:{id}"
STALE = b"stale"
UNKNOWN = b"{}"

Unavailable = (redis.RedisError, OSError)


def entry_from_database(dep, digest: str) -> dict:
    """What a token is to deployment `dep`: its entry, {"wrong": <deployment>} or {} (unknown)."""
    row = (
        apps.get_model("tokens", "AgentToken")
        .objects.filter(digest=digest)
        .values("id", "deployment_id", "name", "expires_at", "revoked_at")
        .first()
    )
    if row is None:
        return {}
    if str(row["deployment_id"]) != str(dep):
        return {"wrong": str(row["deployment_id"])}
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "exp": row["expires_at"].timestamp() if row["expires_at"] else None,
        "revoked": row["revoked_at"] is not None,
    }


def fill(dep, digest: str, cached: bytes | None) -> dict:
    """Read the token from the database and cache it; `cached` is what the cache held (None or
    the revoked marker). Redis errors are logged: the answer stands without the cache."""
    entry = entry_from_database(dep, digest)
    # Over a revoked marker the row read above is newer than the delete that wrote the marker,
    # so it may replace it; otherwise only fill an empty slot, never overwrite a marker.
    only_if_empty = cached is None
    live = bool(entry) and "wrong" not in entry
    try:
        redis_client.client().set(
            keys.token(dep, digest),
            json.dumps(entry, separators=(",", ":")) if entry else UNKNOWN,
            ex=CACHE_SECONDS if live else SHORT_CACHE_SECONDS,
            nx=only_if_empty,
        )
    except Unavailable:
        log.warning("Redis is unavailable; agent token not cached")
    return entry


def lookup(dep, digest: str) -> dict:
    """The token's entry for this deployment (see `entry_from_database`), cache first."""
    try:
        cached = redis_client.client().get(keys.token(dep, digest))
    except Unavailable:
        log.warning("Redis is unavailable; agent token looked up in the database")
        return entry_from_database(dep, digest)
    if cached is not None and cached != STALE:
        return json.loads(cached)
    return fill(dep, digest, cached)


def refusal(dep, entry: dict, now: float) -> tuple[str, str] | None:
    """(error code, detail) when the entry does not let an agent in; the script's rule, too."""
    if not entry:
        return "token_unknown", (
            "This agent token is not known. Check that the agent uses a token created for "
            "this deployment, or create a new one under Remote Agents → Tokens."
        )
    if "wrong" in entry:
        other = entry["wrong"]
        return "token_wrong_deployment", (
            f"This agent token belongs to deployment {other}, but it was sent to the agent API "
            f"URL of deployment {dep}. Use a token created for deployment {dep}, or correct the "
            "agent API URL."
        )
    if entry["revoked"]:
        return "token_revoked", (
            f"The agent token '{entry['name']}' was deleted. Create a new token under Remote "
            "Agents → Tokens and update the agent's configuration."
        )
    if entry["exp"] is not None and entry["exp"] <= now:
        expired = datetime.fromtimestamp(entry["exp"], tz=UTC).isoformat()
        return "token_expired", (
            f"The agent token '{entry['name']}' expired at {expired}. Create a new token under "
            "Remote Agents → Tokens and update the agent's configuration."
        )
    return None


def withdraw(dep, digest: str) -> None:
    """Make the next request with this token read the database again (the token was deleted).

    Writes the revoked marker; if Redis refuses, deletes the entry; if that fails too, raises
    CacheNotUpdated so the caller can refuse to commit rather than leave a live copy behind.
    """
    key = keys.token(dep, digest)
    try:
        redis_client.client().set(key, STALE, ex=CACHE_SECONDS)
        return
    except Unavailable:
        log.warning("Could not mark the cached agent token revoked; deleting it", exc_info=True)
    try:
        redis_client.client().delete(key)
    except Unavailable as exc:
        raise CacheNotUpdated() from exc


def forget(dep, digest: str) -> None:
    """`withdraw` after the commit: nothing is left to refuse, so a failure is only logged."""
    try:
        withdraw(dep, digest)
    except CacheNotUpdated:
        log.exception("The cached agent token may outlive its deletion by %ss", CACHE_SECONDS)


# Per process: when each token's use is next worth telling Redis about. Spares the hot path a
# round trip on all but one request a minute per token and process; SET NX below keeps the
# once-a-minute promise across processes.
_next_use_due: dict[str, float] = {}


def record_use(token_id: str, ip: str) -> None:
    now = time.monotonic()
    if _next_use_due.get(token_id, 0.0) > now:
        return
    _next_use_due[token_id] = now + USAGE_EVERY_SECONDS
    try:
        client = redis_client.client()
        if client.set(_USED_KEY.format(id=token_id), 1, ex=USAGE_EVERY_SECONDS, nx=True):
            use = {"at": datetime.now(tz=UTC).isoformat(), "ip": ip or None}
            client.hset(USAGE_KEY, token_id, json.dumps(use))
    except Unavailable:
        log.warning("Redis is unavailable; agent token use not recorded")


def flush_usage() -> int:
    """Write the pending token uses from Redis to the database; returns how many tokens."""
    AgentToken = apps.get_model("tokens", "AgentToken")
    client = redis_client.client()
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
                last_used_at=datetime.fromisoformat(use["at"]),
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
