"""What each alert rule finds true of a deployment right now.

A rule answers with an Outcome: the subjects it fires for (an agent, a queue, a token, the
deployment), the subjects it cannot judge at the moment (their alert state is left as it is),
and subjects whose state should go without a "resolved" message (an expiring token that has
expired is announced as expired instead).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents import store, versions
from agents.liveness import Liveness
from agents.models import Agent
from alerts import liveness
from alerts.models import Rule
from deployments import ipranges
from tokens.models import AgentToken

HOUR = 3600


@dataclass(frozen=True)
class Finding:
    label: str
    message: str
    detail: dict = field(default_factory=dict)


@dataclass
class Outcome:
    firing: dict[str, Finding]
    unknown: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


class Conditions:
    """What holds now for one deployment; each rule (and threshold) is computed once per
    evaluation, however many channels ask."""

    def __init__(self, deployment):
        self.deployment = deployment
        self.now = store.now()
        self._cache: dict = {}

    def outcome(self, rule: str, channel) -> Outcome | None:
        """None when the rule cannot be judged now (Redis unreachable): nothing changes."""
        key, compute = {
            Rule.AGENT_SILENT: (
                ("silent", channel.silent_minutes),
                lambda: self._silent(channel.silent_minutes),
            ),
            Rule.QUEUE_UNSERVED: (("queue",), self._queues),
            Rule.TOKEN_EXPIRED: (("expired",), self._expired),
            Rule.TOKEN_EXPIRING: (("expiring",), self._expiring),
            Rule.AGENT_VERSION: (("versions",), self._versions),
            Rule.IP_REFUSALS: (
                ("refusals", channel.refusals_per_hour),
                lambda: self._refusals(channel.refusals_per_hour),
            ),
        }[Rule(rule)]
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # --- agents ----------------------------------------------------------------------------

    def _agents(self) -> list[Agent]:
        if "agents" not in self._cache:
            self._cache["agents"] = list(
                Agent.objects.live()
                .filter(deployment=self.deployment)
                .only(
                    "id",
                    "name",
                    "component",
                    "version",
                    "queues",
                    "cordoned_at",
                    "deleted_at",
                    "heartbeat_checkpoint_at",
                )
            )
        return self._cache["agents"]

    def _liveness(self) -> dict[str, Liveness] | None:
        if "liveness" not in self._cache:
            self._cache["liveness"] = liveness.read(self.deployment.pk, self._agents())
        return self._cache["liveness"]

    def _silent(self, minutes: int) -> Outcome | None:
        """Agents (not cordoned: those are being taken out on purpose) with no heartbeat for
        more than `minutes`."""
        states = self._liveness()
        if states is None:
            return None
        outcome = Outcome(firing={})
        for agent in self._agents():
            if agent.is_cordoned:
                continue
            state = states[str(agent.pk)]
            since = liveness.silent_since(state)
            if liveness.is_unknown(state):
                outcome.unknown.add(str(agent.pk))
            elif since is not None and self.now - since > minutes * 60:
                last = f"since {when(since)} ({_minutes(self.now - since)})" if since else "ever"
                outcome.firing[str(agent.pk)] = Finding(
                    agent.name,
                    f"{agent.name} ({agent.get_component_display()}) has sent no heartbeat {last}",
                    {"agentId": str(agent.pk), "lastHeartbeatAt": _iso(since) if since else None},
                )
        return outcome

    def _queues(self) -> Outcome | None:
        """Queues served only by agents that are unhealthy or cordoned."""
        states = self._liveness()
        if states is None:
            return None
        serving: dict[str, list[Agent]] = {}
        for agent in self._agents():
            for queue in agent.queues or []:
                if isinstance(queue, str):
                    serving.setdefault(queue, []).append(agent)
        outcome = Outcome(firing={})
        for queue, agents in sorted(serving.items()):
            takers = [states[str(a.pk)] for a in agents if not a.is_cordoned]
            if any(liveness.is_healthy(t) for t in takers):
                continue
            if any(liveness.is_unknown(t) for t in takers):
                outcome.unknown.add(queue)
                continue
            cordoned = len(agents) - len(takers)
            parts = [f"{len(takers)} unhealthy"] + ([f"{cordoned} cordoned"] if cordoned else [])
            outcome.firing[queue] = Finding(
                queue,
                f"Queue {queue} has no healthy agent ({', '.join(parts)})",
                {"queue": queue, "agents": len(agents)},
            )
        return outcome

    def _versions(self) -> Outcome:
        """Agents running a version the vendor no longer maintains (the fleet's version rule)."""
        outcome = Outcome(firing={})
        for agent in self._agents():
            support = versions.support(agent.version)
            if support.state != versions.State.UNSUPPORTED:
                continue
            upgrade = f"; upgrade to {support.latest}" if support.latest else ""
            outcome.firing[str(agent.pk)] = Finding(
                agent.name,
                f"{agent.name} runs agent {agent.version}: {support.label.lower()}{upgrade}",
                {"agentId": str(agent.pk), "version": agent.version, "latest": support.latest},
            )
        return outcome

    # --- tokens ----------------------------------------------------------------------------

    def _tokens(self) -> list[AgentToken]:
        if "tokens" not in self._cache:
            tokens = AgentToken.objects.filter(deployment=self.deployment).live()
            self._cache["tokens"] = list(tokens.only("id", "name", "hint", "expires_at"))
        return self._cache["tokens"]

    def _dated(self) -> list[tuple[AgentToken, datetime]]:
        """Tokens that expire at all, with their expiry."""
        return [(t, t.expires_at) for t in self._tokens() if t.expires_at is not None]

    def _expired(self) -> Outcome:
        return Outcome(
            firing={
                str(t.pk): Finding(
                    t.name,
                    f"Agent token {t.name} ({t.hint}) expired on {when(at.timestamp())}; "
                    "agents using it are refused",
                    {"tokenId": str(t.pk), "expiresAt": at.isoformat()},
                )
                for t, at in self._dated()
                if t.is_expired
            }
        )

    def _expiring(self) -> Outcome:
        return Outcome(
            firing={
                str(t.pk): Finding(
                    t.name,
                    f"Agent token {t.name} ({t.hint}) expires on {when(at.timestamp())}, in "
                    f"{t.days_left} day{'s' if t.days_left != 1 else ''}",
                    {"tokenId": str(t.pk), "expiresAt": at.isoformat()},
                )
                for t, at in self._dated()
                if t.expires_soon
            },
            quiet={str(t.pk) for t in self._tokens() if t.is_expired},
        )

    # --- refused addresses -----------------------------------------------------------------

    def _refusals(self, per_hour: int) -> Outcome | None:
        try:
            count, top = refusals_last_hour(self.deployment.pk, self.now, self._cache)
        except store.Unavailable:
            return None
        if count <= per_hour:
            return Outcome(firing={})
        addresses = ", ".join(f"{e['ip']} ({e['count']})" for e in top[:5])
        return Outcome(
            firing={
                "deployment": Finding(
                    "refused addresses",
                    f"{count} requests in the last hour came from addresses outside the allowed "
                    f"IP ranges (more than {per_hour}); most recent: {addresses}",
                    {"lastHour": count, "threshold": per_hour, "addresses": top[:5]},
                )
            }
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _k_refusals(dep) -> tuple[str, str]:
    return f"ra:{{{dep}}}:alerts:refused:prev", f"ra:{{{dep}}}:alerts:refused:samples"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _growth(before: int, now: int) -> int:
    return now - before if before <= now else now


def refusals_last_hour(deployment_id, now: float, cache: dict) -> tuple[int, list[dict]]:
    """Requests refused in the last hour for coming from outside the allowed IP ranges.

    The IP ranges keep a running count per refused address (the last 50 addresses). Each
    evaluation stores what it saw and adds the growth since the previous one to a timeline in
    Redis; the last hour of that timeline is the answer. A count that went down was reset (the
    address dropped out and came back): all of it is new. Raises store.Unavailable.
    """
    if "refusals" in cache:
        return cache["refusals"]
    prev_key, samples_key = _k_refusals(deployment_id)
    client = store.client()
    prev = {_text(k): int(v) for k, v in client.hgetall(prev_key).items()}
    first = not client.exists(prev_key)
    blocked = ipranges.recent_blocked(deployment_id)
    counts = {entry["ip"]: entry["count"] for entry in blocked}
    # The first look has nothing to compare with: what was refused before it is not counted.
    grown = 0 if first else sum(_growth(prev.get(ip, 0), c) for ip, c in counts.items())
    pipe = client.pipeline()
    if counts or first:
        pipe.delete(prev_key)
        pipe.hset(prev_key, mapping={**counts, "": 0})
        pipe.expire(prev_key, 7 * 86400)
    if grown:
        pipe.zadd(samples_key, {json.dumps([now, grown]): now})
    pipe.zremrangebyscore(samples_key, "-inf", now - HOUR)
    pipe.expire(samples_key, 2 * HOUR)
    pipe.zrange(samples_key, 0, -1)
    total = sum(json.loads(raw)[1] for raw in pipe.execute()[-1])
    recent = [
        {"ip": e["ip"], "count": e["count"]}
        for e in blocked
        if now - e["last_seen"].timestamp() < HOUR
    ]
    cache["refusals"] = (total, recent)
    return cache["refusals"]
