"""Every file the wizard can produce passes the committed schema and reads back as built."""

import base64
import itertools
import json
import random

import pytest
import yaml

from onboarding import values
from onboarding.forms import RegisterAgentForm
from onboarding.values import CUSTOM, SECRET_BACKENDS
from onboarding.workers import worker_defaults

API = "https://agents.example.com/api/agent/v1/deployments/x/"
DROP = object()
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
        "sentinel_enabled": "on",
        "create_namespace": "on",
        "token_expires_in_days": "",
        "git_subdir": "airflow/dags",
        "triggerer_replicas": "2",
    },
}
DAG_VARIANTS = {
    "local": {},
    "git": {"dag_source": "git", "git_subdir": ""},
    "gcs": {
        "dag_source": "object-storage",
        "storage_url": "gs://acme-dags/team/a",
        "dag_refresh_interval": "",
        "xcom_threshold": "-1",
    },
}


def _combinations():
    rng = random.Random(5)
    for token, pull, backend, workers, extra in itertools.product(
        TOKEN_METHODS, PULL_METHODS, SECRET_CHOICES, (1, 3), EXTRAS
    ):
        xcom = rng.choice(["object-storage", "custom", "custom-with-path"])
        dags = rng.choice(list(DAG_VARIANTS))
        yield pytest.param(
            token,
            pull,
            backend,
            f"{xcom}/{dags}",
            workers,
            extra,
            id=f"{token}-{pull}-{backend.rsplit('.', 1)[-1]}-{xcom}-{dags}-{workers}w-{extra}",
        )


def _answers(answers, token, pull, backend, xcom_dags, workers, extra) -> dict:
    xcom, dags = xcom_dags.split("/")
    changes = {**TOKEN_METHODS[token], **PULL_METHODS[pull], **DAG_VARIANTS[dags], **EXTRAS[extra]}
    changes["secret_backend"] = backend
    if token == "secret" and pull == "name":
        changes.pop("create_namespace", None)  # the chart cannot create a namespace both need
    if backend == CUSTOM:
        changes["secret_backend_custom"] = "acme_ops.secrets.Backend"
    if xcom.startswith("custom"):
        changes["xcom_backend"] = CUSTOM
        changes["xcom_backend_custom"] = "acme_ops.xcom.Backend"
        changes["xcom_path"] = "gs://acme/xcom" if xcom == "custom-with-path" else ""
    data = answers(**changes)
    for i in range(1, workers):
        data.update(worker_defaults(i, f"worker-{i + 1}", queues=f"q{i}, q{i}-slow"))
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
    set_keys = {k for k, v in built.items() if v is not None}
    assert len({"agentToken", "agentTokenSecretName", "agentTokenFile"} & set_keys) == 1
    assert len({"imagePullSecretName", "imagePullSecretData"} & set_keys) == 1


def _built(answers, deployment, **changes):
    form = RegisterAgentForm(answers(**changes))
    assert form.is_valid(), (form.errors, form.workers.errors)
    return values.build(form.full_data(), deployment, agent_api_url=API, token=None)


def test_it_writes_ids_and_backend_settings_into_common_env(answers, deployment):
    built = _built(
        answers,
        deployment,
        https_proxy="http://proxy:3128",
        secret_backend_kwargs='{"connections_prefix": "airflow/connections"}',
        xcom_threshold="1024",
    )
    assert built["commonEnv"] == [
        {"name": "ASTRO_ORGANIZATION_ID", "value": str(deployment.workspace.organization.pk)},
        {"name": "ASTRO_WORKSPACE_ID", "value": str(deployment.workspace.pk)},
        {"name": "ASTRO_DEPLOYMENT_ID", "value": str(deployment.pk)},
        {"name": "ASTRO_DEPLOYMENT_NAMESPACE", "value": f"etl-prod-{deployment.pk.hex[:8]}"},
        {
            "name": "AIRFLOW__SECRETS__BACKEND_KWARGS",
            "value": '{"connections_prefix": "airflow/connections"}',
        },
        {"name": "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH", "value": "s3://acme-xcom/xcom"},
        {"name": "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD", "value": "1024"},
        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
    ]
    assert built["secretBackend"] == "airflow.secrets.local_filesystem.LocalFilesystemBackend"
    assert built["xcomBackend"] == values.OBJECT_STORAGE_XCOM


def test_it_prefills_the_image_of_every_component_for_the_runtime(answers, deployment, settings):
    deployment.runtime_version = "3.2-1"
    settings.AGENT_IMAGE_REPOSITORY = "mirror.acme.internal/agents/agent"
    built = _built(answers, deployment)
    image = "mirror.acme.internal/agents/agent:3.2-1-python-3.12-agent-1.3.2"
    assert built["workers"][0]["image"] == image
    assert built["dagProcessor"]["image"] == built["triggerer"]["image"] == image


