import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from agents import store
from agents.forms import AgentFilterForm, CordonForm
from agents.models import Agent
from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import Access, get_access
from deployments.models import Role
from fleet import versions
from fleet.versions import State

PAGE_SIZE = 50
ACCESS_TTL = 60


def _access_key(session_key: str, pk) -> str:
    digest = hashlib.sha256(session_key.encode()).hexdigest()[:32]
    return f"ra:access:{digest}:{pk}"


@login_required
@require_GET
def agents(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    ctx = {"tab": "remote-agents", "view": "agents", **_table_context(request, access)}
    return htmx.render(request, "agents/agents.html", ctx, partial="remote-agents")


@require_GET
def agents_table(request: HttpRequest, pk) -> HttpResponse:
    """The polled fragment. A poll whose version is current costs one Redis read: no session
    load, no SQL, no template. Access was checked in full at most ACCESS_TTL seconds ago for
    this session; a 204 reveals nothing but "unchanged"."""
    version = request.GET.get("v")
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if version and session_key:
        try:
            allowed, current = store.version_if(pk, _access_key(session_key, pk))
        except store.Unavailable:
            allowed = current = None
        if allowed and version == current:
            return HttpResponse(status=204)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    ctx = _table_context(request, get_access(request, pk))
    return TemplateResponse(request, "agents/agents.html#agent-table", ctx)


def _table_context(request: HttpRequest, access: Access) -> dict:
    deployment = access.deployment
    filters = AgentFilterForm(request.GET).cleaned()
    live = Agent.objects.live().filter(deployment=deployment)
    totals = live.totals()
    rows = live.select_related("token")
    if filters["q"]:
        rows = rows.filter(name__icontains=filters["q"])
    if filters["component"]:
        rows = rows.filter(component=filters["component"])
    rows = rows.with_status(filters["status"]).unhealthy_first()
    if filters["support"]:
        rows = rows.filter(
            versions.filter_q(
                filters["support"], live.values_list("version", flat=True).distinct().order_by()
            )
        )
    paged = Paginator(rows, PAGE_SIZE).get_page(filters["page"])
    page_rows = list(paged)
    page, pages, matching = paged.number, paged.paginator.num_pages, paged.paginator.count

    store_ok, version, counts = True, None, None
    try:
        version, epoch = store.version_and_epoch(deployment.pk)
        seen = store.seen_many(deployment.pk, [a.pk for a in page_rows])
        counts = live.health_counts(deployment.pk, totals, epoch=epoch)
        if request.session.session_key:
            key = _access_key(request.session.session_key, deployment.pk)
            store.client().set(key, 1, ex=ACCESS_TTL)
    except store.Unavailable:
        store_ok, epoch, seen = False, None, {}
    for agent in page_rows:
        liveness = agent.liveness(seen.get(str(agent.pk)), epoch=epoch) if store_ok else None
        agent.shown_status = agent.status(liveness)
        agent.shown_health = liveness.health if liveness else None
        agent.shown_last = liveness.last_heartbeat_at if liveness else agent.last_heartbeat_at

    query = {k: v for k, v in filters.items() if v and not (k == "page" and v == 1)}
    poll = dict(query, **({"v": version} if version else {}))
    base = reverse("agents-table", args=[deployment.pk])
    return {
        "deployment": deployment,
        "access": access,
        "agents": page_rows,
        "filters": filters,
        "filter_form": AgentFilterForm(initial=filters),
        "support_choices": State.CHOICES,
        "counts": counts,
        "totals": totals,
        "store_ok": store_ok,
        "poll_url": f"{base}?{urlencode(poll)}",
        "page": page,
        "pages": pages,
        "matching": matching,
        "prev_url": _page_url(deployment, query, page - 1) if paged.has_previous() else None,
        "next_url": _page_url(deployment, query, page + 1) if paged.has_next() else None,
    }


def _page_url(deployment, query: dict, page: int) -> str:
    return reverse("agents", args=[deployment.pk]) + "?" + urlencode(dict(query, page=page))


def _agent_for(request: HttpRequest, pk, agent_id, role: Role) -> tuple[Access, Agent]:
    access = get_access(request, pk, role=role)
    agent = get_object_or_404(Agent.objects.live(), pk=agent_id, deployment=access.deployment)
    return access, agent


def _done(request: HttpRequest, deployment) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "agents-changed"
        return response
    return redirect("agents", pk=deployment.pk)


def _action_page(request, access: Access, agent, action: str, form=None) -> HttpResponse:
    ctx = {
        "deployment": access.deployment,
        "access": access,
        "agent": agent,
        "action": action,
        "form": form,
        "tab": "remote-agents",
    }
    return htmx.render(request, "agents/agent_action.html", ctx, partial="action-form")


@login_required
@require_http_methods(["GET", "POST"])
def agent_cordon(request: HttpRequest, pk, agent_id) -> HttpResponse:
    access, agent = _agent_for(request, pk, agent_id, Role.OPERATOR)
    form = CordonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        agent.cordon(by=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
        return _done(request, access.deployment)
    return _action_page(request, access, agent, "cordon", form)


@login_required
@require_http_methods(["GET", "POST"])
def agent_uncordon(request: HttpRequest, pk, agent_id) -> HttpResponse:
    access, agent = _agent_for(request, pk, agent_id, Role.OPERATOR)
    if request.method == "POST":
        agent.uncordon(by=request.user, ip=client_ip(request))
        return _done(request, access.deployment)
    return _action_page(request, access, agent, "uncordon")


@login_required
@require_http_methods(["GET", "POST"])
def agent_delete(request: HttpRequest, pk, agent_id) -> HttpResponse:
    access, agent = _agent_for(request, pk, agent_id, Role.ADMIN)
    if request.method == "POST":
        agent.terminate(by=request.user, ip=client_ip(request))
        return _done(request, access.deployment)
    return _action_page(request, access, agent, "delete")
