"""The demo site's time zone: a real zone where it is 14:xx at the instant the demo starts."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from chatpulse.sim import curve
from chatpulse.sim.demo_zone import AFTERNOON, ZONES, demo_zone

S = 1_000_000


def micros(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * S


@pytest.mark.parametrize(
    ("now", "zone", "local"),
    [
        # 04:00Z: London 04:00, Tokyo 13:00, Sydney 15:00 (AEDT, +11), …, Brisbane (+10, no
        # daylight saving time) 14:00.
        (micros(2026, 11, 28, 4), "Australia/Brisbane", "2026-11-28T14:00:00+10:00"),
        # 30 s before the new year in UTC: Anchorage (AKST, −9) is 14:59:30 on 31 December,
        # listed before Gambier (−9 as well).
        (micros(2026, 12, 31, 23, 59, 30), "America/Anchorage", "2026-12-31T14:59:30-09:00"),
        # Europe moves its clocks at 01:00Z that night; Auckland (NZDT, +13) is 13:30, and
        # Honolulu (−10) 14:30 on the 28th.
        (micros(2026, 3, 29, 0, 30), "Pacific/Honolulu", "2026-03-28T14:30:00-10:00"),
        # Noon UTC in November: Paris 13:00 (CET), Moscow 15:00; Johannesburg (+2) 14:00.
        (micros(2026, 11, 24, 12), "Africa/Johannesburg", "2026-11-24T14:00:00+02:00"),
        # Noon UTC in July: London 13:00 (BST), Paris 14:00 (CEST).
        (micros(2026, 7, 15, 12), "Europe/Paris", "2026-07-15T14:00:00+02:00"),
    ],
)
def test_the_first_listed_zone_where_it_is_the_afternoon_is_picked(
    now: int, zone: str, local: str
) -> None:
    picked = demo_zone(now)
    assert (picked.name, picked.local.isoformat()) == (zone, local)
    # The local hour, as the daily curve reads it in that zone, is in the afternoon peak.
    hour = curve.local_hour(now, zoneinfo.ZoneInfo(zone))
    assert hour == picked.hour
    assert AFTERNOON[0] <= hour < AFTERNOON[1]
    assert curve.arrival_share(hour) >= 0.95


def test_the_reason_names_the_zone_and_its_local_time() -> None:
    assert demo_zone(micros(2026, 11, 28, 4, 7)).reason() == (
        "the demo site is in Australia/Brisbane, where it is 14:07 now: the simulated traffic "
        "follows the site's local time of day, and 14:00–15:00 is its busy afternoon, "
        "whatever the hour here"
    )


def test_every_hour_of_two_years_has_a_zone_in_the_afternoon() -> None:
    # Every zone here has a whole-hour offset or a half-hour one (Kolkata): one whose clock is
    # at 14:xx on the hour stays there until the next hour, so checking each hour and half
    # hour covers every instant.
    start = micros(2026, 1, 1)
    for step in range(2 * 366 * 48):
        now = start + step * 1800 * S
        assert AFTERNOON[0] <= demo_zone(now).hour < AFTERNOON[1]


def test_every_listed_zone_is_a_real_zone() -> None:
    assert len(set(ZONES)) == len(ZONES)
    for name in ZONES:
        assert zoneinfo.ZoneInfo(name).key == name
