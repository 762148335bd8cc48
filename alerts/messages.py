"""What a message says: one JSON payload per delivery, rendered as text for Slack and e-mail.

Everything one evaluation found for one channel goes into one message, so a fleet that falls
silent at once is one message listing the agents, not one message per agent.
"""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from alerts.models import Rule

MAX_EVENTS = 100
MAX_TEXT_LINES = 20

NOUNS = {
    Rule.AGENT_SILENT: ("agent silent", "agents silent"),
    Rule.QUEUE_UNSERVED: ("queue without a healthy agent", "queues without a healthy agent"),
    Rule.TOKEN_EXPIRING: ("agent token expiring", "agent tokens expiring"),
    Rule.TOKEN_EXPIRED: ("agent token expired", "agent tokens expired"),
    Rule.IP_REFUSALS: ("burst of refused addresses", "bursts of refused addresses"),
    Rule.AGENT_VERSION: (
        "agent on an unsupported version",
        "agents on an unsupported version",
    ),
}

RESOLVED = {
    Rule.AGENT_SILENT: "{label} is no longer silent",
    Rule.QUEUE_UNSERVED: "Queue {label} has a healthy agent again, or is no longer served",
    Rule.TOKEN_EXPIRING: "Agent token {label} no longer expires within a week (deleted)",
    Rule.TOKEN_EXPIRED: "Expired agent token {label} was deleted",
    Rule.IP_REFUSALS: "Refused requests from outside the allowed IP ranges are below the "
    "threshold again",
    Rule.AGENT_VERSION: "{label} no longer runs an unsupported version (upgraded or deleted)",
}


def console_url(path: str) -> str:
    return (settings.PUBLIC_URL or "http://localhost:8000") + path


def resolved_message(rule: str, label: str) -> str:
    return RESOLVED[Rule(rule)].format(label=label)


def _phrase(rule: str, count: int) -> str:
    one, many = NOUNS[Rule(rule)]
    return f"{count:,} {one if count == 1 else many}"


def summary(deployment, events: list[dict]) -> str:
    parts = []
    for state, prefix in (("firing", ""), ("resolved", "resolved: ")):
        counts: dict[str, int] = {}
        for event in events:
            if event["state"] == state:
                counts[event["rule"]] = counts.get(event["rule"], 0) + 1
        if counts:
            parts.append(prefix + ", ".join(_phrase(r, n) for r, n in counts.items()))
    return f"[{deployment.name}] " + "; ".join(parts)


def alert_payload(channel, events: list[dict]) -> dict:
    deployment = channel.deployment
    firing = sum(1 for e in events if e["state"] == "firing")
    return {
        "type": "alert",
        "summary": summary(deployment, events),
        **_envelope(channel),
        "counts": {"firing": firing, "resolved": len(events) - firing},
        "events": events[:MAX_EVENTS],
        "omittedEvents": max(0, len(events) - MAX_EVENTS),
    }


def test_payload(channel, who: str) -> dict:
    return {
        "type": "test",
        "summary": f"[{channel.deployment.name}] Test message for channel {channel.name}",
        **_envelope(channel),
        "counts": {"firing": 0, "resolved": 0},
        "events": [],
        "omittedEvents": 0,
        "requestedBy": who,
    }


def _envelope(channel) -> dict:
    deployment = channel.deployment
    return {
        "createdAt": timezone.now().isoformat(),
        "deployment": {
            "id": str(deployment.pk),
            "name": deployment.name,
            "url": console_url(reverse("agents", args=[deployment.pk])),
        },
        "channel": {"id": str(channel.pk), "name": channel.name},
    }


def text(payload: dict, *, bullet: str = "-") -> str:
    """The message as plain text (e-mail) or Slack mrkdwn (bullet "•")."""
    lines = [payload["summary"], ""]
    if payload["type"] == "test":
        lines.append(
            f"This is a test requested by {payload.get('requestedBy', 'someone')}. "
            "Alerts for this deployment will arrive here."
        )
    for state, title in (("firing", "Needs attention"), ("resolved", "Resolved")):
        chosen = [e for e in payload["events"] if e["state"] == state]
        if not chosen:
            continue
        lines.append(f"{title}:")
        lines += [f"{bullet} {e['message']}" for e in chosen[:MAX_TEXT_LINES]]
        hidden = payload["counts"][state] - min(len(chosen), MAX_TEXT_LINES)
        if hidden > 0:
            lines.append(f"{bullet} … and {hidden:,} more")
        lines.append("")
    lines.append(f"Open the console: {payload['deployment']['url']}")
    return "\n".join(lines)
