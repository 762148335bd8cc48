"""The agent chart's values.yaml: built from the wizard's answers, checked, written with comments.

Every file the console hands out is validated against `values.schema.json` first. A failure there
means the form let something through that the chart would reject, which is a bug on our side.
"""

import base64
import json
import shlex
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from django.conf import settings
from django.utils.text import slugify

SCHEMA_PATH = Path(__file__).resolve().parent / "values.schema.json"
# The vendor's chart, under the names its users know; the repository URL is a setting for mirrors.
CHART = "astro-remote-execution-agent"
CHART_REPO_NAME = "astronomer"
# Shown in the preview before a new token exists; the real value replaces it in the download.
NEW_TOKEN_PLACEHOLDER = "<new-token-written-on-download>"  # noqa: S105
TOKEN_PLACEHOLDER = "<agent-token>"  # noqa: S105
OBJECT_STORAGE_XCOM = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
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
XCOM_BACKENDS = [(OBJECT_STORAGE_XCOM, "Object storage"), (CUSTOM, "Custom class…")]
LOG_LEVELS = [(level, level.title()) for level in ("DEBUG", "INFO", "WARNING", "ERROR")]
# Names the chart gives its resources after the prefix; workers add their own name.
FIXED_SUFFIXES = ("-dag-processor", "-triggerer", "-sentinel")
WORKER_SUFFIX = "-worker-"
HEALTH_PORT = 39091
# The metric the agent exports for autoscaling on queued and running tasks.
HPA_METRIC = "astro_agent_client_queued_or_running_tasks"


@dataclass(frozen=True)
class DagSource:
    label: str
    classpath: str


DAG_SOURCES = {
    "local": DagSource("Local folder", "airflow.dag_processing.bundles.local.LocalDagBundle"),
    "git": DagSource("Git repository", "airflow.providers.git.bundles.git.GitDagBundle"),
    "object-storage": DagSource("Object storage", ""),
}
# Object-storage bundles by URL scheme: (class path, connection keyword, default connection).
STORAGE_BUNDLES = {
    "s3": ("airflow.providers.amazon.aws.bundles.s3.S3DagBundle", "aws_conn_id", "aws_default"),
    "gs": (
        "airflow.providers.google.cloud.bundles.gcs.GCSDagBundle",
        "gcp_conn_id",
        "google_cloud_default",
    ),
}


class SchemaError(Exception):
    """A generated file broke the schema."""


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate(values: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise SchemaError(f"{where}: {errors[0].message}")
    if "dagBundleConfigList" in values:
        _validate_bundles(values["dagBundleConfigList"])


def _validate_bundles(text: str) -> None:
    """JSON Schema sees a string; the chart hands its JSON to Airflow, which wants this shape."""
    try:
        bundles = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"dagBundleConfigList: not JSON ({e.msg})") from None
    bundle = {
        "type": "object",
        "required": ["name", "classpath"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "classpath": schema()["$defs"]["classPath"],
            "kwargs": {"type": "object"},
        },
    }
    shape = {"type": "array", "items": bundle}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(shape).iter_errors(bundles)
    )
    if error:
        where = "/".join(str(p) for p in error.absolute_path)
        raise SchemaError(f"dagBundleConfigList/{where}: {error.message}")


def file_name(deployment) -> str:
    return f"values-{slugify(deployment.name) or deployment.pk}.yaml"


def image_tag(deployment) -> str:
    return f"{deployment.runtime_version}-{settings.AGENT_IMAGE_TAG_SUFFIX}"


def deployment_namespace(deployment) -> str:
    """The deployment's name in ASTRO_DEPLOYMENT_NAMESPACE and OpenLineage: stable, unique."""
    return f"{slugify(deployment.name)[:40].strip('-') or 'deployment'}-{deployment.pk.hex[:8]}"


def docker_config(registry: str, username: str, password: str) -> str:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": auth}}}, indent=2) + "\n"


