import contextlib
import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from agents import liveness, store
from agents.forms import AgentFilterForm, CordonForm
from agents.models import Agent
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import get_deployment_for
from deployments.models import Role

PAGE_SIZE = 50
ACCESS_TTL = 60


def _access_key(session_key: str, pk) -> str:
    digest = hashlib.sha256(session_key.encode()).hexdigest()[:32]
    return f"ra:access:{digest}:{pk}"


@login_required
@require_GET
def agents(request: HttpRequest, pk) -> HttpResponse:
    deployment = get_deployment_for(request, pk)
    ctx = {"deployment": deployment, "tab": "remote-agents", "view": "agents"}
    ctx.update(_table_context(request, deployment))
    template = "agents/agents.html"
    if request.htmx and not request.htmx.boosted:
        template += "#remote-agents"
    return TemplateResponse(request, template, ctx)


@require_GET
def agents_table(request: HttpRequest, pk) -> HttpResponse:
    """The polled fragment. A poll whose version is current costs one Redis round trip: no
    session load, no SQL, no template. Access was checked in full at most ACCESS_TTL seconds
    ago for this session; a 204 reveals nothing but "unchanged"."""
    version = request.GET.get("v", "")
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if version and session_key and len(version) < 100:
        try:
            current = liveness.is_current(pk, version, _access_key(session_key, pk))
        except store.Unavailable:
            current = False
        if current:
            return HttpResponse(status=204)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    deployment = get_deployment_for(request, pk)
    ctx = {"deployment": deployment, **_table_context(request, deployment)}
    response = TemplateResponse(request, "agents/agents.html#agent-table", ctx)
    if request.htmx and "v" not in request.GET:
        # A change of filters, sort or page (not a poll): the address bar follows, so reload,
        # back and a shared link show the same view. Typing a search replaces the entry.
        header = "HX-Replace-Url" if request.htmx.trigger_name == "q" else "HX-Push-Url"
        response[header] = _page_url(deployment, ctx["query"])
    return response


def _table_context(request: HttpRequest, deployment) -> dict:
    filters = AgentFilterForm(request.GET).cleaned()
    fleet = liveness.read(deployment.pk)
    live = Agent.objects.live().filter(deployment=deployment)
    counts = liveness.counts(fleet, live)
    rows = live.select_related("token", "cordoned_by")
    if filters["q"]:
        rows = rows.filter(name__icontains=filters["q"])
    if filters["component"]:
        rows = rows.filter(component=filters["component"])
    try:
        if filters["status"]:
            rows = rows.filter(fleet.status_q(filters["status"]))
        rows = (
            rows.problems_first(fleet) if filters["sort"] == "problems" else rows.order_by("name")
        )
        filtered = any(filters[k] for k in ("q", "status", "component"))
        matching = rows.count() if filtered else counts.total
    except store.Unavailable:
        fleet = liveness.Fleet(deployment.pk, now=fleet.now, epoch=None)
        rows, matching = rows.none(), 0
    pages = max(1, -(-matching // PAGE_SIZE))
    page = min(filters["page"], pages)
    shown = liveness.rows(fleet, list(rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]))
    if fleet.ok and request.session.session_key:
        with contextlib.suppress(*store.Unavailable):
            key = _access_key(request.session.session_key, deployment.pk)
            store.client().set(key, 1, ex=ACCESS_TTL)

    query = {k: v for k, v in filters.items() if v and not _default(k, v)}
    # Always a `v`, empty when Redis cannot be read: it is what tells a poll from a change of
    # filters, which moves the address bar.
    poll = dict(query, v=fleet.version or "")
    base = reverse("agents-table", args=[deployment.pk])
    return {
        "agents": shown,
        "filters": filters,
        "query": query,
        "filter_form": AgentFilterForm(initial=filters),
        "counts": counts,
        "store_ok": fleet.ok,
        "poll_url": f"{base}?{urlencode(poll)}",
        "poll_seconds": liveness.POLL_SECONDS,
        "on_time_seconds": liveness.on_time_seconds(),
        "healthy_seconds": liveness.healthy_seconds(),
        "page": page,
        "pages": pages,
        "matching": matching,
        "heartbeat_interval": settings.HEARTBEAT_INTERVAL_SECONDS,
        "prev_url": _page_url(deployment, query, page - 1) if page > 1 else None,
        "next_url": _page_url(deployment, query, page + 1) if page < pages else None,
        "prev_table_url": _page_url(deployment, query, page - 1, base=base) if page > 1 else None,
        "next_table_url": _page_url(deployment, query, page + 1, base=base)
        if page < pages
        else None,
        "can_operate": deployment.user_role >= Role.OPERATOR,
        "can_admin": deployment.user_role >= Role.ADMIN,
    }


def _default(key: str, value) -> bool:
    return (key == "page" and value == 1) or (key == "sort" and value == "name")


def _page_url(deployment, query: dict, page: int | None = None, base: str = "") -> str:
    if page is not None:
        query = {k: v for k, v in dict(query, page=page).items() if not _default(k, v)}
    url = base or reverse("agents", args=[deployment.pk])
    return f"{url}?{urlencode(query)}" if query else url


def _agent_for(request: HttpRequest, pk, agent_id, role: Role):
    deployment = get_deployment_for(request, pk, role=role)
    agent = get_object_or_404(Agent.objects.live(), pk=agent_id, deployment=deployment)
    return deployment, agent


def _done(request: HttpRequest, deployment) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "agents-changed"
        return response
    return redirect("agents", pk=deployment.pk)


def _action_page(request, deployment, agent, action: str, form=None) -> HttpResponse:
    ctx = {
        "deployment": deployment,
        "agent": agent,
        "action": action,
        "form": form,
        "tab": "remote-agents",
    }
    template = "agents/agent_action.html"
    if request.htmx:
        template += "#action-form"
    return TemplateResponse(request, template, ctx)


@login_required
@require_http_methods(["GET", "POST"])
def agent_cordon(request: HttpRequest, pk, agent_id) -> HttpResponse:
    deployment, agent = _agent_for(request, pk, agent_id, Role.OPERATOR)
    form = CordonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        agent.cordon(by=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
        return _done(request, deployment)
    return _action_page(request, deployment, agent, "cordon", form)


@login_required
@require_http_methods(["GET", "POST"])
def agent_uncordon(request: HttpRequest, pk, agent_id) -> HttpResponse:
    deployment, agent = _agent_for(request, pk, agent_id, Role.OPERATOR)
    if request.method == "POST":
        agent.uncordon(by=request.user, ip=client_ip(request))
        return _done(request, deployment)
    return _action_page(request, deployment, agent, "uncordon")


@login_required
@require_http_methods(["GET", "POST"])
def agent_delete(request: HttpRequest, pk, agent_id) -> HttpResponse:
    deployment, agent = _agent_for(request, pk, agent_id, Role.ADMIN)
    if request.method == "POST":
        agent.terminate(by=request.user, ip=client_ip(request))
        return _done(request, deployment)
    return _action_page(request, deployment, agent, "delete")
