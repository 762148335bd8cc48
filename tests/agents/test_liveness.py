"""The one liveness rule, on a fleet that has been up for hours, with Celery stopped: every
screen, filter, guard and API answer says the same thing, and the open table keeps up."""

import re

import pytest
from django.urls import reverse

from agents import liveness, store
from agents.models import Agent
from deployments import ipranges
from tests.api.conftest import api_url

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr data-agent="([^"]+)" data-row-status="(\w+)">(.*?)</tr>', re.S)
TIME = re.compile(r'<time (?:class="live" )?datetime="([^"]+)" (data-live|data-ago)')


def _rows(html: str) -> dict[str, tuple[str, str | None, str | None]]:
    """name -> (status, "live" or "ago" or None, the time shown) for each row of the table."""
    out = {}
    for name, status, cells in ROW.findall(html):
        match = TIME.search(cells)
        out[name] = (
            (status, match[2].removeprefix("data-"), match[1]) if match else (status, None, None)
        )
    return out


def _poll_url(html: str) -> str:
    return re.search(r'<div id="agent-table" hx-get="([^"]+)"', html)[1].replace("&amp;", "&")


def _page(client, deployment, **params):
    return client.get(reverse("agents", args=[deployment.pk]), params)


def _api(client, deployment, **params):
    response = client.get(api_url(deployment, "/agents"), params)
    assert response.status_code == 200, response.content
    return response.json()


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


# --- the lock-out guard --------------------------------------------------------------------


def test_after_two_hours_the_lockout_preview_counts_the_live_agents(
    admin_client, deployment, fleet_up_for_hours, settings
):
    fleet = fleet_up_for_hours({f"worker-{i}": "127.0.0.1" for i in range(8)})
    checkpoint = Agent.objects.get(pk=fleet["worker-0"].pk).heartbeat_checkpoint_at
    assert (store.now() - checkpoint.timestamp()) > settings.AGENT_CHECKPOINT_SECONDS
    url = reverse("ip-ranges", args=[deployment.pk])

    preview = admin_client.post(url, {"ranges": ["10.0.0.0/8"], "preview": "1"})
    assert "This change would block 8 of 8 connected agents." in preview.content.decode()

    save = admin_client.post(url, {"ranges": ["10.0.0.0/8"], "save": "1"})
    assert "Tick the confirmation below" in save.content.decode()
    response = admin_client.patch(
        api_url(deployment),
        {"remoteExecution": {"allowedIpAddressRanges": ["10.0.0.0/8"]}},
        content_type="application/json",
    )
    assert response.status_code == 400
    [error] = response.json()["fieldErrors"]
    assert error["field"] == "confirmLockout"
    assert "block 8 of 8 connected agents" in error["message"]
    deployment.refresh_from_db()
    assert deployment.allowed_ip_ranges == []


def test_a_cordoned_agent_that_still_beats_counts_as_connected(
    admin_client, admin, deployment, fleet_up_for_hours, clock, beat
):
    fleet = fleet_up_for_hours({"worker-0": "127.0.0.1", "worker-1": "127.0.0.1"})
    fleet["worker-0"].cordon(by=admin, reason="drain")
    clock.shift(90)
    beat(name="worker-0")  # worker-1 has been silent for 90 s: not connected
    lockout = ipranges.lockout_preview(deployment, ["10.0.0.0/8"])
    assert [row.agent.name for row in lockout.blocked] == ["worker-0"]
    assert len(lockout.connected) == 1 and lockout.known


# --- Celery stopped, one agent goes silent -------------------------------------------------


def test_a_silent_agent_leaves_healthy_everywhere_within_one_poll(
    viewer_client, deployment, fleet_up_for_hours, clock, beat
):
    addresses = {"alpha": "127.0.0.1", "bravo": "127.0.0.1", "charlie": "127.0.0.1"}
    alpha = fleet_up_for_hours(addresses)["alpha"]
    alpha_last = store.seen_many(deployment.pk, [alpha.pk])[str(alpha.pk)]
    page = _page(viewer_client, deployment).content.decode()
    assert {s for s, _, _ in _rows(page).values()} == {"healthy"}
    poll = _poll_url(page)
    seen_unhealthy_at = None
    for second in range(1, 91):
        clock.shift(1)
        for name in ("bravo", "charlie"):
            if second % 15 == 0:
                beat(name=name)
        if second % liveness.POLL_SECONDS:
            continue
        response = viewer_client.get(poll)
        if response.status_code == 200:
            page = response.content.decode()
            poll = _poll_url(page)
        silent = store.now() - alpha_last
        if silent >= 60 + liveness.POLL_SECONDS:
            assert _rows(page)["alpha"][0] == "unhealthy", f"{silent} s silent, still {_rows(page)}"
            seen_unhealthy_at = seen_unhealthy_at or silent
        elif silent < 60:
            assert _rows(page)["alpha"][0] == "healthy"
    assert seen_unhealthy_at is not None

    assert Agent.objects.get(name="alpha").health == "healthy"  # no sweep ran
    healthy = _page(viewer_client, deployment, status="healthy").context["agents"]
    assert [r.name for r in healthy] == ["bravo", "charlie"]
    api = _api(viewer_client, deployment, status="HEALTHY")
    assert [a["name"] for a in api["agents"]] == ["bravo", "charlie"]
    [alpha] = _api(viewer_client, deployment, status="UNHEALTHY")["agents"]
    assert alpha["name"] == "alpha" and alpha["status"] == "UNHEALTHY"


