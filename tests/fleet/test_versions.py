from datetime import date

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from agents import versions
from agents.models import Agent
from agents.versions import Release, Releases, State

# A release list of our own, so the rule is tested apart from the facts in the data file.
DATA = Releases(
    tuple(
        Release(versions.parse(v), v, d)
        for v, d in [
            ("1.1.0", date(2025, 6, 2)),
            ("1.1.4", date(2025, 9, 1)),
            ("1.2.0", date(2025, 10, 15)),
            ("1.2.1", date(2025, 11, 3)),
            ("1.3.0", date(2026, 2, 27)),
            ("1.3.2", date(2026, 3, 20)),
        ]
    ),
    6,
)


@pytest.mark.parametrize(
    ("version", "today", "state", "since"),
    [
        ("1.3.2", date(2026, 4, 1), State.CURRENT, None),
        ("1.3.0", date(2026, 4, 1), State.UPGRADE, None),
        ("1.3.1", date(2026, 4, 1), State.UPGRADE, None),  # unlisted patch of the latest minor
        ("1.2.1", date(2026, 4, 14), State.UPGRADE, None),  # 1.2 maintained until 2026-04-15
        ("1.2.1", date(2026, 4, 15), State.UNSUPPORTED, date(2026, 4, 15)),
        ("1.1.4", date(2026, 4, 1), State.UNSUPPORTED, date(2025, 12, 2)),
        ("1.0.9", date(2026, 4, 1), State.UNSUPPORTED, None),  # before any listed minor
        ("1.0.9", date(2025, 7, 1), State.UPGRADE, None),
        ("1.4.0", date(2026, 4, 1), State.UNLISTED, None),  # newer than the list
        ("1.3.2", date(2026, 3, 1), State.UNLISTED, None),  # not released yet that day
        ("1.3.0", date(2026, 3, 1), State.CURRENT, None),
        ("1.3.2-rc1", date(2026, 4, 1), State.CURRENT, None),
        ("banana", date(2026, 4, 1), State.UNKNOWN, None),
        ("", date(2026, 4, 1), State.UNKNOWN, None),
    ],
)
def test_it_applies_the_maintenance_rule(version, today, state, since):
    found = versions.support(version, today, DATA)
    assert (found.state, found.since) == (state, since)


def test_it_labels_with_the_date():
    assert versions.support("1.1.4", date(2026, 4, 1), DATA).label == "Unsupported since 2025-12-02"
    assert versions.support("1.3.0", date(2026, 4, 1), DATA).latest == "1.3.2"


def test_the_months_end_on_the_last_day_of_a_short_month():
    assert versions.add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)


def test_the_data_file_holds_the_vendors_dates():
    by_version = {r.version: r.released for r in versions.releases().items}
    assert by_version["1.6.0"] == date(2026, 4, 16)
    assert by_version["1.3.1"] == date(2026, 1, 28)
    assert versions.support("1.3.1", date(2026, 11, 29)).label == "Unsupported since 2026-07-28"


@pytest.mark.parametrize(
    "text",
    [
        "[[release]]\nversion = '1.2'\nreleased = 2026-01-01\n",
        "[[release]]\nversion = '1.2.0'\nreleased = 'soon'\n",
        "[[release]]\nversion = '1.2.0'\nreleased = 2026-01-01\n" * 2,
        "maintenance_months = 0\n",
        "this is not toml",
    ],
)
def test_a_malformed_file_is_refused_with_a_message(tmp_path, text):
    path = tmp_path / "releases.toml"
    path.write_text(text)
    with pytest.raises(ImproperlyConfigured, match=str(path)):
        versions.releases(path)


@pytest.mark.django_db
def test_badges_counts_and_filter_on_a_mixed_fleet(viewer_client, deployment, beat, time_machine):
    time_machine.move_to("2026-11-29 12:00Z", tick=False)
    for name, version in [("a", "1.6.0"), ("b", "1.6.0"), ("c", "1.3.1"), ("d", "1.7.0")]:
        assert beat(name=name, version=version).status_code == 200
    page = viewer_client.get(reverse("agents", args=[deployment.pk]))
    body = page.content.decode()
    assert body.count('data-support="current"') == 2
    assert body.count('data-support="unsupported"') == 1
    assert "Unsupported since 2026-07-28" in body
    assert body.count('data-support="unlisted"') == 1

    unsupported = viewer_client.get(
        reverse("agents", args=[deployment.pk]), {"support": "unsupported"}
    )
    assert [a.name for a in unsupported.context["agents"]] == ["c"]
    odd = viewer_client.get(reverse("agents", args=[deployment.pk]), {"support": "<script>"})
    assert odd.status_code == 200 and len(odd.context["agents"]) == 4

    overview = viewer_client.get(reverse("deployment", args=[deployment.pk])).content.decode()
    for state, count in [("current", 2), ("upgrade", 0), ("unsupported", 1), ("unlisted", 1)]:
        assert f'data-support-count="{state}"' in overview
        chunk = overview.split(f'data-support-count="{state}"')[1].split("</a>")[0]
        assert f"<strong>{count}</strong>" in chunk

    detail = viewer_client.get(
        reverse("agent-detail", args=[deployment.pk, Agent.objects.get(name="c").pk])
    )
    assert 'data-support="unsupported"' in detail.content.decode()