def build(data: dict[str, Any], deployment, *, agent_api_url: str, token: str | None) -> dict:
    """The values for the cleaned wizard data, in the vendor chart's order and with its defaults.
    `token` is written only for an inline token; unused alternatives are written as null."""
    image = f"{data['image_repository']}:{data['image_tag']}"
    pull_data = None
    if not data["pull_secret_name"]:
        pull_data = Literal(
            docker_config(data["registry"], data["registry_username"], data["registry_password"])
        )
    return {
        "resourceNamePrefix": data["resource_name_prefix"],
        "createNamespace": data["create_namespace"],
        "namespace": data["namespace"],
        "astroDeploymentAPIURL": agent_api_url,
        "imagePullSecretName": data["pull_secret_name"] or None,
        "imagePullSecretData": pull_data,
        "agentTokenSecretName": data["token_secret_name"] or None,
        "agentToken": (token or NEW_TOKEN_PLACEHOLDER) if data["token_inline"] else None,
        "agentTokenFile": data["token_file"] or None,
        "secretBackend": data["secret_backend_class"],
        "xcomBackend": data["xcom_backend_class"],
        "dagBundleConfigList": json.dumps([dag_bundle(data)]),
        "commonEnv": common_env(deployment, data),
        "openLineage": {
            "enabled": False,
            "apiKeySecret": None,
            "apiKey": None,
            "namespace": deployment_namespace(deployment),
            "url": None,
        },
        "logLevel": data["log_level"],
        "labels": data["labels"],
        "annotations": data["annotations"],
        "podSecurityContext": {"runAsUser": 50000, "fsGroup": 50000, "runAsNonRoot": True},
        "containerSecurityContext": {},
        "serviceAccount": {
            "annotations": {},
            **{c: {"create": True, "name": None, "annotations": {}} for c in COMPONENTS},
        },
        "loggingSidecar": {
            "enabled": False,
            "name": "vector-logging-sidecar",
            "image": "timberio/vector:0.45.0-debian",
            "env": [],
            "securityContext": {},
            "volumeMounts": [],
            "resources": {},
            "config": None,
        },
        "workers": [_worker(w, image) for w in data["workers"]],
        "dagProcessor": _component(image),
        "triggerer": {
            "replicas": data["triggerer_replicas"],
            "asyncSlots": data["triggerer_async_slots"],
            **_component(image),
        },
        "sentinel": {"enabled": data["sentinel_enabled"], "image": data["sentinel_image"] or None},
    }


COMPONENTS = ("workers", "dagProcessor", "triggerer")


def dag_bundle(data: dict[str, Any]) -> dict[str, Any]:
    """One entry of dagBundleConfigList for the wizard's DAG source."""
    source = data["dag_source"]
    kwargs: dict[str, Any] = {}
    if source == "git":
        classpath = DAG_SOURCES["git"].classpath
        kwargs["git_conn_id"] = data["git_conn_id"]
        kwargs["tracking_ref"] = data["git_tracking_ref"] or "main"
        if data["git_subdir"]:
            kwargs["subdir"] = data["git_subdir"]
    elif source == "object-storage":
        scheme, _, rest = data["storage_url"].partition("://")
        classpath, conn_key, conn_default = STORAGE_BUNDLES[scheme]
        bucket, _, prefix = rest.partition("/")
        kwargs = {conn_key: data["storage_conn_id"] or conn_default, "bucket_name": bucket}
        kwargs["prefix"] = prefix
    else:
        classpath = DAG_SOURCES["local"].classpath
        if data["local_path"]:
            kwargs["path"] = data["local_path"]
    if data.get("dag_refresh_interval") is not None:
        kwargs["refresh_interval"] = data["dag_refresh_interval"]
    return {"name": data["dag_bundle_name"], "classpath": classpath, "kwargs": kwargs}


