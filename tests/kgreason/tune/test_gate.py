"""Fitting the evidence gate for kg tune: cross-validation, the keep rule, and the too-few message."""
from __future__ import annotations

import numpy as np
import pytest

from kgreason.tune.gate import FOLDS, MIN_EACH, GateRows, cross_validate_gate
from reason.sufficiency import FEATURES

N = len(FEATURES)
TOP = np.eye(N)[FEATURES.index("top_score")]


def _rows(n: int, answerable, unanswerable) -> list[GateRows]:
    return [GateRows(f"question {i}?", None if answerable(i) is None else TOP * answerable(i), TOP * unanswerable(i))
            for i in range(n)]


def test_a_gate_that_separates_unseen_questions_is_kept_and_fitted_on_all():
    rng = np.random.default_rng(0)
    hi, lo = rng.normal(6.0, 1.0, 60), rng.normal(0.0, 1.0, 60)
    v = cross_validate_gate(_rows(60, lambda i: hi[i] if i % 4 else None, lambda i: lo[i]))
    assert (v.answerable, v.unanswerable) == (45, 60)
    # the threshold stops 90% of the unanswerable retrievals (abstain=0.9), no more, so that answers are lost last
    assert 0.85 <= v.abstained <= 0.95 and v.answered > 0.95 and v.gate is not None
    assert v.summary() == {"questions": 60, "answerable": 45, "folds": FOLDS, "abstained": round(v.abstained, 4),
                           "answered": round(v.answered, 4), "kept": True}
    assert not v.gate.score_row(TOP * 0.0) > v.gate.threshold and v.gate.score_row(TOP * 6.0) > v.gate.threshold


def test_a_gate_that_cannot_tell_them_apart_is_not_kept():
    v = cross_validate_gate(_rows(30, lambda i: float(i % 7), lambda i: float(i % 7)))  # the same retrieval twice
    assert v.abstained <= 1.0 - v.answered and v.gate is None and v.summary()["kept"] is False


def test_too_few_answerable_questions_are_named():
    rows = _rows(40, lambda i: 5.0 if i < MIN_EACH - 1 else None, lambda i: 0.0)
    with pytest.raises(ValueError, match=f"needs {MIN_EACH} questions whose passages were all retrieved, has {MIN_EACH - 1}"):
        cross_validate_gate(rows)
