import ipaddress
import json

import pytest

from audit.models import AuditEvent
from deployments.ipranges import IPNotAllowed, check_agent_ip, recent_blocked
from deployments.models import Deployment


def _restrict(deployment, ranges, django_capture_on_commit_callbacks, **flags):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.set_allowed_ip_ranges(ranges, **flags)


def _blocked(request, deployment) -> IPNotAllowed:
    with pytest.raises(IPNotAllowed) as caught:
        check_agent_ip(request, deployment.pk)
    return caught.value


def test_it_allows_any_address_when_the_list_is_empty(deployment, agent_request):
    assert check_agent_ip(agent_request("203.0.113.9"), deployment.pk) is None


def test_it_allows_an_address_inside_the_ranges(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8", "192.0.2.7"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("10.20.30.40"), deployment.pk)
    check_agent_ip(agent_request("192.0.2.7"), deployment.pk)


def test_it_refuses_an_address_outside_with_a_403_that_names_it(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    error = _blocked(agent_request("203.0.113.9"), deployment)
    assert error.status_code == 403
    assert set(error.detail) == {"error", "ip", "detail"}
    assert error.detail["error"] == "ip_not_allowed"
    assert error.detail["ip"] == "203.0.113.9"
    assert "203.0.113.9" in error.detail["detail"]
    assert "allowed IP ranges" in error.detail["detail"]


def test_drf_renders_the_refusal_as_exactly_the_documented_body(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    from rest_framework.views import exception_handler

    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    response = exception_handler(_blocked(agent_request("203.0.113.9"), deployment), {})
    assert response.status_code == 403
    body = json.loads(json.dumps(response.data))
    assert body["error"] == "ip_not_allowed" and body["ip"] == "203.0.113.9"
    assert sorted(body) == ["detail", "error", "ip"]


def test_it_checks_ipv6_addresses(deployment, agent_request, django_capture_on_commit_callbacks):
    _restrict(deployment, ["2001:db8::/32", "::1"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("2001:db8:5::17"), deployment.pk)
    check_agent_ip(agent_request("::1"), deployment.pk)
    assert _blocked(agent_request("2001:db9::1"), deployment).detail["ip"] == "2001:db9::1"
    # An IPv4 client never matches an IPv6 range.
    _blocked(agent_request("10.0.0.1"), deployment)


def test_it_matches_ipv4_mapped_ipv6_peers_against_ipv4_ranges(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("::ffff:10.1.2.3"), deployment.pk)
    _blocked(agent_request("::ffff:192.0.2.1"), deployment)


def test_a_mapped_allowed_range_matches_ipv4_and_mapped_peers(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["::ffff:10.1.2.3"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("10.1.2.3"), deployment.pk)
    check_agent_ip(agent_request("::ffff:10.1.2.3"), deployment.pk)
    _blocked(agent_request("10.1.2.4"), deployment)


def test_a_list_saved_before_normalisation_still_matches(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    # Earlier versions saved ::ffff:10.1.2.3 as ::ffff:a01:203/128, which matched nobody.
    Deployment.objects.filter(pk=deployment.pk).update(allowed_ip_ranges=["::ffff:a01:203/128"])
    check_agent_ip(agent_request("10.1.2.3"), deployment.pk)


def test_a_trusted_proxy_seen_as_ipv4_mapped_is_recognised(
    deployment, agent_request, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    # A dual-stack listener reports the proxy on 127.0.0.1 as ::ffff:127.0.0.1.
    check_agent_ip(agent_request("::ffff:127.0.0.1", forwarded_for="10.9.9.9"), deployment.pk)
    error = _blocked(agent_request("::ffff:127.0.0.1", forwarded_for="192.0.2.8"), deployment)
    assert error.detail["ip"] == "192.0.2.8"


def test_a_trusted_proxy_listed_as_ipv4_mapped_is_recognised(
    deployment, agent_request, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("::ffff:127.0.0.1/128")]
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("127.0.0.1", forwarded_for="10.9.9.9"), deployment.pk)


def test_a_mapped_client_is_reported_as_ipv4(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    assert _blocked(agent_request("::ffff:192.0.2.1"), deployment).detail["ip"] == "192.0.2.1"


def test_it_ignores_x_forwarded_for_from_an_untrusted_client(
    deployment, agent_request, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("172.16.0.0/12")]
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    error = _blocked(agent_request("203.0.113.9", forwarded_for="10.0.0.1"), deployment)
    assert error.detail["ip"] == "203.0.113.9"


def test_it_honours_x_forwarded_for_from_a_trusted_proxy(
    deployment, agent_request, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("172.16.0.0/12")]
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("172.16.0.5", forwarded_for="10.9.9.9"), deployment.pk)
    # The client's own left-most claim is not believed, only what the proxy appended.
    error = _blocked(
        agent_request("172.16.0.5", forwarded_for="10.0.0.1, 198.51.100.4"), deployment
    )
    assert error.detail["ip"] == "198.51.100.4"


def test_a_saved_change_takes_effect_on_the_next_request(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("10.0.0.1"), deployment.pk)
    _restrict(deployment, ["192.0.2.0/24"], django_capture_on_commit_callbacks)
    _blocked(agent_request("10.0.0.1"), deployment)
    check_agent_ip(agent_request("192.0.2.1"), deployment.pk)
    _restrict(deployment, [], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("10.0.0.1"), deployment.pk)


def test_a_rolled_back_change_is_never_enforced(deployment, agent_request):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        deployment.set_allowed_ip_ranges(["192.0.2.0/24"])
        raise RuntimeError("rolled back")
    check_agent_ip(agent_request("10.0.0.1"), deployment.pk)


def test_the_steady_state_costs_no_sql(
    deployment, agent_request, django_assert_num_queries, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    check_agent_ip(agent_request("10.0.0.1"), deployment.pk)
    _blocked(agent_request("203.0.113.9"), deployment)  # the first refusal is audited
    with django_assert_num_queries(0):
        for _ in range(20):
            check_agent_ip(agent_request("10.0.0.1"), deployment.pk)
        for _ in range(5):
            with pytest.raises(IPNotAllowed):
                check_agent_ip(agent_request("203.0.113.9"), deployment.pk)


def test_a_cache_miss_reads_the_database_once_then_caches(
    deployment, agent_request, django_assert_num_queries, redis_client
):
    Deployment.objects.filter(pk=deployment.pk).update(allowed_ip_ranges=["10.0.0.0/8"])
    with django_assert_num_queries(1):
        check_agent_ip(agent_request("10.0.0.1"), deployment.pk)
    assert json.loads(redis_client.get(f"ipranges:{deployment.pk}")) == ["10.0.0.0/8"]
    with django_assert_num_queries(0):
        check_agent_ip(agent_request("10.0.0.1"), deployment.pk)


def test_an_unparseable_stored_list_allows_nobody(deployment, agent_request):
    Deployment.objects.filter(pk=deployment.pk).update(allowed_ip_ranges=["not a range"])
    _blocked(agent_request("10.0.0.1"), deployment)


def test_an_unknown_deployment_is_left_to_the_api_to_refuse(db, agent_request):
    check_agent_ip(agent_request("10.0.0.1"), "8d8b7a1c-0000-4000-8000-000000000000")


def test_without_redis_the_database_still_enforces(
    deployment, agent_request, django_capture_on_commit_callbacks, settings
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    # A closed port: the same failure as a Redis outage, with the project's own client settings.
    settings.REDIS_URL = "redis://127.0.0.1:1/5"
    check_agent_ip(agent_request("10.0.0.1"), deployment.pk)
    _blocked(agent_request("203.0.113.9"), deployment)
    assert recent_blocked(deployment.pk) == []


def test_blocked_attempts_are_listed_newest_first_with_counts(
    deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    for _ in range(3):
        _blocked(agent_request("203.0.113.9"), deployment)
    _blocked(agent_request("2001:db8::9"), deployment)
    listed = recent_blocked(deployment.pk)
    assert [(b["ip"], b["count"]) for b in listed] == [("2001:db8::9", 1), ("203.0.113.9", 3)]
    assert listed[0]["last_seen"].tzinfo is not None


def test_blocked_attempts_are_recorded_at_most_once_a_minute_per_address(
    deployment, agent_request, redis_client, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    _blocked(agent_request("203.0.113.9"), deployment)
    first = recent_blocked(deployment.pk)[0]["last_seen"]
    for _ in range(10):
        _blocked(agent_request("203.0.113.9"), deployment)
    again = recent_blocked(deployment.pk)
    assert again[0]["last_seen"] == first
    assert again[0]["count"] == 11
    # Once the minute has passed, the next refusal moves it up again.
    redis_client.delete(f"ipblocked:{deployment.pk}:rl:203.0.113.9")
    _blocked(agent_request("203.0.113.9"), deployment)
    assert recent_blocked(deployment.pk)[0]["last_seen"] > first


def test_it_keeps_only_the_last_fifty_addresses(
    deployment, agent_request, redis_client, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    for i in range(55):
        _blocked(agent_request(f"198.51.100.{i}"), deployment)
    listed = recent_blocked(deployment.pk)
    assert len(listed) == 50
    assert listed[0]["ip"] == "198.51.100.54"
    assert "198.51.100.4" not in {b["ip"] for b in listed}
    assert redis_client.hlen(f"ipblocked:{deployment.pk}:count") == 50


def test_blocked_attempts_are_audited_once_an_hour_per_address(
    deployment, other_deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    for _ in range(5):
        _blocked(agent_request("203.0.113.9"), deployment)
    _blocked(agent_request("203.0.113.10"), deployment)
    events = AuditEvent.objects.filter(action="ip.blocked").order_by("created_at")
    assert [(e.source_ip, e.actor_label, e.deployment_id) for e in events] == [
        ("203.0.113.9", "system", deployment.pk),
        ("203.0.113.10", "system", deployment.pk),
    ]


def test_blocked_lists_are_kept_per_deployment(
    deployment, other_deployment, agent_request, django_capture_on_commit_callbacks
):
    _restrict(deployment, ["10.0.0.0/8"], django_capture_on_commit_callbacks)
    _blocked(agent_request("203.0.113.9"), deployment)
    check_agent_ip(agent_request("203.0.113.9"), other_deployment.pk)
    assert recent_blocked(other_deployment.pk) == []
