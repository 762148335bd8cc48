import pytest

from audit.models import AuditEvent
from deployments.models import Deployment
from tests.api.contract import DEPLOYMENT, schema_problems, vendor_problems
from tests.api.test_agent_tokens import _assert_error

pytestmark = pytest.mark.django_db

RANGES = "remoteExecution.allowedIpAddressRanges"


def _patch(client, url, body):
    return client.patch(url(), body, content_type="application/json")


def _ranges(client, url, ranges, **flags):
    return _patch(client, url, {"remoteExecution": {"allowedIpAddressRanges": ranges}, **flags})


@pytest.mark.parametrize("who", ["viewer_client", "operator_client", "admin_client"])
def test_every_role_reads_the_deployment(request, who, url, deployment):
    response = request.getfixturevalue(who).get(url())
    assert response.status_code == 200
    data = response.json()
    assert vendor_problems(data, DEPLOYMENT) == []
    assert schema_problems(response, "getDeployment") == []
    assert data["id"] == str(deployment.pk)
    assert data["organizationId"] == str(deployment.workspace.organization_id)
    assert data["remoteExecution"] == {
        "enabled": True,
        "allowedIpAddressRanges": [],
        "remoteApiUrl": f"http://testserver/api/agent/v1/deployments/{deployment.pk}/",
    }


def test_it_saves_normalised_ranges_through_the_settings_rules(admin_client, url, deployment):
    response = _ranges(admin_client, url, ["10.0.0.0/16", "192.168.1.7"])
    assert response.status_code == 200, response.content
    saved = ["10.0.0.0/16", "192.168.1.7/32"]
    assert response.json()["remoteExecution"]["allowedIpAddressRanges"] == saved
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == saved
    event = AuditEvent.objects.get(action="deployment.ip_ranges")
    assert event.details == {"before": [], "after": saved}


def test_it_points_at_each_bad_entry(admin_client, url, deployment):
    response = _ranges(admin_client, url, ["10.0.0.0/16", "10.0.0.1/16", " 1.2.3.4", "nope"])
    data = _assert_error(response, 400, f"{RANGES}.1", f"{RANGES}.2", f"{RANGES}.3")
    assert [e["code"] for e in data["fieldErrors"]] == ["host_bits", "spaces", "invalid"]
    assert "did you mean 10.0.0.0/16" in data["fieldErrors"][0]["message"]
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_allowing_every_address_needs_confirm_allow_all(admin_client, url, deployment):
    data = _assert_error(_ranges(admin_client, url, ["0.0.0.0/0"]), 400, f"{RANGES}.0")
    assert data["fieldErrors"][0]["code"] == "everything"
    assert "confirmAllowAll" in data["fieldErrors"][0]["message"]
    response = _ranges(admin_client, url, ["0.0.0.0/0", "::/0"], confirmAllowAll=True)
    assert response.status_code == 200
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["0.0.0.0/0", "::/0"]


def test_locking_out_connected_agents_needs_confirm_lockout(
    admin_client, url, deployment, heartbeat
):
    heartbeat()  # from 127.0.0.1
    data = _assert_error(_ranges(admin_client, url, ["10.0.0.0/8"]), 400, "confirmLockout")
    assert data["fieldErrors"][0]["code"] == "lockout"
    assert "block 1 of 1 connected agent" in data["fieldErrors"][0]["message"]
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []
    response = _ranges(admin_client, url, ["10.0.0.0/8"], confirmLockout=True)
    assert response.status_code == 200
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8"]


def test_a_list_that_keeps_agents_in_needs_no_confirmation(admin_client, url, heartbeat):
    heartbeat()
    assert _ranges(admin_client, url, ["127.0.0.0/8"]).status_code == 200


def test_an_empty_list_removes_the_restriction(admin_client, url, deployment):
    Deployment.objects.filter(pk=deployment.pk).update(allowed_ip_ranges=["10.0.0.0/8"])
    response = _ranges(admin_client, url, [])
    assert response.json()["remoteExecution"]["allowedIpAddressRanges"] == []


def test_it_switches_remote_execution_with_an_audit_event(admin_client, url, deployment):
    response = _patch(admin_client, url, {"remoteExecution": {"enabled": False}})
    assert response.status_code == 200
    assert response.json()["remoteExecution"]["enabled"] is False
    deployment.refresh_from_db()
    assert deployment.remote_execution is False
    event = AuditEvent.objects.get(action="deployment.update")
    assert event.details["after"]["remote_execution"] is False
    _patch(admin_client, url, {"remoteExecution": {"enabled": False}})
    assert AuditEvent.objects.filter(action="deployment.update").count() == 1


