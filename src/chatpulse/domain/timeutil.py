"""Instants as integer microseconds since the Unix epoch, ISO 8601 text, and .NET TimeSpan text."""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000
MINUTE = 60 * MICROS
DAY = 86_400 * MICROS
# Every instant ChatPulse takes or gives falls in UTC years 0001 to 9999 (what ISO 8601's
# four-digit years, and Python's datetime, can write): 0001-01-01T00:00:00+14:00 does not.
OUT_OF_RANGE = "must fall in the UTC years 0001 to 9999"

_ISO_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_FRACTION = re.compile(r"\.(\d{7,9})")


def to_micros(moment: dt.datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, no float)."""
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


FIRST_INSTANT = to_micros(dt.datetime(1, 1, 1, tzinfo=UTC))
LAST_INSTANT = to_micros(dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))


def instant_in_range(moment: dt.datetime) -> int | None:
    """An aware datetime as microseconds, or None when its UTC value is outside years 1–9999
    (the offset can push a valid local text out: 0001-01-01T00:00:00+14:00)."""
    micros = to_micros(moment)
    return micros if FIRST_INSTANT <= micros <= LAST_INSTANT else None


def _seconds_text(moment: dt.datetime) -> str:
    # Not strftime: %Y writes year 999 as "999" on some platforms; ISO 8601 wants four digits.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
    )


def format_instant(micros: int) -> str:
    """UTC, ISO 8601 with milliseconds and Z: 2026-11-24T09:30:00.000Z."""
    moment = from_micros(micros)
    return _seconds_text(moment) + f"{moment.microsecond // 1000:03d}Z"


def format_instant_exact(micros: int) -> str:
    """Like format_instant, with six fraction digits when the instant is not a whole millisecond."""
    if micros % 1000 == 0:
        return format_instant(micros)
    moment = from_micros(micros)
    return _seconds_text(moment) + f"{moment.microsecond:06d}Z"


def parse_iso(text: str) -> dt.datetime | None:
    """Parse ISO 8601 date or date-time; naive when no offset is given; None when unparsable.

    Fractions beyond microseconds are truncated (ISO allows them, Python does not).
    """
    text = text.strip()
    if not _ISO_SHAPE.match(text):
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text)
    if text.endswith(("z",)):
        text = text[:-1] + "Z"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def is_date_only(text: str) -> bool:
    return len(text.strip()) == 10


def format_timespan(micros: int) -> str:
    """.NET TimeSpan constant format: [d.]hh:mm:ss[.fffffff] (days only when ≥ 1 day)."""
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, fraction = divmod(micros, MICROS)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{sign}{days}." if days else sign
    text += f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += f".{fraction * 10:07d}"
    return text