def test_watching_ten_minutes_no_age_is_more_than_interval_plus_poll_behind(
    viewer_client, deployment, fleet_up_for_hours, clock, beat, settings
):
    """Four agents beat every 15 s at different phases; one stops half-way. At every second
    the table, as the browser holds it, is checked against the truth."""
    names = ["a-0", "a-1", "a-2", "a-3"]
    fleet = fleet_up_for_hours(dict.fromkeys(names, "127.0.0.1"))
    interval = settings.HEARTBEAT_INTERVAL_SECONDS
    bound = interval + liveness.POLL_SECONDS
    seen = store.seen_many(deployment.pk, [a.pk for a in fleet.values()])
    truth = {name: seen[str(a.pk)] for name, a in fleet.items()}
    page = _page(viewer_client, deployment).content.decode()
    poll, renders, polls = _poll_url(page), 0, 0
    for second in range(1, 601):
        clock.shift(1)
        now = store.now()
        for name in names:
            if now - truth[name] >= interval and not (name == "a-3" and second > 300):
                beat(name=name)
                truth[name] = now
        if second % liveness.POLL_SECONDS == 0:
            polls += 1
            response = viewer_client.get(poll)
            if response.status_code == 200:
                renders += 1
                page = response.content.decode()
                poll = _poll_url(page)
        for name, (status, kind, shown) in _rows(page).items():
            age = now - truth[name]
            if kind == "live":
                # "live": on time (within on_time_seconds) when drawn, and re-drawn within one
                # poll of that ceasing to be true.
                limit = liveness.on_time_seconds() + liveness.POLL_SECONDS
                assert age < limit, f"{name} shown live at {age:.0f} s"
            else:
                behind = (now - _ts(shown)) - age
                assert 0 <= behind <= bound, f"{name}: shown {behind:.0f} s behind the truth"
            if age >= 60 + liveness.POLL_SECONDS:
                assert status == "unhealthy"
    assert _rows(page)["a-3"][0] == "unhealthy"
    # The steady fleet cost nothing: only a-3 becoming late, then unhealthy, re-drew the table.
    assert (renders, polls) == (2, 120)


def test_the_poll_notices_a_late_agent_without_any_write(
    viewer_client, deployment, fleet_up_for_hours, clock, django_assert_num_queries
):
    fleet_up_for_hours({"solo": "127.0.0.1"})
    poll = _poll_url(_page(viewer_client, deployment).content.decode())
    with django_assert_num_queries(0):
        assert viewer_client.get(poll).status_code == 204
    clock.shift(liveness.on_time_seconds())
    response = viewer_client.get(poll)
    assert response.status_code == 200
    assert _rows(response.content.decode())["solo"][1] == "ago"


@pytest.mark.parametrize("version", ["x", "1.2", "1.2.3.4.5", "9" * 90, "1.2.-5.0", "..."])
def test_a_malformed_version_gets_the_table_not_an_error(viewer_client, deployment, beat, version):
    beat()
    url = reverse("agents-table", args=[deployment.pk])
    _page(viewer_client, deployment)
    response = viewer_client.get(url, {"v": version})
    assert response.status_code == 200


# --- counts, filters, the API and the admin agree ------------------------------------------


@pytest.fixture
def mixed_fleet(fleet_up_for_hours, clock, beat, admin):
    """healthy-0/1 beat; silent-0 is silent; cordoned-beat is cordoned and beats; cordoned-silent
    is cordoned and silent; gone is deleted."""
    names = ["healthy-0", "healthy-1", "silent-0", "cordoned-beat", "cordoned-silent", "gone"]
    fleet = fleet_up_for_hours(dict.fromkeys(names, "127.0.0.1"))
    fleet["cordoned-beat"].cordon(by=admin, reason="drain")
    fleet["cordoned-silent"].cordon(by=admin, reason="")
    fleet["gone"].terminate(by=admin)
    clock.shift(75)
    for name in ("healthy-0", "healthy-1", "cordoned-beat"):
        beat(name=name)
    return fleet


EXPECTED = {
    "healthy": ["healthy-0", "healthy-1"],
    "unhealthy": ["cordoned-silent", "silent-0"],
    "cordoned": ["cordoned-beat"],
    "unknown": [],
}


