from django import forms
from django.core.exceptions import ValidationError

from alerts.models import Kind, parse_recipients

SETTINGS = [
    "url",
    "recipients",
    "on_silent",
    "silent_minutes",
    "on_queue",
    "on_tokens",
    "on_refusals",
    "refusals_per_hour",
    "on_versions",
]


class ChannelForm(forms.Form):
    """Field checks here are about the form; the channel's own rules live on the model."""

    name = forms.CharField(
        max_length=100,
        error_messages={"required": "Enter a name."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "on-call"}),
    )
    kind = forms.ChoiceField(
        label="Type",
        choices=Kind.choices,
        widget=forms.RadioSelect,
        help_text="A webhook gets signed JSON; Slack an incoming-webhook message; e-mail a plain "
        "text message.",
    )
    url = forms.CharField(
        label="URL",
        required=False,
        max_length=2000,
        help_text="For a webhook or a Slack incoming webhook (https://hooks.slack.com/…).",
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    recipients = forms.CharField(
        label="E-mail addresses",
        required=False,
        max_length=5000,
        help_text="For e-mail: one address per line, up to 20.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    on_silent = forms.BooleanField(label="An agent is silent", required=False)
    silent_minutes = forms.IntegerField(
        label="for more than",
        min_value=1,
        max_value=1440,
        initial=5,
        widget=forms.NumberInput(attrs={"class": "input"}),
    )
    on_queue = forms.BooleanField(label="A queue has no healthy agent", required=False)
    on_tokens = forms.BooleanField(
        label="An agent token expires within 7 days, or has expired", required=False
    )
    on_refusals = forms.BooleanField(
        label="Requests from addresses outside the allowed IP ranges", required=False
    )
    on_versions = forms.BooleanField(
        label="An agent runs a version that is no longer supported", required=False
    )
    refusals_per_hour = forms.IntegerField(
        label="more than",
        min_value=1,
        max_value=1_000_000,
        initial=100,
        widget=forms.NumberInput(attrs={"class": "input"}),
    )

    def __init__(self, *args, channel=None, **kwargs):
        if channel is not None:
            initial = {f: getattr(channel, f) for f in ["name", "kind", *SETTINGS]}
            initial["recipients"] = "\n".join(channel.recipients)
            kwargs.setdefault("initial", initial)
        else:
            kwargs.setdefault(
                "initial",
                {
                    "kind": Kind.WEBHOOK,
                    "on_silent": True,
                    "on_queue": True,
                    "on_tokens": True,
                    "on_refusals": True,
                    "on_versions": True,
                },
            )
        super().__init__(*args, **kwargs)
        if channel is not None:
            # The kind is chosen once: a webhook's secret means nothing to Slack.
            del self.fields["kind"]

    @property
    def rule_rows(self) -> list:
        """(switch, threshold or None, unit) for each rule, as the form lays them out."""
        return [
            (self["on_silent"], self["silent_minutes"], "minutes"),
            (self["on_queue"], None, ""),
            (self["on_tokens"], None, ""),
            (self["on_refusals"], self["refusals_per_hour"], "per hour"),
            (self["on_versions"], None, ""),
        ]

    def clean_recipients(self) -> list[str]:
        return parse_recipients(self.cleaned_data.get("recipients") or "")

    def values(self) -> dict:
        return {f: self.cleaned_data[f] for f in ["name", *SETTINGS]}

    def add_model_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            self.add_error(key if key in self.fields else None, errors)
