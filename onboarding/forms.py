"""The Register a Remote Agent wizard: one form, a worker formset, a field error per rule."""

import json
import re
from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.text import slugify

from tokens.models import MAX_EXPIRY_DAYS

MAX_NAME = 63
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
CLASS_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
QUEUE = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
IMAGE_REPOSITORY = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$"
)
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REGISTRY = re.compile(r"^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?$")
OBJECT_STORAGE_PATH = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")

CUSTOM = "custom"
SECRET_BACKENDS = [
    ("airflow.secrets.local_filesystem.LocalFilesystemBackend", "Local filesystem"),
    (
        "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "AWS Secrets Manager",
    ),
    (
        "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
        "AWS SSM Parameter Store",
    ),
    (
        "airflow.providers.microsoft.azure.secrets.key_vault.AzureKeyVaultBackend",
        "Azure Key Vault",
    ),
    (
        "airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend",
        "Google Cloud Secret Manager",
    ),
    ("airflow.providers.hashicorp.secrets.vault.VaultBackend", "HashiCorp Vault"),
    (CUSTOM, "Custom class…"),
]
OBJECT_STORAGE_XCOM = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
XCOM_BACKENDS = [(OBJECT_STORAGE_XCOM, "Object storage"), (CUSTOM, "Custom class…")]
LOG_LEVELS = [(level, level.title()) for level in ("DEBUG", "INFO", "WARNING", "ERROR")]
# Names the chart gives its resources after the prefix; workers add their own name.
FIXED_SUFFIXES = ("-dag-processor", "-triggerer", "-sentinel")
WORKER_SUFFIX = "-worker-"

NAME_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"


def check_dns_label(value: str, what: str) -> None:
    if len(value) > MAX_NAME:
        raise forms.ValidationError(
            f"{what} can have at most {MAX_NAME} characters; this one has {len(value)}."
        )
    if value != value.lower():
        raise forms.ValidationError(f"{what} must be lowercase (Kubernetes DNS-1123 label).")
    if not DNS_LABEL.match(value):
        raise forms.ValidationError(f"{what} may only use {NAME_RULE}.")


def check_secret_name(value: str) -> str:
    if len(value) > 253 or not DNS_SUBDOMAIN.match(value):
        raise forms.ValidationError(
            f"Kubernetes secret names use {NAME_RULE} (dots allowed), up to 253 characters."
        )
    return value


def check_class_path(value: str) -> str:
    if not CLASS_PATH.match(value):
        raise forms.ValidationError(
            "Enter a dotted Python class path, like my_company.secrets.MyBackend."
        )
    return value


def _text(**kwargs) -> forms.CharField:
    kwargs.setdefault("required", False)
    return forms.CharField(**kwargs)


def _count(label: str, initial: int, minimum: int = 1, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        initial=initial,
        min_value=minimum,
        error_messages={"min_value": f"Must be at least {minimum}."},
        **kwargs,
    )


class WorkerForm(forms.Form):
    name = forms.CharField(label="Worker name", initial="default", max_length=200)
    queues = forms.CharField(
        label="Queues", initial="default", max_length=2000, help_text="Comma-separated."
    )
    replicas = _count("Replicas", 1)
    sync_slots = _count("Slots per pod", 20)
    termination_grace_period_seconds = _count(
        "Grace period (s)",
        600,
        minimum=0,
        help_text="How long a stopping pod may finish its tasks.",
    )
    requests_cpu = _text(label="CPU request", initial="1", max_length=20)
    requests_memory = _text(label="Memory request", initial="2Gi", max_length=20)
    limits_cpu = _text(label="CPU limit", initial="2", max_length=20)
    limits_memory = _text(label="Memory limit", initial="4Gi", max_length=20)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        check_dns_label(name, "A worker name")
        return name

    def clean_queues(self) -> list[str]:
        queues = [q.strip() for q in self.cleaned_data["queues"].split(",") if q.strip()]
        if not queues:
            raise forms.ValidationError("Give the worker at least one queue.")
        bad = [q for q in queues if not QUEUE.match(q)]
        if bad:
            raise forms.ValidationError(
                f"Queue names use letters, digits, '_', '.', ':' and '-': {', '.join(bad)}"
            )
        if len(set(queues)) != len(queues):
            raise forms.ValidationError("Each queue once, please.")
        return queues

    def _quantity(self, field: str) -> str:
        value = self.cleaned_data[field].strip()
        if value and not QUANTITY.match(value):
            raise forms.ValidationError("Use a Kubernetes quantity, like 500m, 2 or 4Gi.")
        return value

    def clean_requests_cpu(self) -> str:
        return self._quantity("requests_cpu")

    def clean_requests_memory(self) -> str:
        return self._quantity("requests_memory")

    def clean_limits_cpu(self) -> str:
        return self._quantity("limits_cpu")

    def clean_limits_memory(self) -> str:
        return self._quantity("limits_memory")


class BaseWorkerFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # Rows carry defaults, so an untouched row is a real worker, not a blank extra to skip.
        return {**super().get_form_kwargs(index), "empty_permitted": False}

    def _kept(self) -> list[forms.Form]:
        """The rows not ticked for removal (after validation)."""
        deleted = forms.formsets.DELETION_FIELD_NAME
        return [f for f in self.forms if not f.cleaned_data.get(deleted, False)]

    def clean(self) -> None:
        if any(self.errors):
            return
        names = [f.cleaned_data["name"] for f in self._kept()]
        if not names:
            raise forms.ValidationError("Keep at least one worker.")
        if len(set(names)) != len(names):
            raise forms.ValidationError("Give each worker a different name.")

    def workers(self) -> list[dict[str, Any]]:
        return [f.cleaned_data for f in self._kept()]


MAX_WORKERS = 10
# formset_factory returns a subclass of `formset`; its stubs say only BaseFormSet.
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


class RegisterAgentForm(forms.Form):
    # 1. Agent token
    token_source = forms.ChoiceField(
        label="Token",
        choices=[("new", "Create a new token now"), ("existing", "Use a token I already have")],
        initial="new",
        widget=forms.RadioSelect,
    )
    token_name = _text(label="Token name", max_length=100)
    token_expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        initial=365,
        help_text=f"1 to {MAX_EXPIRY_DAYS}; leave empty for a token that never expires.",
    )
    token_secret_name = _text(label="Kubernetes secret", max_length=300)
    token_file = _text(
        label="Token file",
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "/var/run/secrets/agent/token"}),
    )
    token_inline = forms.BooleanField(label="Write the token into values.yaml", required=False)

    # 2. Image pull secret
    pull_secret_name = _text(label="Existing pull secret", max_length=300)
    registry = _text(
        label="Registry",
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "registry.example.com"}),
    )
    registry_username = _text(label="Username", max_length=255)
    registry_password = _text(
        label="Password or access token",
        max_length=4096,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )

    # 3. Kubernetes
    namespace = forms.CharField(label="Namespace", max_length=300)
    create_namespace = forms.BooleanField(
        label="Let the chart create the namespace", required=False
    )
    resource_name_prefix = _text(label="Resource name prefix", max_length=300)
    image_repository = forms.CharField(label="Image repository", max_length=255)
    image_tag = forms.CharField(label="Image tag", max_length=128)

    # 4. Backends
    secret_backend = forms.ChoiceField(label="Secrets backend", choices=SECRET_BACKENDS)
    secret_backend_custom = _text(label="Custom secrets backend class", max_length=300)
    secret_backend_kwargs = _text(
        label="Backend kwargs (JSON object)",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    xcom_backend = forms.ChoiceField(label="XCom backend", choices=XCOM_BACKENDS)
    xcom_backend_custom = _text(label="Custom XCom backend class", max_length=300)
    xcom_path = _text(
        label="Object storage path",
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "s3://my-bucket/xcom"}),
    )

    # 5. Components
    dag_processor_enabled = forms.BooleanField(label="DAG processor", required=False)
    dag_processor_replicas = _count("Replicas", 1)
    triggerer_enabled = forms.BooleanField(label="Triggerer", required=False)
    triggerer_replicas = _count("Replicas", 1)
    triggerer_async_slots = _count("Async slots", 1000)
    sentinel_enabled = forms.BooleanField(label="Sentinel monitoring", required=False)
    log_level = forms.ChoiceField(label="Log level", choices=LOG_LEVELS)

    # 6. Environment and metadata
    http_proxy = _text(
        label="HTTP_PROXY",
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "http://proxy.internal:3128"}),
    )
    https_proxy = _text(
        label="HTTPS_PROXY",
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "http://proxy.internal:3128"}),
    )
    no_proxy = _text(
        label="NO_PROXY",
        max_length=4096,
        widget=forms.TextInput(attrs={"placeholder": "localhost,.cluster.local"}),
    )
    labels = _text(
        label="Labels",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "placeholder": "team=data"}),
        help_text="One key=value per line.",
    )
    annotations = _text(
        label="Annotations",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One key=value per line.",
    )

    workers: BaseWorkerFormSet

    def __init__(self, data=None, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.workers = WorkerFormSet(data, prefix="workers")

    def is_valid(self) -> bool:
        valid = super().is_valid()
        workers_valid = self.workers.is_valid()
        if valid and workers_valid:
            self._check_name_lengths()
        return super().is_valid() and workers_valid

    def creates_token(self) -> bool:
        return self.cleaned_data.get("token_source") == "new"

    def full_data(self) -> dict[str, Any]:
        """Everything values.build needs, after is_valid()."""
        return {**self.cleaned_data, "workers": self.workers.workers()}

    # --- single fields --------------------------------------------------------------------------

    def clean_token_name(self) -> str:
        return self.cleaned_data["token_name"].strip()

    def clean_token_secret_name(self) -> str:
        value = self.cleaned_data["token_secret_name"].strip()
        return check_secret_name(value) if value else ""

    def clean_token_file(self) -> str:
        value = self.cleaned_data["token_file"].strip()
        if value and not re.match(r"^/\S*[^/\s]$", value):
            raise forms.ValidationError(
                "Enter an absolute path inside the pod, like /var/run/secrets/agent/token."
            )
        return value

    def clean_pull_secret_name(self) -> str:
        value = self.cleaned_data["pull_secret_name"].strip()
        return check_secret_name(value) if value else ""

    def clean_registry(self) -> str:
        value = self.cleaned_data["registry"].strip()
        if value and not REGISTRY.match(value):
            raise forms.ValidationError("Enter a registry host, like registry.example.com:5000.")
        return value

    def clean_registry_username(self) -> str:
        return self.cleaned_data["registry_username"].strip()

    def clean_namespace(self) -> str:
        value = self.cleaned_data["namespace"].strip()
        check_dns_label(value, "A namespace")
        return value

    def clean_resource_name_prefix(self) -> str:
        value = self.cleaned_data["resource_name_prefix"].strip()
        if not value:
            raise forms.ValidationError("Enter a prefix; every resource name starts with it.")
        check_dns_label(value, "The prefix")
        return value

    def clean_image_repository(self) -> str:
        value = self.cleaned_data["image_repository"].strip()
        if not IMAGE_REPOSITORY.match(value):
            raise forms.ValidationError(
                "Enter an image repository in lowercase, like registry.example.com/agents/agent."
            )
        return value

    def clean_image_tag(self) -> str:
        value = self.cleaned_data["image_tag"].strip()
        if not IMAGE_TAG.match(value):
            raise forms.ValidationError(
                "Tags use letters, digits, '_', '.' and '-', up to 128 characters."
            )
        return value

    def clean_secret_backend_custom(self) -> str:
        value = self.cleaned_data["secret_backend_custom"].strip()
        return check_class_path(value) if value else ""

    def clean_xcom_backend_custom(self) -> str:
        value = self.cleaned_data["xcom_backend_custom"].strip()
        return check_class_path(value) if value else ""

    def clean_secret_backend_kwargs(self) -> dict[str, Any]:
        raw = self.cleaned_data["secret_backend_kwargs"].strip()
        if not raw:
            return {}
        try:
            kwargs = json.loads(raw)
        except json.JSONDecodeError as e:
            raise forms.ValidationError(
                f"This is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
            ) from None
        if not isinstance(kwargs, dict):
            raise forms.ValidationError('Enter a JSON object, like {"connections_prefix": "x"}.')
        return kwargs

    def clean_xcom_path(self) -> str:
        value = self.cleaned_data["xcom_path"].strip()
        if value and not OBJECT_STORAGE_PATH.match(value):
            raise forms.ValidationError("Enter a storage URL, like s3://my-bucket/xcom.")
        return value

    def _proxy(self, field: str) -> str:
        value = self.cleaned_data[field].strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
            raise forms.ValidationError(
                "Enter an http:// or https:// URL, like http://proxy.internal:3128."
            )
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise forms.ValidationError("The port must be a number from 1 to 65535.") from None
        return value

    def clean_http_proxy(self) -> str:
        return self._proxy("http_proxy")

    def clean_https_proxy(self) -> str:
        return self._proxy("https_proxy")

    def clean_no_proxy(self) -> str:
        entries = [e.strip() for e in self.cleaned_data["no_proxy"].split(",") if e.strip()]
        bad = [e for e in entries if re.search(r"\s", e)]
        if bad:
            raise forms.ValidationError("Separate hosts with commas; no spaces inside a host.")
        return ",".join(entries)

    def clean_labels(self) -> dict[str, str]:
        return _key_values(self.cleaned_data["labels"], label_values=True)

    def clean_annotations(self) -> dict[str, str]:
        return _key_values(self.cleaned_data["annotations"], label_values=False)

    # --- rules across fields --------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self._clean_token(data)
        self._clean_pull_secret(data)
        data["secret_backend_class"] = self._backend_class(data, "secret_backend")
        data["xcom_backend_class"] = self._backend_class(data, "xcom_backend")
        if data.get("xcom_backend") == OBJECT_STORAGE_XCOM and data.get("xcom_path") == "":
            self.add_error("xcom_path", "Object storage needs a path, like s3://bucket/xcom.")
        data["kwargs"] = data.get("secret_backend_kwargs", {})
        return data

    def _clean_token(self, data: dict[str, Any]) -> None:
        methods = {
            "token_secret_name": "a Kubernetes secret",
            "token_file": "a token file",
            "token_inline": "inline",
        }
        chosen = [f for f in methods if data.get(f)]
        if not chosen and all(f in data for f in methods):
            self.add_error(
                "token_secret_name",
                "Choose how agents read the token: a Kubernetes secret, a token file, or inline.",
            )
        elif len(chosen) > 1:
            names = " and ".join(methods[f] for f in chosen)
            for f in chosen:
                self.add_error(f, f"Choose only one way to provide the token (you chose {names}).")
        source = data.get("token_source")
        if source == "new" and not data.get("token_name") and "token_name" in data:
            self.add_error("token_name", "Name the new token.")
        if source == "existing" and data.get("token_inline"):
            self.add_error(
                "token_inline",
                "The console never keeps token values, so an existing token cannot be written "
                "inline. Use a secret or a file, or create a new token here.",
            )

    def _clean_pull_secret(self, data: dict[str, Any]) -> None:
        cred_fields = ("registry", "registry_username", "registry_password")
        name = data.get("pull_secret_name")
        given = [f for f in cred_fields if data.get(f)]
        if name and given:
            msg = "Use either an existing secret or registry credentials, not both."
            self.add_error("pull_secret_name", msg)
            self.add_error(given[0], msg)
        elif not name and not given and "pull_secret_name" in data:
            self.add_error(
                "pull_secret_name",
                "Name an existing image pull secret, or enter registry credentials below.",
            )
        elif not name:
            for f in cred_fields:
                if f not in given and f in data:
                    self.add_error(f, "Needed to build the pull secret.")

    def _backend_class(self, data: dict[str, Any], field: str) -> str:
        choice, custom = data.get(field), data.get(f"{field}_custom", "")
        if choice == CUSTOM:
            if not custom and f"{field}_custom" in data:
                self.add_error(f"{field}_custom", "Enter the class path of your backend.")
            return custom
        if custom:
            self.add_error(
                f"{field}_custom",
                "Choose “Custom class…” above to use your own class, or clear this.",
            )
        return choice or ""

    def _check_name_lengths(self) -> None:
        """Prefix plus the longest suffix must stay a valid Kubernetes name."""
        prefix = self.cleaned_data["resource_name_prefix"]
        suffixes = [*FIXED_SUFFIXES, *(WORKER_SUFFIX + w["name"] for w in self.workers.workers())]
        longest = max(suffixes, key=len)
        full = prefix + longest
        if len(full) > MAX_NAME:
            room = MAX_NAME - len(longest)
            self.add_error(
                "resource_name_prefix",
                f"“{full}” would be {len(full)} characters; Kubernetes names allow {MAX_NAME}. "
                f"With the suffix “{longest}” the prefix can have at most {max(room, 0)} "
                "characters (or shorten the worker name).",
            )


def _key_values(text: str, *, label_values: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise forms.ValidationError(f"Line {number}: write key=value.")
        prefix, slash, name = key.rpartition("/")
        if (
            not LABEL_NAME.match(name)
            or len(name) > MAX_NAME
            or (slash and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)))
        ):
            raise forms.ValidationError(
                f"Line {number}: “{key}” is not a valid Kubernetes key (optional prefix/, then "
                "up to 63 letters, digits, '-', '_' or '.')."
            )
        if label_values and value and (len(value) > MAX_NAME or not LABEL_NAME.match(value)):
            raise forms.ValidationError(
                f"Line {number}: label values have up to 63 letters, digits, '-', '_' or '.'."
            )
        if key in out:
            raise forms.ValidationError(f"Line {number}: “{key}” is given twice.")
        out[key] = value
    return out


