"""Training the learned ranker (``reason.learned_rank``) for ``kg tune``.

Each question's candidate pool is ranked by the retriever the ranker will sit behind, the passages marked
relevant are the targets, and either kind of fit takes under a second on a CPU. It learns from
people's questions only (imported labels, ratings from ``kg ask --rate`` and ``kg serve``; not a judge's
verdicts, whose passages are the ones the reader already cited): questions generated from single facts are easy in ways real ones are not, and on the bench sets a ranker
fitted on them lowered Recall@5 on real questions by .05 to .11 (``benchmarks/tune_folds.py``).

Being cheap, it is judged by cross-validation over every person's question (each scored by a ranker
fitted without it), a much larger test than the held-out split alone, then fitted on all of them. Two
kinds are cross-validated on the same folds, a linear weighing and boosted trees (which let signals count
in combination), and the one that ranks the unseen questions better is kept (linear on a tie).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from reason.learned_rank import BoostedRanker, LinearRanker, Pool, fit, fit_boosted

from .data import TrainingQuestion, passage_recall, with_query_vectors

FOLDS = 5
MIN_PEOPLE = 20  # fewer people's questions than this say too little about what a ranker would gain
K = 5
KINDS = {"linear": fit, "boosted": fit_boosted}  # in order of preference on a tie


@dataclass(frozen=True)
class CrossValidation:
    """Recall@K per question (by text) without a ranker and with one fitted without that question, the
    ranker fitted on all questions, how many folds, the kind kept and each kind's mean Recall@K."""

    without: dict[str, float]
    with_ranker: dict[str, float]
    ranker: LinearRanker | BoostedRanker | None
    folds: int
    kind: str
    kinds: dict[str, float]

    @property
    def gain(self) -> float:
        keys = list(self.with_ranker)
        return float(np.mean([self.with_ranker[q] - self.without[q] for q in keys])) if keys else 0.0

    def summary(self) -> dict:
        return {"questions": len(self.without), "folds": self.folds, "k": K,
                "hybrid": round(float(np.mean(list(self.without.values()))), 4) if self.without else None,
                "ranker": round(float(np.mean(list(self.with_ranker.values()))), 4) if self.with_ranker else None,
                "kind": self.kind, "kinds": {k: round(v, 4) for k, v in self.kinds.items()}}


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
                   progress: Callable[[int], None] = lambda n: None, kinds: Sequence[str] = tuple(KINDS)) -> CrossValidation:
    """Split ``questions`` into ``folds`` by a hash of their text; score each fold's questions by hybrid
    retrieval in ``kb`` (which must have no ranker) and, for each of ``kinds``, with a ranker of that
    kind fitted on the other folds; keep the kind whose unseen questions scored best (the first of
    ``kinds`` on a tie) and fit it on all. Folds whose other folds teach nothing (no relevant candidate
    anywhere) keep hybrid."""
    retriever = kb.retriever
    pools = candidate_pools(kb, questions, progress)
    fold_of = [int(hashlib.sha1(q.question.encode("utf-8")).hexdigest()[:8], 16) % folds for q in questions]
    without = recalls(kb, questions)
    scored: dict[str, dict[str, float]] = {}
    for kind in kinds:
        with_ranker: dict[str, float] = {}
        for f in range(folds):
            test = [q for q, at in zip(questions, fold_of) if at == f]
            if not test:
                continue
            model = _fit([p for p, at in zip(pools, fold_of) if at != f], kind)
            retriever.ranker = model
            try:
                with_ranker.update(recalls(kb, test) if model is not None else {q.question: without[q.question] for q in test})
            finally:
                retriever.ranker = None
        scored[kind] = with_ranker
    means = {kind: float(np.mean(list(r.values()))) if r else 0.0 for kind, r in scored.items()}
    best = max(kinds, key=lambda kind: (means[kind], -list(kinds).index(kind)))
    return CrossValidation(without, scored[best], _fit(pools, best), folds, best, means)


def _fit(pools: list[Pool], kind: str = "linear") -> LinearRanker | BoostedRanker | None:
    try:
        return KINDS[kind](pools)
    except ValueError:  # no question with a relevant candidate (and an irrelevant one)
        return None


def recalls(kb, questions: Sequence[TrainingQuestion], k: int = K) -> dict[str, float]:
    """Recall@``k`` of each question's positives (by question text) in ``kb``'s hybrid retrieval."""
    retrievals = kb.retrieve_many([q.question for q in questions], k=k, mode="hybrid")
    return {q.question: passage_recall([e.passage_id for e in r.evidence], q.positives, k)
            for q, r in zip(questions, retrievals)}
