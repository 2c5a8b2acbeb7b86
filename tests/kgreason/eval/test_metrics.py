"""Metric functions against hand-computed values."""
from __future__ import annotations

import math

import pytest

from kg.errors import KgError
from kgreason.eval.metrics import (
    QuestionResult, answer_in_context, dedupe, exact_match, f1_score, mean, normalize_answer, percentile,
    recall_at_k, reciprocal_rank, summarise,
)


def test_recall_counts_each_document_once_at_its_first_rank():
    ranked = ["d3", "d1", "d1", "d1", "d2"]  # d1 chunked into three passages
    assert recall_at_k(ranked, {"d1", "d2"}, 1) == 0.0
    assert recall_at_k(ranked, {"d1", "d2"}, 2) == 0.5
    assert recall_at_k(ranked, {"d1", "d2"}, 3) == 1.0  # duplicates do not use up the top 3


def test_recall_keeps_retriever_order_for_tied_scores():
    # ties in score: the ranking is the order returned, so the first of the tied pair is in the top 1
    assert recall_at_k(["g", "x"], {"g"}, 1) == 1.0
    assert recall_at_k(["x", "g"], {"g"}, 1) == 0.0


def test_recall_with_empty_retrieval_and_k_beyond_list():
    assert recall_at_k([], {"a", "b"}, 10) == 0.0
    assert recall_at_k(["a"], {"a", "b", "c", "d"}, 10) == 0.25


def test_recall_and_rr_reject_empty_gold_and_bad_k():
    with pytest.raises(KgError, match=r"^recall_at_k: gold set is empty; expected at least one gold id"):
        recall_at_k(["a"], set(), 5)
    with pytest.raises(KgError, match=r"^reciprocal_rank: gold set is empty"):
        reciprocal_rank(["a"], [])
    with pytest.raises(KgError, match=r"^recall_at_k: k must be at least 1, got 0$"):
        recall_at_k(["a"], {"a"}, 0)


def test_reciprocal_rank():
    assert reciprocal_rank(["a", "a", "b", "g"], {"g", "h"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["g"], {"g"}) == 1.0
    assert reciprocal_rank([], {"g"}) == 0.0
    assert reciprocal_rank(["x", "y"], {"g"}) == 0.0


def test_normalize_answer_squad_rules_and_unicode_punctuation():
    assert normalize_answer("The Beatles!") == "beatles"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("theater") == "theater"  # articles only as whole words
    assert normalize_answer("“Ulysses” — James Joyce’s") == "ulysses james joyces"
    assert normalize_answer("São Paulo") == "são paulo"  # accents are kept, as in SQuAD
    assert normalize_answer("¿Qué?") == "qué"
    assert normalize_answer("1,000") == "1000"
    assert normalize_answer("   ") == ""


def test_exact_match():
    assert exact_match("the eiffel tower.", ["Eiffel Tower"]) == 1.0
    assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    assert exact_match("Montréal", ["Montreal", "Montréal, Quebec"]) == 0.0
    assert exact_match("MONTRÉAL, Quebec", ["Montreal", "Montréal, Quebec"]) == 1.0
    assert exact_match("", []) == 0.0


def test_f1_hand_computed():
    # pred tokens: paris france; gold: paris -> P 1/2, R 1 -> F1 2/3
    assert f1_score("Paris, France", ["Paris"]) == pytest.approx(2 / 3)
    # best over answers: "new york city" vs "new york" -> P 2/3 R 1 -> 0.8
    assert f1_score("New York City", ["Boston", "new-york", "New York"]) == pytest.approx(0.8)
    # repeated tokens count with multiplicity: pred "x x y" vs gold "x" -> P 1/3, R 1
    assert f1_score("x x y", ["x"]) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert f1_score("", ["Paris"]) == 0.0
    assert f1_score("The", ["a"]) == 1.0  # both normalise to empty: SQuAD counts a match
    assert f1_score("Paris", []) == 0.0


def test_answer_in_context_whole_tokens_after_normalisation():
    assert answer_in_context(["Kris Benson"], ["Anna married KRIS BENSON, a pitcher."])
    assert not answer_in_context(["Benson"], ["Bensonhurst is in Brooklyn."])
    assert answer_in_context(["The Louvre"], ["in the Louvre."])
    assert not answer_in_context(["Paris"], [])
    assert not answer_in_context(["..."], ["..."])  # an answer that normalises to nothing never matches


def test_dedupe_percentile_mean():
    assert dedupe(["b", "a", "b"]) == ["b", "a"]
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))
    assert math.isnan(mean([]))
    with pytest.raises(KgError, match=r"percentile: q must be within 0..100, got 101"):
        percentile([1.0], 101)


def _r(mode, recall, rr, em, f1, latency, gold=("g",)):
    return QuestionResult("q", mode, "?", ("a",), gold, (), recall, rr, "", True, em, f1, em == 1.0, latency, 0.5,
                          {"llm_calls": 1, "prompt_tokens": 10, "completion_tokens": 2})


def test_summarise_averages_gold_metrics_only_over_questions_with_gold():
    results = [
        _r("m", {"1": 0.0, "5": 1.0}, 0.5, 1.0, 1.0, {"ask": 1.0}),
        _r("m", {"1": 1.0, "5": 1.0}, 1.0, 0.0, 0.5, {"ask": 3.0}),
        _r("m", {}, None, 0.0, 0.0, {"ask": 2.0, "ask.generate": 0.5}, gold=()),
    ]
    s = summarise(results, (1, 5))
    assert (s.questions, s.questions_with_gold) == (3, 2)
    assert s.recall == {"1": 0.5, "5": 1.0}
    assert s.mrr == 0.75
    assert s.exact_match == pytest.approx(1 / 3)
    assert s.f1 == 0.5
    assert s.latency == {"ask": {"median": 2.0, "p95": 2.9}, "ask.generate": {"median": 0.5, "p95": 0.5}}
    assert s.usage == {"llm_calls": 1.0, "prompt_tokens": 10.0, "completion_tokens": 2.0}
    assert s.usage_total == {"llm_calls": 3, "prompt_tokens": 30, "completion_tokens": 6}


def test_supported_share_counts_answered_questions_only():
    from dataclasses import replace

    base = _r("m", {}, None, 1.0, 1.0, {"ask": 1.0}, gold=())
    results = [base, replace(base, supported=False), replace(base, found=False, supported=True),
               replace(base, supported=False)]
    assert summarise(results, (5,)).supported == pytest.approx(1 / 3)
    assert math.isnan(summarise([replace(base, found=False)], (5,)).supported)
    assert QuestionResult.from_dict({k: v for k, v in base.to_dict().items() if k != "supported"}).supported is True

