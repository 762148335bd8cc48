import pytest
from django.core.exceptions import ValidationError

from deployments.ipranges import error_codes, error_messages, parse_ranges

HUNDRED_AND_ONE = [f"10.0.{i}.0/24" for i in range(101)]

BAD = [
    # (entries, index of the entry at fault or None, expected message)
    (["300.1.1.1/32"], 0, '"300.1.1.1/32" is not an IP address or CIDR range'),
    (
        ["10.0.0.0/33"],
        0,
        '"10.0.0.0/33": the prefix length must be a number from 0 to 32 for IPv4.',
    ),
    (["::1/129"], 0, '"::1/129": the prefix length must be a number from 0 to 128 for IPv6.'),
    (["10.0.0.0/-1"], 0, '"10.0.0.0/-1": the prefix length must be a number from 0 to 32'),
    (["10.0.0.0/"], 0, '"10.0.0.0/": the prefix length must be a number from 0 to 32'),
    (["10.0.0.0/24/8"], 0, '"10.0.0.0/24/8": the prefix length must be a number'),
    (["10.0.0.0/255.255.255.0"], 0, "the prefix length must be a number from 0 to 32"),
    (["10.0.0.0/\uff12\uff14"], 0, "the prefix length must be a number from 0 to 32"),
    (["abc"], 0, '"abc" is not an IP address or CIDR range (e.g. 10.0.0.0/16 or 2001:db8::/32).'),
    (["010.0.0.0/8"], 0, '"010.0.0.0/8" is not an IP address or CIDR range'),
    (["1.2.3"], 0, '"1.2.3" is not an IP address or CIDR range'),
    ([""], 0, "Entry 1 is empty; enter a range or remove it."),
    (["10.0.0.0/8", "   "], 1, "Entry 2 is empty; enter a range or remove it."),
    (["10.0.0.0/24  "], 0, '"10.0.0.0/24  " has spaces around it; write it as 10.0.0.0/24.'),
    ([" 10.0.0.0/24"], 0, '" 10.0.0.0/24" has spaces around it; write it as 10.0.0.0/24.'),
    (["10.0.0.0 /24"], 0, '"10.0.0.0 /24" contains a space; write it as 10.0.0.0/24.'),
    (["10.0.0.0/24,10.1.0.0/24"], 0, "holds more than one value; put each range in its own entry."),
    (["10.0.0.0/24;10.1.0.0/24"], 0, "holds more than one value; put each range in its own entry."),
    (["fe80::1%eth0"], 0, '"fe80::1%eth0" has an IPv6 zone; zones are not allowed.'),
    (["1" * 65], 0, "Entry 1 is too long to be an IP range."),
    ([42], 0, "Entry 1 is not text."),
    (["10.0.0.5/24"], 0, '"10.0.0.5/24" has host bits set; did you mean 10.0.0.0/24?'),
    (["2001:db8::1/32"], 0, '"2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?'),
    (["0.0.0.0/0"], 0, '"0.0.0.0/0" allows every IPv4 address; confirm that this is intended.'),
    (["::/0"], 0, '"::/0" allows every IPv6 address; confirm that this is intended.'),
    (["10.0.0.0/24", "10.0.0.0/24"], 1, '"10.0.0.0/24" repeats "10.0.0.0/24".'),
    (["192.0.2.7", "192.0.2.7/32"], 1, '"192.0.2.7/32" repeats "192.0.2.7".'),
    (["2001:db8::1", "2001:DB8::1/128"], 1, '"2001:DB8::1/128" repeats "2001:db8::1".'),
    (
        ["10.0.0.0/16", "10.0.3.0/24"],
        1,
        '"10.0.3.0/24" is already inside "10.0.0.0/16"; remove one of them.',
    ),
    (
        ["10.0.3.9", "10.0.0.0/8"],
        0,
        '"10.0.3.9" is already inside "10.0.0.0/8"; remove one of them.',
    ),
    (
        ["2001:db8::/32", "2001:db8:1::/48"],
        1,
        '"2001:db8:1::/48" is already inside "2001:db8::/32"; remove one of them.',
    ),
    (HUNDRED_AND_ONE, None, "At most 100 ranges are allowed; this list has 101."),
]


@pytest.mark.parametrize(("entries", "index", "expected"), BAD, ids=lambda v: repr(v)[:40])
def test_it_refuses_bad_input_with_a_message_for_the_entry(entries, index, expected):
    with pytest.raises(ValidationError) as caught:
        parse_ranges(entries)
    problems = error_messages(caught.value)
    assert any(at == index and expected in message for at, message in problems), problems


def test_it_reports_every_bad_entry_at_once():
    with pytest.raises(ValidationError) as caught:
        parse_ranges(["abc", "10.0.0.0/8", "10.0.0.5/24", ""])
    assert [index for index, _ in error_messages(caught.value)] == [0, 2, 3]


def test_it_marks_the_everything_ranges_so_a_form_can_ask_for_confirmation():
    with pytest.raises(ValidationError) as caught:
        parse_ranges(["0.0.0.0/0"])
    assert error_codes(caught.value) == {"everything"}


def test_it_keeps_user_text_with_percent_signs_intact_in_messages():
    with pytest.raises(ValidationError) as caught:
        parse_ranges(["%(index)s"])
    assert error_messages(caught.value)[0][1].startswith('"%(index)s" has an IPv6 zone')


GOOD = [
    ([], []),
    (["10.0.0.1"], ["10.0.0.1/32"]),
    (["2001:db8::1"], ["2001:db8::1/128"]),
    (["2001:DB8:0:0::/64"], ["2001:db8::/64"]),
    (["10.0.0.0/024"], ["10.0.0.0/24"]),
    (
        ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "::1"],
        ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32", "::1/128"],
    ),
    # Same address space, different families: neither contains the other.
    (["0.0.0.0/8", "::/8"], ["0.0.0.0/8", "::/8"]),
    (HUNDRED_AND_ONE[:100], HUNDRED_AND_ONE[:100]),
    # IPv4-mapped IPv6 is saved as the IPv4 it names, so it matches IPv4 agents.
    (["::ffff:10.1.2.3"], ["10.1.2.3/32"]),
    (["::ffff:10.0.0.0/104"], ["10.0.0.0/8"]),
    (["::FFFF:a01:203/128"], ["10.1.2.3/32"]),
]


@pytest.mark.parametrize(("entries", "expected"), GOOD, ids=lambda v: repr(v)[:40])
def test_it_normalises_good_input(entries, expected):
    assert parse_ranges(entries) == expected


def test_mapped_ranges_keep_their_rules():
    with pytest.raises(ValidationError, match="allows every IPv4 address"):
        parse_ranges(["::ffff:0.0.0.0/96"])
    with pytest.raises(ValidationError, match=r"did you mean 10\.0\.0\.0/8"):
        parse_ranges(["::ffff:10.1.2.3/104"])
    with pytest.raises(ValidationError, match=r"overlap|contains|inside"):
        parse_ranges(["10.0.0.0/8", "::ffff:10.1.0.0/112"])


def test_it_accepts_everything_when_confirmed():
    assert parse_ranges(["0.0.0.0/0", "::/0"], allow_everything=True) == ["0.0.0.0/0", "::/0"]


def test_it_refuses_something_that_is_not_a_list():
    with pytest.raises(ValidationError, match="Send a list"):
        parse_ranges("10.0.0.0/8")  # type: ignore[arg-type]
