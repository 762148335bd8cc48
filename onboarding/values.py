"""The agent chart's values.yaml: built from the wizard's answers, checked, written with comments.

Every file the console hands out is validated against `values.schema.json` first. A failure there
means the form let something through that the chart would reject, which is a bug on our side.
"""

import base64
import json
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from django.conf import settings
from django.utils.text import slugify

SCHEMA_PATH = Path(__file__).resolve().parent / "values.schema.json"
CHART = "remote-execution-agent"
CHART_REPO_NAME = "remote-agents"
# Shown in the preview before a new token exists; the real value replaces it in the download.
NEW_TOKEN_PLACEHOLDER = "<new-token-written-on-download>"  # noqa: S105
TOKEN_PLACEHOLDER = "<agent-token>"  # noqa: S105


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


def file_name(deployment) -> str:
    return f"values-{slugify(deployment.name) or deployment.pk}.yaml"


def image_tag(deployment) -> str:
    return f"{deployment.runtime_version}-{settings.AGENT_IMAGE_TAG_SUFFIX}"


def docker_config(registry: str, username: str, password: str) -> str:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": auth}}}, indent=2) + "\n"


def build(data: dict[str, Any], deployment, *, agent_api_url: str, token: str | None) -> dict:
    """The values for the cleaned wizard data. `token` is written only for an inline token."""
    values: dict[str, Any] = {"agentApiUrl": agent_api_url}
    if data["token_inline"]:
        values["agentToken"] = token or NEW_TOKEN_PLACEHOLDER
    elif data["token_secret_name"]:
        values["agentTokenSecretName"] = data["token_secret_name"]
    else:
        values["agentTokenFile"] = data["token_file"]

    if data["pull_secret_name"]:
        values["imagePullSecretName"] = data["pull_secret_name"]
    else:
        values["imagePullSecretData"] = Literal(
            docker_config(data["registry"], data["registry_username"], data["registry_password"])
        )

    values["namespace"] = data["namespace"]
    values["createNamespace"] = data["create_namespace"]
    values["resourceNamePrefix"] = data["resource_name_prefix"]
    values["image"] = {"repository": data["image_repository"], "tag": data["image_tag"]}
    values["secretBackend"] = {"class": data["secret_backend_class"], "kwargs": data["kwargs"]}
    values["xcomBackend"] = {"class": data["xcom_backend_class"]}
    if data["xcom_path"]:
        values["xcomBackend"]["path"] = data["xcom_path"]
    values["workers"] = [_worker(w) for w in data["workers"]]
    values["dagProcessor"] = {
        "enabled": data["dag_processor_enabled"],
        "replicas": data["dag_processor_replicas"],
    }
    values["triggerer"] = {
        "enabled": data["triggerer_enabled"],
        "replicas": data["triggerer_replicas"],
        "asyncSlots": data["triggerer_async_slots"],
    }
    values["sentinel"] = {"enabled": data["sentinel_enabled"]}
    values["logLevel"] = data["log_level"]
    values["commonEnv"] = common_env(deployment, data)
    values["labels"] = data["labels"]
    values["annotations"] = data["annotations"]
    return values


def common_env(deployment, data: dict[str, Any]) -> list[dict[str, str]]:
    env = [
        {"name": "AGENT_ORGANIZATION_ID", "value": str(deployment.workspace.organization_id)},
        {"name": "AGENT_WORKSPACE_ID", "value": str(deployment.workspace_id)},
        {"name": "AGENT_DEPLOYMENT_ID", "value": str(deployment.pk)},
    ]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        if data.get(name.lower()):
            env.append({"name": name, "value": data[name.lower()]})
    return env


def _worker(worker: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": worker["name"],
        "queues": worker["queues"],
        "replicas": worker["replicas"],
        "syncSlots": worker["sync_slots"],
        "terminationGracePeriodSeconds": worker["termination_grace_period_seconds"],
    }
    resources: dict[str, dict[str, str]] = {}
    for kind in ("requests", "limits"):
        amounts = {r: worker[f"{kind}_{r}"] for r in ("cpu", "memory") if worker[f"{kind}_{r}"]}
        if amounts:
            resources[kind] = amounts
    if resources:
        out["resources"] = resources
    return out


# --- writing the file ----------------------------------------------------------------------------

COMMENTS = {
    "agentApiUrl": "Where agents connect: this deployment's agent API. Outbound HTTPS only.",
    "agentToken": (
        "The agent token, inline. Anyone who can read this file can act as your agents: "
        "keep it out of version control, or switch to agentTokenSecretName."
    ),
    "agentTokenSecretName": "A Kubernetes secret in the namespace, with the token in key 'token'.",
    "agentTokenFile": "A file inside the agent pods that holds the token; read at runtime.",
    "imagePullSecretName": "An existing docker-registry secret in the namespace.",
    "imagePullSecretData": "Docker config JSON; the chart turns it into an image pull secret.",
    "namespace": "The Kubernetes namespace the agents run in.",
    "createNamespace": "Let the chart create the namespace (false: it must exist already).",
    "resourceNamePrefix": "Prefix of every resource name, e.g. <prefix>-worker-default.",
    "image": "The agent image, matching this deployment's runtime.",
    "secretBackend": "Where tasks read connections and variables. Required to run tasks.",
    "xcomBackend": "Where tasks exchange XCom values. Required to run tasks.",
    "workers": "Worker groups: each takes tasks from its queues, syncSlots at a time per pod.",
    "dagProcessor": "Parses DAG files on the execution plane.",
    "triggerer": "Runs deferred tasks; asyncSlots is how many triggers one pod runs at once.",
    "sentinel": "A monitoring sidecar that reports on the agents.",
    "logLevel": "Agent log verbosity.",
    "commonEnv": "Environment for every agent pod: the ids of this deployment, proxy settings.",
    "labels": "Added to every resource the chart creates.",
    "annotations": "Added to every resource the chart creates.",
}


class Literal(str):
    """A string written as a YAML block (`|`), so multi-line JSON stays readable."""


class _Dumper(yaml.SafeDumper):
    # Indent list items under their key, as Kubernetes manifests usually are.
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(
    Literal, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", str(s), style="|")
)


def _comment(text: str) -> str:
    # Collapse whitespace so that text from the database can never start a new YAML line.
    return "# " + " ".join(text.split())


def render(values: dict[str, Any], deployment) -> str:
    lines = [
        _comment(f"values.yaml for the remote-execution-agent chart: deployment {deployment.name}"),
        _comment(f"({deployment.pk}), runtime {deployment.runtime_version}."),
        _comment("Generated by the Remote Agents console. Install with: helm install -f <file>"),
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
    if "agentTokenSecretName" in values:
        secrets.append(
            Command(
                "The agent token, in the secret the chart reads",
                token_secret_command(ns, values["agentTokenSecretName"], token),
            )
        )
    if "imagePullSecretName" in values:
        registry = values["image"]["repository"].split("/", 1)[0]
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
