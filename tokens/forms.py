from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tokens.models import MAX_EXPIRY_DAYS

EXPIRATION_CHOICES = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("180", "180 days"),
    ("365", "1 year"),
    ("custom", "Custom…"),
    ("never", "Never"),
]


class AgentTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        error_messages={"required": "Enter a name."},
        help_text="Unique in this deployment, e.g. the cluster the agents run in.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "us-east-workers"}),
    )
    expiration = forms.ChoiceField(choices=EXPIRATION_CHOICES, initial="90")
    custom_days = forms.IntegerField(
        label="Days until it expires",
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        help_text=f"1 to {MAX_EXPIRY_DAYS} days.",
        error_messages={
            "invalid": f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}.",
            "min_value": f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}.",
            "max_value": f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}.",
        },
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_EXPIRY_DAYS, "step": 1}),
    )
    description = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What the token is for (optional)"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("expiration") != "custom":
            # Without JavaScript the days box is always on screen; ignore it unless chosen.
            self.errors.pop("custom_days", None)
            data["custom_days"] = None
        elif data.get("custom_days") is None and "custom_days" not in self.errors:
            self.add_error(
                "custom_days", f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}."
            )
        return data

    @property
    def expires_in_days(self) -> int | None:
        choice = self.cleaned_data["expiration"]
        if choice == "never":
            return None
        if choice == "custom":
            return self.cleaned_data["custom_days"]
        return int(choice)

    def add_model_errors(self, error: ValidationError) -> None:
        """Show the model's errors next to the matching field, the rest above the form."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        fields = {"expires_in_days": "custom_days", "name": "name", "description": "description"}
        for key, errors in error.error_dict.items():
            self.add_error(fields.get(key), errors)
