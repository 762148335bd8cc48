"""Every file the wizard can produce passes the committed schema and reads back as built."""

import base64
import itertools
import json
import random

import pytest
import yaml

from onboarding import values
from onboarding.forms import CUSTOM, SECRET_BACKENDS, RegisterAgentForm, worker_defaults

API = "https://agents.example.com/api/agent/v1/deployments/x/"
TOKEN_METHODS = {
    "secret": {"token_secret_name": "agent-token"},
    "file": {"token_secret_name": "", "token_file": "/var/run/secrets/agent/token"},
    "inline": {"token_secret_name": "", "token_inline": "on"},
}
PULL_METHODS = {
    "name": {},
    "credentials": {
        "pull_secret_name": "",
        "registry": "registry.example.com:5000",
        "registry_username": "robot$agents",
        "registry_password": "p@ss: 'w\"rd' #1",
    },
}
SECRET_CHOICES = [c for c, _ in SECRET_BACKENDS]
EXTRAS = {
    "plain": {},
    "everything": {
        "http_proxy": "http://proxy.internal:3128",
        "https_proxy": "https://proxy.internal:3129",
        "no_proxy": "localhost,.svc,10.0.0.0/8",
        "labels": "team=data\nexample.com/cost-center=1234\nenabled=true",
        "annotations": "note=yes\nempty=\nsymbols=a: b # c 'd' \"e\" {f} [g] ü",
        "secret_backend_kwargs": '{"url": "https://vault:8200", "mount_point": "airflow",'
        ' "nested": {"n": 1, "on": true, "list": [null, "off"]}}',
        "log_level": "DEBUG",
        "dag_processor_enabled": None,
        "sentinel_enabled": None,
        "create_namespace": "on",
        "token_expires_in_days": "",
    },
}


def _combinations():
    rng = random.Random(5)
    for token, pull, backend, workers, extra in itertools.product(
        TOKEN_METHODS, PULL_METHODS, SECRET_CHOICES, (1, 3), EXTRAS
    ):
        xcom = rng.choice(["object-storage", "custom", "custom-with-path"])
        yield pytest.param(
            token,
            pull,
            backend,
            xcom,
            workers,
            extra,
            id=f"{token}-{pull}-{backend.rsplit('.', 1)[-1]}-{xcom}-{workers}w-{extra}",
        )


def _answers(answers, token, pull, backend, xcom, workers, extra) -> dict:
    changes = {**TOKEN_METHODS[token], **PULL_METHODS[pull], **EXTRAS[extra]}
    changes["secret_backend"] = backend
    if backend == CUSTOM:
        changes["secret_backend_custom"] = "acme_ops.secrets.Backend"
    if xcom.startswith("custom"):
        changes["xcom_backend"] = CUSTOM
        changes["xcom_backend_custom"] = "acme_ops.xcom.Backend"
        changes["xcom_path"] = "gs://acme/xcom" if xcom == "custom-with-path" else ""
    data = answers(**changes)
    for i in range(1, workers):
        data.update(worker_defaults(i, f"worker-{i + 1}"))
        data[f"workers-{i}-limits_cpu"] = ""
        data[f"workers-{i}-requests_memory"] = ""
    data["workers-TOTAL_FORMS"] = str(workers)
    return data


@pytest.mark.parametrize(
    ("token", "pull", "backend", "xcom", "workers", "extra"), list(_combinations())
)
def test_it_generates_a_valid_file_for_every_combination(
    answers, deployment, token, pull, backend, xcom, workers, extra
):
    form = RegisterAgentForm(_answers(answers, token, pull, backend, xcom, workers, extra))
    assert form.is_valid(), (form.errors, form.workers.errors)
    value = "ragt_" + "A" * 38 if token == "inline" else None
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=value)

    values.validate(built)
    text = values.render(built, deployment)
    assert yaml.safe_load(text) == built
    assert len(built["workers"]) == workers
    exactly_one = {"agentToken", "agentTokenSecretName", "agentTokenFile"} & built.keys()
    assert len(exactly_one) == 1
    assert len({"imagePullSecretName", "imagePullSecretData"} & built.keys()) == 1