def common_env(deployment, data: dict[str, Any]) -> list[dict[str, str]]:
    env = [
        {"name": "ASTRO_ORGANIZATION_ID", "value": str(deployment.workspace.organization_id)},
        {"name": "ASTRO_WORKSPACE_ID", "value": str(deployment.workspace_id)},
        {"name": "ASTRO_DEPLOYMENT_ID", "value": str(deployment.pk)},
        {"name": "ASTRO_DEPLOYMENT_NAMESPACE", "value": deployment_namespace(deployment)},
    ]
    if data["secret_backend_kwargs"]:
        kwargs = json.dumps(data["secret_backend_kwargs"])
        env.append({"name": "AIRFLOW__SECRETS__BACKEND_KWARGS", "value": kwargs})
    if data["xcom_path"]:
        env.append(
            {"name": "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH", "value": data["xcom_path"]}
        )
        threshold = str(data["xcom_threshold"] if data["xcom_threshold"] is not None else 0)
        env.append({"name": "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD", "value": threshold})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        if data.get(name.lower()):
            env.append({"name": name, "value": data[name.lower()]})
    return env


def _probe() -> dict[str, Any]:
    return {
        "httpGet": {"path": "healthz", "port": HEALTH_PORT},
        "initialDelaySeconds": 5,
        "periodSeconds": 5,
        "failureThreshold": 3,
        "successThreshold": 1,
        "timeoutSeconds": 5,
    }


def _resources(cpu: str, memory: str, storage: str) -> dict[str, str]:
    amounts = {"cpu": cpu, "ephemeral-storage": storage, "memory": memory}
    return {k: v for k, v in amounts.items() if v}


def _component(image: str, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every agent component takes: the chart's defaults, the image filled in."""
    default = _resources("1", "2Gi", "1Gi")
    return {
        "image": image,
        "resources": resources
        if resources is not None
        else {"limits": default, "requests": default},
        "env": [],
        "livenessProbe": _probe(),
        "readinessProbe": _probe(),
        "podSecurityContext": None,
        "containerSecurityContext": {},
        "initContainers": [],
        "extraContainers": [],
        "volumes": [],
        "volumeMounts": [],
        "nodeSelector": None,
    }


def _worker(worker: dict[str, Any], image: str) -> dict[str, Any]:
    resources = {
        kind: amounts
        for kind in ("limits", "requests")
        if (
            amounts := _resources(
                worker[f"{kind}_cpu"], worker[f"{kind}_memory"], worker["ephemeral_storage"]
            )
        )
    }
    component = _component(image, resources)
    hpa = {
        "enabled": False,
        "minReplicaCount": 1,
        "maxReplicaCount": worker["replicas"],
        # Scale before queued and running tasks outgrow one pod's slots.
        "metric": {
            "enabled": True,
            "name": HPA_METRIC,
            "target": {"type": "Value", "Value": worker["sync_slots"]},
        },
        "extraMetrics": [],
        "behavior": {
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            },
            "scaleDown": {"stabilizationWindowSeconds": 300},
        },
    }
    return {
        "name": worker["name"],
        # The chart takes queues as one comma-separated string.
        "queues": ",".join(worker["queues"]),
        "replicas": worker["replicas"],
        "syncSlots": worker["sync_slots"],
        "image": component.pop("image"),
        "resources": component.pop("resources"),
        "env": component.pop("env"),
        "hpa": hpa,
        "terminationGracePeriodSeconds": worker["termination_grace_period_seconds"],
        **component,
    }


# --- writing the file ----------------------------------------------------------------------------

