"""Test runs in the console: start one, watch it live, see the history."""

from typing import cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods

from agents.models import Agent
from agents.runs import TestRun
from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import get_access
from deployments.models import Role

HISTORY = 50


class StartTestRunForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=Agent.objects.none(),
        required=False,
        empty_label="Any eligible agent serving the queue",
        help_text="A particular agent, or leave empty for the first eligible one.",
    )
    queue = forms.CharField(
        max_length=200,
        required=False,
        initial="default",
        help_text="Used when no agent is chosen: a healthy, uncordoned agent serving this "
        "queue with a free slot takes the run.",
    )

    def __init__(self, *args, deployment, **kwargs):
        super().__init__(*args, **kwargs)
        agents = cast(forms.ModelChoiceField, self.fields["agent"])
        agents.queryset = Agent.objects.live().filter(deployment=deployment)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if not data.get("agent") and not data.get("queue"):
            raise forms.ValidationError({"queue": "Name a queue, or choose an agent."})
        if data.get("agent"):
            data["queue"] = ""
        return data


@login_required
@require_http_methods(["GET", "POST"])
def test_runs(request: HttpRequest, pk) -> HttpResponse:
    starting = request.method == "POST"
    access = get_access(request, pk, role=Role.OPERATOR if starting else Role.VIEWER)
    deployment = access.deployment
    # ?agent=<id> (the Test button of an agent's row) pre-selects that agent.
    initial = {"agent": request.GET.get("agent")}
    form = StartTestRunForm(request.POST or None, deployment=deployment, initial=initial)
    if starting and form.is_valid():
        run = TestRun.objects.start(
            deployment,
            queue=form.cleaned_data["queue"],
            agent=form.cleaned_data["agent"],
            by=request.user,
            ip=client_ip(request),
        )
        return redirect("test-run", pk=deployment.pk, run_id=run.pk)
    runs = TestRun.objects.filter(deployment=deployment).select_related("agent", "taken_by")
    ctx = {
        "deployment": deployment,
        "access": access,
        "tab": "remote-agents",
        "view": "test-runs",
        "form": form,
        "runs": runs[:HISTORY],
    }
    status = 400 if form.errors else 200
    return htmx.render(request, "agents/test_runs.html", ctx, status=status)


@login_required
@require_GET
def test_run(request: HttpRequest, pk, run_id) -> HttpResponse:
    access = get_access(request, pk)
    deployment = access.deployment
    run = get_object_or_404(
        TestRun.objects.select_related("agent", "taken_by", "created_by"),
        pk=run_id,
        deployment=deployment,
    )
    ctx = {"deployment": deployment, "access": access, "tab": "remote-agents", "run": run}
    return htmx.render(request, "agents/test_run.html", ctx, partial="run-panel")