def defaults(deployment, token_name: str) -> dict[str, Any]:
    """The POST data of a form nobody has touched yet: a working file except for the XCom path."""
    prefix = slugify(deployment.name)[:30].strip("-") or "agent"
    data: dict[str, Any] = {
        "token_source": "new",
        "token_name": token_name,
        "token_expires_in_days": "365",
        "token_secret_name": "agent-token",
        "pull_secret_name": "agent-image-pull",
        "namespace": "remote-agents",
        "resource_name_prefix": prefix,
        "image_repository": settings.AGENT_IMAGE_REPOSITORY,
        "image_tag": f"{deployment.runtime_version}-{settings.AGENT_IMAGE_TAG_SUFFIX}",
        "secret_backend": SECRET_BACKENDS[0][0],
        "secret_backend_kwargs": "{}",
        "xcom_backend": OBJECT_STORAGE_XCOM,
        "dag_processor_enabled": "on",
        "dag_processor_replicas": "1",
        "triggerer_enabled": "on",
        "triggerer_replicas": "1",
        "triggerer_async_slots": "1000",
        "sentinel_enabled": "on",
        "log_level": "INFO",
        "workers-TOTAL_FORMS": "1",
        "workers-INITIAL_FORMS": "0",
    }
    data.update(worker_defaults(0, "default"))
    return data


def worker_defaults(index: int, name: str) -> dict[str, str]:
    fields = WorkerForm.base_fields
    values = {f: str(fields[f].initial) for f in fields}
    values["name"] = values["queues"] = name
    return {f"workers-{index}-{f}": v for f, v in values.items()}
