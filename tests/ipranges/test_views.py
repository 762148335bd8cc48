import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from deployments.ipranges import IPNotAllowed, check_agent_ip, recent_blocked, record_blocked


def _url(deployment) -> str:
    return reverse("ip-ranges", args=[deployment.pk])


def _allow_url(deployment) -> str:
    return reverse("ip-ranges-allow", args=[deployment.pk])


def _lockout_token(body: str) -> str:
    found = re.search(r'name="confirm_lockout" value="([0-9a-f]+)"', body)
    assert found, "no lock-out confirmation offered"
    return found.group(1)


def test_it_saves_ranges_and_audits_before_and_after(admin_client, deployment):
    deployment.allowed_ip_ranges = ["192.0.2.0/24"]
    deployment.save()
    response = admin_client.post(
        _url(deployment), {"ranges": ["10.0.0.0/8", "2001:db8::1"], "save": "1"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?saved=ip-ranges#ip-ranges")
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8", "2001:db8::1/128"]
    event = AuditEvent.objects.get(action="deployment.ip_ranges")
    assert event.actor_label == "alice"
    assert event.source_ip == "127.0.0.1"
    assert event.details == {
        "before": ["192.0.2.0/24"],
        "after": ["10.0.0.0/8", "2001:db8::1/128"],
    }
    page = admin_client.get(response["Location"]).content.decode()
    assert "Allowed IP ranges saved." in page
    assert 'value="2001:db8::1/128"' in page


def test_saving_the_same_list_writes_no_audit_event(admin_client, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    admin_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "save": "1"})
    assert not AuditEvent.objects.exists()


def test_an_empty_list_removes_the_restriction(admin_client, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    response = admin_client.post(_url(deployment), {"ranges": [""], "save": "1"})
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_the_settings_page_shows_the_panel(admin_client, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    body = admin_client.get(reverse("deployment-settings", args=[deployment.pk])).content.decode()
    assert "Allowed IP ranges" in body
    assert 'name="ranges" value="10.0.0.0/8"' in body
    assert "Save ranges" in body


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_lower_roles_see_a_read_only_list(request, persona, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    client = request.getfixturevalue(persona)
    body = client.get(reverse("deployment-settings", args=[deployment.pk])).content.decode()
    assert "<code>10.0.0.0/8</code>" in body
    assert 'name="ranges"' not in body
    assert "Only deployment Admins can change the allowed IP ranges." in body
    assert client.get(_url(deployment)).status_code == 200


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_lower_roles_cannot_save_or_allow(request, persona, deployment):
    client = request.getfixturevalue(persona)
    response = client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "save": "1"})
    assert response.status_code == 403
    assert client.post(_allow_url(deployment), {"ip": "10.0.0.1"}).status_code == 403
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []
    assert not AuditEvent.objects.exists()


def test_strangers_get_404(stranger_client, deployment):
    assert stranger_client.get(_url(deployment)).status_code == 404
    assert stranger_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"]}).status_code == 404
    assert stranger_client.post(_allow_url(deployment), {"ip": "10.0.0.1"}).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, deployment):
    for response in [
        client.get(_url(deployment)),
        client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "save": "1"}),
        client.post(_allow_url(deployment), {"ip": "10.0.0.1"}),
    ]:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_wrong_methods_are_refused(admin_client, deployment):
    assert admin_client.put(_url(deployment)).status_code == 405
    assert admin_client.delete(_url(deployment)).status_code == 405
    assert admin_client.get(_allow_url(deployment)).status_code == 405


