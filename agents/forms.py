from datetime import datetime, timedelta
from typing import cast

from django import forms
from django.utils import timezone

from agents.liveness import Status
from agents.models import Agent, Component
from agents.versions import State

SORTS = [("name", "Name"), ("problems", "Problems first")]


class CordonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=1024,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. Node pool upgrade"}),
        help_text="Optional. Shown in the table and sent to the agent. Up to 1,024 characters.",
    )
    duration = forms.ChoiceField(
        required=False,
        label="Lift the cordon",
        choices=[
            ("", "Never: until someone uncordons it"),
            ("1h", "After 1 hour"),
            ("1d", "After 1 day"),
            ("date", "At a date and time"),
        ],
    )
    until = forms.DateTimeField(
        required=False,
        label="Lift at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Only with “At a date and time”. Read as UTC.",
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        data["until"] = self.lift_at(data.get("duration") or "", data.get("until"))
        return data

    def lift_at(self, duration: str, until: datetime | None) -> datetime | None:
        now = timezone.now()
        if duration in DURATIONS:
            return now + DURATIONS[duration]
        if duration != "date":
            return None
        if until is None:
            raise forms.ValidationError({"until": "Choose when the cordon lifts."})
        if until <= now:
            raise forms.ValidationError({"until": "Choose a time in the future."})
        if until > now + timedelta(days=366):
            raise forms.ValidationError({"until": "Choose a time within a year."})
        return until


DURATIONS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}


class AgentFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "All statuses")]
        + [
            (s.value, s.label)
            for s in (Status.HEALTHY, Status.UNHEALTHY, Status.CORDONED, Status.UNKNOWN)
        ],
    )
    component = forms.ChoiceField(
        required=False, choices=[("", "All components"), *Component.choices]
    )
    sort = forms.ChoiceField(required=False, choices=SORTS)
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    # Version support (agents.versions): a small, separate filter.
    support = forms.ChoiceField(required=False, choices=[("", "All versions"), *State.CHOICES])

    def cleaned(self) -> dict:
        """Filters that are valid; anything malformed is ignored rather than an error page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "status": data.get("status") or "",
            "component": data.get("component") or "",
            "sort": data.get("sort") or "name",
            "page": data.get("page") or 1,
            "support": data.get("support") or "",
        }


class BulkCordonForm(CordonForm):
    """Cordon or uncordon several agents at once: those ticked in the table, or all that serve a
    queue or run a version. One reason for all of them."""

    action = forms.ChoiceField(choices=[("cordon", "Cordon"), ("uncordon", "Uncordon")])
    agents: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        queryset=Agent.objects.none(),  # set per deployment in __init__
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="These agents",
    )
    queue = forms.ChoiceField(required=False, label="Every agent serving queue")
    version = forms.ChoiceField(required=False, label="Every agent on version")

    field_order = ["action", "queue", "version", "agents", "reason", "duration", "until"]

    def __init__(self, *args, rows, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        cast(forms.ModelMultipleChoiceField, self.fields["agents"]).queryset = rows
        queues = sorted({q for qs in rows.values_list("queues", flat=True) for q in qs or []})
        versions = sorted(set(rows.values_list("version", flat=True)) - {""})
        cast(forms.ChoiceField, self.fields["queue"]).choices = [
            ("", "—"),
            *((q, q) for q in queues),
        ]
        cast(forms.ChoiceField, self.fields["version"]).choices = [
            ("", "—"),
            *((v, v) for v in versions),
        ]

    def clean(self) -> dict:
        data = super().clean()
        chosen = [k for k in ("agents", "queue", "version") if data.get(k)]
        if len(chosen) != 1:
            raise forms.ValidationError("Tick agents in the table, or choose one queue or version.")
        return data

    def selected(self):
        data = self.cleaned_data
        if data.get("agents"):
            return self.rows.filter(pk__in=[a.pk for a in data["agents"]])
        if data.get("queue"):
            # In Python: SQLite cannot look inside a JSON list.
            ids = [a.pk for a in self.rows.only("id", "queues") if data["queue"] in a.queues]
            return self.rows.filter(pk__in=ids)
        return self.rows.filter(version=data["version"])
