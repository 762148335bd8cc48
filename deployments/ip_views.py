"""Settings -> Allowed IP ranges: the editor, its impact preview and the recently blocked list.

The editor is a plain form of `ranges` inputs; "Add row", "Remove", "Preview" and "Save" are its
submit buttons, so it works without JavaScript. With htmx, each answer is the panel partial.
"""

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from astro_ui.htmx import wants_partial
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments import ipranges
from deployments.access import Access, get_access
from deployments.forms import DeploymentGeneralForm
from deployments.models import Deployment, Role

PANEL = "deployments/ip_ranges.html#ip-ranges"


@dataclass
class Row:
    value: str
    errors: list[str] = field(default_factory=list)


@dataclass
class Panel:
    access: Access
    rows: list[Row]
    blocked: list[dict]
    errors: list[str] = field(default_factory=list)
    notice: str = ""
    preview: dict | None = None
    lockout_token: str = ""
    ask_everything: bool = False
    everything_checked: bool = False
    # "Allow this IP" asked, not yet confirmed: the address and the range it would add.
    confirm_allow: dict | None = None

    @property
    def healthy_seconds(self) -> int:
        return settings.AGENT_HEALTHY_SECONDS

    @property
    def deployment(self) -> Deployment:
        return self.access.deployment

    @property
    def saved(self) -> list[str]:
        return self.deployment.allowed_ip_ranges or []


def ip_ranges_panel(request: HttpRequest, access: Access, **kwargs) -> Panel:
    """The panel as saved; the settings page renders it under the general settings."""
    deployment = access.deployment
    saved = list(deployment.allowed_ip_ranges or [])
    rows = kwargs.pop("rows", None) or [Row(value) for value in saved] or [Row("")]
    blocked = ipranges.recent_blocked(deployment.pk)
    for entry in blocked:
        entry["allowed"] = ipranges.list_allows(saved, entry["ip"])
    notice = kwargs.pop("notice", "")
    if not notice and request.GET.get("saved") == "ip-ranges":
        added = request.GET.get("added", "")
        # Only a range the saved list holds: the address bar cannot put words in the console.
        if added and added in saved:
            notice = _added(added)
        else:
            notice = "Allowed IP ranges saved. Agents see the change on their next request."
    return Panel(
        access=access,
        rows=rows,
        blocked=blocked,
        notice=notice,
        **kwargs,
    )


def _respond(request: HttpRequest, panel: Panel) -> HttpResponse:
    if wants_partial(request):
        ctx = {"deployment": panel.deployment, "access": panel.access, "ip": panel}
        return TemplateResponse(request, PANEL, ctx)
    ctx = {
        "deployment": panel.deployment,
        "access": panel.access,
        "tab": "settings",
        "form": DeploymentGeneralForm(deployment=panel.deployment),
        "ip": panel,
    }
    return TemplateResponse(request, "deployments/settings.html", ctx)


def _added(single: str) -> str:
    return f"{single} added to the allowed IP ranges."


def _saved(
    request: HttpRequest, access: Access, notice: str, *, added: str | None = None
) -> HttpResponse:
    """The panel with `notice` (htmx), or the settings page saying the same (a plain POST,
    also what a press that beats htmx to a freshly swapped form sends)."""
    deployment = access.deployment
    if wants_partial(request):
        deployment.refresh_from_db(fields=["allowed_ip_ranges"])
        return _respond(request, ip_ranges_panel(request, access, notice=notice))
    url = reverse("deployment-settings", args=[deployment.pk])
    query = urlencode({"saved": "ip-ranges", **({"added": added} if added else {})})
    return redirect(f"{url}?{query}#ip-ranges")


def _lockout_token(ranges: list[str], blocked: list) -> str:
    """Ties a lock-out confirmation to the list and agents it was given for: editing the list,
    or another agent becoming affected, asks again."""
    text = ",".join(ranges) + "|" + ",".join(sorted(str(agent.pk) for agent in blocked))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _with_errors(rows: list[Row], entries_at: list[int], error: ValidationError) -> list[str]:
    """Attach each problem to its row; return the problems that belong to no row."""
    general = []
    for index, message in ipranges.error_messages(error):
        if index is not None and 0 <= index < len(entries_at):
            rows[entries_at[index]].errors.append(message)
        else:
            general.append(message)
    return general


