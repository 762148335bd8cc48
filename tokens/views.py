from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import Access, get_access
from deployments.models import Role
from tokens.forms import AgentTokenForm
from tokens.models import MAX_TOKENS_PER_DEPLOYMENT, AgentToken

TEMPLATE = "tokens/tokens.html"


def _section(request: HttpRequest, ctx: dict) -> HttpResponse:
    """The whole page, or only the Remote Agents section when htmx asks for it."""
    return htmx.render(request, TEMPLATE, ctx, partial="remote-agents")


def _context(request: HttpRequest, access: Access, **extra) -> dict:
    deployment = access.deployment
    tokens = list(
        AgentToken.objects.filter(deployment=deployment)
        .live()
        .with_agent_counts()
        .select_related("created_by")
    )
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "remote-agents",
        "view": "tokens",
        "tokens": tokens,
        "used": len(tokens),
        "limit": MAX_TOKENS_PER_DEPLOYMENT,
        "at_limit": len(tokens) >= MAX_TOKENS_PER_DEPLOYMENT,
    }
    if access.can_admin and "form" not in extra:
        ctx["form"] = AgentTokenForm()
    ctx.update(extra)
    return ctx


@login_required
@require_GET
def tokens(request: HttpRequest, pk) -> HttpResponse:
    return _section(request, _context(request, get_access(request, pk)))


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def create_token(request: HttpRequest, pk) -> HttpResponse:
    """The + Agent Token form; a successful POST is the only response that shows the value."""
    access = get_access(request, pk, role=Role.ADMIN)
    deployment = access.deployment
    if request.method == "GET":
        return _section(request, _context(request, access, show_form=True))

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
            ctx = _context(request, access, created=token, value=value, show_form=True)
            return htmx.render(request, TEMPLATE, ctx, partial="token-created-response")

    ctx = _context(request, access, form=form, show_form=True)
    return htmx.render(request, TEMPLATE, ctx, partial="token-form")


@login_required
@require_http_methods(["GET", "POST"])
def delete_token(request: HttpRequest, pk, token_id) -> HttpResponse:
    """GET is the confirmation (for browsers without JavaScript); POST deletes."""
    access = get_access(request, pk, role=Role.ADMIN)
    deployment = access.deployment
    if request.method == "GET":
        ctx = _context(request, access)
        confirm = next((t for t in ctx["tokens"] if t.pk == token_id), None)
        if confirm is None:
            raise Http404("No such token")
        ctx["confirm"] = confirm
        return _section(request, ctx)

    token = AgentToken.objects.filter(deployment=deployment, pk=token_id).first()
    if token is None:
        raise Http404("No such token")
    # Deleting twice (a double click) is not an error: the token is gone either way.
    token.revoke(by=request.user, ip=client_ip(request) or None)
    if htmx.wants_partial(request):
        return _section(request, _context(request, access))
    return redirect("tokens", pk=deployment.pk)
