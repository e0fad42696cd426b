"""Time windows of SPEC.md §2.1: a zone, then [start, end) in UTC microseconds, validated."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from chatpulse.domain.errors import BadParameter
from chatpulse.domain.timeutil import (
    DAY,
    FIRST_INSTANT,
    OUT_OF_RANGE,
    UTC,
    from_micros,
    instant_in_range,
    is_date_only,
    parse_iso,
    to_micros,
)

MAX_WINDOW = 31 * DAY
MIN_OFFSET, MAX_OFFSET = -720, 840


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open window [start, end) in microseconds since the epoch, and `now`."""

    start: int
    end: int
    now: int

    @property
    def live_end(self) -> int:
        """Sums of time are clipped to the window and to now."""
        return min(self.end, self.now)


def resolve_zone(time_zone: str | None, utc_offset: str | None, site_zone: str) -> dt.tzinfo:
    """`timeZone` wins over `utcOffset`, which wins over the site's zone."""
    if time_zone is not None:
        zone = load_zone(time_zone)
        if zone is None:
            raise BadParameter("timeZone", "must be an IANA time zone name such as America/Toronto")
        # utcOffset is still checked: a malformed value is an error even when not used.
        if utc_offset is not None:
            parse_offset(utc_offset)
        return zone
    if utc_offset is not None:
        return dt.timezone(dt.timedelta(minutes=parse_offset(utc_offset)))
    return load_zone(site_zone) or UTC


def load_zone(name: str) -> dt.tzinfo | None:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name or "\\" in name:
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_offset(text: str) -> int:
    value = text.strip()
    sign = (value[:1] in "+-" and value[:1]) or ""
    digits = value[len(sign) :]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 4:
        raise BadParameter("utcOffset", f"must be an integer from {MIN_OFFSET} to {MAX_OFFSET}")
    minutes = int(value)
    if not MIN_OFFSET <= minutes <= MAX_OFFSET:
        raise BadParameter("utcOffset", f"must be an integer from {MIN_OFFSET} to {MAX_OFFSET}")
    return minutes


def resolve_window(
    now: int,
    site_zone: str,
    time_zone: str | None = None,
    utc_offset: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
) -> Window:
    """Apply the defaults and checks of SPEC.md §2.1."""
    zone = resolve_zone(time_zone, utc_offset, site_zone)
    end = now if end_time is None else _instant("endTime", end_time, zone)
    end = min(end, now)
    if start_time is None:
        # The local day that holds the instant just before endTime: an endTime at a midnight
        # (a date alone) gives the whole day that ends there.
        if end <= FIRST_INSTANT:
            raise BadParameter("endTime", "must be later than 0001-01-01T00:00:00Z")
        start = local_midnight(end - 1, zone)
    else:
        start = _instant("startTime", start_time, zone)
    if start >= end:
        raise BadParameter("startTime", "must be earlier than endTime (and than now)")
    if end - start > MAX_WINDOW:
        raise BadParameter("startTime", "must be at most 31 days before endTime")
    return Window(start, end, now)


def local_midnight(moment: int, zone: dt.tzinfo) -> int:
    """The first instant of the local day that contains `moment` (DST-correct); no earlier than
    0001-01-01T00:00:00Z, where a zone west of UTC has its first local day begin."""
    try:
        local = from_micros(moment).astimezone(zone)
    except OverflowError:  # the local date would be in year 0
        return FIRST_INSTANT
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
    first = max(to_micros(midnight), FIRST_INSTANT)
    if first > moment:  # midnight skipped by a DST change: the day began at the transition
        first = to_micros(midnight.replace(fold=1))
    return first


def _instant(name: str, text: str, zone: dt.tzinfo) -> int:
    text = text.strip()
    moment = parse_iso(text)
    if moment is None and " " in text:  # an unencoded "+" in a query string arrives as a space
        moment = parse_iso(text.replace(" ", "+"))
    if moment is None:
        raise BadParameter(
            name, "must be an ISO 8601 date or date-time (2026-11-24, 2026-11-24T09:30:00Z)"
        )
    if is_date_only(text):
        moment = dt.datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    micros = instant_in_range(moment)
    if micros is None:
        raise BadParameter(name, OUT_OF_RANGE)
    return micros
