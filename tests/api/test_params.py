"""Query-parameter parsing: every accepted spelling, and refusals that name the problem."""

from __future__ import annotations

import pytest

from sysmond.api.errors import ApiError
from sysmond.api.params import (
    Query,
    parse_duration,
    parse_int,
    parse_time,
    time_range,
)

NOW = 1_770_000_000.0


@pytest.mark.parametrize(("text", "expected"), [
    ("1770000000", 1_770_000_000.0),
    ("1770000000.5", 1_770_000_000.5),
    ("2026-02-02T02:40:00Z", 1_770_000_000.0),
    ("2026-02-02T02:40:00z", 1_770_000_000.0),
    ("2026-02-02T11:40:00+09:00", 1_770_000_000.0),
    ("2026-02-02 02:40:00+00:00", 1_770_000_000.0),
    ("2026-02-02T02:40:00.250Z", 1_770_000_000.25),
])
def test_times_are_read_as_rfc3339_or_unix_seconds(text, expected):
    assert parse_time("start", text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("yesterday", "RFC 3339"),
    ("2026-02-02T02:40:00", "no UTC offset"),
    ("2026-13-02T02:40:00Z", "RFC 3339"),
    ("-5", "1970"),
    ("1e400", "RFC 3339"),
    ("99999999999999", "1970..9999"),
    ("", "RFC 3339"),
    ("9" * 100, "RFC 3339"),
])
def test_bad_times_are_refused_naming_the_parameter(text, fragment):
    with pytest.raises(ApiError) as e:
        parse_time("end", text)
    assert e.value.status == 400
    assert "'end'" in e.value.error
    assert fragment in e.value.detail


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("1h", 3_600), ("7d", 604_800), ("2w", 1_209_600),
    ("1y", 31_536_000)])
def test_durations_take_a_number_and_a_unit(text, seconds):
    assert parse_duration("range", text) == seconds


@pytest.mark.parametrize("text", ["1", "h", "1.5h", "-1h", "0s", "1 h", "1hour", "1H"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ApiError) as e:
        parse_duration("range", text)
    assert e.value.status == 400 and "'range'" in e.value.error


@pytest.mark.parametrize(("text", "ok"), [("1", True), ("10000", True), ("0", False),
                                          ("10001", False), ("1e3", False), ("", False),
                                          ("١٢", False), ("12abc", False)])
def test_integers_are_decimal_and_bounded(text, ok):
    if ok:
        assert parse_int("points", text, 1, 10_000) == int(text)
    else:
        with pytest.raises(ApiError):
            parse_int("points", text, 1, 10_000)


def test_unknown_and_repeated_parameters_are_refused():
    from multidict import MultiDict

    with pytest.raises(ApiError, match="unknown parameter 'colour'"):
        Query(MultiDict([("colour", "red")]), ("start",))
    with pytest.raises(ApiError, match="more than once"):
        Query(MultiDict([("start", "1"), ("start", "2")]), ("start",))


def test_the_default_range_is_the_last_hour():
    assert time_range({}, NOW) == (NOW - 3_600, NOW)


def test_range_counts_back_from_end_or_forward_from_start():
    assert time_range({"range": "1d"}, NOW) == (NOW - 86_400, NOW)
    assert time_range({"end": "1000000", "range": "90s"}, NOW) == (999_910, 1_000_000)
    assert time_range({"start": "1000000", "range": "90s"}, NOW) == (1_000_000, 1_000_090)
    assert time_range({"start": "1000000"}, NOW) == (1_000_000, NOW)


def test_reversed_and_overlong_ranges_are_refused():
    with pytest.raises(ApiError, match="end before start"):
        time_range({"start": "2000000", "end": "1000000"}, NOW)
    with pytest.raises(ApiError, match="range too long") as e:
        time_range({"range": "2y"}, NOW, longest=365 * 86_400)
    assert "1y" in e.value.detail
    with pytest.raises(ApiError, match="at most two"):
        time_range({"start": "1", "end": "2", "range": "1h"}, NOW)
