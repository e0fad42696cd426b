"""Exact rounding (METRICS.md): halves up to integers, halves away from zero to 2 decimals."""

from __future__ import annotations

import random
from fractions import Fraction

from chatpulse.domain.arith import (
    mean,
    mean_seconds,
    percent_int,
    ratio_percent,
    round2,
    round_half_up,
)


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


def test_the_integer_rounding_of_means_and_ratios_is_round2s() -> None:
    """ratio_percent, mean_seconds and mean round in integers (no Fraction); every value they
    give must be round2's, halves included."""
    rng = random.Random(7)
    cases = [(n, d) for n in range(0, 1201) for d in (1, 2, 3, 4, 8, 200, 400, 1600, 3)]
    cases += [
        (rng.randint(0, 10 ** rng.randint(0, 15)), rng.randint(1, 10 ** rng.randint(1, 12)))
        for _ in range(20_000)
    ]
    for n, d in cases:
        assert mean(n, d) == round2(Fraction(n, d)), (n, d)
        assert ratio_percent(n, d) == round2(Fraction(100 * n, d)), (n, d)
        assert mean_seconds(n, d) == round2(Fraction(n, d * 1_000_000)), (n, d)
    assert mean_seconds(3 * 75_675_000, 3) == 75.68  # 75.675 s: the half goes up
    assert ratio_percent(1, 8) == 12.5 and ratio_percent(2, 3) == 66.67
