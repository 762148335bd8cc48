from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from agents.models import Component, Status


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

    def clean(self):
        data = super().clean()
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
        + [(s.value, s.label) for s in (Status.HEALTHY, Status.UNHEALTHY, Status.CORDONED)],
    )
    component = forms.ChoiceField(
        required=False, choices=[("", "All components"), *Component.choices]
    )
    page = forms.IntegerField(required=False, min_value=1)

    def cleaned(self) -> dict:
        """Filters that are valid; anything malformed is ignored rather than an error page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "status": data.get("status") or "",
            "component": data.get("component") or "",
            "page": data.get("page") or 1,
        }
