"""Files from the wizard speak the vendor chart's format, and the vendor's own file passes ours."""

import copy

import pytest
import yaml

from onboarding import values
from onboarding.forms import RegisterAgentForm
from onboarding.workers import worker_defaults
from tests.onboarding.vendor_format import (
    LATER_KEYS,
    VENDOR_LIKE_FILE,
    VENDOR_PATHS,
    key_paths,
)

API = "https://agents.acme.example/api/agent/v1/deployments/x/"

# Three installs people make: the defaults (token and pull secret as Kubernetes secrets), a
# locked-down cluster behind a proxy (token file, registry credentials, Git DAGs, many
# workers, Sentinel), and a quick trial (inline token, the chart makes the namespace, S3 DAGs,
# custom backends).
CONFIGURATIONS = {
    "defaults": {},
    "behind-a-proxy": {
        "token_secret_name": "",
        "token_file": "/var/run/secrets/agent/token",
        "pull_secret_name": "",
        "registry": "registry.acme.example:5000",
        "registry_username": "robot",
        "registry_password": "pw",
        "secret_backend": "airflow.providers.hashicorp.secrets.vault.VaultBackend",
        "secret_backend_kwargs": '{"url": "https://vault:8200", "mount_point": "airflow"}',
        "dag_source": "git",
        "git_conn_id": "git_dags",
        "git_subdir": "dags",
        "sentinel_enabled": "on",
        "http_proxy": "http://proxy.acme.example:3128",
        "https_proxy": "http://proxy.acme.example:3128",
        "no_proxy": "localhost,.svc",
        "labels": "team=data",
        "annotations": "owner=data-platform@acme.example",
        "workers-TOTAL_FORMS": "3",
        **worker_defaults(1, "etl", queues="etl, etl-slow"),
        **worker_defaults(2, "ml", queues="gpu"),
        "workers-2-ephemeral_storage": "",
    },
    "quick-trial": {
        "token_secret_name": "",
        "token_inline": "on",
        "create_namespace": "on",
        "secret_backend": "custom",
        "secret_backend_custom": "acme.secrets.Backend",
        "xcom_backend": "custom",
        "xcom_backend_custom": "acme.xcom.Backend",
        "xcom_path": "",
        "dag_source": "object-storage",
        "storage_url": "s3://acme-dags/prod",
        "triggerer_replicas": "2",
    },
}


@pytest.fixture
def vendor_file(deployment):
    return yaml.safe_load(VENDOR_LIKE_FILE.replace("<api-url>", deployment.agent_api_url()))


def _paths_outside_the_vendors(found: dict[str, set[str]]) -> dict[str, set[str]]:
    return {p: t for p, t in found.items() if not t <= VENDOR_PATHS.get(p, set())}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_each_configuration_uses_the_vendors_key_paths_and_types(answers, deployment, name):
    form = RegisterAgentForm(answers(**CONFIGURATIONS[name]))
    assert form.is_valid(), (form.errors, form.workers.errors)
    built = values.build(form.full_data(), deployment, agent_api_url=API, token="ragt_x")
    values.validate(built)
    assert yaml.safe_load(values.render(built, deployment)) == built

    found = key_paths(built)
    assert _paths_outside_the_vendors(found) == {}
    # A complete file: every section the vendor's download has, for the user to edit.
    assert set(VENDOR_PATHS) - set(found) == set()


def test_the_vendor_file_and_our_list_of_its_paths_agree(vendor_file):
    found = key_paths(vendor_file)
    assert _paths_outside_the_vendors(found) == {}
    assert set(VENDOR_PATHS) - set(found) == LATER_KEYS


def test_the_vendor_file_with_its_placeholders_filled_validates(vendor_file):
    values.validate(vendor_file)


@pytest.mark.parametrize(
    "change",
    [
        {"agentToken": "ragt_inline"},  # a second token method
        {"agentTokenSecretName": None},  # none left
        {"imagePullSecretData": '{"auths": {"r": {"auth": "x"}}}'},  # a second pull secret
        {"imagePullSecretName": None},
        {"resourceNamePrefix": ""},
        {"secretBackend": None},
        {"xcomBackend": ""},
        {"workers": [{"name": "Default", "queues": "default"}]},
        {"workers": [{"name": "w", "queues": "a b"}]},
    ],
)
def test_the_schema_refuses_what_the_chart_refuses(vendor_file, change):
    broken = copy.deepcopy(vendor_file)
    broken.update(change)
    with pytest.raises(values.SchemaError):
        values.validate(broken)