def test_it_writes_the_deployment_ids_into_common_env(answers, deployment):
    form = RegisterAgentForm(answers(https_proxy="http://proxy:3128"))
    assert form.is_valid()
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    assert built["commonEnv"] == [
        {"name": "AGENT_ORGANIZATION_ID", "value": str(deployment.workspace.organization.pk)},
        {"name": "AGENT_WORKSPACE_ID", "value": str(deployment.workspace.pk)},
        {"name": "AGENT_DEPLOYMENT_ID", "value": str(deployment.pk)},
        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
    ]


def test_it_prefills_the_image_for_the_runtime(answers, deployment, settings):
    deployment.runtime_version = "3.2-1"
    settings.AGENT_IMAGE_REPOSITORY = "mirror.acme.internal/agents/agent"
    form = RegisterAgentForm(answers())
    form.is_valid()
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    assert built["image"] == {
        "repository": "mirror.acme.internal/agents/agent",
        "tag": "3.2-1-python-3.12-agent-1.3.2",
    }


def test_it_builds_docker_config_json_from_credentials():
    config = json.loads(values.docker_config("registry.example.com", "robot", "s3cret:x"))
    auth = config["auths"]["registry.example.com"]["auth"]
    assert base64.b64decode(auth).decode() == "robot:s3cret:x"


def test_a_deployment_name_cannot_break_out_of_the_header_comment(answers, deployment):
    deployment.name = "evil\nagentToken: stolen"
    form = RegisterAgentForm(answers())
    form.is_valid()
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    assert yaml.safe_load(values.render(built, deployment)) == built


def test_it_names_the_file_after_the_deployment(deployment):
    assert values.file_name(deployment) == "values-etl-prod.yaml"
    deployment.name = "ÜÜ"
    assert values.file_name(deployment) == "values-uu.yaml"
    deployment.name = "数据"
    assert values.file_name(deployment) == f"values-{deployment.pk}.yaml"


@pytest.mark.parametrize(
    "breakage",
    [
        {"agentTokenFile": "/var/run/token"},  # a second token method
        {"agentTokenSecretName": None},  # no token method
        {"imagePullSecretData": '{"auths": {}}'},  # a second pull-secret method
        {"namespace": "Agents"},
        {"resourceNamePrefix": ""},
        {"secretBackend": None},
        {"xcomBackend": {"class": "foo"}},
        {"workers": []},
        {"logLevel": "TRACE"},
        {"surprise": True},
    ],
)
def test_the_schema_rejects_broken_files(answers, deployment, breakage):
    form = RegisterAgentForm(answers())
    form.is_valid()
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    values.validate(built)
    for key, value in breakage.items():
        if value is None:
            built.pop(key)
        else:
            built[key] = value
    with pytest.raises(values.SchemaError):
        values.validate(built)


def _commands(answers, deployment, token=None, **changes):
    form = RegisterAgentForm(answers(**changes))
    assert form.is_valid(), form.errors
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    return values.shell_script(values.commands(built, deployment, token=token))


def test_the_commands_create_the_namespace_and_secrets_before_installing(answers, deployment):
    script = _commands(answers, deployment)
    lines = [line for line in script.splitlines() if not line.startswith("#")]
    assert lines == [
        "helm repo add remote-agents https://charts.example.com/remote-agents",
        "helm repo update",
        "kubectl create namespace remote-agents",
        "kubectl -n remote-agents create secret generic agent-token"
        " --from-literal=token=<agent-token>",
        "kubectl -n remote-agents create secret docker-registry agent-image-pull"
        " --docker-server=registry.local --docker-username=<username> --docker-password=<password>",
        "helm install etl-prod remote-agents/remote-execution-agent -n remote-agents"
        " -f values-etl-prod.yaml",
        "kubectl -n remote-agents get pods",
    ]


def test_the_commands_let_the_chart_create_the_namespace(answers, deployment):
    script = _commands(answers, deployment, create_namespace="on")
    assert "kubectl create namespace" not in script
    assert script.index("helm install") < script.index("create secret generic")


def test_the_secret_command_carries_a_token_only_when_given(answers, deployment):
    assert "--from-literal=token=ragt_abc" in _commands(answers, deployment, token="ragt_abc")
    file_script = _commands(answers, deployment, token_secret_name="", token_file="/t/token")
    assert "create secret generic" not in file_script