def test_cards_add_up_and_agree_with_filters_and_the_api(viewer_client, deployment, mixed_fleet):
    page = _page(viewer_client, deployment)
    counts = page.context["counts"]
    assert counts.total == 5
    assert counts.healthy + counts.unhealthy + counts.cordoned + counts.unknown == counts.total
    assert counts.unhealthy_cordoned == 1
    body = page.content.decode()
    assert "1 of them cordoned" in body and "Together they make the total" in body
    for status, names in EXPECTED.items():
        assert getattr(counts, status) == len(names)
        rows = _page(viewer_client, deployment, status=status).context["agents"]
        assert [r.name for r in rows] == names
        assert {r.liveness.status for r in rows} <= {status}
        api = _api(viewer_client, deployment, status=status.upper())
        assert api["totalCount"] == len(names)
        assert [(a["name"], a["status"]) for a in api["agents"]] == [
            (n, status.upper()) for n in names
        ]
    overview = viewer_client.get(reverse("deployment", args=[deployment.pk]))
    assert overview.context["counts"] == counts
    [silent] = _api(viewer_client, deployment, search="cordoned-silent")["agents"]
    assert silent["isCordoned"] and silent["status"] == "UNHEALTHY"


def test_the_database_filter_and_the_python_rule_agree(deployment, mixed_fleet, clock):
    """status_q and judge are the same rule: checked for a normal Redis, one that lost its data
    moments ago (grace) and one that cannot be read."""
    agents = list(Agent.objects.filter(deployment=deployment))

    def check(fleet):
        rows = liveness.rows(fleet, agents)
        for status in liveness.Status.values:
            by_rule = {str(r.agent.pk) for r in rows if r.liveness.status == status}
            by_sql = {
                str(pk)
                for pk in Agent.objects.filter(fleet.status_q(status)).values_list("pk", flat=True)
            }
            assert by_rule == by_sql, status

    check(liveness.read(deployment.pk))
    store.client().delete(store.EPOCH, store.k_seen(deployment.pk))
    store.client().zadd(
        store.k_seen(deployment.pk), {str(mixed_fleet["healthy-0"].pk): store.now()}
    )
    grace = liveness.read(deployment.pk)
    assert grace.in_grace
    check(grace)
    assert liveness.counts(grace, Agent.objects.live().filter(deployment=deployment)).unknown == 4
    check(liveness.Fleet(deployment.pk, now=store.now(), epoch=None))


def test_the_admin_agrees_with_the_page(
    client, django_user_model, viewer_client, deployment, mixed_fleet
):
    client.force_login(django_user_model.objects.create_superuser("support", password="x"))
    html = client.get(reverse("admin:agents_agent_changelist")).content.decode()
    admin_says = dict(
        re.findall(r'field-name[^>]*>(?:<a [^>]*>)?([^<]+)<.*?data-status="(\w+)"', html, re.S)
    )
    page_says = {
        r.name: r.liveness.status for r in _page(viewer_client, deployment).context["agents"]
    }
    assert {k: v for k, v in admin_says.items() if k != "gone"} == page_says
    assert admin_says["gone"] == "terminated"
    assert re.search(r'data-status="terminated"[^>]*>Deleted', html)
    detail = client.get(reverse("admin:agents_agent_change", args=[mixed_fleet["silent-0"].pk]))
    assert 'data-status="unhealthy"' in detail.content.decode()


def test_a_problems_first_sort_is_a_choice_and_name_order_stays_put(
    viewer_client, deployment, mixed_fleet
):
    by_name = [r.name for r in _page(viewer_client, deployment).context["agents"]]
    assert by_name == sorted(by_name)
    problems = _page(viewer_client, deployment, sort="problems").context["agents"]
    assert [r.liveness.status for r in problems] == [
        "unhealthy",
        "unhealthy",
        "cordoned",
        "healthy",
        "healthy",
    ]


# --- the address bar keeps the view --------------------------------------------------------


def test_a_filter_change_puts_the_view_in_the_address_bar(viewer_client, deployment, mixed_fleet):
    table = reverse("agents-table", args=[deployment.pk])
    params = {"status": "unhealthy", "sort": "problems", "q": "silent"}
    response = viewer_client.get(table, params, headers={"HX-Request": "true"})
    pushed = response["HX-Push-Url"]
    assert pushed.startswith(reverse("agents", args=[deployment.pk]) + "?")
    for key, value in params.items():
        assert f"{key}={value}" in pushed
    typed = viewer_client.get(
        table, {"q": "sil"}, headers={"HX-Request": "true", "HX-Trigger-Name": "q"}
    )
    assert "HX-Push-Url" not in typed and typed["HX-Replace-Url"].endswith("?q=sil")
    reloaded = viewer_client.get(pushed)
    assert [r.name for r in reloaded.context["agents"]] == ["cordoned-silent", "silent-0"]
    assert "v=" in _poll_url(reloaded.content.decode())
    poll = viewer_client.get(_poll_url(reloaded.content.decode()), headers={"HX-Request": "true"})
    assert poll.status_code == 204  # polls never touch the address bar


def test_counts_stay_exact_when_redis_holds_times_of_agents_gone_from_the_database(
    viewer_client, deployment, mixed_fleet, redis_client
):
    ghost = {"00000000-0000-0000-0000-000000000001": store.now()}
    redis_client.zadd(store.k_seen(deployment.pk), ghost)  # a beating id with no row
    counts = _page(viewer_client, deployment).context["counts"]
    assert (counts.healthy, counts.unhealthy, counts.cordoned) == (2, 2, 1)
    Agent.objects.sweep()
    assert redis_client.zscore(store.k_seen(deployment.pk), next(iter(ghost))) is None
