"""One evaluation: compare what holds now with what each channel has been told, and queue one
message per channel for everything that changed."""

import contextlib
import logging

import redis
from django.db import transaction
from django.utils import timezone

from agents import store
from alerts import messages
from alerts.models import AlertState, Channel, Delivery
from alerts.rules import Conditions, Outcome
from deployments.models import Deployment

log = logging.getLogger(__name__)

LOCK = "ra:alerts:evaluate:lock"


def evaluate_all() -> int:
    """Evaluate every deployment with an enabled channel; returns the messages queued.

    Under a Redis lock: two evaluations at once would announce the same transition twice.
    """
    try:
        lock = store.client().lock(LOCK, timeout=300, blocking_timeout=0)
        if not lock.acquire():
            return 0
    except store.Unavailable:
        log.warning("Redis unavailable; alert evaluation skipped")
        return 0
    try:
        deps = Channel.objects.enabled().values_list("deployment_id", flat=True).distinct()
        queued = 0
        for deployment in Deployment.objects.filter(pk__in=list(deps)):
            queued += evaluate_deployment(deployment)
        return queued
    finally:
        with contextlib.suppress(*store.Unavailable, redis.exceptions.LockError):
            lock.release()


def evaluate_deployment(deployment) -> int:
    conditions = Conditions(deployment)
    queued = 0
    for channel in Channel.objects.enabled().filter(deployment=deployment):
        channel.deployment = deployment
        with transaction.atomic():
            events = []
            for rule in channel.rules():
                outcome = conditions.outcome(rule, channel)
                if outcome is not None:
                    events += _changes(channel, rule, outcome)
            if events:
                payload = messages.alert_payload(channel, events)
                Delivery.objects.queue(channel, payload, rules=[e["rule"] for e in events])
                queued += 1
    return queued


def _changes(channel, rule: str, outcome: Outcome) -> list[dict]:
    """Record the transitions of one rule on one channel and describe them as events."""
    told = {s.subject: s for s in channel.alert_states.filter(rule=rule)}
    now = timezone.now()
    events = []
    fresh = [s for s in outcome.firing if s not in told]
    AlertState.objects.bulk_create(
        [
            AlertState(
                channel=channel,
                rule=rule,
                subject=s,
                label=outcome.firing[s].label[:300],
                since=now,
            )
            for s in fresh
        ]
    )
    for subject in fresh:
        finding = outcome.firing[subject]
        events.append(_event(rule, "firing", subject, finding.label, finding.message, now))
        events[-1]["detail"] = finding.detail
    ended = [s for s in told if s not in outcome.firing and s not in outcome.unknown]
    if ended:
        channel.alert_states.filter(rule=rule, subject__in=ended).delete()
    for subject in ended:
        if subject in outcome.quiet:
            continue
        state = told[subject]
        message = messages.resolved_message(rule, state.label)
        events.append(_event(rule, "resolved", subject, state.label, message, state.since))
    return events


def _event(rule, state, subject, label, message, since) -> dict:
    return {
        "rule": rule,
        "state": state,
        "subject": subject,
        "label": label,
        "message": message,
        "since": since.isoformat(),
    }
