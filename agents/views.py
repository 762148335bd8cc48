from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from astro_ui.types import HttpRequest
from deployments.access import get_deployment_for


@login_required
@require_GET
def agents(request: HttpRequest, pk) -> HttpResponse:
    deployment = get_deployment_for(request, pk)
    ctx = {"deployment": deployment, "tab": "remote-agents", "view": "agents"}
    template = "agents/agents.html"
    if request.htmx and not request.htmx.boosted:
        template += "#remote-agents"
    return TemplateResponse(request, template, ctx)