def test_it_writes_queues_as_the_chart_takes_them(answers, deployment):
    built = _built(answers, deployment, **{"workers-0-queues": "default, etl ,reports"})
    assert built["workers"][0]["queues"] == "default,etl,reports"


@pytest.mark.parametrize(
    ("changes", "bundle"),
    [
        (
            {},
            {
                "name": "dags",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": "/usr/local/airflow/dags", "refresh_interval": 300},
            },
        ),
        (
            {
                "dag_source": "git",
                "git_conn_id": "github",
                "git_subdir": "dags",
                "git_tracking_ref": "v2",
            },
            {
                "name": "dags",
                "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
                "kwargs": {
                    "git_conn_id": "github",
                    "tracking_ref": "v2",
                    "subdir": "dags",
                    "refresh_interval": 300,
                },
            },
        ),
        (
            {"dag_source": "object-storage", "storage_url": "s3://acme-dags/prod/dags"},
            {
                "name": "dags",
                "classpath": "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
                "kwargs": {
                    "aws_conn_id": "aws_default",
                    "bucket_name": "acme-dags",
                    "prefix": "prod/dags",
                    "refresh_interval": 300,
                },
            },
        ),
        (
            {
                "dag_source": "object-storage",
                "storage_url": "gs://acme-dags",
                "storage_conn_id": "gcp_prod",
                "dag_bundle_name": "team_a",
            },
            {
                "name": "team_a",
                "classpath": "airflow.providers.google.cloud.bundles.gcs.GCSDagBundle",
                "kwargs": {
                    "gcp_conn_id": "gcp_prod",
                    "bucket_name": "acme-dags",
                    "prefix": "",
                    "refresh_interval": 300,
                },
            },
        ),
    ],
)
def test_it_writes_the_dag_source_as_a_bundle_config_list(answers, deployment, changes, bundle):
    built = _built(answers, deployment, **changes)
    assert isinstance(built["dagBundleConfigList"], str)
    assert json.loads(built["dagBundleConfigList"]) == [bundle]


def test_unused_alternatives_are_written_as_not_set(answers, deployment):
    text = values.render(_built(answers, deployment), deployment)
    assert "\nagentToken: ~\n" in text
    assert "\nimagePullSecretData: ~\n" in text
    assert "&id" not in text  # shared defaults are written out, not as YAML anchors


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
        {"agentTokenSecretName": None},  # ~: no token method left
        {"agentTokenSecretName": DROP},
        {"imagePullSecretData": '{"auths": {}}'},  # a second pull-secret method
        {"imagePullSecretName": None},
        {"namespace": "Agents"},
        {"resourceNamePrefix": ""},
        {"secretBackend": None},
        {"secretBackend": DROP},
        {"xcomBackend": {"class": "foo"}},
        {"workers": []},
        {"logLevel": "TRACE"},
        {"dagBundleConfigList": "[{not json"},
        {"dagBundleConfigList": '[{"name": "x", "classpath": "no class"}]'},
        {"surprise": True},
    ],
)
def test_the_schema_rejects_broken_files(answers, deployment, breakage):
    form = RegisterAgentForm(answers())
    form.is_valid()
    built = values.build(form.full_data(), deployment, agent_api_url=API, token=None)
    values.validate(built)
    for key, value in breakage.items():
        if value is DROP:
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
        "helm repo add astronomer https://helm.astronomer.io",
        "helm repo update",
        "kubectl create namespace remote-agents",
        "kubectl -n remote-agents create secret generic agent-token"
        " --from-literal=token=<agent-token>",
        "kubectl -n remote-agents create secret docker-registry agent-image-pull"
        " --docker-server=registry.local --docker-username=<username> --docker-password=<password>",
        "helm install etl-prod astronomer/astro-remote-execution-agent -n remote-agents"
        " -f values-etl-prod.yaml",
        "kubectl -n remote-agents get pods",
    ]


def test_the_commands_let_the_chart_create_the_namespace(answers, deployment):
    script = _commands(answers, deployment, create_namespace="on", **PULL_METHODS["credentials"])
    assert "kubectl create namespace" not in script
    assert script.index("helm install") < script.index("create secret generic")


def test_the_secret_command_carries_a_token_only_when_given(answers, deployment):
    assert "--from-literal=token=ragt_abc" in _commands(answers, deployment, token="ragt_abc")
    file_script = _commands(answers, deployment, token_secret_name="", token_file="/t/token")
    assert "create secret generic" not in file_script


def test_the_chart_repository_is_a_setting_for_mirrors(answers, deployment, settings):
    settings.AGENT_CHART_REPOSITORY_URL = "https://mirror.acme.internal/helm"
    script = _commands(answers, deployment)
    assert "helm repo add astronomer https://mirror.acme.internal/helm" in script
    assert "astronomer/astro-remote-execution-agent" in script