@login_required
@require_http_methods(["GET", "POST"])
def ip_ranges(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    if request.method == "GET":
        return _respond(request, ip_ranges_panel(request, access))
    deployment = access.require(Role.ADMIN).deployment
    values = request.POST.getlist("ranges")
    rows = [Row(value) for value in values]

    if "add" in request.POST:
        rows.append(Row(""))
        return _respond(request, ip_ranges_panel(request, access, rows=rows))
    if "remove" in request.POST:
        index = request.POST["remove"]
        if index.isdigit() and int(index) < len(rows):
            rows.pop(int(index))
        return _respond(request, ip_ranges_panel(request, access, rows=rows or [Row("")]))

    # A row added and left untouched is not an entry; a row of spaces is, and is refused.
    entries_at = [i for i, value in enumerate(values) if value != ""]
    entries = [values[i] for i in entries_at]
    everything = request.POST.get("confirm_everything") == "on"
    try:
        parsed = ipranges.parse_ranges(entries, allow_everything=everything)
    except ValidationError as error:
        general = _with_errors(rows, entries_at, error)
        return _respond(
            request,
            ip_ranges_panel(
                request,
                access,
                rows=rows or [Row("")],
                errors=general,
                ask_everything=everything or "everything" in ipranges.error_codes(error),
                everything_checked=everything,
            ),
        )

    lockout = ipranges.lockout_preview(deployment, parsed)
    blocked = lockout.blocked
    token = _lockout_token(parsed, blocked)
    confirmed = bool(blocked) and request.POST.get("confirm_lockout") == token
    state = {
        "rows": rows or [Row("")],
        "preview": {"lockout": lockout, "message": ipranges.lockout_message(lockout)},
        "lockout_token": token if blocked else "",
        "ask_everything": everything,
        "everything_checked": everything,
    }
    if "preview" in request.POST:
        return _respond(request, ip_ranges_panel(request, access, **state))
    if blocked and not confirmed:
        errors = ["Tick the confirmation below to save a list that blocks connected agents."]
        return _respond(request, ip_ranges_panel(request, access, errors=errors, **state))
    try:
        deployment.set_allowed_ip_ranges(
            parsed,
            by=request.user,
            ip=client_ip(request) or None,
            allow_everything=everything,
            allow_lockout=confirmed,
        )
    except ValidationError as error:
        # Another agent became affected between the preview and this save.
        errors = [message for _, message in ipranges.error_messages(error)]
        return _respond(request, ip_ranges_panel(request, access, errors=errors, **state))
    return _saved(
        request, access, "Allowed IP ranges saved. Agents see the change on their next request."
    )


@login_required
@require_POST
def allow_ip(request: HttpRequest, pk) -> HttpResponse:
    """Add one blocked address (as /32 or /128) to the saved list, through the same save path.

    Widening the list lets agents in, so the first press only asks; the answer carries
    `confirm`, the address it was asked for."""
    access = get_access(request, pk, role=Role.ADMIN)
    deployment = access.deployment
    ip = request.POST.get("ip", "").strip()
    current = list(deployment.allowed_ip_ranges or [])
    try:
        single = ipranges.single_address_range(ip)
        if ipranges.list_allows(current, ip):
            raise ValidationError(
                "%(ip)s is already allowed by the current list.", params={"ip": ip}
            )
        if request.POST.get("confirm") != ip:
            ask = {"ip": ip, "range": single}
            return _respond(request, ip_ranges_panel(request, access, confirm_allow=ask))
        deployment.set_allowed_ip_ranges(
            [*current, single],
            by=request.user,
            ip=client_ip(request) or None,
            # The list was confirmed when it was saved; adding one address blocks nobody new.
            allow_everything=any(str(entry).endswith("/0") for entry in current),
            allow_lockout=True,
        )
    except ValidationError as error:
        errors = [message for _, message in ipranges.error_messages(error)]
        return _respond(request, ip_ranges_panel(request, access, errors=errors))
    return _saved(request, access, _added(single), added=single)