def test_a_get_from_htmx_returns_only_the_panel(admin_client, deployment):
    response = admin_client.get(_url(deployment), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="panel ipr" id="ip-ranges"')
    assert "<html" not in body


def test_add_row_returns_the_panel_with_one_more_empty_row(admin_client, deployment):
    response = admin_client.post(
        _url(deployment), {"ranges": ["10.0.0.0/8"], "add": "1"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert re.findall(r'name="ranges" value="([^"]*)"', body) == ["10.0.0.0/8", ""]
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_remove_row_drops_that_row_and_keeps_the_others(admin_client, deployment):
    response = admin_client.post(
        _url(deployment),
        {"ranges": ["10.0.0.0/8", "abc", "192.0.2.0/24"], "remove": "1"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert re.findall(r'name="ranges" value="([^"]*)"', body) == ["10.0.0.0/8", "192.0.2.0/24"]


@pytest.mark.parametrize("index", ["7", "-1", "x", ""])
def test_remove_with_a_bad_index_changes_nothing(admin_client, deployment, index):
    response = admin_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "remove": index})
    assert response.status_code == 200
    body = response.content.decode()
    assert re.findall(r'name="ranges" value="([^"]*)"', body) == ["10.0.0.0/8"]


def test_rows_work_without_javascript_too(admin_client, deployment):
    response = admin_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "add": "1"})
    body = response.content.decode()
    assert "<html" in body and "General" in body
    assert re.findall(r'name="ranges" value="([^"]*)"', body) == ["10.0.0.0/8", ""]


def test_bad_entries_are_shown_next_to_their_rows_and_nothing_is_saved(admin_client, deployment):
    response = admin_client.post(
        _url(deployment),
        {"ranges": ["10.0.0.0/8", "", "10.0.0.5/24", "10.0.0.0 /24"], "save": "1"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "&quot;10.0.0.5/24&quot; has host bits set; did you mean 10.0.0.0/24?" in body
    assert 'id="ip-range-3-error"' in body
    assert "contains a space; write it as 10.0.0.0/24." in body
    assert re.findall(r'name="ranges" value="([^"]*)"', body) == [
        "10.0.0.0/8",
        "",
        "10.0.0.5/24",
        "10.0.0.0 /24",
    ]
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_too_many_rows_is_a_form_error_not_a_crash(admin_client, deployment):
    ranges = [f"10.{i // 256}.{i % 256}.0/24" for i in range(101)]
    response = admin_client.post(_url(deployment), {"ranges": ranges, "save": "1"})
    assert response.status_code == 200
    assert "At most 100 ranges are allowed; this list has 101." in response.content.decode()


def test_everything_needs_its_own_confirmation(admin_client, deployment):
    response = admin_client.post(_url(deployment), {"ranges": ["0.0.0.0/0"], "save": "1"})
    body = response.content.decode()
    assert "allows every IPv4 address; confirm that this is intended." in body
    assert 'name="confirm_everything"' in body
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []

    response = admin_client.post(
        _url(deployment), {"ranges": ["0.0.0.0/0"], "save": "1", "confirm_everything": "on"}
    )
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["0.0.0.0/0"]


def test_preview_counts_the_connected_agents_a_change_would_block(
    admin_client, deployment, other_deployment, make_agent
):
    make_agent("worker-a", "10.1.0.5")
    make_agent("worker-b", "10.1.0.6")
    make_agent("worker-c", "192.0.2.10")
    make_agent("worker-d", "2001:db8::7")
    make_agent("worker-e", None)  # never reported an address: cannot say
    make_agent("silent", "192.0.2.11", seconds_ago=120)  # unhealthy: not connected
    make_agent("gone", "192.0.2.12", deleted=True)
    make_agent("elsewhere", "192.0.2.13", deployment=other_deployment)
    response = admin_client.post(
        _url(deployment),
        {"ranges": ["10.0.0.0/8", "2001:db8::/32"], "preview": "1"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert "This change would block 1 of 5 connected agents." in body
    assert "worker-c" in body and "192.0.2.10" in body
    for name in ["worker-a", "worker-d", "silent", "gone", "elsewhere"]:
        assert name not in body
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_preview_says_so_when_nobody_is_blocked(admin_client, deployment, make_agent):
    make_agent("worker-a", "10.1.0.5")
    response = admin_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "preview": "1"})
    assert "This change would block none of the 1 connected agent." in response.content.decode()


def test_saving_a_lockout_needs_the_confirmation_for_that_list(
    admin_client, deployment, make_agent
):
    make_agent("worker-a", "10.1.0.5")
    make_agent("worker-b", "192.0.2.10")
    response = admin_client.post(_url(deployment), {"ranges": ["10.0.0.0/8"], "save": "1"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "This change would block 1 of 2 connected agents." in body
    assert "Tick the confirmation below" in body
    token = _lockout_token(body)
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []

    # A confirmation given for another list does not carry over.
    response = admin_client.post(
        _url(deployment), {"ranges": ["10.1.0.0/16"], "save": "1", "confirm_lockout": token}
    )
    assert response.status_code == 200
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []

    response = admin_client.post(
        _url(deployment), {"ranges": ["10.0.0.0/8"], "save": "1", "confirm_lockout": token}
    )
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8"]
    assert AuditEvent.objects.filter(action="deployment.ip_ranges").count() == 1


def test_htmx_save_answers_with_the_saved_panel(admin_client, deployment):
    response = admin_client.post(
        _url(deployment), {"ranges": ["10.0.0.1"], "save": "1"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Allowed IP ranges saved." in body
    assert 'value="10.0.0.1/32"' in body


def _refuse(deployment, ip, django_capture_on_commit_callbacks, agent_request):
    with pytest.raises(IPNotAllowed):
        check_agent_ip(agent_request(ip), deployment.pk)


def test_recently_blocked_addresses_are_listed_with_an_allow_action(
    admin_client, deployment, agent_request, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.set_allowed_ip_ranges(["10.0.0.0/8"])
    for _ in range(2):
        _refuse(deployment, "203.0.113.9", django_capture_on_commit_callbacks, agent_request)
    body = admin_client.get(reverse("deployment-settings", args=[deployment.pk])).content.decode()
    assert "<code>203.0.113.9</code>" in body
    assert 'name="ip" value="203.0.113.9"' in body
    assert "Allow this IP" in body


def test_viewers_see_blocked_addresses_without_the_action(
    viewer_client, deployment, agent_request, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.set_allowed_ip_ranges(["10.0.0.0/8"])
    _refuse(deployment, "203.0.113.9", django_capture_on_commit_callbacks, agent_request)
    body = viewer_client.get(reverse("deployment-settings", args=[deployment.pk])).content.decode()
    assert "<code>203.0.113.9</code>" in body
    assert "Allow this IP" not in body


@pytest.mark.parametrize(
    ("ip", "added"), [("203.0.113.9", "203.0.113.9/32"), ("2001:db8::9", "2001:db8::9/128")]
)
def test_allow_this_ip_adds_a_single_address_range(
    admin_client, deployment, agent_request, django_capture_on_commit_callbacks, ip, added
):
    with django_capture_on_commit_callbacks(execute=True):
        deployment.set_allowed_ip_ranges(["10.0.0.0/8"])
    _refuse(deployment, ip, django_capture_on_commit_callbacks, agent_request)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            _allow_url(deployment), {"ip": ip, "confirm": ip}, headers={"HX-Request": "true"}
        )
    body = response.content.decode()
    assert f"{added} added to the allowed IP ranges." in body
    assert "Allowed now" in body
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8", added]
    event = AuditEvent.objects.filter(action="deployment.ip_ranges").latest("created_at")
    assert event.details == {"before": ["10.0.0.0/8"], "after": ["10.0.0.0/8", added]}
    # Enforced from the next request on.
    check_agent_ip(agent_request(ip), deployment.pk)
    assert recent_blocked(deployment.pk)[0]["ip"] == ip


def test_allow_this_ip_without_javascript_redirects_back(admin_client, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    response = admin_client.post(_allow_url(deployment), {"ip": "203.0.113.9"})
    assert 'name="confirm" value="203.0.113.9"' in response.content.decode()
    response = admin_client.post(
        _allow_url(deployment), {"ip": "203.0.113.9", "confirm": "203.0.113.9"}
    )
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8", "203.0.113.9/32"]
    # The page it lands on says what was added, as the htmx answer does.
    page = admin_client.get(response.url).content.decode()
    assert "203.0.113.9/32 added to the allowed IP ranges." in page
    # ...but only for a range the list holds: the address bar cannot put words in its mouth.
    forged = admin_client.get(response.url.replace("203.0.113.9%2F32", "evil")).content.decode()
    assert "added to the allowed IP ranges" not in forged


@pytest.mark.parametrize(
    ("ip", "message"),
    [
        ("", "&quot;&quot; is not an IP address."),
        ("not-an-ip", "&quot;not-an-ip&quot; is not an IP address."),
        ("10.1.2.3", "10.1.2.3 is already allowed by the current list."),
    ],
)
def test_allow_this_ip_refuses_what_it_cannot_add(admin_client, deployment, ip, message):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    response = admin_client.post(_allow_url(deployment), {"ip": ip})
    assert response.status_code == 200
    assert message in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8"]


def test_allow_this_ip_never_turns_no_restriction_into_one(admin_client, deployment):
    response = admin_client.post(_allow_url(deployment), {"ip": "203.0.113.9"})
    assert "already allowed" in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


@pytest.mark.parametrize("confirm", [None, "", "203.0.113.10", "203.0.113.9 ", "x" * 10_000])
def test_allow_this_ip_asks_first_and_changes_nothing_until_confirmed_for_that_address(
    admin_client, deployment, confirm
):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    data = {"ip": "203.0.113.9"} | ({} if confirm is None else {"confirm": confirm})
    response = admin_client.post(_allow_url(deployment), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Allow agents from 203.0.113.9?" in body
    assert "This adds <code>203.0.113.9/32</code> to the allowed IP ranges" in body
    assert 'name="confirm" value="203.0.113.9"' in body
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == ["10.0.0.0/8"]
    assert not AuditEvent.objects.filter(action="deployment.ip_ranges").exists()


def test_recently_blocked_names_the_token_and_agent_that_were_refused(admin_client, deployment):
    deployment.allowed_ip_ranges = ["10.0.0.0/8"]
    deployment.save()
    record_blocked(deployment.pk, "203.0.113.9", token_name="staging", agent_name="worker-7")
    record_blocked(deployment.pk, "203.0.113.10")
    record_blocked(deployment.pk, "203.0.113.11", token_name="<b>x</b>" + "y" * 400)
    body = admin_client.get(reverse("deployment-settings", args=[deployment.pk])).content.decode()
    assert (
        'agent <span class="strong">worker-7</span> · token <span class="strong">staging</span>'
        in body
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body
    rows = {row["ip"]: row for row in recent_blocked(deployment.pk)}
    assert rows["203.0.113.10"]["token_name"] is None
    assert rows["203.0.113.10"]["agent_name"] is None
    assert len(rows["203.0.113.11"]["token_name"]) == 253
