"""Allowed IP ranges: validating a list, previewing its impact, enforcing it on agent requests.

Enforcement sits on the agent API's hot path, so a steady-state check costs one Redis GET and no
SQL: the deployment's list is cached in Redis and rewritten when a change commits. Blocked
attempts are recorded in Redis too, rate-limited per address, so a misconfigured fleet hammering
the API cannot turn into a write storm on the database.
"""

import functools
import ipaddress
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from rest_framework.exceptions import APIException

from astro_ui import redis_client
from astro_ui.net import Network, client_ip, unmapped_address, unmapped_network
from audit.record import record

log = logging.getLogger(__name__)


MAX_RANGES = 100
MAX_ENTRY_LENGTH = 64
# A list can also change outside set_allowed_ip_ranges (the admin site, a shell); the TTL bounds
# how long such a change can go unnoticed by enforcement.
CACHE_SECONDS = 300
BLOCKED_KEEP = 50
BLOCKED_RECORD_SECONDS = 60
BLOCKED_AUDIT_SECONDS = 3600
BLOCKED_FORGET_SECONDS = 7 * 86400


# --- validation ------------------------------------------------------------------------------


def _error(message: str, code: str, index: int | None, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params={"index": index, **params})


def _parse_entry(entry: Any, index: int, allow_everything: bool) -> Network | ValidationError:
    number = index + 1
    if not isinstance(entry, str):
        return _error("Entry %(number)s is not text.", "invalid", index, number=number)
    if not entry.strip():
        return _error(
            "Entry %(number)s is empty; enter a range or remove it.", "empty", index, number=number
        )
    if len(entry) > MAX_ENTRY_LENGTH:
        return _error(
            "Entry %(number)s is too long to be an IP range.", "invalid", index, number=number
        )
    if entry != entry.strip():
        return _error(
            '"%(entry)s" has spaces around it; write it as %(suggestion)s.',
            "spaces",
            index,
            entry=entry,
            suggestion=entry.strip(),
        )
    if "," in entry or ";" in entry:
        return _error(
            '"%(entry)s" holds more than one value; put each range in its own entry.',
            "separator",
            index,
            entry=entry,
        )
    if re.search(r"\s", entry):
        squeezed = re.sub(r"\s+", "", entry)
        return _error(
            '"%(entry)s" contains a space; write it as %(suggestion)s.',
            "spaces",
            index,
            entry=entry,
            suggestion=squeezed,
        )
    if "%" in entry:
        return _error(
            '"%(entry)s" has an IPv6 zone; zones are not allowed.', "invalid", index, entry=entry
        )
    address_part, slash, prefix_part = entry.partition("/")
    try:
        address = ipaddress.ip_address(address_part)
    except ValueError:
        return _error(
            '"%(entry)s" is not an IP address or CIDR range (e.g. 10.0.0.0/16 or 2001:db8::/32).',
            "invalid",
            index,
            entry=entry,
        )
    if not slash:
        return ipaddress.ip_network(unmapped_address(address))
    longest = address.max_prefixlen
    if not prefix_part.isascii() or not prefix_part.isdigit() or int(prefix_part) > longest:
        return _error(
            '"%(entry)s": the prefix length must be a number from 0 to %(longest)s for %(family)s.',
            "prefix",
            index,
            entry=entry,
            longest=longest,
            family=f"IPv{address.version}",
        )
    try:
        network = ipaddress.ip_network(f"{address}/{int(prefix_part)}")
    except ValueError:
        suggestion = unmapped_network(
            ipaddress.ip_network(f"{address}/{int(prefix_part)}", strict=False)
        )
        return _error(
            '"%(entry)s" has host bits set; did you mean %(suggestion)s?',
            "host_bits",
            index,
            entry=entry,
            suggestion=str(suggestion),
        )
    # ::ffff:10.0.0.0/104 is 10.0.0.0/8: saved as such, it matches the IPv4 agents it names.
    network = unmapped_network(network)
    if network.prefixlen == 0 and not allow_everything:
        return _error(
            '"%(entry)s" allows every %(family)s address; confirm that this is intended.',
            "everything",
            index,
            entry=entry,
            family=f"IPv{network.version}",
        )
    return network


