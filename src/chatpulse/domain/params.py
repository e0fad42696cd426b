"""Query parameters as text: the one integer and boolean parser, with errors naming the field."""

from __future__ import annotations

from chatpulse.domain.errors import BadParameter


def int_param(name: str, text: str | None, default: int, low: int, high: int | None) -> int:
    """A decimal integer from `low` to `high` (None: at most nine digits), or `default` when
    absent."""
    if text is None:
        return default
    value = text.strip()
    message = f"must be an integer from {low} to {high}" if high else f"must be an integer ≥ {low}"
    digits = len(str(high)) + 1 if high is not None else 9
    if not value.isascii() or not value.lstrip("+-").isdigit() or len(value) > digits:
        raise BadParameter(name, message)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise BadParameter(name, message)
    return number


def bool_param(name: str, text: str | None) -> bool:
    """true/1/yes or false/0/no/empty, any case; absent is false."""
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise BadParameter(name, "must be true or false")
