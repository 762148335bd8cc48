from typing import Any

from django.db import models

from astro_ui.net import client_ip
from audit.models import ActorType, AuditEvent


def record(
    action: str,
    *,
    target: models.Model | None = None,
    deployment=None,
    user=None,
    agent_name: str | None = None,
    request=None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. The actor is the user, else the agent, else the system."""
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    if user is not None:
        actor_type, actor_label = ActorType.USER, user.get_username()
    elif agent_name is not None:
        actor_type, actor_label = ActorType.AGENT, agent_name
    else:
        actor_type, actor_label = ActorType.SYSTEM, "system"
    if ip is None and request is not None:
        ip = client_ip(request) or None
    return AuditEvent.objects.create(
        actor_type=actor_type,
        actor_user=user,
        actor_label=actor_label,
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        deployment=deployment,
        source_ip=ip,
        details=details or {},
    )
