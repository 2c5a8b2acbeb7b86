"""RAG vs fine-tuning decision figures against hand-computed values, and the recommendation text."""
from __future__ import annotations

import math

import pytest

from kgreason.eval.decision import (ArmCost, Difference, break_even, cost_per_correct, paired_bootstrap, recommend,
                                    total_cost)

RAG = ArmCost("rag", one_off_usd=10.0, per_question_usd=0.002, accuracy=0.40, f1=0.45)
BOTH = ArmCost("rag+ft", one_off_usd=60.0, per_question_usd=0.001, accuracy=0.45, f1=0.50)
CLOSED = ArmCost("closed-book", one_off_usd=0.0, per_question_usd=0.0005, accuracy=0.0, f1=0.05)


def test_total_cost_and_cost_per_correct_answer():
    assert total_cost(RAG, 1000, months=12) == pytest.approx(10 + 0.002 * 12_000)
    assert total_cost(BOTH, 500, months=6) == pytest.approx(60 + 0.001 * 3_000)
    assert cost_per_correct(BOTH, 1000, months=12) == pytest.approx(72 / (0.45 * 12_000))
    assert cost_per_correct(CLOSED, 1000) is None  # nothing right: no price per right answer


def test_break_even_is_where_the_totals_meet_and_none_when_they_never_do():
    v = break_even(RAG, BOTH, months=12)
    assert v == pytest.approx(50 / 0.012)
    assert total_cost(RAG, v) == pytest.approx(total_cost(BOTH, v))
    assert break_even(BOTH, RAG) == pytest.approx(v)  # symmetric
    assert break_even(CLOSED, RAG) is None  # closed-book is cheaper up front and per question
    assert break_even(RAG, ArmCost("same", 99.0, 0.002, 0.1, 0.1)) is None  # parallel lines


def test_bootstrap_of_a_constant_difference_is_that_difference():
    d = paired_bootstrap([0.2, 0.5, 0.1], [0.3, 0.6, 0.2])
    assert (d.mean, d.low, d.high, d.b_ahead, d.questions) == pytest.approx((0.1, 0.1, 0.1, 1.0, 3))
    assert d.significant


def test_bootstrap_of_a_coin_flip_difference_spans_zero_and_is_seeded():
    a = [1, 0] * 50
    b = [0, 1] * 50  # as often better as worse
    d = paired_bootstrap(a, b, seed=1)
    assert d.mean == 0 and d.low < 0 < d.high and not d.significant and 0.3 < d.b_ahead < 0.7
    assert d == paired_bootstrap(a, b, seed=1)
    assert -0.25 < d.low < -0.15  # sd of a mean of 100 +-1 values is 0.1: the 95% interval is about +-0.2


def test_bootstrap_needs_paired_scores():
    with pytest.raises(ValueError, match="same questions, got 2 and 3"):
        paired_bootstrap([1, 0], [1, 0, 1])
    assert math.isnan(paired_bootstrap([], []).mean)


def test_the_recommendation_picks_a_cheaper_arm_that_is_not_significantly_worse():
    noise = {("rag", "rag+ft"): Difference(0.05, -0.02, 0.12, 0.9, 80)}
    text = recommend([RAG, BOTH], noise, volume=100, months=12)
    assert text.startswith("At 100 questions a month over 12 months, pick rag: F1 0.450, $12.40 in all")
    assert "rag+ft scores F1 0.500, but its gain of +0.050 is within the noise (95% interval -0.020 to +0.120 on 80 questions)" in text
    assert "rag+ft becomes cheaper than rag above 4,167 questions a month." in text


def test_the_recommendation_picks_the_best_arm_when_its_gain_is_real():
    real = {("rag", "rag+ft"): Difference(0.05, 0.02, 0.08, 0.99, 80)}
    text = recommend([RAG, BOTH], real, volume=10_000, months=12)
    assert text.startswith("At 10,000 questions a month over 12 months, pick rag+ft: F1 0.500, $180.00 in all")
    assert "Against rag (F1 0.450) its gain of +0.050 is a real gain (95% interval +0.020 to +0.080 on 80 questions)." in text
    assert "rag becomes dearer than rag+ft above 4,167 questions a month." in text


def test_tied_arms_are_ahead_in_no_resample_from_either_side():
    d = paired_bootstrap([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    r = d.reversed()
    assert (d.mean, d.low, d.high, d.b_ahead, d.b_behind) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert (r.mean, r.b_ahead, r.b_behind) == (0.0, 0.0, 0.0) and str(r.low) == "0.0"
    one_sided = paired_bootstrap([0, 0, 0, 0], [1, 1, 1, 1]).reversed()
    assert (one_sided.mean, one_sided.b_ahead, one_sided.b_behind) == (-1.0, 0.0, 1.0)
