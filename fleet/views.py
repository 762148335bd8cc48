from urllib.parse import urlencode

from csp.decorators import csp_exempt
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from agents import liveness as agent_liveness
from agents import store, versions
from agents.models import Agent
from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import get_access
from deployments.models import Role
from fleet import cleanup, insight

QUEUES_POLL_SECONDS = 5


@login_required
@require_GET
def agent_detail(request: HttpRequest, pk, agent_id) -> HttpResponse:
    access = get_access(request, pk)
    deployment = access.deployment
    # Deleted agents keep their page: their history says what happened to them.
    agent = get_object_or_404(
        Agent.objects.select_related("token", "cordoned_by"), pk=agent_id, deployment=deployment
    )
    live = agent_liveness.of(agent)
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "remote-agents",
        "agent": agent,
        "status": live.status,
        "health": live.health,
        "last_heartbeat_at": live.last_known_heartbeat_at,
        "support": versions.support(agent.version),
        "timeline": insight.timeline(agent),
        "chart": insight.chart(agent),
        "versions": insight.versions_reported(agent),
        "events": insight.recent_events(agent),
        "history_days": settings.HISTORY_RETENTION_DAYS,
    }
    return TemplateResponse(request, "fleet/agent_detail.html", ctx)


@login_required
@require_GET
def queues(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    ctx = {
        "deployment": access.deployment,
        "access": access,
        "tab": "remote-agents",
        "view": "queues",
        **_queues_context(access.deployment),
    }
    return htmx.render(request, "fleet/queues.html", ctx, partial="remote-agents")


@csp_exempt()  # type: ignore[arg-type]  # a fragment, as the Agents table (agents/views.py)
@login_required
@require_GET
def queues_table(request: HttpRequest, pk) -> HttpResponse:
    """The polled fragment: 204 while nothing it shows can have changed — the table version is
    the same and no healthy agent can have gone silent since it was rendered."""
    access = get_access(request, pk)
    deployment = access.deployment
    version, until = request.GET.get("v", ""), _float(request.GET.get("until"))
    if version:
        try:
            current = store.version(deployment.pk)
        except store.Unavailable:
            current = None
        if version == current and (until is None or store.now() < until):
            return HttpResponse(status=204)
    ctx = {"deployment": deployment, "access": access, **_queues_context(deployment)}
    return TemplateResponse(request, "fleet/queues.html#queue-table", ctx)


def _float(raw: str | None) -> float | None:
    try:
        value = float(raw or "")
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e12 else None  # NaN, inf


def _queues_context(deployment) -> dict:
    try:
        version = store.version(deployment.pk)
    except store.Unavailable:
        version = ""
    now = insight.queues(deployment)
    poll = {"v": version} if version else {}
    if now.until is not None:
        poll["until"] = f"{now.until:.3f}"
    base = reverse("agent-queues-table", args=[deployment.pk])
    return {
        "queues": now,
        "poll_url": f"{base}?{urlencode(poll)}",
        "poll_seconds": QUEUES_POLL_SECONDS,
    }


class StaleAgentsForm(forms.Form):
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Remove agents silent for more than",
        help_text="Days, 1 to 3650. Empty switches the clean-up off.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def stale_agents(request: HttpRequest, pk) -> HttpResponse:
    """Preview (any role) what a number of days would remove now; Save (Admins) sets it."""
    access = get_access(request, pk)
    deployment = access.deployment
    data = request.POST if request.method == "POST" else request.GET
    save = request.method == "POST" and data.get("action") == "save"
    if save:
        access.require(Role.ADMIN)
    form = StaleAgentsForm(data if "days" in data else None)
    if not form.is_bound:
        days = deployment.stale_agent_days
    elif form.is_valid():
        days = form.cleaned_data["days"]
        if save:
            deployment.set_stale_agent_days(days, by=request.user, ip=client_ip(request))
            if not request.htmx:
                return redirect("deployment-settings", pk=deployment.pk)
    else:
        days = None
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "settings",
        "form": form if form.is_bound else StaleAgentsForm(initial={"days": days}),
        "days": days,
        "preview": cleanup.stale_agents(deployment, days) if days else [],
        "saved": save and form.is_valid(),
    }
    status = 400 if form.errors else 200
    return htmx.render(
        request, "fleet/stale_agents.html", ctx, partial="cleanup-panel", status=status
    )
