"""Exact rounding of METRICS.md: halves up to an integer, halves away from zero to 2 decimals."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from chatpulse.domain.timeutil import MICROS


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator to the nearest integer, halves up (both ≥ 0); 0 when ÷ 0."""
    if denominator == 0:
        return 0
    return (2 * numerator + denominator) // (2 * denominator)


def percent_int(part: int, whole: int) -> int:
    """part ÷ whole × 100 as an integer percentage, halves up; 0 when whole is 0."""
    return round_half_up(100 * part, whole)


def round2(value: Fraction) -> float:
    """A JSON number rounded to 2 decimals, halves away from zero, decided exactly."""
    scaled = abs(value) * 100
    whole, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        whole += 1
    result = Decimal(whole) / 100
    return float(-result if value < 0 else result)


def _quotient2(numerator: int, denominator: int) -> float:
    """numerator ÷ denominator (numerator ≥ 0, denominator > 0) rounded to 2 decimals, halves
    up, in integers: what round2 decides, without building a Fraction (Intervals rounds a
    dozen figures per bucket). The hundredths h are exact, and h / 100 is the double nearest
    to the decimal, as float(Decimal(h) / 100) is: IEEE division rounds correctly."""
    hundredths = (200 * numerator + denominator) // (2 * denominator)
    return hundredths / 100


def ratio_percent(part: int, whole: int) -> float:
    """part ÷ whole × 100, rounded to 2 decimals; 0 when whole is 0."""
    if whole == 0:
        return 0
    if part < 0 or whole < 0:
        return round2(Fraction(100 * part, whole))
    return _quotient2(100 * part, whole)


def mean_seconds(total_micros: int, count: int) -> float:
    """The mean of `count` durations totalling `total_micros`, in seconds, to 2 decimals."""
    if count == 0:
        return 0
    if total_micros < 0 or count < 0:
        return round2(Fraction(total_micros, count * MICROS))
    return _quotient2(total_micros, count * MICROS)


def mean(total: int, count: int) -> float:
    if count == 0:
        return 0
    if total < 0 or count < 0:
        return round2(Fraction(total, count))
    return _quotient2(total, count)


__all__ = ["mean", "mean_seconds", "percent_int", "ratio_percent", "round2"]
