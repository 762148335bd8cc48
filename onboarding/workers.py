"""The wizard's worker groups: one small form per group, in a formset that keeps at least one."""

from typing import Any, cast

from django import forms
from django.forms.formsets import DELETION_FIELD_NAME

from onboarding import fields as f

MAX_WORKERS = 10


class WorkerForm(forms.Form):
    name = f.DNSLabelField(
        what="A worker name", label="Worker name", initial="default-worker", required=True
    )
    queues = f.QueueListField(
        label="Queues", initial="default", max_length=2000, help_text="Comma-separated."
    )
    replicas = f.count("Replicas", 1)
    sync_slots = f.count("Slots per pod", 20)
    termination_grace_period_seconds = f.count(
        "Grace period (s)", 600, minimum=0, help_text="How long a stopping pod may finish tasks."
    )
    requests_cpu = f.QuantityField(label="CPU request", initial="1")
    requests_memory = f.QuantityField(label="Memory request", initial="2Gi")
    limits_cpu = f.QuantityField(label="CPU limit", initial="1")
    limits_memory = f.QuantityField(label="Memory limit", initial="2Gi")
    ephemeral_storage = f.QuantityField(label="Ephemeral storage", initial="1Gi")


class BaseWorkerFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # Rows carry defaults, so an untouched row is a real worker, not a blank extra to skip.
        return {**super().get_form_kwargs(index), "empty_permitted": False}

    def clean(self) -> None:
        if any(self.errors):
            return
        names = [w["name"] for w in self.workers()]
        if not names:
            raise forms.ValidationError("Keep at least one worker.")
        if len(set(names)) != len(names):
            raise forms.ValidationError("Give each worker a different name.")

    def kept(self) -> list[forms.Form]:
        # Called once the rows are valid, so each has cleaned_data.
        return [w for w in self.forms if not w.cleaned_data.get(DELETION_FIELD_NAME)]

    def workers(self) -> list[dict[str, Any]]:
        return [w.cleaned_data for w in self.kept()]


# formset_factory builds a subclass of `formset`; the cast tells the type checker so.
WorkerFormSet = cast(
    type[BaseWorkerFormSet],
    forms.formset_factory(
        WorkerForm,
        formset=BaseWorkerFormSet,
        extra=0,
        min_num=1,
        max_num=MAX_WORKERS,
        validate_max=True,
        can_delete=True,
    ),
)


def worker_defaults(index: int, name: str, *, queues: str | None = None) -> dict[str, str]:
    values = {key: str(field.initial) for key, field in WorkerForm.base_fields.items()}
    values["name"], values["queues"] = name, queues or name
    return {f"workers-{index}-{k}": v for k, v in values.items()}