COMMENTS = {
    "resourceNamePrefix": (
        "Every Kubernetes resource of this release starts with this prefix, e.g. "
        "<prefix>-worker-<name>, <prefix>-triggerer. Prefix plus suffix must stay within 63 "
        "characters."
    ),
    "createNamespace": (
        "true: the chart creates the namespace. Keep false when the token or the pull secret "
        "lives in a Kubernetes secret: the namespace and those secrets must exist before the "
        "install."
    ),
    "namespace": "The Kubernetes namespace the agents run in.",
    "astroDeploymentAPIURL": (
        "This deployment's agent API. Agents open outbound HTTPS connections to it; nothing "
        "connects into your cluster."
    ),
    "imagePullSecretName": (
        "Pull secret, option 1: a docker-registry secret that already exists in the namespace "
        "(key .dockerconfigjson). Set exactly one of imagePullSecretName and imagePullSecretData."
    ),
    "imagePullSecretData": (
        "Pull secret, option 2: Docker config JSON; the chart turns it into a secret named "
        "image-pull-secret."
    ),
    "agentTokenSecretName": (
        "Agent token, option 1 (recommended): a secret in the namespace with the token under "
        "the key 'token'. Set exactly one of agentTokenSecretName, agentToken and agentTokenFile; "
        "~ means not set."
    ),
    "agentToken": (
        "Agent token, option 2: the value itself. Anyone who can read this file can act as your "
        "agents, so keep it out of version control."
    ),
    "agentTokenFile": "Agent token, option 3: a file inside the agent pods, read at runtime.",
    "secretBackend": (
        "Class of the Airflow secrets backend the agents read connections and variables from. "
        "Its kwargs go in commonEnv as AIRFLOW__SECRETS__BACKEND_KWARGS. Required."
    ),
    "xcomBackend": (
        "Class of the Airflow XCom backend. For object storage, the path and size threshold go "
        "in commonEnv (AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH, ..._THRESHOLD). Required."
    ),
    "dagBundleConfigList": (
        "Where the DAG processor and workers find DAG code: a JSON list of DAG bundles, set as "
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST in the agent containers. A Git bundle "
        "needs its connection, e.g. an AIRFLOW_CONN_<ID> entry in commonEnv or your secrets "
        "backend."
    ),
    "commonEnv": (
        "Environment of every agent container (workers, DAG processor, triggerer): this "
        "deployment's ids, backend settings, proxies. Values are strings."
    ),
    "openLineage": (
        "Lineage events from the agents. Off by default; to turn it on, give an API key "
        "(apiKeySecret: an existing secret with key api-key, or apiKey) and the endpoint url."
    ),
    "logLevel": "Log verbosity of all agent components.",
    "labels": "Labels added to every object and pod the chart creates.",
    "annotations": "Annotations added to every object and pod the chart creates.",
    "podSecurityContext": (
        "Pod security context of all agent pods; the agent runs as UID/GID 50000. For a "
        "'restricted' namespace add seccompProfile: {type: RuntimeDefault}."
    ),
    "containerSecurityContext": (
        "Security context of all agent containers, e.g. allowPrivilegeEscalation: false, "
        "readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}."
    ),
    "serviceAccount": (
        "Service accounts per component. create: false uses an existing account named in name; "
        "name ~ means <prefix>-<component>."
    ),
    "loggingSidecar": (
        "Optional sidecar in worker and triggerer pods that ships task logs (Vector; its "
        "configuration goes in config as YAML). commonEnv is not passed to it."
    ),
    "workers": (
        "Worker groups. Each runs <replicas> pods that take tasks from its queues "
        "(comma-separated), syncSlots at a time per pod. A pod that stops gets "
        "terminationGracePeriodSeconds to finish running tasks. hpa scales on queued and running "
        "tasks once the metric reaches the metrics API. Per-group env, probes, security "
        "contexts, init/extra containers, volumes and nodeSelector override the defaults above."
    ),
    "dagProcessor": "The DAG processor: parses DAG files on your side and sends the results.",
    "triggerer": "The triggerer: runs deferred tasks; asyncSlots triggers at once per pod.",
    "sentinel": (
        "Sentinel: a monitoring pod that watches the agent pods and reports their health. "
        "Off by default; host its image in your registry before turning it on."
    ),
}


