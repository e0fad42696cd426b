"""The demo site's time zone: a real IANA zone where it is the early afternoon now, so that
`chatpulse demo` shows a busy operation at whatever hour it starts.

The simulated traffic follows the site's local time of day (sim/curve.py): in the machine's own
zone a demo started at night would show an empty operation. Events still carry real instants
(METRICS.md); only the site's zone is chosen, and it is a real one, so every time the wallboard
shows is that place's true local time.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from chatpulse.domain.timeutil import from_micros
from chatpulse.domain.window import load_zone
from chatpulse.sim import curve

# Local hours [from, until): the afternoon peak of curve.ARRIVALS (≥ 95 % of the peak rate),
# with the three hours the demo replays first (11:00–15:00) all in the busy part of the day.
AFTERNOON = (14, 15)

# In order of preference: well-known cities first; then zones without daylight saving time, one
# for each whole-hour offset from UTC−10 to UTC+13 (24 offsets: one of them is always 14:xx).
ZONES = (
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/Moscow",
    # one per offset, west to east
    "Pacific/Gambier",  # −9
    "Pacific/Pitcairn",  # −8
    "America/Phoenix",  # −7
    "America/Mexico_City",  # −6
    "America/Bogota",  # −5
    "America/Santo_Domingo",  # −4
    "Atlantic/South_Georgia",  # −2
    "Atlantic/Cape_Verde",  # −1
    "Africa/Abidjan",  # 0
    "Africa/Lagos",  # +1
    "Africa/Johannesburg",  # +2
    "Asia/Karachi",  # +5
    "Asia/Dhaka",  # +6
    "Asia/Bangkok",  # +7
    "Australia/Brisbane",  # +10
    "Pacific/Noumea",  # +11
    "Pacific/Tarawa",  # +12
    "Pacific/Tongatapu",  # +13
)


@dataclass(frozen=True, slots=True)
class DemoZone:
    name: str
    local: dt.datetime  # the instant it was chosen at, as a local time there

    @property
    def hour(self) -> float:
        """The local time of day in hours, as the daily curve reads it."""
        return self.local.hour + self.local.minute / 60 + self.local.second / 3600

    def reason(self) -> str:
        """Which zone and why, in one line."""
        return (
            f"the demo site is in {self.name}, where it is {self.local:%H:%M} now: the simulated "
            f"traffic follows the site's local time of day, and {AFTERNOON[0]}:00–"
            f"{AFTERNOON[1]}:00 is its busy afternoon, whatever the hour here"
        )


def demo_zone(now: int) -> DemoZone:
    """The first zone of ZONES whose local time at `now` (microseconds since the epoch, UTC) is
    in the AFTERNOON hours."""
    moment = from_micros(now)
    for name in ZONES:
        zone = _zone(name)
        if zone is None:  # a tz database without this name: the next one will do
            continue
        if AFTERNOON[0] <= curve.local_hour(now, zone) < AFTERNOON[1]:
            return DemoZone(name, moment.astimezone(zone))
    raise LookupError(f"no zone of the list is in the afternoon at {moment.isoformat()}")


@functools.cache
def _zone(name: str) -> dt.tzinfo | None:
    """Kept: zoneinfo would otherwise read a zone's file again once nobody holds it."""
    return load_zone(name)
