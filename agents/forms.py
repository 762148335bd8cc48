from django import forms

from agents.liveness import Status
from agents.models import Component
from agents.versions import State

SORTS = [("name", "Name"), ("problems", "Problems first")]


class CordonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=1024,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. Node pool upgrade"}),
        help_text="Optional. Shown in the table and sent to the agent. Up to 1,024 characters.",
    )


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
