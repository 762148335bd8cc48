import os

import pytest
import redis
from django.conf import settings
from django.test import Client

from astro_ui import embedded_redis
from deployments.models import Deployment, Organization, Role, RoleGrant, Workspace

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the same
# thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_embedded = None


def pytest_sessionstart(session):
    global _embedded
    _embedded = embedded_redis.ensure(settings.REDIS_URL)


def pytest_sessionfinish(session, exitstatus):
    embedded_redis.stop(_embedded)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Every test starts with an empty Redis database (ours only: FLUSHDB, never FLUSHALL)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield
    client.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Log-in tests check passwords many times; production's slow hash is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


# --- the demo world and its people -------------------------------------------------------------


@pytest.fixture
def organization(db):
    return Organization.objects.create(name="Acme")


@pytest.fixture
def workspace(organization):
    return Workspace.objects.create(organization=organization, name="Data")


@pytest.fixture
def deployment(workspace):
    return Deployment.objects.create(workspace=workspace, name="etl-prod", remote_execution=True)


@pytest.fixture
def other_deployment(workspace):
    return Deployment.objects.create(workspace=workspace, name="etl-staging", remote_execution=True)


def _member(django_user_model, deployment, username, role):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if role is not None:
        RoleGrant.objects.create(user=user, deployment=deployment, role=role)
    return user


@pytest.fixture
def admin(django_user_model, deployment):
    return _member(django_user_model, deployment, "alice", Role.ADMIN)


@pytest.fixture
def operator(django_user_model, deployment):
    return _member(django_user_model, deployment, "oscar", Role.OPERATOR)


@pytest.fixture
def viewer(django_user_model, deployment):
    return _member(django_user_model, deployment, "vera", Role.VIEWER)


@pytest.fixture
def stranger(django_user_model, deployment):
    return _member(django_user_model, deployment, "sam", None)


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(viewer):
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def stranger_client(stranger):
    client = Client()
    client.force_login(stranger)
    return client


# --- browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {
        **browser_type_launch_args,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if os.path.exists(chromium):
        args["executable_path"] = chromium
    return args
