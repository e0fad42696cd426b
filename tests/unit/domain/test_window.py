"""Windows (SPEC.md §2.1): zones, defaults, DST, validation."""

from __future__ import annotations

import datetime as dt

import pytest

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.timeutil import to_micros
from chatpulse.domain.window import resolve_window

H = 3600 * 1_000_000


def utc(*args: int) -> int:
    return to_micros(dt.datetime(*args, tzinfo=dt.UTC))


NOW = utc(2026, 11, 24, 12, 0, 0)


def test_default_is_local_midnight_to_now() -> None:
    w = resolve_window(NOW, "UTC")
    assert (w.start, w.end) == (utc(2026, 11, 24), NOW)


def test_utc_offset_in_minutes_east() -> None:
    w = resolve_window(NOW, "UTC", utc_offset="480")  # 20:00 local -> midnight local is 16:00 UTC
    assert w.start == utc(2026, 11, 23, 16)
    w = resolve_window(NOW, "UTC", utc_offset="-300")  # 07:00 local
    assert w.start == utc(2026, 11, 24, 5)


def test_time_zone_wins_over_offset_and_site_zone_is_the_default() -> None:
    w = resolve_window(NOW, "UTC", time_zone="Asia/Tokyo", utc_offset="-300")
    assert w.start == utc(2026, 11, 23, 15)
    w = resolve_window(NOW, "Asia/Tokyo")
    assert w.start == utc(2026, 11, 23, 15)


def test_local_dates_across_dst_give_23_and_25_hour_days() -> None:
    later = utc(2026, 12, 1)
    spring = resolve_window(later, "UTC", "Europe/Paris", None, "2026-03-29", "2026-03-30")
    assert spring.end - spring.start == 23 * H
    autumn = resolve_window(later, "UTC", "Europe/Paris", None, "2026-10-25", "2026-10-26")
    assert autumn.end - autumn.start == 25 * H


def test_absolute_and_local_times() -> None:
    w = resolve_window(NOW, "UTC", None, "60", "2026-11-24T09:00:00", "2026-11-24T10:00:00Z")
    assert (w.start, w.end) == (utc(2026, 11, 24, 8), utc(2026, 11, 24, 10))


def test_end_in_the_future_is_now_and_plus_may_arrive_as_space() -> None:
    w = resolve_window(NOW, "UTC", None, None, "2026-11-24T10:00:00 01:00", "2030-01-01")
    assert (w.start, w.end) == (utc(2026, 11, 24, 9), NOW)


def test_default_start_follows_the_given_end() -> None:
    w = resolve_window(NOW, "UTC", None, None, None, "2026-11-20T15:00:00Z")
    assert (w.start, w.end) == (utc(2026, 11, 20), utc(2026, 11, 20, 15))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"utc_offset": "abc"}, "utcOffset"),
        ({"utc_offset": "841"}, "utcOffset"),
        ({"utc_offset": "-721"}, "utcOffset"),
        ({"utc_offset": "1.5"}, "utcOffset"),
        ({"time_zone": "Mars/Base"}, "timeZone"),
        ({"time_zone": "../etc/passwd"}, "timeZone"),
        ({"start_time": "soon"}, "startTime"),
        ({"end_time": "2026-11-24T99:00"}, "endTime"),
        ({"start_time": "2026-11-24T12:00:00Z"}, "startTime"),
        ({"start_time": "2026-10-01", "end_time": "2026-11-02"}, "startTime"),
    ],
)
def test_bad_windows_name_the_parameter(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(BadParameter) as caught:
        resolve_window(NOW, "UTC", **kwargs)
    assert caught.value.errors[0].field == field


def test_exactly_31_days_is_allowed() -> None:
    w = resolve_window(NOW, "UTC", None, None, "2026-10-24T12:00:00Z", "2026-11-24T12:00:00Z")
    assert w.end - w.start == 31 * 24 * H


@pytest.mark.parametrize(
    ("end_time", "zone", "start", "end"),
    [
        # A date alone is local midnight: the default start is the whole local day before it.
        ("2026-11-20", "UTC", utc(2026, 11, 19), utc(2026, 11, 20)),
        ("2026-11-20", "Asia/Tokyo", utc(2026, 11, 18, 15), utc(2026, 11, 19, 15)),
        # Paris springs forward on 29 March: the day before 30 March has 23 hours.
        ("2026-03-30", "Europe/Paris", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
        # An endTime a microsecond after midnight: the day that holds the instant before it.
        ("2026-11-20T00:00:00.000001Z", "UTC", utc(2026, 11, 20), utc(2026, 11, 20) + 1),
        ("2027-01-01T00:00:00Z", "UTC", utc(2026, 12, 31), utc(2027, 1, 1)),
    ],
)
def test_default_start_is_the_local_day_holding_the_instant_before_the_end(
    end_time: str, zone: str, start: int, end: int
) -> None:
    w = resolve_window(utc(2027, 6, 1), zone, None, None, None, end_time)
    assert (w.start, w.end) == (start, end)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_time": "0001-01-01T00:00:00+14:00"}, "startTime"),
        ({"end_time": "0001-01-01T00:00:00+00:01"}, "endTime"),
        ({"end_time": "9999-12-31T23:59:59-14:00"}, "endTime"),
        ({"start_time": "0001-01-01T00:00:00", "utc_offset": "60"}, "startTime"),
        ({"end_time": "0001-01-01", "utc_offset": "840"}, "endTime"),
        ({"end_time": "0001-01-01T00:00:00Z"}, "endTime"),  # no instant before it
    ],
)
def test_instants_outside_utc_years_1_to_9999_are_a_bad_parameter(
    kwargs: dict[str, str], field: str
) -> None:
    with pytest.raises(BadParameter) as caught:
        resolve_window(NOW, "UTC", **kwargs)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        (
            field,
            "must be later than 0001-01-01T00:00:00Z"
            if kwargs == {"end_time": "0001-01-01T00:00:00Z"}
            else "must fall in the UTC years 0001 to 9999",
        )
    ]


def test_the_first_local_day_west_of_utc_begins_at_the_first_instant() -> None:
    """At 0001-01-01T05:00Z the local date at UTC-10 is in year 0: the window starts at the
    first instant there is."""
    w = resolve_window(NOW, "UTC", None, "-600", None, "0001-01-01T05:00:00Z")
    assert (w.start, w.end) == (utc(1, 1, 1), utc(1, 1, 1, 5))
