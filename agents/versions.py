"""Version support: which agents run a version the vendor still maintains.

The facts (versions and release dates) live in `data/agent_releases.toml`; the rule is here, in
one function, so the table, the detail page, the Overview counts and the filter agree.
"""

import calendar
import functools
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

RELEASES_FILE = Path(__file__).resolve().parent / "data" / "agent_releases.toml"
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


class State:
    CURRENT = "current"
    UPGRADE = "upgrade"
    UNSUPPORTED = "unsupported"
    UNLISTED = "unlisted"  # newer than the list, or a minor the list cannot judge
    UNKNOWN = "unknown"  # not a version at all

    CHOICES = [
        (CURRENT, "Current"),
        (UPGRADE, "Upgrade available"),
        (UNSUPPORTED, "Unsupported"),
        (UNLISTED, "Not in the release list"),
    ]


@dataclass(frozen=True)
class Release:
    number: tuple[int, int, int]
    version: str
    released: date
    notes: str = ""

    @property
    def minor(self) -> tuple[int, int]:
        return self.number[:2]


@dataclass(frozen=True)
class Releases:
    items: tuple[Release, ...]
    maintenance_months: int


@dataclass(frozen=True)
class Support:
    state: str
    since: date | None = None  # unsupported since
    latest: str | None = None  # the version to upgrade to

    @property
    def label(self) -> str:
        if self.state == State.UNSUPPORTED:
            return f"Unsupported since {self.since:%Y-%m-%d}" if self.since else "Unsupported"
        return dict(State.CHOICES).get(self.state, "Unknown version")


def parse(version: str) -> tuple[int, int, int] | None:
    match = VERSION.match(version or "")
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


@functools.cache
def releases(path: Path = RELEASES_FILE) -> Releases:
    """The release list; a malformed file stops the process with a message naming the entry."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImproperlyConfigured(f"{path}: {exc}") from exc
    items, seen = [], set()
    for i, entry in enumerate(data.get("release", [])):
        number = parse(str(entry.get("version", "")))
        released = entry.get("released")
        if number is None or not isinstance(released, date) or number in seen:
            raise ImproperlyConfigured(
                f"{path}: release #{i + 1} needs a unique version X.Y.Z and a date YYYY-MM-DD"
            )
        seen.add(number)
        items.append(Release(number, entry["version"], released, entry.get("notes", "")))
    months = data.get("maintenance_months", 6)
    if not isinstance(months, int) or months < 1:
        raise ImproperlyConfigured(f"{path}: maintenance_months must be a positive integer")
    return Releases(tuple(sorted(items, key=lambda r: r.number)), months)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def support(version: str, today: date | None = None, data: Releases | None = None) -> Support:
    """The vendor's rule: the latest release is current; the latest minor's older patches have
    an upgrade; an older minor is maintained for N months from its first release, then it is
    unsupported. Releases dated after `today` do not exist yet."""
    today = today or timezone.localdate()
    data = data or releases()
    number = parse(version)
    if number is None:
        return Support(State.UNKNOWN)
    known = [r for r in data.items if r.released <= today]
    if not known:
        return Support(State.UNLISTED)
    latest = known[-1]
    if number == latest.number:
        return Support(State.CURRENT)
    if number > latest.number:
        return Support(State.UNLISTED)
    upgrade = Support(State.UPGRADE, latest=latest.version)
    if number[:2] == latest.minor:
        return upgrade
    starts: dict[tuple[int, int], date] = {}
    for r in known:
        starts.setdefault(r.minor, r.released)
    start = starts.get(number[:2])
    if start is None:
        # A minor the list does not hold: it came out before the next listed minor, so its
        # maintenance ended no later than that minor's would.
        later = [m for m in starts if m > number[:2]]
        if not later:
            return Support(State.UNLISTED)
        start = starts[min(later)]
        if today < add_months(start, data.maintenance_months):
            return upgrade
        return Support(State.UNSUPPORTED, latest=latest.version)
    end = add_months(start, data.maintenance_months)
    if today >= end:
        return Support(State.UNSUPPORTED, since=end, latest=latest.version)
    return upgrade


def counts(per_version, today: date | None = None) -> dict[str, int]:
    """Agents in each state, from (version, number of agents) pairs."""
    out = dict.fromkeys([s for s, _ in State.CHOICES], 0)
    for version, n in per_version:
        state = support(version, today).state
        out[State.UNLISTED if state == State.UNKNOWN else state] += n
    return out


def filter_q(state: str, versions, today: date | None = None) -> Q:
    """A filter on Agent.version for agents in `state`, given the versions present."""
    wanted = set()
    for version in set(versions):
        found = support(version, today).state
        if found == state or (state == State.UNLISTED and found == State.UNKNOWN):
            wanted.add(version)
    return Q(version__in=sorted(wanted))
