import contextlib
import hashlib
from urllib.parse import urlencode

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from agents import liveness, store, versions
from agents.forms import AgentFilterForm, BulkCordonForm, CordonForm
from agents.models import Agent
from agents.versions import State
from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import Access, get_access
from deployments.models import Role

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


# A fragment htmx swaps into the page, never a document of its own: the page's policy governs it,
# and an unchanged poll stays a few hundred bytes.
@csp_exempt()  # type: ignore[arg-type]  # django-csp types views as request-only
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
    ctx = _table_context(request, get_access(request, pk))
    response = TemplateResponse(request, "agents/agents.html#agent-table", ctx)
    if request.htmx and "v" not in request.GET:
        # A change of filters, sort or page (not a poll): the address bar follows, so reload,
        # back and a shared link show the same view. Typing a search replaces the entry.
        header = "HX-Replace-Url" if request.htmx.trigger_name == "q" else "HX-Push-Url"
        response[header] = _page_url(ctx["deployment"], ctx["query"])
    return response


def _table_context(request: HttpRequest, access: Access) -> dict:
    deployment = access.deployment
    filters = AgentFilterForm(request.GET).cleaned()
    fleet = liveness.read(deployment.pk)
    live = Agent.objects.live().filter(deployment=deployment)
    counts = liveness.counts(fleet, live)
    rows = live.select_related("token", "cordoned_by")
    if filters["q"]:
        rows = rows.filter(name__icontains=filters["q"])
    if filters["component"]:
        rows = rows.filter(component=filters["component"])
    if filters["support"]:
        rows = rows.filter(
            versions.filter_q(
                filters["support"], live.values_list("version", flat=True).distinct().order_by()
            )
        )
    try:
        if filters["status"]:
            rows = rows.filter(fleet.status_q(filters["status"]))
        if filters["sort"] == "problems":
            rows = rows.problems_first(fleet)
        else:
            rows = rows.order_by("name")
    except store.Unavailable:
        fleet = liveness.Fleet(deployment.pk, now=fleet.now, epoch=None)
        rows = rows.none()
    paged = Paginator(rows, PAGE_SIZE).get_page(filters["page"])
    page, pages, matching = paged.number, paged.paginator.num_pages, paged.paginator.count
    shown = liveness.rows(fleet, list(paged))
    if fleet.ok and request.session.session_key:
        with contextlib.suppress(*store.Unavailable):
            key = _access_key(request.session.session_key, deployment.pk)
            store.client().set(key, 1, ex=ACCESS_TTL)

    query = {k: v for k, v in filters.items() if v and not _default(k, v)}
    # Always a `v`, empty when Redis cannot be read: it is what tells a poll from a change of
    # filters, which moves the address bar.
    poll = dict(query, v=fleet.version or "")
    base = reverse("agents-table", args=[deployment.pk])
    prev_page = page - 1 if paged.has_previous() else None
    next_page = page + 1 if paged.has_next() else None
    return {
        "deployment": deployment,
        "access": access,
        "agents": shown,
        "filters": filters,
        "query": query,
        "filter_form": AgentFilterForm(initial=filters),
        "support_choices": State.CHOICES,
        "counts": counts,
        "store_ok": fleet.ok,
        "poll_url": f"{base}?{urlencode(poll)}",
        "poll_seconds": liveness.POLL_SECONDS,
        "on_time_seconds": liveness.on_time_seconds(),
        "healthy_seconds": liveness.healthy_seconds(),
        "heartbeat_interval": settings.HEARTBEAT_INTERVAL_SECONDS,
        "page": page,
        "pages": pages,
        "matching": matching,
        "prev_url": _page_url(deployment, query, prev_page) if prev_page else None,
        "next_url": _page_url(deployment, query, next_page) if next_page else None,
        "prev_table_url": _page_url(deployment, query, prev_page, base=base) if prev_page else None,
        "next_table_url": _page_url(deployment, query, next_page, base=base) if next_page else None,
    }


def _default(key: str, value) -> bool:
    return (key == "page" and value == 1) or (key == "sort" and value == "name")


def _page_url(deployment, query: dict, page: int | None = None, base: str = "") -> str:
    if page is not None:
        query = {k: v for k, v in dict(query, page=page).items() if not _default(k, v)}
    url = base or reverse("agents", args=[deployment.pk])
    return f"{url}?{urlencode(query)}" if query else url


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
        agent.cordon(
            by=request.user,
            reason=form.cleaned_data["reason"],
            until=form.cleaned_data["until"],
            ip=client_ip(request),
        )
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


@login_required
@require_http_methods(["GET", "POST"])
def agents_bulk(request: HttpRequest, pk) -> HttpResponse:
    """Cordon or uncordon many agents with one reason."""
    access = get_access(request, pk, role=Role.OPERATOR)
    deployment = access.deployment
    rows = Agent.objects.live().filter(deployment=deployment)
    # GET ?agents=…&agents=… from the table's ticked rows pre-selects them.
    initial = {"agents": request.GET.getlist("agents"), "action": request.GET.get("action")}
    form = BulkCordonForm(request.POST or None, rows=rows, initial=initial)
    if request.method == "POST" and form.is_valid():
        selected, ip = form.selected(), client_ip(request)
        if form.cleaned_data["action"] == "cordon":
            changed = selected.cordon_each(
                by=request.user,
                reason=form.cleaned_data["reason"],
                until=form.cleaned_data["until"],
                ip=ip,
            )
        else:
            changed = selected.uncordon_each(by=request.user, ip=ip)
        messages.success(
            request, f"{form.cleaned_data['action'].capitalize()}ed {changed} agent(s)."
        )
        return redirect("agents", pk=deployment.pk)
    ctx = {"deployment": deployment, "access": access, "tab": "remote-agents", "form": form}
    return TemplateResponse(request, "agents/bulk.html", ctx, status=400 if form.errors else 200)
