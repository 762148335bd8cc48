"""The agent's built-in checks, each against the real thing it looks at."""

import socket
import sys
from datetime import UTC, datetime, timedelta

import pytest

from agents import checks


def test_it_passes_a_clock_within_five_seconds_and_fails_one_beyond():
    now = datetime.now(UTC)
    assert checks.clock_skew(now.isoformat())[0] == "passed"
    status, detail = checks.clock_skew((now - timedelta(seconds=30)).isoformat())
    assert status == "failed" and "+30" in detail
    assert checks.clock_skew("yesterday")[0] == "not_checked"


def test_it_names_the_proxy_it_goes_through_without_its_password(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:s3cret@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    status, detail = checks.proxy_for("https://console.example.com/api/agent/v1/")
    assert status == "passed" and "proxy.corp:3128" in detail and "s3cret" not in detail
    assert "directly" in checks.proxy_for("https://console.internal.corp/")[1]


@pytest.fixture
def fake_airflow(tmp_path, monkeypatch):
    """An importable `airflow` package with one provider module, as a real install has."""
    pkg = tmp_path / "airflow" / "providers" / "present"
    pkg.mkdir(parents=True)
    for init in (tmp_path / "airflow", tmp_path / "airflow" / "providers", pkg):
        (init / "__init__.py").write_text("")
    (pkg / "backend.py").write_text("class Backend:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")]:
        del sys.modules[name]


def test_it_reports_an_importable_backend(fake_airflow):
    status, detail = checks.importable("airflow.providers.present.backend.Backend", "XCom backend")
    assert status == "passed" and "Backend" in detail


def test_it_names_the_provider_package_a_missing_backend_needs(fake_airflow):
    status, detail = checks.importable(
        "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "secrets backend",
    )
    assert status == "failed" and "apache-airflow-providers-amazon" in detail


def test_it_says_why_it_cannot_check_without_airflow():
    if "airflow" in sys.modules:
        pytest.skip("Airflow is importable here")
    status, detail = checks.importable("airflow.x.Y", "secrets backend")
    assert status == "not_checked" and "Airflow is not installed" in detail


def test_it_skips_what_is_not_configured():
    assert checks.importable("", "XCom backend")[0] == "skipped"
    assert checks.dag_source([])[0] == "skipped"


def test_it_reaches_a_git_host_named_by_a_connection(monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        monkeypatch.setenv("AIRFLOW_CONN_DAGS", f"https://git:pw@127.0.0.1:{port}/org/repo.git")
        bundle = {"name": "dags", "classpath": "x.GitDagBundle", "kwargs": {"git_conn_id": "dags"}}
        assert checks.dag_source([bundle])[0] == "passed"
    finally:
        listener.close()
    assert checks.dag_source([bundle])[0] == "failed"


def test_it_cannot_check_a_git_connection_kept_only_by_airflow():
    bundle = {"name": "dags", "classpath": "x.GitDagBundle", "kwargs": {"git_conn_id": "nope"}}
    status, detail = checks.dag_source([bundle])
    assert status == "not_checked" and "AIRFLOW_CONN_NOPE" in detail


def test_a_missing_local_folder_fails(tmp_path):
    bundle = {"name": "l", "classpath": "LocalDagBundle", "kwargs": {"path": str(tmp_path / "x")}}
    assert checks.dag_source([bundle])[0] == "failed"


def test_it_reads_what_to_check_from_a_values_file():
    bundles = '[{"name": "dags", "classpath": "airflow.providers.git.bundles.git.GitDagBundle"}]'
    config = checks.config_from_values(
        {
            "secretBackend": "airflow.providers.hashicorp.secrets.vault.VaultBackend",
            "xcomBackend": None,
            "dagBundleConfigList": bundles,
        }
    )
    assert config.secret_backend.endswith("VaultBackend") and config.xcom_backend == ""
    assert config.dag_bundles[0]["name"] == "dags"
    assert checks.config_from_values({"dagBundleConfigList": "not json"}).dag_bundles == []