def test_a_failed_range_change_keeps_the_switch_as_it_was(admin_client, url, deployment):
    body = {"remoteExecution": {"enabled": False, "allowedIpAddressRanges": ["bad"]}}
    _assert_error(_patch(admin_client, url, body), 400, f"{RANGES}.0")
    deployment.refresh_from_db()
    assert deployment.remote_execution is True


def test_the_agent_api_url_is_read_only(admin_client, url, deployment):
    body = {"remoteExecution": {"remoteApiUrl": "https://evil.example/"}}
    response = _patch(admin_client, url, body)
    assert response.status_code == 200
    assert "evil" not in response.json()["remoteExecution"]["remoteApiUrl"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remoteExecution": {"allowedIpAddressRanges": "10.0.0.0/8"}}, RANGES),
        ({"remoteExecution": {"enabled": "maybe"}}, "remoteExecution.enabled"),
        ({"remoteExecution": []}, "remoteExecution"),
        ({"confirmLockout": "sure"}, "confirmLockout"),
        # Only true and false are booleans, as the schema says.
        ({"remoteExecution": {"enabled": 0}}, "remoteExecution.enabled"),
        ({"remoteExecution": {"enabled": "true"}}, "remoteExecution.enabled"),
        ({"confirmAllowAll": 1}, "confirmAllowAll"),
        ({"remoteExecution": {"allowedIpAddressRanges": [10]}}, f"{RANGES}.0"),
        ({"remoteExecution": {"allowedIpAddressRanges": ["1.2.3.4"] * 101}}, RANGES),
    ],
)
def test_it_rejects_malformed_bodies(admin_client, url, body, field):
    _assert_error(_patch(admin_client, url, body), 400, field)


@pytest.mark.parametrize("who", ["viewer_client", "operator_client"])
def test_only_an_admin_changes_it(request, who, url, deployment):
    _assert_error(_ranges(request.getfixturevalue(who), url, ["10.0.0.0/8"]), 403)
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_a_stranger_gets_404(stranger_client, url):
    _assert_error(stranger_client.get(url()), 404)
    _assert_error(_ranges(stranger_client, url, []), 404)


def test_a_deployment_under_another_organisation_is_404(admin_client, deployment):
    from deployments.models import Organization

    other = Organization.objects.create(name="Other")
    wrong = f"/api/v1/organizations/{other.pk}/deployments/{deployment.pk}"
    _assert_error(admin_client.get(wrong), 404)
    _assert_error(admin_client.get(wrong + "/agents"), 404)


def test_post_does_what_patch_does_as_the_vendor_updates_with_post(admin_client, url, deployment):
    body = {"remoteExecution": {"enabled": False, "allowedIpAddressRanges": ["10.1.0.0/16"]}}
    response = admin_client.post(url(), body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert vendor_problems(response.json(), DEPLOYMENT) == []
    assert schema_problems(response, "updateDeploymentByPost") == []
    deployment.refresh_from_db()
    assert (deployment.remote_execution, deployment.allowed_ip_ranges) == (False, ["10.1.0.0/16"])
    bad = {"remoteExecution": {"allowedIpAddressRanges": ["10.0.0.1/8"]}}
    _assert_error(
        admin_client.post(url(), bad, content_type="application/json"), 400, f"{RANGES}.0"
    )


def test_post_is_for_admins_only(operator_client, url, deployment):
    body = {"remoteExecution": {"enabled": False}}
    _assert_error(operator_client.post(url(), body, content_type="application/json"), 403)
    deployment.refresh_from_db()
    assert deployment.remote_execution is True


def test_the_schema_declares_range_entries_as_the_server_takes_them(admin_client, url):
    from tests.api.contract import served_schema

    declared = served_schema()["components"]["schemas"]["RemoteExecutionRequest"]
    entry = declared["properties"]["allowedIpAddressRanges"]["items"]
    assert (entry["minLength"], entry["maxLength"]) == (1, 64)
    assert declared["properties"]["allowedIpAddressRanges"]["maxItems"] == 100
    too_long = _assert_error(_ranges(admin_client, url, ["0:" * 32 + ":/64"]), 400, f"{RANGES}.0")
    assert "too long" in too_long["fieldErrors"][0]["message"]
    assert _ranges(admin_client, url, ["::ffff:10.1.2.3/128"]).status_code == 200


def test_put_is_not_allowed(admin_client, url):
    response = admin_client.put(url(), {}, content_type="application/json")
    _assert_error(response, 405)
