from django import forms

from deployments.models import Deployment


class DeploymentGeneralForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = ["name", "description", "remote_execution"]
        labels = {"remote_execution": "Remote execution"}
        help_texts = {"remote_execution": "Tasks run on agents in your own cluster."}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        return name
