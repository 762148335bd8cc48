from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import get_deployment_for
from deployments.models import Deployment, Role
from tokens.forms import AgentTokenForm
from tokens.models import MAX_TOKENS_PER_DEPLOYMENT, AgentToken

TEMPLATE = "tokens/tokens.html"


def _context(request: HttpRequest, deployment: Deployment, **extra) -> dict:
    tokens = list(
        AgentToken.objects.filter(deployment=deployment)
        .live()
        .with_agent_counts()
        .select_related("created_by")
    )
    can_manage = deployment.user_role >= Role.ADMIN  # type: ignore[attr-defined]
    ctx = {
        "deployment": deployment,
        "tab": "remote-agents",
        "view": "tokens",
        "tokens": tokens,
        "used": len(tokens),
        "limit": MAX_TOKENS_PER_DEPLOYMENT,
        "at_limit": len(tokens) >= MAX_TOKENS_PER_DEPLOYMENT,
        "can_manage": can_manage,
    }
    if can_manage and "form" not in extra:
        ctx["form"] = AgentTokenForm()
    ctx.update(extra)
    return ctx


def _section(request: HttpRequest) -> str:
    """The whole page, or only the Remote Agents section when htmx asks for it."""
    if request.htmx and not request.htmx.boosted:
        return TEMPLATE + "#remote-agents"
    return TEMPLATE


@login_required
@require_GET
def tokens(request: HttpRequest, pk) -> HttpResponse:
    deployment = get_deployment_for(request, pk)
    return TemplateResponse(request, _section(request), _context(request, deployment))


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def create_token(request: HttpRequest, pk) -> HttpResponse:
    """The + Agent Token form; a successful POST is the only response that shows the value."""
    deployment = get_deployment_for(request, pk, role=Role.ADMIN)
    if request.method == "GET":
        ctx = _context(request, deployment, show_form=True)
        return TemplateResponse(request, _section(request), ctx)

    form = AgentTokenForm(request.POST)
    if form.is_valid():
        try:
            token, value = AgentToken.objects.issue(
                deployment,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                expires_in_days=form.expires_in_days,
                by=request.user,
                ip=client_ip(request) or None,
            )
        except ValidationError as e:
            form.add_model_errors(e)
        else:
            ctx = _context(request, deployment, created=token, value=value, show_form=True)
            if request.htmx:
                return TemplateResponse(request, TEMPLATE + "#token-created-response", ctx)
            return TemplateResponse(request, TEMPLATE, ctx)

    ctx = _context(request, deployment, form=form, show_form=True)
    if request.htmx:
        return TemplateResponse(request, TEMPLATE + "#token-form", ctx)
    return TemplateResponse(request, TEMPLATE, ctx)


@login_required
@require_http_methods(["GET", "POST"])
def delete_token(request: HttpRequest, pk, token_id) -> HttpResponse:
    """GET is the confirmation (for browsers without JavaScript); POST deletes."""
    deployment = get_deployment_for(request, pk, role=Role.ADMIN)
    if request.method == "GET":
        ctx = _context(request, deployment)
        confirm = next((t for t in ctx["tokens"] if t.pk == token_id), None)
        if confirm is None:
            raise Http404("No such token")
        ctx["confirm"] = confirm
        return TemplateResponse(request, _section(request), ctx)

    token = AgentToken.objects.filter(deployment=deployment, pk=token_id).first()
    if token is None:
        raise Http404("No such token")
    # Deleting twice (a double click) is not an error: the token is gone either way.
    token.revoke(by=request.user, ip=client_ip(request) or None)
    if request.htmx:
        return TemplateResponse(request, TEMPLATE + "#remote-agents", _context(request, deployment))
    return redirect("tokens", pk=deployment.pk)
