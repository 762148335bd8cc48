"""Account -> API tokens: a user creates and revokes their own tokens for the management API.

Plain HTML views; the value of a new token is in the POST response only.
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api.models import ApiToken
from astro_ui.net import client_ip
from astro_ui.types import AuthenticatedHttpRequest
from deployments.models import Deployment, Role, Workspace

TEMPLATE = "api/api_tokens.html"


def _scopes(user) -> list[tuple[str, str]]:
    """Where the user can create a token: workspaces they hold a role on, and deployments."""
    workspaces = Workspace.objects.granted_to(user).select_related("organization")
    choices = [
        (f"workspace:{w.pk}", f"Workspace {w.organization} / {w.name} (every deployment)")
        for w in workspaces
    ]
    deployments = Deployment.objects.visible_to(user).select_related("workspace")
    choices += [
        (f"deployment:{d.pk}", f"Deployment {d.workspace.name} / {d.name}") for d in deployments
    ]
    return choices


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "ci-pipeline"}),
    )
    scope = forms.ChoiceField(help_text="The token works there only.")
    role = forms.TypedChoiceField(
        choices=Role.choices,
        coerce=int,
        initial=Role.VIEWER,
        help_text="At most your own role there; it follows yours if yours is lowered.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        scope = self.fields["scope"]
        assert isinstance(scope, forms.ChoiceField)
        scope.choices = _scopes(user)

    def scope_objects(self) -> dict:
        kind, _, pk = self.cleaned_data["scope"].partition(":")
        model = Workspace if kind == "workspace" else Deployment
        return {kind: model.objects.get(pk=pk)}


def _page(request: AuthenticatedHttpRequest, form: ApiTokenForm, **extra) -> HttpResponse:
    tokens = (
        ApiToken.objects.filter(user=request.user).live().select_related("workspace", "deployment")
    )
    ctx = {"form": form, "tokens": tokens, "nav": "api-tokens", **extra}
    return TemplateResponse(request, TEMPLATE, ctx)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, ApiTokenForm(user=request.user))
    form = ApiTokenForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            token, value = ApiToken.objects.issue(
                request.user,
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
                ip=client_ip(request) or None,
                **form.scope_objects(),
            )
        except ValidationError as error:
            # The model's field names are the form's: each error lands next to its field.
            form.add_error(None, error)
        else:
            return _page(request, ApiTokenForm(user=request.user), created=token, value=value)
    return _page(request, form)


@login_required
@require_POST
def revoke_api_token(request: AuthenticatedHttpRequest, token_id) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke(by=request.user, ip=client_ip(request) or None)
    return redirect("api-tokens")
