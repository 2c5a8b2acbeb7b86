"""Training the learned ranker (``reason.learned_rank``) for ``kg tune``.

Each question's candidate pool is ranked by the retriever the ranker will sit behind, the passages marked
relevant are the targets, and a linear listwise fit takes a second or two on a CPU. It learns from
people's questions only (imported labels, ratings from ``kg ask --rate`` and ``kg serve``; not a judge's
verdicts, whose passages are the ones the reader already cited): questions generated from single facts are easy in ways real ones are not, and on the bench sets a ranker
fitted on them lowered Recall@5 on real questions by .05 to .11 (``benchmarks/tune_folds.py``).

Being cheap, it is judged by cross-validation over every person's question (each scored by a ranker
fitted without it), a much larger test than the held-out split alone, then fitted on all of them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from reason.learned_rank import LinearRanker, Pool, fit

from .data import TrainingQuestion, passage_recall, with_query_vectors

FOLDS = 5
MIN_PEOPLE = 20  # fewer people's questions than this say too little about what a ranker would gain
K = 5


@dataclass(frozen=True)
class CrossValidation:
    """Recall@K per question (by text) without a ranker and with one fitted without that question, the
    ranker fitted on all questions, and how many questions and folds."""

    without: dict[str, float]
    with_ranker: dict[str, float]
    ranker: LinearRanker | None
    folds: int

    @property
    def gain(self) -> float:
        keys = list(self.with_ranker)
        return float(np.mean([self.with_ranker[q] - self.without[q] for q in keys])) if keys else 0.0

    def summary(self) -> dict:
        return {"questions": len(self.without), "folds": self.folds, "k": K,
                "hybrid": round(float(np.mean(list(self.without.values()))), 4) if self.without else None,
                "ranker": round(float(np.mean(list(self.with_ranker.values()))), 4) if self.with_ranker else None}


def candidate_pools(kb, questions: Sequence[TrainingQuestion], progress: Callable[[int], None] = lambda n: None) -> list[Pool]:
    """One ``Pool`` per question: its hybrid candidates (no learned ranker applied) and their features,
    relevant where the question's positives are."""
    pools = []
    for q, vectors in with_query_vectors(kb, questions, progress):
        ids, features = kb.retriever.candidates(q.question, vectors)
        positives = set(q.positives)
        pools.append(Pool(features, np.array([p in positives for p in ids], dtype=bool)))
    return pools


def cross_validate(kb, questions: Sequence[TrainingQuestion], folds: int = FOLDS,
                   progress: Callable[[int], None] = lambda n: None) -> CrossValidation:
    """Split ``questions`` into ``folds`` by a hash of their text; score each fold's questions by hybrid
    retrieval in ``kb`` (which must have no ranker) and with a ranker fitted on the other folds; then
    fit one on all. Folds whose other folds teach nothing (no relevant candidate anywhere) keep hybrid."""
    retriever = kb.retriever
    pools = candidate_pools(kb, questions, progress)
    fold_of = [int(hashlib.sha1(q.question.encode("utf-8")).hexdigest()[:8], 16) % folds for q in questions]
    without = recalls(kb, questions)
    with_ranker: dict[str, float] = {}
    for f in range(folds):
        test = [q for q, at in zip(questions, fold_of) if at == f]
        if not test:
            continue
        model = _fit([p for p, at in zip(pools, fold_of) if at != f])
        retriever.ranker = model
        try:
            with_ranker.update(recalls(kb, test) if model is not None else {q.question: without[q.question] for q in test})
        finally:
            retriever.ranker = None
    return CrossValidation(without, with_ranker, _fit(pools), folds)


def _fit(pools: list[Pool]) -> LinearRanker | None:
    try:
        return fit(pools)
    except ValueError:  # no question with a relevant candidate (and an irrelevant one)
        return None


def recalls(kb, questions: Sequence[TrainingQuestion], k: int = K) -> dict[str, float]:
    """Recall@``k`` of each question's positives (by question text) in ``kb``'s hybrid retrieval."""
    retrievals = kb.retrieve_many([q.question for q in questions], k=k, mode="hybrid")
    return {q.question: passage_recall([e.passage_id for e in r.evidence], q.positives, k)
            for q, r in zip(questions, retrievals)}
