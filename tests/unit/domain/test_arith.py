"""Exact rounding (METRICS.md): halves up to integers, halves away from zero to 2 decimals."""

from __future__ import annotations

from fractions import Fraction

from chatpulse.domain.arith import mean_seconds, percent_int, ratio_percent, round2, round_half_up


def test_a_mean_of_exactly_75_675_rounds_up() -> None:
    # 75.675 has no exact binary form: float rounding would give 75.67.
    assert round2(Fraction(75675, 1000)) == 75.68
    assert mean_seconds(75_675_000 * 2, 2) == 75.68


def test_round2_halves_away_from_zero() -> None:
    assert round2(Fraction(1, 200)) == 0.01
    assert round2(Fraction(-1, 200)) == -0.01
    assert round2(Fraction(1, 3)) == 0.33
    assert round2(Fraction(2, 3)) == 0.67


def test_ratios_are_percentages_and_zero_over_zero_is_zero() -> None:
    assert ratio_percent(5, 6) == 83.33
    assert ratio_percent(2, 3) == 66.67
    assert ratio_percent(0, 0) == 0
    assert ratio_percent(3, 6) == 50.0


def test_integer_percentages_halves_up() -> None:
    assert percent_int(1, 5) == 20
    assert percent_int(1, 8) == 13  # 12.5 -> 13
    assert percent_int(1, 3) == 33
    assert percent_int(7, 5) == 140  # not capped
    assert percent_int(3, 0) == 0
    assert round_half_up(5, 2) == 3  # 2.5 -> 3
    assert round_half_up(3, 2) == 2  # 1.5 -> 2
