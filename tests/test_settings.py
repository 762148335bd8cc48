import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7Gq2-kP9vLm4nR8sT1wY6zA3bC5dE0fH-jK2lM7nP4qR9sT6uV1wX3yZ8aB5cD0",
    "ALLOWED_HOSTS": "agents.example.com",
}


def test_check_deploy_is_clean_with_production_values():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be one of"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip", "'not-an-ip' is neither"),
        ("DATABASE_CONN_MAX_AGE", "soon", "DATABASE_CONN_MAX_AGE must be an integer"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING"),
    ],
)
def test_malformed_settings_fail_with_a_clear_message(name, value, message):
    result = _manage("check", env={name: value})
    assert result.returncode != 0
    assert message in result.stderr
