import logging
import re
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods

from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from audit.record import record
from deployments.access import Access, get_access
from deployments.models import Role
from onboarding import values
from onboarding.forms import RegisterAgentForm, defaults
from onboarding.workers import MAX_WORKERS, worker_defaults
from tokens.models import AgentToken

log = logging.getLogger(__name__)
TEMPLATE = "onboarding/register.html"


@login_required
@require_http_methods(["GET", "POST"])
def register_agent(request: HttpRequest, pk) -> HttpResponse:
    """The wizard. POST `action`: preview (also live, via htmx), add-worker, or generate."""
    access = get_access(request, pk, role=Role.ADMIN)
    deployment = access.deployment
    if request.method == "GET":
        name = AgentToken.objects.filter(deployment=deployment).free_name("remote-agent")
        return _page(
            request, access, RegisterAgentForm(defaults(deployment, name)), show_errors=False
        )

    action = request.POST.get("action", "preview")
    if action == "add-worker":
        form = RegisterAgentForm(_with_another_worker(request.POST))
        return _page(request, access, form, partial="wizard")
    form = RegisterAgentForm(request.POST)
    if action == "generate":
        return _generate(request, access, form)
    return _page(request, access, form, partial="preview")


def _generate(request: HttpRequest, access: Access, form: RegisterAgentForm) -> HttpResponse:
    """Create the token if asked, then hand out the file (inline) or show the value once."""
    deployment = access.deployment
    if _preview(request, deployment, form).yaml is None:
        return _page(request, access, form)
    data = form.full_data()
    token, value = None, None
    if form.creates_token():
        try:
            token, value = AgentToken.objects.issue(
                deployment,
                name=data["token_name"],
                expires_in_days=data["token_expires_in_days"],
                description="Created while registering a remote agent",
                by=request.user,
                ip=client_ip(request) or None,
            )
        except ValidationError as e:
            _token_errors_onto(form, e)
            return _page(request, access, form)

    method = _token_method(data)
    record(
        "agent.register_values",
        target=deployment,
        deployment=deployment,
        request=request,
        details={
            "token_method": method,
            "token_source": data["token_source"],
            "token": token.name if token else None,
            "namespace": data["namespace"],
            "resource_name_prefix": data["resource_name_prefix"],
            "file": values.file_name(deployment),
        },
    )
    if method == "agentToken" or token is None:
        out = _preview(request, deployment, form, token=value)
        if out.yaml is None:  # pragma: no cover - the same data validated a moment ago
            return _page(request, access, form)
        response = HttpResponse(out.yaml, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{out.file_name}"'
        response["Cache-Control"] = "no-store"
        return response

    # A secret or a file: the token must be shown once here. The page's form now refers to the
    # token as an existing one, so submitting it again downloads the file without making another.
    after = request.POST.copy()
    after.setlist("token_source", ["existing"])
    after.setlist("token_name", [""])
    created = {"token": token, "value": value, "method": method, "path": data["token_file"]}
    if method == "agentTokenSecretName":
        created["command"] = values.token_secret_command(
            data["namespace"], data["token_secret_name"], value
        )
    response = _page(request, access, RegisterAgentForm(after), created=created)
    response["Cache-Control"] = "no-store"
    return response


def _page(
    request: HttpRequest,
    access: Access,
    form: RegisterAgentForm,
    *,
    show_errors: bool = True,
    partial: str | None = None,
    created: dict | None = None,
) -> HttpResponse:
    deployment = access.deployment
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "remote-agents",
        "form": form,
        "show_errors": show_errors,
        "created": created,
        "max_workers": MAX_WORKERS,
        "deployment_namespace": values.deployment_namespace(deployment),
        "preview": _preview(request, deployment, form),
    }
    return htmx.render(request, TEMPLATE, ctx, partial=partial)


@dataclass
class Preview:
    """The file and commands for the form's data, or the list of what is still wrong."""

    file_name: str
    yaml: str | None = None
    highlighted: SafeString | None = None
    commands: list[values.Command] = field(default_factory=list)
    method: str = ""
    new_token: bool = False
    problems: list[dict[str, str]] = field(default_factory=list)


def _preview(request, deployment, form, *, token=None) -> Preview:
    out = Preview(file_name=values.file_name(deployment))
    if not form.is_valid():
        out.problems = _problems(form)
        return out
    data = form.full_data()
    built = values.build(
        data, deployment, agent_api_url=deployment.agent_api_url(request), token=token
    )
    try:
        values.validate(built)
    except values.SchemaError as e:
        log.error("Generated values.yaml broke the schema: %s", e)
        form.add_error(
            None, f"The generated file failed its schema check ({e}). Please report this."
        )
        out.problems = _problems(form)
        return out
    out.yaml = values.render(built, deployment)
    out.highlighted = _highlight(out.yaml)
    out.commands = values.commands(built, deployment)
    out.method = _token_method(data)
    out.new_token = form.creates_token()
    return out


YAML_KEY = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w.-]*)(:)(.*)$")


def _highlight(text: str) -> SafeString:
    """Comments and keys in their own spans; the text content stays the file, byte for byte."""
    lines = []
    for line in text.split("\n"):
        if line.lstrip().startswith("#"):
            lines.append(format_html('<span class="y-c">{}</span>', line))
        elif m := YAML_KEY.match(line):
            lines.append(format_html('{}<span class="y-k">{}</span>{}{}', *m.groups()))
        else:
            lines.append(escape(line))
    return mark_safe("\n".join(lines))  # noqa: S308 - every piece is escaped above


def _problems(form: RegisterAgentForm) -> list[dict]:
    problems = [{"label": "", "id": "", "error": e} for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name == "__all__":
            continue
        field = form[name]
        problems += [{"label": field.label, "id": field.auto_id, "error": e} for e in errors]
    for e in form.workers.non_form_errors():
        problems.append({"label": "Workers", "id": "workers", "error": e})
    for i, worker in enumerate(form.workers.forms, start=1):
        for name, errors in worker.errors.items():
            label = f"Worker {i}: {worker[name].label}"
            problems += [{"label": label, "id": worker[name].auto_id, "error": e} for e in errors]
    return problems


def _token_method(data: dict) -> str:
    if data["token_inline"]:
        return "agentToken"
    return "agentTokenSecretName" if data["token_secret_name"] else "agentTokenFile"


def _token_errors_onto(form: RegisterAgentForm, error: ValidationError) -> None:
    fields = {"name": "token_name", "expires_in_days": "token_expires_in_days"}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        form.add_error(fields.get(name), errors)


def _with_another_worker(post):
    data = post.copy()
    try:
        count = int(data.get("workers-TOTAL_FORMS", "1"))
    except ValueError:
        count = 1
    count = max(1, min(count, MAX_WORKERS - 1))
    data["workers-TOTAL_FORMS"] = str(count + 1)
    data.update(worker_defaults(count, f"worker-{count + 1}"))
    return data
