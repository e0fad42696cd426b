"""Instants as integer microseconds since the Unix epoch, ISO 8601 text, and .NET TimeSpan text."""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000
MINUTE = 60 * MICROS
DAY = 86_400 * MICROS

_ISO_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_FRACTION = re.compile(r"\.(\d{7,9})")


def to_micros(moment: dt.datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, no float)."""
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


def format_instant(micros: int) -> str:
    """UTC, ISO 8601 with milliseconds and Z: 2026-11-24T09:30:00.000Z."""
    moment = from_micros(micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_instant_exact(micros: int) -> str:
    """Like format_instant, with six fraction digits when the instant is not a whole millisecond."""
    if micros % 1000 == 0:
        return format_instant(micros)
    moment = from_micros(micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


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
