from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from agents import liveness
from agents.models import Agent
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import get_access
from deployments.forms import DeploymentGeneralForm
from deployments.ip_views import ip_ranges_panel
from deployments.models import Deployment, Role, Workspace


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    workspaces = list(Workspace.objects.visible_to(request.user)[:2])
    if len(workspaces) == 1:
        return redirect(workspaces[0])
    return redirect("workspaces")


@login_required
@require_GET
def workspaces(request: HttpRequest) -> HttpResponse:
    items = (
        Workspace.objects.visible_to(request.user)
        .select_related("organization")
        .order_by("organization__name", "name")
    )
    return TemplateResponse(request, "deployments/workspaces.html", {"workspaces": items})


@login_required
@require_GET
def workspace(request: HttpRequest, pk) -> HttpResponse:
    ws = (
        Workspace.objects.visible_to(request.user)
        .select_related("organization")
        .filter(pk=pk)
        .first()
    )
    if ws is None:
        raise Http404("No such workspace")
    deployments = Deployment.objects.visible_to(request.user).filter(workspace=ws)
    ctx = {"workspace": ws, "deployments": deployments.order_by("name")}
    return TemplateResponse(request, "deployments/workspace.html", ctx)


@login_required
@require_GET
def overview(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    deployment = access.deployment
    live = Agent.objects.live().filter(deployment=deployment)
    counts = liveness.counts(liveness.read(deployment.pk), live)
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "overview",
        "agent_api_url": deployment.agent_api_url(request),
        "counts": counts,
        "healthy_seconds": liveness.healthy_seconds(),
        "activity": deployment.audit_events.select_related("actor_user")[:10],
    }
    return TemplateResponse(request, "deployments/overview.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def deployment_settings(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    deployment = access.deployment
    if request.method == "POST":
        access.require(Role.ADMIN)
        form = DeploymentGeneralForm(request.POST, deployment=deployment)
        if form.is_valid():
            deployment.update_general(by=request.user, ip=client_ip(request), **form.cleaned_data)
            return redirect("deployment-settings", pk=deployment.pk)
    else:
        form = DeploymentGeneralForm(deployment=deployment)
    ctx = {"deployment": deployment, "access": access, "tab": "settings", "form": form}
    ctx["ip"] = ip_ranges_panel(request, access)
    return TemplateResponse(request, "deployments/settings.html", ctx)
