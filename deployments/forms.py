from django import forms

from deployments.models import Deployment


class DeploymentGeneralForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=500, required=False)
    remote_execution = forms.BooleanField(
        required=False,
        label="Remote execution",
        help_text="Tasks run on agents in your own cluster.",
    )

    def __init__(self, *args, deployment: Deployment, **kwargs):
        kwargs.setdefault("initial", {f: getattr(deployment, f) for f in self.base_fields})
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        return name

    def clean_description(self) -> str:
        return self.cleaned_data["description"].strip()
