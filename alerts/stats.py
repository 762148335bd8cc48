"""Delivery outcomes, counted in Redis so /metrics reports the same totals from any process."""

import contextlib

from agents import store

DELIVERIES = "ra:stats:deliveries"


def count_delivery(kind: str, outcome: str) -> None:
    with contextlib.suppress(*store.Unavailable):
        store.client().hincrby(DELIVERIES, f"{kind}:{outcome}", 1)


def deliveries() -> dict[tuple[str, str], int]:
    raw = store.client().hgetall(DELIVERIES)
    out = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else field
        kind, _, outcome = name.partition(":")
        out[(kind, outcome)] = int(value)
    return out
