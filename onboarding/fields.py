"""Form fields for what the agent chart takes: each Kubernetes or Airflow rule written once.

CharField already strips surrounding whitespace; these fields add the rule and a message that
names what to type instead. Optional fields (`required=False`) skip the rule when left empty.
"""

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

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
STORAGE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
ABSOLUTE_PATH = re.compile(r"^/\S*[^/\s]$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
NAME_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"


class _RuleField(forms.CharField):
    """A CharField whose non-empty value must pass `check`; `message` says what is wanted."""

    pattern: re.Pattern[str] | None = None
    message = ""

    def __init__(self, *, max_length: int = 1024, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(max_length=max_length, **kwargs)

    def check(self, value: str) -> None:
        if self.pattern and not self.pattern.match(value):
            raise ValidationError(self.message)

    def validate(self, value: str) -> None:
        super().validate(value)
        if value:
            self.check(value)


class DNSLabelField(_RuleField):
    """A Kubernetes DNS-1123 label: a namespace, a name prefix, a worker name."""

    def __init__(self, *, what: str, longest: int = MAX_NAME, why: str = "", **kwargs: Any):
        # The length rule has its own message, so the generic max_length one only stops junk.
        super().__init__(max_length=1024, **kwargs)
        self.what, self.longest, self.why = what, longest, why

    def check(self, value: str) -> None:
        if len(value) > self.longest:
            raise ValidationError(
                f"{self.what} can have at most {self.longest} characters{self.why}; "
                f"this one has {len(value)}."
            )
        if value != value.lower():
            raise ValidationError(f"{self.what} must be lowercase (Kubernetes DNS-1123 label).")
        if not DNS_LABEL.match(value):
            raise ValidationError(f"{self.what} may only use {NAME_RULE}.")


class AirflowNameField(_RuleField):
    """A connection id or DAG bundle name."""

    pattern = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
    message = "Use letters, digits, '_', '.' and '-', up to 250 characters."


class GitRefField(_RuleField):
    pattern = re.compile(r"^[^\s~^:?*\[\\]{1,250}$")
    message = "Enter a branch, tag or commit, like main or v1.2.0 (no spaces)."


class SubdirField(_RuleField):
    pattern = re.compile(r"^[^\x00-\x1f]{1,1024}$")
    message = "Enter a folder inside the repository, like dags."


class SecretNameField(_RuleField):
    message = f"Kubernetes secret names use {NAME_RULE} (dots allowed), up to 253 characters."

    def check(self, value: str) -> None:
        if len(value) > 253 or not DNS_SUBDOMAIN.match(value):
            raise ValidationError(self.message)


class QuantityField(_RuleField):
    pattern = QUANTITY
    message = "Use a Kubernetes quantity, like 500m, 2 or 4Gi."

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=20, **kwargs)


class ClassPathField(_RuleField):
    pattern = CLASS_PATH
    message = "Enter a dotted Python class path, like my_company.secrets.MyBackend."


class ImageRepositoryField(_RuleField):
    pattern = IMAGE_REPOSITORY
    message = "Enter an image repository in lowercase, like registry.example.com/agents/agent."


class ImageTagField(_RuleField):
    pattern = IMAGE_TAG
    message = "Tags use letters, digits, '_', '.' and '-', up to 128 characters."


class ImageReferenceField(_RuleField):
    """repository:tag, as the chart takes each component's `image`."""

    def check(self, value: str) -> None:
        repository, colon, tag = value.rpartition(":")
        if not colon or "/" in tag:
            raise ValidationError("Enter repository:tag, like registry.example.com/sentinel:1.2.0.")
        ImageRepositoryField().check(repository)
        ImageTagField().check(tag)


def image_reference(repository: str, tag: str) -> str:
    return f"{repository}:{tag}"


class RegistryField(_RuleField):
    pattern = REGISTRY
    message = "Enter a registry host, like registry.example.com:5000."


class StorageURLField(_RuleField):
    pattern = STORAGE_URL
    message = "Enter a storage URL, like s3://my-bucket/xcom."


class AbsolutePathField(_RuleField):
    pattern = ABSOLUTE_PATH
    message = "Enter an absolute path inside the pod, like /var/run/secrets/agent/token."


class ProxyURLField(_RuleField):
    def check(self, value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
            raise ValidationError(
                "Enter an http:// or https:// URL, like http://proxy.internal:3128."
            )
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise ValidationError("The port must be a number from 1 to 65535.") from None


class HostListField(_RuleField):
    """NO_PROXY: comma-separated hosts, written back without the spaces around commas."""

    def to_python(self, value: Any) -> str:
        entries = [e.strip() for e in (super().to_python(value) or "").split(",")]
        if any(re.search(r"\s", e) for e in entries):
            raise ValidationError("Separate hosts with commas; no spaces inside a host.")
        return ",".join(e for e in entries if e)


class QueueListField(forms.CharField):
    """Comma-separated queue names, cleaned to a list."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]  # a list, not a str
        queues = [q.strip() for q in (super().to_python(value) or "").split(",") if q.strip()]
        if not queues:
            raise ValidationError("Give the worker at least one queue.")
        bad = [q for q in queues if not QUEUE.match(q)]
        if bad:
            raise ValidationError(
                f"Queue names use letters, digits, '_', '.', ':' and '-': {', '.join(bad)}"
            )
        if len(set(queues)) != len(queues):
            raise ValidationError("Each queue once, please.")
        return queues


class JSONObjectField(forms.CharField):
    """A JSON object typed into a textarea; empty means {}."""

    def to_python(self, value: Any) -> dict[str, Any]:  # type: ignore[override]  # a dict
        raw = super().to_python(value)
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValidationError(
                f"This is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
            ) from None
        if not isinstance(parsed, dict):
            raise ValidationError('Enter a JSON object, like {"connections_prefix": "x"}.')
        return parsed


class KeyValueField(forms.CharField):
    """Kubernetes labels or annotations, one key=value a line, cleaned to a dict."""

    def __init__(self, *, label_values: bool, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.label_values = label_values

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]  # a dict
        out: dict[str, str] = {}
        for number, raw in enumerate((super().to_python(value) or "").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, item = (part.strip() for part in line.partition("="))
            if not sep:
                raise ValidationError(f"Line {number}: write key=value.")
            if not _is_label_key(key):
                raise ValidationError(
                    f"Line {number}: “{key}” is not a valid Kubernetes key (optional prefix/, "
                    "then up to 63 letters, digits, '-', '_' or '.')."
                )
            if self.label_values and item and (len(item) > MAX_NAME or not LABEL_NAME.match(item)):
                raise ValidationError(
                    f"Line {number}: label values have up to 63 letters, digits, '-', '_' or '.'."
                )
            if key in out:
                raise ValidationError(f"Line {number}: “{key}” is given twice.")
            out[key] = item
        return out


def _is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if not LABEL_NAME.match(name) or len(name) > MAX_NAME:
        return False
    return not slash or (len(prefix) <= 253 and bool(DNS_SUBDOMAIN.match(prefix)))


def count(label: str, initial: int, minimum: int = 1, **kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        initial=initial,
        min_value=minimum,
        error_messages={"min_value": f"Must be at least {minimum}."},
        **kwargs,
    )
