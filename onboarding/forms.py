"""The Register a Remote Agent wizard: one form, a worker formset, a field error per rule."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils.text import slugify

from onboarding import fields as f
from onboarding.values import (
    CUSTOM,
    DAG_SOURCES,
    FIXED_SUFFIXES,
    LOG_LEVELS,
    OBJECT_STORAGE_XCOM,
    SECRET_BACKENDS,
    STORAGE_BUNDLES,
    WORKER_SUFFIX,
    XCOM_BACKENDS,
    image_tag,
)
from onboarding.workers import WorkerFormSet, worker_defaults
from tokens.models import MAX_EXPIRY_DAYS

# The prefix must leave room for the longest fixed suffix; workers are checked with their names.
PREFIX_ROOM = f.MAX_NAME - max(len(s) for s in FIXED_SUFFIXES)
PROXY_HINT = "http://proxy.internal:3128"


def _hint(placeholder: str) -> forms.TextInput:
    return forms.TextInput({"placeholder": placeholder})


def _lines(label: str, **kwargs: Any) -> dict[str, Any]:
    attrs = {"rows": 2, "spellcheck": "false", **kwargs.pop("attrs", {})}
    return {"label": label, "widget": forms.Textarea(attrs), "max_length": 10_000, **kwargs}


class RegisterAgentForm(forms.Form):
    # 1. Agent token
    token_source = forms.ChoiceField(
        label="Token",
        choices=[("new", "Create a new token now"), ("existing", "Use a token I already have")],
        initial="new",
        widget=forms.RadioSelect,
    )
    token_name = forms.CharField(label="Token name", max_length=100, required=False)
    token_expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        initial=365,
        help_text=f"1 to {MAX_EXPIRY_DAYS}; leave empty for a token that never expires.",
    )
    token_secret_name = f.SecretNameField(label="Kubernetes secret")
    token_file = f.AbsolutePathField(
        label="Token file", widget=_hint("/var/run/secrets/agent/token")
    )
    token_inline = forms.BooleanField(label="Write the token into values.yaml", required=False)

    # 2. Image and pull secret
    image_repository = f.ImageRepositoryField(label="Image repository", required=True)
    image_tag = f.ImageTagField(label="Image tag", required=True)
    pull_secret_name = f.SecretNameField(label="Existing pull secret")
    registry = f.RegistryField(label="Registry", widget=_hint("registry.example.com"))
    registry_username = forms.CharField(label="Username", max_length=255, required=False)
    registry_password = forms.CharField(
        label="Password or access token",
        max_length=4096,
        required=False,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )

    # 3. Kubernetes
    namespace = f.DNSLabelField(what="A namespace", label="Namespace", required=True)
    create_namespace = forms.BooleanField(
        label="Let the chart create the namespace", required=False
    )
    resource_name_prefix = f.DNSLabelField(
        what="The prefix",
        longest=PREFIX_ROOM,
        why=f" (every resource name adds a suffix, up to “{max(FIXED_SUFFIXES, key=len)}”)",
        label="Resource name prefix",
        required=True,
        error_messages={"required": "Enter a prefix; every resource name starts with it."},
    )

    # 4. Backends
    secret_backend = forms.ChoiceField(label="Secrets backend", choices=SECRET_BACKENDS)
    secret_backend_custom = f.ClassPathField(label="Custom secrets backend class")
    secret_backend_kwargs = f.JSONObjectField(
        required=False, **_lines("Backend kwargs (JSON object)", attrs={"rows": 3})
    )
    xcom_backend = forms.ChoiceField(label="XCom backend", choices=XCOM_BACKENDS)
    xcom_backend_custom = f.ClassPathField(label="Custom XCom backend class")
    xcom_path = f.StorageURLField(label="Object storage path", widget=_hint("s3://my-bucket/xcom"))
    xcom_threshold = forms.IntegerField(
        label="Threshold (bytes)",
        initial=0,
        min_value=-1,
        help_text="Values larger than this go to object storage; 0: all, -1: none.",
    )

    # 5. DAG source
    dag_source = forms.ChoiceField(
        label="DAG source",
        choices=[(k, v.label) for k, v in DAG_SOURCES.items()],
        widget=forms.RadioSelect,
    )
    dag_bundle_name = f.AirflowNameField(label="Bundle name", required=True)
    git_conn_id = f.AirflowNameField(label="Git connection id")
    git_tracking_ref = f.GitRefField(label="Tracking ref", widget=_hint("main"))
    git_subdir = f.SubdirField(label="Subdirectory", widget=_hint("dags"))
    storage_url = f.StorageURLField(label="Bucket and prefix", widget=_hint("s3://my-bucket/dags"))
    storage_conn_id = f.AirflowNameField(label="Connection id", widget=_hint("aws_default"))
    local_path = f.AbsolutePathField(label="Folder in the image", initial="/usr/local/airflow/dags")
    dag_refresh_interval = f.count("Refresh interval (s)", 300, minimum=0, required=False)

    # 6. Workers and components
    triggerer_replicas = f.count("Triggerer replicas", 1)
    triggerer_async_slots = f.count("Async slots", 1000)
    sentinel_enabled = forms.BooleanField(label="Sentinel monitoring", required=False)
    sentinel_image = f.ImageReferenceField(label="Sentinel image")
    log_level = forms.ChoiceField(label="Log level", choices=LOG_LEVELS)

    # 7. Environment and metadata
    http_proxy = f.ProxyURLField(label="HTTP_PROXY", widget=_hint(PROXY_HINT))
    https_proxy = f.ProxyURLField(label="HTTPS_PROXY", widget=_hint(PROXY_HINT))
    no_proxy = f.HostListField(label="NO_PROXY", widget=_hint("localhost,.cluster.local"))
    labels = f.KeyValueField(
        label_values=True,
        help_text="One key=value per line.",
        **_lines("Labels", attrs={"placeholder": "team=data"}),
    )
    annotations = f.KeyValueField(
        label_values=False, help_text="One key=value per line.", **_lines("Annotations")
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.workers = WorkerFormSet(data, prefix="workers")

    def is_valid(self) -> bool:
        valid = super().is_valid()
        workers_valid = self.workers.is_valid()
        if valid and workers_valid:
            self._check_worker_names()
        return not self.errors and workers_valid and not any(self.workers.errors)

    def creates_token(self) -> bool:
        return self.cleaned_data.get("token_source") == "new"

    def full_data(self) -> dict[str, Any]:
        """Everything values.build needs, after is_valid()."""
        return {**self.cleaned_data, "workers": self.workers.workers()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._clean_token(data)
        self._clean_pull_secret(data)
        if (
            data.get("create_namespace")
            and data.get("token_secret_name")
            and data.get("pull_secret_name")
        ):
            self.add_error(
                "create_namespace",
                "Both secrets must exist in the namespace before the install, so the chart cannot "
                "create it: create the namespace yourself, or give registry credentials.",
            )
        data["secret_backend_class"] = self._backend_class(data, "secret_backend")
        data["xcom_backend_class"] = self._backend_class(data, "xcom_backend")
        if data.get("xcom_backend") == OBJECT_STORAGE_XCOM and data.get("xcom_path") == "":
            self.add_error("xcom_path", "Object storage needs a path, like s3://bucket/xcom.")
        self._clean_dag_source(data)
        if data.get("sentinel_enabled") and data.get("sentinel_image") == "":
            self.add_error(
                "sentinel_image", "Sentinel needs its image, like registry/sentinel:1.2.0."
            )
        return data

    def _clean_dag_source(self, data: dict[str, Any]) -> None:
        source, url = data.get("dag_source"), data.get("storage_url")
        if source == "git" and data.get("git_conn_id") == "":
            self.add_error("git_conn_id", "Name the Airflow connection to the repository.")
        if source == "object-storage" and url == "":
            self.add_error("storage_url", "Name the bucket, like s3://my-bucket/dags.")
        elif source == "object-storage" and url:
            scheme, _, rest = url.partition("://")
            if scheme not in STORAGE_BUNDLES or not rest.split("/")[0]:
                schemes = " or ".join(f"{s}://" for s in STORAGE_BUNDLES)
                self.add_error("storage_url", f"Enter {schemes}, then the bucket, like s3://dags.")

    def _clean_token(self, data: dict[str, Any]) -> None:
        methods = {
            "token_secret_name": "a Kubernetes secret",
            "token_file": "a token file",
            "token_inline": "inline",
        }
        chosen = [m for m in methods if data.get(m)]
        if not chosen and all(m in data for m in methods):
            self.add_error(
                "token_secret_name",
                "Choose how agents read the token: a Kubernetes secret, a token file, or inline.",
            )
        elif len(chosen) > 1:
            names = " and ".join(methods[m] for m in chosen)
            for m in chosen:
                self.add_error(m, f"Choose only one way to provide the token (you chose {names}).")
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
        given = [c for c in cred_fields if data.get(c)]
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
            for c in cred_fields:
                if c not in given and c in data:
                    self.add_error(c, "Needed to build the pull secret.")

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

    def _check_worker_names(self) -> None:
        """Each <prefix>-worker-<name> must stay a Kubernetes name; the worker name is blamed,
        since the prefix already fits every fixed suffix."""
        prefix = self.cleaned_data["resource_name_prefix"]
        room = f.MAX_NAME - len(prefix) - len(WORKER_SUFFIX)
        for worker in self.workers.kept():
            name = worker.cleaned_data["name"]
            if len(name) > room:
                full = f"{prefix}{WORKER_SUFFIX}{name}"
                worker.add_error(
                    "name",
                    f"“{full}” would be {len(full)} characters; Kubernetes names allow "
                    f"{f.MAX_NAME}. With the prefix “{prefix}” a worker name can have at most "
                    f"{max(room, 0)} characters.",
                )


def defaults(deployment: Any, token_name: str) -> dict[str, Any]:
    """The POST data of a form nobody has touched yet: a working file except for the XCom path."""
    data: dict[str, Any] = {
        "token_source": "new",
        "token_name": token_name,
        "token_expires_in_days": "365",
        "token_secret_name": "agent-token",
        "pull_secret_name": "agent-image-pull",
        "namespace": "remote-agents",
        "resource_name_prefix": slugify(deployment.name)[:30].strip("-") or "agent",
        "image_repository": settings.AGENT_IMAGE_REPOSITORY,
        "image_tag": image_tag(deployment),
        "secret_backend": SECRET_BACKENDS[0][0],
        "secret_backend_kwargs": "{}",
        "xcom_backend": OBJECT_STORAGE_XCOM,
        "xcom_threshold": "0",
        "dag_source": "local",
        "dag_bundle_name": "dags",
        "git_conn_id": "git_default",
        "git_tracking_ref": "main",
        "local_path": "/usr/local/airflow/dags",
        "dag_refresh_interval": "300",
        "triggerer_replicas": "1",
        "triggerer_async_slots": "1000",
        "sentinel_image": settings.AGENT_SENTINEL_IMAGE,
        "log_level": "INFO",
        "workers-TOTAL_FORMS": "1",
        "workers-INITIAL_FORMS": "0",
    }
    data.update(worker_defaults(0, "default-worker", queues="default"))
    return data