class Literal(str):
    """A string written as a YAML block (`|`), so multi-line JSON stays readable."""


class _Dumper(yaml.SafeDumper):
    # Indent list items under their key, as Kubernetes manifests usually are.
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    # Shared defaults (the same probe, the same resources) are written out, never as &anchors.
    def ignore_aliases(self, data):
        return True


# The vendor's files write "not set" as ~; so do ours, so that a diff between them stays small.
_Dumper.add_representer(type(None), lambda d, _: d.represent_scalar("tag:yaml.org,2002:null", "~"))
_Dumper.add_representer(
    Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", str(s), style="|")
)


def _comment(text: str) -> str:
    # Wrapped from the words alone, so text from the database can never start a YAML line.
    return "\n".join("# " + line for line in textwrap.wrap(" ".join(text.split()), width=98))


def render(values: dict[str, Any], deployment) -> str:
    lines = [
        _comment(f"values.yaml for the {CHART} chart: deployment {deployment.name}"),
        _comment(f"({deployment.pk}), runtime {deployment.runtime_version}."),
        _comment(
            "Generated by the Remote Agents console. Install with: helm install <release> "
            f"{CHART_REPO_NAME}/{CHART} -f <this file>"
        ),
        "",
    ]
    for key, value in values.items():
        lines.append(_comment(COMMENTS[key]))
        dumped = yaml.dump(
            {key: value},
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100_000,
        )
        lines.append(dumped.rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


# --- install commands ----------------------------------------------------------------------------


@dataclass
class Command:
    comment: str
    text: str


def commands(values: dict[str, Any], deployment, *, token: str | None = None) -> list[Command]:
    """What an operator runs, in order; the token command has a placeholder unless given `token`."""
    ns = values["namespace"]
    q = shlex.quote
    out = [
        Command(
            "Add the chart repository",
            f"helm repo add {CHART_REPO_NAME} {q(settings.AGENT_CHART_REPOSITORY_URL)}",
        ),
        Command("", "helm repo update"),
    ]
    secrets = []
    if values.get("agentTokenSecretName"):
        secrets.append(
            Command(
                "The agent token, in the secret the chart reads",
                token_secret_command(ns, values["agentTokenSecretName"], token),
            )
        )
    if values.get("imagePullSecretName"):
        registry = values["dagProcessor"]["image"].split("/", 1)[0]
        secrets.append(
            Command(
                "The image pull secret, unless it exists already",
                f"kubectl -n {q(ns)} create secret docker-registry "
                f"{q(values['imagePullSecretName'])} --docker-server={q(registry)} "
                "--docker-username=<username> --docker-password=<password>",
            )
        )
    install = f"helm install {q(values['resourceNamePrefix'])} {CHART_REPO_NAME}/{CHART}"
    if values["createNamespace"]:
        # The chart creates the namespace, so the release cannot live in it and the secrets can
        # only be created afterwards; the pods start as soon as they exist.
        out.append(
            Command(
                "Install; the chart creates the namespace",
                f"{install} -f {q(file_name(deployment))}",
            )
        )
        out.extend(secrets)
    else:
        out.append(Command("Create the namespace", f"kubectl create namespace {q(ns)}"))
        out.extend(secrets)
        out.append(Command("Install", f"{install} -n {q(ns)} -f {q(file_name(deployment))}"))
    out.append(Command("Check the pods", f"kubectl -n {q(ns)} get pods"))
    return out


def token_secret_command(namespace: str, secret: str, token: str | None) -> str:
    q = shlex.quote
    literal = q(token) if token else TOKEN_PLACEHOLDER
    return (
        f"kubectl -n {q(namespace)} create secret generic {q(secret)} "
        f"--from-literal=token={literal}"
    )


def shell_script(cmds: list[Command]) -> str:
    lines = []
    for cmd in cmds:
        if cmd.comment:
            lines.append(f"# {cmd.comment}")
        lines.append(cmd.text)
    return "\n".join(lines)