def parse_ranges(entries: list[str], *, allow_everything: bool = False) -> list[str]:
    """Validate a list of CIDR entries and return them normalised, in their order.

    A bare address means that one address (/32 or /128). An empty list means no restriction.
    Raises ValidationError holding one error per problem; each carries `params["index"]`, the
    entry's position (None for a problem with the whole list), so a form can show it in place.
    """
    if not isinstance(entries, list):
        raise ValidationError("Send a list of CIDR ranges.", code="invalid")
    errors: list[ValidationError] = []
    if len(entries) > MAX_RANGES:
        errors.append(
            _error(
                "At most %(max)s ranges are allowed; this list has %(count)s.",
                "too_many",
                None,
                max=MAX_RANGES,
                count=len(entries),
            )
        )
    parsed: list[tuple[int, Network]] = []
    for index, entry in enumerate(entries):
        result = _parse_entry(entry, index, allow_everything)
        if isinstance(result, ValidationError):
            errors.append(result)
        else:
            parsed.append((index, result))
    errors.extend(_overlaps(entries, parsed))
    if errors:
        raise ValidationError(errors)
    return [str(network) for _, network in parsed]


def _overlaps(entries: list[str], parsed: list[tuple[int, Network]]) -> list[ValidationError]:
    errors = []
    for index, network in parsed:
        for other_index, other in parsed:
            if other_index == index or other.version != network.version:
                continue
            if other == network and other_index < index:
                errors.append(
                    _error(
                        '"%(entry)s" repeats "%(other)s".',
                        "duplicate",
                        index,
                        entry=entries[index],
                        other=entries[other_index],
                    )
                )
                break
            if other != network and network.subnet_of(other):  # type: ignore[arg-type]
                errors.append(
                    _error(
                        '"%(entry)s" is already inside "%(other)s"; remove one of them.',
                        "contained",
                        index,
                        entry=entries[index],
                        other=entries[other_index],
                    )
                )
                break
    return errors


def error_messages(error: ValidationError) -> list[tuple[int | None, str]]:
    """(entry index or None, message) for each problem in a parse_ranges error."""
    return [
        ((e.params or {}).get("index"), e.message % e.params if e.params else str(e.message))
        for e in error.error_list
    ]


def error_codes(error: ValidationError) -> set[str]:
    return {e.code for e in error.error_list if e.code}


# --- impact preview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    """What a list of ranges would do to a deployment's agents right now."""

    blocked: list  # LiveAgent rows the list would refuse
    connected: list  # the agents considered: connected ones, or every agent when not known
    known: bool  # False: the heartbeat store could not say which agents are connected


def lockout_preview(deployment, ranges: list[str]) -> Lockout:
    """Which connected agents (beating now, by the liveness rule) the given normalised ranges
    would refuse, judged by their last source address. Agents with no known address are not
    counted as blocked: nothing can be said about them.

    When the heartbeat store cannot be read, no one can say who is connected: every agent is
    considered, so the guards still ask before locking anyone out.
    """
    # agents sits above deployments (agents.models imports deployments.models).
    from agents import liveness
    from agents.models import Agent

    agents = Agent.objects.live().filter(deployment=deployment).order_by("name")
    fleet = liveness.read(deployment.pk)
    connected = liveness.connected(fleet, agents)
    known = connected is not None
    if connected is None:
        connected = liveness.rows(fleet, list(agents))
    networks = _networks(json.dumps(list(ranges)))
    blocked = [
        row
        for row in connected
        if networks is not None and row.agent.last_ip and not _allows(networks, row.agent.last_ip)
    ]
    return Lockout(blocked, connected, known)


def lockout_message(lockout: Lockout) -> str:
    """The preview's sentence, also the guards' error: it names the count."""
    blocked, total = len(lockout.blocked), len(lockout.connected)
    if not lockout.known:
        return (
            f"The heartbeat store is unavailable, so who is connected is unknown: this change "
            f"would block {blocked} of {total} agent{'s' if total != 1 else ''} "
            "at their last address"
        )
    if not total:
        return "No agent is connected right now, so this change blocks nobody"
    agents = f"{total} connected agent{'s' if total != 1 else ''}"
    if not blocked:
        return f"This change would block none of the {agents}"
    return f"This change would block {blocked} of {agents}"


# --- the cached list -------------------------------------------------------------------------

_redis = redis_client.client


def ranges_key(deployment_id) -> str:
    return f"ipranges:{deployment_id}"


