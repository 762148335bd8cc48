"""The allowed IP ranges, enforced over real HTTP on the agent heartbeat endpoint.

live_server listens on 127.0.0.1, so "outside" means a list without 127.0.0.1; other client
addresses arrive through a trusted proxy's X-Forwarded-For, as they would behind a load balancer.
"""

import ipaddress

import httpx
import pytest
from django.urls import NoReverseMatch, reverse

from audit.models import AuditEvent
from deployments.ipranges import recent_blocked

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {
    "name": "worker-1",
    "component": "worker",
    "version": "1.0.0",
    "queues": ["default"],
    "slots": {"used": 0, "total": 4},
    "hostname": "h",
}


@pytest.fixture
def heartbeat(live_server, deployment):
    try:
        path = reverse("agent-heartbeat", kwargs={"deployment_id": deployment.pk})
    except NoReverseMatch:
        pytest.skip("The agent heartbeat endpoint does not exist yet")
    from tokens.models import AgentToken

    _, value = AgentToken.objects.issue(deployment, name="t", expires_in_days=None)

    def post(*, forwarded_for: str | None = None, token: str | None = value) -> httpx.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        return httpx.post(live_server.url + path, json=BODY, headers=headers, timeout=10)

    return post


def _restrict(deployment, ranges):
    # transaction=True: the change commits here and its on_commit publishes it.
    deployment.set_allowed_ip_ranges(ranges, allow_lockout=True)


def _assert_refused(response: httpx.Response, ip: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "ip_not_allowed"
    assert body["ip"] == ip
    assert ip in body["detail"]


def test_it_lets_an_allowed_address_heartbeat(heartbeat, deployment):
    _restrict(deployment, ["127.0.0.0/8"])
    response = heartbeat()
    assert response.status_code in (200, 201), response.text


def test_it_refuses_an_address_outside_the_ranges(heartbeat, deployment):
    _restrict(deployment, ["10.0.0.0/8"])
    _assert_refused(heartbeat(), "127.0.0.1")
    assert recent_blocked(deployment.pk)[0]["ip"] == "127.0.0.1"
    assert AuditEvent.objects.filter(action="ip.blocked", source_ip="127.0.0.1").count() == 1


def test_it_refuses_before_looking_at_the_token(heartbeat, deployment):
    _restrict(deployment, ["10.0.0.0/8"])
    _assert_refused(heartbeat(token="ragt_not-a-real-token"), "127.0.0.1")
    _assert_refused(heartbeat(token=None), "127.0.0.1")


def test_a_saved_change_applies_to_the_next_request(heartbeat, deployment):
    _restrict(deployment, ["10.0.0.0/8"])
    assert heartbeat().status_code == 403
    _restrict(deployment, ["10.0.0.0/8", "127.0.0.1"])
    assert heartbeat().status_code in (200, 201)
    _restrict(deployment, ["10.0.0.0/8"])
    assert heartbeat().status_code == 403


def test_a_spoofed_x_forwarded_for_from_an_untrusted_client_is_ignored(heartbeat, deployment):
    _restrict(deployment, ["10.0.0.0/8"])
    _assert_refused(heartbeat(forwarded_for="10.1.2.3"), "127.0.0.1")


def test_a_trusted_proxy_passes_on_the_client_address(heartbeat, deployment, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    _restrict(deployment, ["10.0.0.0/8"])
    assert heartbeat(forwarded_for="10.1.2.3").status_code in (200, 201)
    _assert_refused(heartbeat(forwarded_for="10.1.2.3, 198.51.100.4"), "198.51.100.4")


def test_ipv6_clients_behind_a_trusted_proxy(heartbeat, deployment, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    _restrict(deployment, ["2001:db8::/32"])
    assert heartbeat(forwarded_for="2001:db8:0:1::17").status_code in (200, 201)
    _assert_refused(heartbeat(forwarded_for="2001:db9::1"), "2001:db9::1")
