"""TimeSpan text and instants (METRICS.md §5, SPEC.md §2)."""

from __future__ import annotations

import datetime as dt

import pytest

from chatpulse.domain.timeutil import (
    FIRST_INSTANT,
    LAST_INSTANT,
    format_instant,
    format_instant_exact,
    format_timespan,
    instant_in_range,
    parse_iso,
    to_micros,
)

S = 1_000_000


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "00:00:00"),
        (59 * S, "00:00:59"),
        (6 * 3600 * S + 53 * 60 * S + 57 * S + 50_000, "06:53:57.0500000"),
        (86_400 * S + 2 * 3600 * S + 3 * 60 * S + 4 * S, "1.02:03:04"),
        (86_399 * S + 999_999, "23:59:59.9999990"),
        (2000 * S + 250_000, "00:33:20.2500000"),
        (1, "00:00:00.0000010"),
        (31 * 86_400 * S, "31.00:00:00"),
    ],
)
def test_timespan_text(micros: int, text: str) -> None:
    assert format_timespan(micros) == text


def test_instants_are_utc_with_milliseconds() -> None:
    assert format_instant(1_795_861_800_123_456) == "2026-11-28T10:30:00.123Z"
    assert format_instant_exact(1_795_861_800_123_456) == "2026-11-28T10:30:00.123456Z"
    assert format_instant_exact(1_795_861_800_123_000) == "2026-11-28T10:30:00.123Z"


@pytest.mark.parametrize(
    "text",
    ["2026-11-24", "2026-11-24T09:30", "2026-11-24T09:30:05.250+01:00", "2026-11-24T09:30:05Z"],
)
def test_iso_forms_accepted(text: str) -> None:
    assert parse_iso(text) is not None


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-11-24T25:00", "24/11/2026"])
def test_iso_garbage_refused(text: str) -> None:
    assert parse_iso(text) is None


def test_nanosecond_fractions_are_cut_to_microseconds() -> None:
    parsed = parse_iso("2026-11-24T09:30:05.123456789Z")
    assert parsed is not None and parsed.microsecond == 123456


def test_every_instant_is_written_with_a_four_digit_year() -> None:
    assert format_instant(FIRST_INSTANT) == "0001-01-01T00:00:00.000Z"
    assert format_instant_exact(FIRST_INSTANT + 5) == "0001-01-01T00:00:00.000005Z"
    year_999 = to_micros(dt.datetime(999, 5, 1, 7, 8, 9, tzinfo=dt.UTC))
    assert format_instant(year_999) == "0999-05-01T07:08:09.000Z"
    assert format_instant(LAST_INSTANT) == "9999-12-31T23:59:59.999Z"
    assert format_instant_exact(LAST_INSTANT) == "9999-12-31T23:59:59.999999Z"


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0001-01-01T00:00:00Z", 0),
        ("0001-01-01T14:00:00+14:00", 0),
        ("0001-01-01T00:00:00+14:00", None),
        ("0001-01-01T00:00:00.000001-00:01", 60_000_001),
        ("9999-12-31T23:59:59.999999Z", LAST_INSTANT - FIRST_INSTANT),
        ("9999-12-31T23:59:59-14:00", None),
        ("9999-12-31T09:59:59-14:00", LAST_INSTANT - FIRST_INSTANT - 999_999),
    ],
)
def test_instants_in_range_are_those_of_utc_years_1_to_9999(text: str, micros: int | None) -> None:
    moment = parse_iso(text)
    assert moment is not None
    found = instant_in_range(moment)
    assert (None if found is None else found - FIRST_INSTANT) == micros
