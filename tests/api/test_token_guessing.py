"""Guessing management API tokens is throttled per address; valid tokens are never slowed."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from deployments.models import Role

pytestmark = pytest.mark.django_db

WRONG = "Bearer raapi_" + "x" * 43


def _get(url, header: str, ip: str):
    return Client(headers={"Authorization": header}).get(url("/agents"), REMOTE_ADDR=ip)


@pytest.fixture
def small_limit(settings):
    settings.API_TOKEN_GUESS_LIMIT = 5
    settings.API_TOKEN_GUESS_WINDOW = 600
    return 5


@time_machine.travel("2026-06-01 12:00:30Z", tick=False)
def test_it_refuses_every_token_from_a_guessing_address(small_limit, api_token, admin, url):
    _, value = api_token(admin, Role.VIEWER)
    for _ in range(small_limit):
        assert _get(url, WRONG, "198.51.100.9").status_code == 401
    response = _get(url, WRONG, "198.51.100.9")
    assert response.status_code == 429
    assert response.json()["message"].startswith("Too many wrong API tokens from your address")
    assert int(response["Retry-After"]) == 570  # the rest of the ten-minute window
    # Even a right guess from there is not checked, so guessing learns nothing.
    assert _get(url, f"Bearer {value}", "198.51.100.9").status_code == 429
    # The token's owner, elsewhere, is not slowed.
    assert _get(url, f"Bearer {value}", "203.0.113.5").status_code == 200


def test_malformed_headers_count_as_guesses(small_limit, url, admin):
    for header in ["Bearer a b", "Bearer é", WRONG, "Bearer raapi_short", "Bearer ragt_x"]:
        assert _get(url, header, "198.51.100.9").status_code == 401
    assert _get(url, WRONG, "198.51.100.9").status_code == 429


def test_valid_use_never_counts(small_limit, api_token, admin, url):
    client, _ = api_token(admin, Role.VIEWER)
    for _ in range(small_limit * 4):
        assert client.get(url("/agents"), REMOTE_ADDR="198.51.100.9").status_code == 200
    assert _get(url, WRONG, "198.51.100.9").status_code == 401


def test_the_throttle_lifts_when_the_window_ends(small_limit, api_token, admin, url):
    _, value = api_token(admin, Role.VIEWER)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(small_limit):
            _get(url, WRONG, "198.51.100.9")
        assert _get(url, f"Bearer {value}", "198.51.100.9").status_code == 429
    later = start + timedelta(seconds=django_settings.API_TOKEN_GUESS_WINDOW + 1)
    with time_machine.travel(later, tick=False):
        assert _get(url, f"Bearer {value}", "198.51.100.9").status_code == 200


def test_the_default_limit_leaves_room_for_typos(api_token, admin, url):
    _, value = api_token(admin, Role.VIEWER)
    for _ in range(3):
        _get(url, WRONG, "198.51.100.9")
    assert _get(url, f"Bearer {value}", "198.51.100.9").status_code == 200
