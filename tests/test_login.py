"""Log-in: it works while Redis is down, and wrong passwords are throttled per account and per
address on /login/ and /admin/login/, with a message naming when it lifts."""

import ipaddress
import tempfile
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from astro_ui import embedded_redis

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def redis_down(settings):
    """The cache and the heartbeat store point at a Redis server that is then stopped."""
    folder = tempfile.mkdtemp(prefix="ra-", dir="/tmp")
    url = f"unix://{folder}/redis.sock"
    process = embedded_redis.ensure(url)
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {**django_settings.CACHES["default"], "LOCATION": url},
    }
    embedded_redis.stop(process)


def _post(client: Client, username: str, password: str, *, url: str = LOGIN, ip="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _fail(client: Client, username: str, times: int, *, url=LOGIN, ip="10.0.0.1") -> None:
    for _ in range(times):
        assert _post(client, username, "wrong", url=url, ip=ip).status_code == 200


def test_it_logs_in_while_redis_is_down(redis_down, admin, client):
    response = _post(client, "alice", "pw-alice")
    assert response.status_code == 302
    # The session was saved to the database: the next page knows who this is.
    page = client.get(reverse("workspaces"), REMOTE_ADDR="10.0.0.1")
    assert page.status_code == 200
    assert "alice" in page.content.decode()


def test_it_throttles_while_redis_is_down(redis_down, admin, client):
    _fail(client, "alice", django_settings.AXES_FAILURE_LIMIT - 1)
    assert _post(client, "alice", "wrong").status_code == 429


def test_it_locks_an_account_after_the_limit_even_from_new_addresses(admin, client):
    limit = django_settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        _fail(client, "alice", 1, ip=f"10.0.1.{n}")
    response = _post(client, "alice", "wrong", ip="10.0.2.1")
    assert response.status_code == 429
    # The right password from yet another address is refused too, with the same page.
    response = _post(client, "alice", "pw-alice", ip="10.0.3.1")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_an_address_guessing_many_accounts(admin, operator, viewer, client):
    limit = django_settings.AXES_FAILURE_LIMIT
    names = ["alice", "oscar", "vera", "nobody"]
    for n in range(limit - 1):
        _fail(client, names[n % len(names)], 1, ip="10.9.9.9")
    assert _post(client, "vera", "wrong", ip="10.9.9.9").status_code == 429
    # Another address is not affected: vera logs in from home.
    assert _post(Client(), "vera", "pw-vera", ip="10.7.7.7").status_code == 302


def test_it_says_why_and_until_when(admin, client):
    _fail(client, "alice", django_settings.AXES_FAILURE_LIMIT - 1)
    now = timezone.now()
    response = _post(client, "alice", "wrong")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed log-in attempts" in body
    until = now + django_settings.AXES_COOLOFF_TIME
    assert f"{until:%H:%M} UTC" in body or f"{until + timedelta(minutes=1):%H:%M} UTC" in body
    retry = int(response["Retry-After"])
    cool_off = django_settings.AXES_COOLOFF_TIME.total_seconds()
    assert cool_off - 5 <= retry <= cool_off + 1


def test_attempts_during_a_lockout_do_not_extend_it(admin, client):
    _fail(client, "alice", django_settings.AXES_FAILURE_LIMIT - 1)
    first = int(_post(client, "alice", "wrong")["Retry-After"])
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        later = int(_post(client, "alice", "wrong")["Retry-After"])
    assert later <= first - 299


def test_the_lockout_lifts_after_the_cool_off(admin, client):
    _fail(client, "alice", django_settings.AXES_FAILURE_LIMIT - 1)
    assert _post(client, "alice", "wrong").status_code == 429
    assert _post(client, "alice", "pw-alice").status_code == 429
    later = timezone.now() + django_settings.AXES_COOLOFF_TIME + timedelta(seconds=5)
    with time_machine.travel(later):
        assert _post(client, "alice", "pw-alice").status_code == 302


def test_the_admin_log_in_is_throttled_too(django_user_model, client):
    django_user_model.objects.create_superuser("root", password="pw-root")
    _fail(client, "root", django_settings.AXES_FAILURE_LIMIT - 1, url=ADMIN_LOGIN)
    assert _post(client, "root", "wrong", url=ADMIN_LOGIN).status_code == 429
    response = _post(client, "root", "pw-root", url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    # ... and the account is locked on the console's log-in as well.
    assert _post(client, "root", "pw-root").status_code == 429


def test_a_success_before_the_limit_clears_the_count(admin, client):
    limit = django_settings.AXES_FAILURE_LIMIT
    _fail(client, "alice", limit - 1)
    assert _post(client, "alice", "pw-alice").status_code == 302
    _fail(Client(), "alice", limit - 1)
    assert _post(Client(), "alice", "pw-alice").status_code == 302


def test_the_address_is_the_one_behind_a_trusted_proxy(settings, admin, client):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    via = {"REMOTE_ADDR": "127.0.0.1"}
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        data = {"username": f"guess-{n}", "password": "y"}
        client.post(LOGIN, data, HTTP_X_FORWARDED_FOR="203.0.113.7", **via)
    data = {"username": "alice", "password": "pw-alice"}
    assert client.post(LOGIN, data, HTTP_X_FORWARDED_FOR="203.0.113.7", **via).status_code == 429
    # The proxy's own address, and other clients behind it, are not locked out.
    assert client.post(LOGIN, data, HTTP_X_FORWARDED_FOR="198.51.100.2", **via).status_code == 302