@functools.lru_cache(maxsize=1024)
def _networks(raw: str) -> tuple[Network, ...] | None:
    """The networks of a cached JSON list; None when the list is empty (no restriction).

    Memoised on the cached text, so a steady state parses nothing. A stored entry that does not
    parse is skipped; if none parses the result is an empty tuple, which allows nobody: a broken
    list must not silently mean "any address".
    """
    entries = json.loads(raw)
    if not entries:
        return None
    networks = []
    for entry in entries:
        try:
            networks.append(unmapped_network(ipaddress.ip_network(entry, strict=False)))
        except (TypeError, ValueError):
            log.warning("Ignoring a malformed allowed IP range: %r", entry)
    return tuple(networks)


def _stored_ranges(deployment_id) -> list:
    # deployments.models imports this module for its rules.
    from deployments.models import Deployment

    try:
        row = Deployment.objects.filter(pk=deployment_id).values("allowed_ip_ranges").first()
    except (ValueError, ValidationError):
        row = None
    # An unknown deployment restricts nothing here; the agent API answers 404 for it anyway.
    ranges = row["allowed_ip_ranges"] if row else []
    return ranges if isinstance(ranges, list) else ["<malformed>"]


def allowed_networks(deployment_id, request=None) -> tuple[Network, ...] | None:
    """The networks agents of a deployment may connect from; None means any address.

    Read from Redis; on a miss, from the database, then cached. When Redis is unreachable the
    database answers: enforcement degrades to one query per request, never to "allow all".
    """
    key = ranges_key(deployment_id)
    try:
        raw = redis_client.get(request, key)
    except redis.RedisError:
        log.warning("Redis unavailable; reading allowed IP ranges from the database")
        return _networks(json.dumps(_stored_ranges(deployment_id)))
    if raw is None:
        text = json.dumps(_stored_ranges(deployment_id))
        try:
            # NX: a fill that read the database before a change committed must not overwrite
            # the value publish() wrote after it.
            _redis().set(key, text, ex=CACHE_SECONDS, nx=True)
        except redis.RedisError:
            log.warning("Could not cache allowed IP ranges", exc_info=True)
        return _networks(text)
    return _networks(redis_client.text(raw))


def publish(deployment_id, ranges: list[str]) -> None:
    """Put a just-committed list in the cache, so the next agent request enforces it."""
    try:
        _redis().set(ranges_key(deployment_id), json.dumps(ranges), ex=CACHE_SECONDS)
    except redis.RedisError:
        log.exception("Could not publish allowed IP ranges; dropping the cached copy")
        try:
            _redis().delete(ranges_key(deployment_id))
        except redis.RedisError:
            log.exception("Cached allowed IP ranges may be stale for up to %ss", CACHE_SECONDS)


def publish_on_commit(deployment_id, ranges: list[str]) -> None:
    transaction.on_commit(lambda: publish(deployment_id, list(ranges)))


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; the ranges say a.b.c.d.
    return unmapped_address(address)


def _allows(networks: tuple[Network, ...], ip: str) -> bool:
    address = _address(ip)
    return address is not None and any(address in network for network in networks)


def list_allows(ranges: list[str], ip: str) -> bool:
    """Whether a list of ranges (empty: any address) lets this address in."""
    networks = _networks(json.dumps(list(ranges)))
    return networks is None or _allows(networks, ip)


def is_allowed(deployment_id, ip: str, request=None) -> bool:
    networks = allowed_networks(deployment_id, request)
    return networks is None or _allows(networks, ip)


# --- enforcement -----------------------------------------------------------------------------


class IPNotAllowed(APIException):
    status_code = 403
    default_code = "ip_not_allowed"
    default_detail = "This address is outside the deployment's allowed IP ranges."

    def __init__(self, ip: str):
        shown = ip or "an unknown address"
        super().__init__(
            detail={
                "error": "ip_not_allowed",
                "ip": ip,
                "detail": f"Requests from {shown} are refused: the deployment's allowed IP "
                "ranges do not include this address. An Admin can add it under Settings -> "
                "Allowed IP ranges.",
            },
            code="ip_not_allowed",
        )


def check_agent_ip(request, deployment_id) -> None:
    """Refuse an agent API request from outside the deployment's allowed IP ranges.

    Call first thing in every agent API request, before token authentication, so that a
    refused address learns nothing about tokens. Raises IPNotAllowed (403).
    """
    ip = client_ip(request)
    if is_allowed(deployment_id, ip, request):
        return
    record_blocked(deployment_id, ip)
    raise IPNotAllowed(ip)


