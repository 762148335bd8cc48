"""Fleets for the benchmark: deployments, real agent tokens, agents in bulk, their Redis state.

Agents created here go through `bulk_create` and a Redis pipeline, exactly as the heartbeat path
would leave them (a row, an entry in the name cache, a heartbeat time), so that building a
10,000-agent deployment takes seconds rather than 10,000 registrations.
"""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from redis.typing import EncodableT, FieldT

from agents import store
from agents.liveness import Health
from agents.models import Agent, Component
from deployments.models import Deployment, Organization, Role, RoleGrant, Workspace
from tokens.models import AgentToken

VERSION = "1.3.2"
BATCH = 2000


def world() -> tuple[Workspace, User]:
    """One organisation and workspace, and a Viewer on all of it (who polls the dashboard)."""
    org = Organization.objects.create(name="Bench")
    workspace = Workspace.objects.create(organization=org, name="Bench")
    user = get_user_model().objects.create_user(username="bench-viewer", password=None)
    RoleGrant.objects.create(user=user, workspace=workspace, role=Role.VIEWER)
    return workspace, user


def deployment(workspace: Workspace, name: str) -> Deployment:
    return Deployment.objects.create(workspace=workspace, name=name, remote_execution=True)


def tokens(dep: Deployment, count: int) -> list[tuple[AgentToken, str]]:
    return [
        AgentToken.objects.issue(dep, name=f"bench-{i}", expires_in_days=None) for i in range(count)
    ]


def body(name: str, *, slots_used: int = 0) -> dict:
    """What heartbeat.lua sends (and what the agent client sends), as a dict."""
    return {
        "name": name,
        "component": "worker",
        "version": VERSION,
        "queues": ["default"],
        "slots": {"used": slots_used, "total": 20},
        "hostname": f"{name}.agents.svc",
        "python_version": "3.12.8",
    }


def agents(
    dep: Deployment, count: int, *, prefix: str, seen_age: float, token: AgentToken | None = None
) -> list[Agent]:
    """`count` registered agents whose last heartbeat was `seen_age` seconds ago."""
    healthy = seen_age < 60
    rows = [
        Agent(
            deployment=dep,
            token=token,
            name=f"{prefix}-{i:05d}",
            component=Component.WORKER,
            version=VERSION,
            python_version="3.12.8",
            queues=["default"],
            slots_used=0,
            slots_total=20,
            hostname=f"{prefix}-{i:05d}.agents.svc",
            last_ip="127.0.0.1",
            health=Health.HEALTHY if healthy else Health.UNHEALTHY,
        )
        for i in range(count)
    ]
    for start in range(0, len(rows), BATCH):
        Agent.objects.bulk_create(rows[start : start + BATCH])
    at = store.now() - seen_age
    pipe = store.client().pipeline(transaction=False)
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        pipe.zadd(store.k_seen(dep.pk), {str(a.pk): at for a in chunk})
        cache: dict[FieldT, EncodableT] = {
            a.name: json.dumps({"id": str(a.pk), "cordon": None}) for a in chunk
        }
        pipe.hset(store.k_agents(dep.pk), mapping=cache)
        pipe.execute()
    return rows


def age(dep: Deployment, rows: list[Agent], seconds: float) -> None:
    at = store.now() - seconds
    pipe = store.client().pipeline(transaction=False)
    for start in range(0, len(rows), BATCH):
        pipe.zadd(store.k_seen(dep.pk), {str(a.pk): at for a in rows[start : start + BATCH]})
    pipe.execute()


def pending(dep: Deployment, rows: list[Agent], *, slots_used: int) -> None:
    """A waiting heartbeat body for every agent, as `store.beat` leaves it for the flush."""
    at = store.now()
    pipe = store.client().pipeline(transaction=False)
    for start in range(0, len(rows), BATCH):
        bodies: dict[FieldT, EncodableT] = {}
        chunk = rows[start : start + BATCH]
        for a in chunk:
            b = body(a.name, slots_used=slots_used)
            fields = {
                "at": at,
                "component": b["component"],
                "version": b["version"],
                "airflow_version": "",
                "python_version": b["python_version"],
                "queues": b["queues"],
                "slots_used": slots_used,
                "slots_total": 20,
                "running_tasks": 0,
                "hostname": b["hostname"],
                "last_ip": "127.0.0.1",
                "token_id": str(a.token_id) if a.token_id else None,
            }
            bodies[str(a.pk)] = json.dumps(fields, separators=(",", ":"))
        pipe.zadd(store.k_seen(dep.pk), {str(a.pk): at for a in chunk})
        pipe.hset(store.k_hb(dep.pk), mapping=bodies)
    pipe.sadd(store.DIRTY, str(dep.pk))
    pipe.execute()


def old_epoch() -> None:
    """Redis has held our data for an hour: the steady state, not a just-restarted store."""
    store.client().set(store.EPOCH, store.now() - 3600)
