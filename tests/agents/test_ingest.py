"""The agent API's lean route: one round trip, the stale-ranges retry, NOSCRIPT recovery, the
counters, the guessing throttle, and withdrawn permissions while Redis refuses writes."""

import datetime as dt

import pytest
import redis
import time_machine
from django.conf import settings as django_settings

from agents import openapi
from astro_ui import keys
from deployments import cache as deployment_cache
from tests.agents.conftest import body
from tests.redis_servers import redis_servers
from tokens import cache as token_cache
from tokens import secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_trips(monkeypatch):
    """Counts commands (a pipeline or script call is one) sent to Redis by this process."""
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.fixture
def own_redis(settings):
    """A Redis server of this test's own, which it may break."""
    with redis_servers([18253]):
        settings.AGENT_REDIS_URL = "redis://127.0.0.1:18253/0"
        yield redis.Redis(port=18253)


def test_a_steady_state_heartbeat_is_one_round_trip(beat, round_trips):
    assert beat().status_code == 200
    assert beat().status_code == 200  # the process now holds the ranges' version
    round_trips.clear()
    assert beat().status_code == 200
    assert len(round_trips) == 1
    assert b"EVALSHA" in b"".join(round_trips[0])


def test_ranges_changed_elsewhere_are_noticed_as_stale_and_enforced(beat, deployment):
    assert beat().status_code == 200
    # Another process saves a narrower list: this one still holds the old version in memory.
    deployment_cache.publish(deployment.pk, ranges=["10.0.0.0/8"])
    response = beat()
    assert response.status_code == 403
    assert response.json()["error"] == "ip_not_allowed"
    deployment_cache.publish(deployment.pk, ranges=["127.0.0.0/8"])
    assert beat().status_code == 200


def test_it_recovers_when_redis_forgot_the_script(own_redis, beat):
    assert beat().status_code == 200
    own_redis.script_flush()
    assert beat().status_code == 200


def test_it_counts_heartbeats_and_refusals_for_metrics(beat, deployment, client, redis_client):
    beat()
    beat()
    beat(token="ragt_short")
    stats = redis_client.hgetall(keys.stats(deployment.pk))
    assert stats[b"heartbeats"] == b"2"
    assert stats[b"refused:token_malformed"] == b"1"
    client.post("/api/agent/v1/deployments/not-an-id/heartbeat", body(), "application/json")
    assert redis_client.hget(keys.REFUSED, "deployment_not_found") == b"1"


def test_guessing_tokens_is_throttled_per_address_but_valid_agents_go_on(beat, redis_client):
    assert beat().status_code == 200
    for _ in range(20):
        assert beat(token=secret.generate()).json()["error"] == "token_unknown"
    response = beat(token=secret.generate())
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_attempts"
    assert 0 < int(response["Retry-After"]) <= 300
    assert beat().status_code == 200, "a known agent from the same address is not slowed"


def test_every_path_under_the_agent_api_answers_json(client, heartbeat_url, token_value):
    auth = {"Authorization": f"Bearer {token_value}"}
    for url, status, code in [
        ("/api/agent/v1/", 404, "not_found"),
        ("/api/agent/v2/deployments/x/heartbeat", 404, "not_found"),
        (heartbeat_url + "/", 404, "not_found"),
        ("/api/agent/v1/deployments/123/heartbeat", 404, "deployment_not_found"),
    ]:
        response = client.post(url, body(), content_type="application/json", headers=auth)
        assert (response.status_code, response.json()["error"]) == (status, code), url
    assert "trailing slash" in client.post(heartbeat_url + "/", body()).json()["detail"]


def test_the_committed_document_is_what_the_message_types_say():
    assert openapi.PATH.read_text() == openapi.text()


# --- withdrawn permissions while Redis refuses writes --------------------------------------------


@pytest.fixture
def full_redis(own_redis, beat):
    """The agent's caches are warm, then Redis runs out of memory: it refuses every write."""
    assert beat().status_code == 200
    own_redis.config_set("maxmemory", 1)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        own_redis.set("probe", 1)
    yield own_redis
    own_redis.config_set("maxmemory", 0)


def test_a_deleted_token_is_refused_at_once_while_redis_refuses_writes(
    full_redis, beat, deployment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.agent_tokens.get().revoke()
    response = beat()
    assert (response.status_code, response.json()["error"]) == (401, "token_revoked")


def test_switching_remote_execution_off_holds_while_redis_refuses_writes(
    full_redis, beat, deployment, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.update_general(remote_execution=False, by=admin)
    response = beat()
    assert (response.status_code, response.json()["error"]) == (403, "remote_execution_disabled")


def test_narrowed_ranges_hold_while_redis_refuses_writes(
    full_redis, beat, deployment, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.set_allowed_ip_ranges(["10.0.0.0/8"], by=admin, allow_lockout=True)
    response = beat()
    assert (response.status_code, response.json()["error"]) == (403, "ip_not_allowed")


def test_an_expired_token_is_refused_while_redis_refuses_writes(full_redis, beat, deployment):
    token = deployment.agent_tokens.get()
    token.expires_at = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1)
    token.save()
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=2)):
        response = beat()
    assert (response.status_code, response.json()["error"]) == (401, "token_expired")


def test_a_cached_token_expires_on_time_without_a_write(beat, deployment, redis_client):
    token = deployment.agent_tokens.get()
    token.expires_at = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1)
    token.save()
    redis_client.delete(keys.token(deployment.pk, token.digest))
    assert beat().status_code == 200  # cached again, with its expiry
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=2)):
        response = beat()
    assert (response.status_code, response.json()["error"]) == (401, "token_expired")


def test_a_withdrawal_redis_cannot_record_at_all_is_not_committed(own_redis, beat, deployment):
    assert beat().status_code == 200
    token = deployment.agent_tokens.get()
    own_redis.shutdown(nosave=True)
    with pytest.raises(token_cache.CacheNotUpdated):
        token.revoke()
    token.refresh_from_db()
    assert token.revoked_at is None, "fail closed: no state where the cache outlives the delete"
    with pytest.raises(deployment_cache.CacheNotUpdated):
        deployment.update_general(remote_execution=False)
    deployment.refresh_from_db()
    assert deployment.remote_execution is True
    assert django_settings.AGENT_REDIS_URL.endswith(":18253/0")


def test_naming_unknown_deployments_is_throttled_per_address(client, token_value, redis_client):
    import uuid

    auth = {"Authorization": f"Bearer {token_value}"}
    for _ in range(20):
        url = f"/api/agent/v1/deployments/{uuid.uuid4()}/heartbeat"
        response = client.post(url, body(), content_type="application/json", headers=auth)
        assert response.status_code in (401, 403)
    url = f"/api/agent/v1/deployments/{uuid.uuid4()}/heartbeat"
    response = client.post(url, body(), content_type="application/json", headers=auth)
    assert (response.status_code, response.json()["error"]) == (429, "too_many_attempts")
    assert 0 < redis_client.ttl(keys.global_guess("127.0.0.1")) <= 300