# --- blocked attempts ------------------------------------------------------------------------


def _blocked_keys(deployment_id) -> tuple[str, str, str]:
    """The refused addresses by time, their attempt counts, and who they said they were."""
    prefix = f"ipblocked:{deployment_id}"
    return f"{prefix}:seen", f"{prefix}:count", f"{prefix}:who"


def record_blocked(
    deployment_id, ip: str, *, token_name: str | None = None, agent_name: str | None = None
) -> None:
    """Count a refused request; remember the address at most once a minute, and write an
    audit event at most once an hour per address. Never raises: recording is best effort.

    `token_name` and `agent_name` are what the request claimed, when the caller knows them; the
    page shows them so an Admin can tell a stray scanner from their own agent."""
    seen_key, count_key, who_key = _blocked_keys(deployment_id)
    member = ip or "unknown"
    who = {k: v[:253] for k, v in (("token", token_name), ("agent", agent_name)) if v}
    try:
        client = _redis()
        pipe = client.pipeline(transaction=False)
        pipe.set(f"ipblocked:{deployment_id}:rl:{member}", 1, ex=BLOCKED_RECORD_SECONDS, nx=True)
        pipe.hincrby(count_key, member, 1)
        fresh, _ = pipe.execute()
        if not fresh:
            return
        pipe = client.pipeline(transaction=True)
        pipe.zadd(seen_key, {member: time.time()})
        pipe.zrange(seen_key, 0, -(BLOCKED_KEEP + 1))
        pipe.zremrangebyrank(seen_key, 0, -(BLOCKED_KEEP + 1))
        if who:
            pipe.hset(who_key, member, json.dumps(who))
        for key in (seen_key, count_key, who_key):
            pipe.expire(key, BLOCKED_FORGET_SECONDS)
        _, evicted, *_ = pipe.execute()
        if evicted:
            client.hdel(count_key, *evicted)
            client.hdel(who_key, *evicted)
        audit = client.set(
            f"ipblocked:{deployment_id}:audit:{member}", 1, ex=BLOCKED_AUDIT_SECONDS, nx=True
        )
    except redis.RedisError:
        log.warning("Could not record a blocked agent request from %s", member, exc_info=True)
        return
    if audit:
        _audit_blocked(deployment_id, ip)


def _audit_blocked(deployment_id, ip: str) -> None:
    # deployments.models imports this module for its rules.
    from deployments.models import Deployment

    try:
        with transaction.atomic():
            record(
                "ip.blocked",
                target=None,
                deployment=Deployment(pk=deployment_id),
                ip=ip or None,
                details={"ip": ip, "reason": "outside the allowed IP ranges"},
            )
    except (DatabaseError, ValidationError, ValueError):
        log.warning("Could not audit a blocked agent request from %s", ip, exc_info=True)


def recent_blocked(deployment_id) -> list[dict]:
    """The most recently refused addresses, newest first: {ip, last_seen, count, token_name,
    agent_name} (the names are None when no refused request from the address gave them).

    Empty when Redis cannot be reached; the page still renders.
    """
    seen_key, count_key, who_key = _blocked_keys(deployment_id)
    try:
        seen: list[tuple[bytes, float]] = _redis().zrevrange(  # type: ignore[assignment]  # sync client
            seen_key, 0, BLOCKED_KEEP - 1, withscores=True
        )
        counts: list[bytes | None] = []
        whos: list[bytes | None] = []
        if seen:
            members = [member for member, _ in seen]
            pipe = _redis().pipeline(transaction=False)
            pipe.hmget(count_key, members)
            pipe.hmget(who_key, members)
            counts, whos = pipe.execute()
    except redis.RedisError:
        log.warning("Could not read blocked agent requests", exc_info=True)
        return []
    rows = []
    for (member, score), count, raw in zip(seen, counts, whos, strict=True):
        who = json.loads(raw) if raw else {}
        rows.append(
            {
                "ip": member.decode(),
                "last_seen": datetime.fromtimestamp(score, tz=UTC),
                "count": int(count or 1),
                "token_name": who.get("token"),
                "agent_name": who.get("agent"),
            }
        )
    return rows


def single_address_range(ip: str) -> str:
    """ip/32 or ip/128, for allowing exactly one blocked address."""
    address = _address(ip)
    if address is None:
        raise ValidationError('"%(ip)s" is not an IP address.', code="invalid", params={"ip": ip})
    return str(ipaddress.ip_network(address))
