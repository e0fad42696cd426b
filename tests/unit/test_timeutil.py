"""TimeSpan text and instants (METRICS.md §5, SPEC.md §2)."""

from __future__ import annotations

import pytest

from chatpulse.domain.timeutil import (
    format_instant,
    format_instant_exact,
    format_timespan,
    parse_iso,
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
