"""Fitting the evidence gate (``reason.sufficiency``) for ``kg tune``: when to answer "Not found".

Each of people's questions with the passages that answer it is retrieved twice by the retriever the gate
will sit behind: as it is (answerable, when a passage of every answering document was retrieved) and with
those documents excluded (unanswerable: the documents no longer hold the answer, the ablation of
``benchmarks/answers.py --ablate-gold``). The gate learns from people's questions only, as the learned
ranker does: questions generated from single facts name their passage's words and retrieve it far too
easily (on the bench sets a gate fitted on them stopped 49-76% of real unanswerable questions where one
fitted on real questions stopped 77-90%).

It is judged by cross-validation (each question scored by a gate fitted without it) and kept only when
it stops a larger share of the unanswerable questions than it loses of the answerable ones; then fitted
on all of them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from reason.sufficiency import EvidenceGate, evidence_features, fit_gate

from .data import TrainingQuestion, with_query_vectors

FOLDS = 5
K = 5
MIN_EACH = 10  # answerable and unanswerable retrievals needed to fit and judge a gate


@dataclass(frozen=True)
class GateRows:
    """One question's feature rows: retrieved as it is (None when not all its documents were retrieved,
    so it says nothing of an answerable retrieval) and with its documents excluded."""

    question: str
    answerable: np.ndarray | None
    unanswerable: np.ndarray


@dataclass(frozen=True)
class GateValidation:
    """Cross-validated shares: of the unanswerable retrievals stopped and of the answerable ones passed,
    with the gate fitted on all questions (None when it was not kept) and the counts."""

    abstained: float
    answered: float
    answerable: int
    unanswerable: int
    gate: EvidenceGate | None

    def summary(self) -> dict:
        return {"questions": self.unanswerable, "answerable": self.answerable, "folds": FOLDS,
                "abstained": round(self.abstained, 4), "answered": round(self.answered, 4),
                "kept": self.gate is not None}


def gate_rows(kb, questions: Sequence[TrainingQuestion], progress: Callable[[int], None] = lambda n: None) -> list[GateRows]:
    """``GateRows`` of each question in ``kb``'s hybrid retrieval (its ranker and reranker included); a
    question none of whose passages is in the graph has nothing to exclude and gives no rows. Each
    question's sub-queries are embedded once (as ``kb.retrieve`` embeds them) for both retrievals."""
    graph, retriever = kb.graph, kb.retriever
    out = []
    for q, vectors in with_query_vectors(kb, questions, progress):
        docs = {graph.passages[p].doc_id for p in q.positives if p in graph.passages}
        if not docs:
            continue
        normal = retriever.retrieve(q.question, k=K, mode="hybrid", vectors=vectors)
        ablated = retriever.retrieve(q.question, k=K, mode="hybrid", exclude=docs, vectors=vectors)
        out.append(GateRows(q.question, evidence_features(normal) if docs <= {e.doc_id for e in normal.evidence}
                            else None, evidence_features(ablated)))
    return out


def cross_validate_gate(rows: Sequence[GateRows], answer: float = 0.9, abstain: float = 0.9) -> GateValidation:
    """Score each question's rows by a gate fitted on the other folds (by a hash of the question), then fit
    one on all; keep it when, unseen, it stops more of the unanswerable retrievals than it loses of the
    answerable ones. Raises ValueError with fewer than ``MIN_EACH`` of either."""
    yes = sum(r.answerable is not None for r in rows)
    if yes < MIN_EACH or len(rows) < MIN_EACH:
        raise ValueError(f"the evidence gate needs {MIN_EACH} questions whose passages were all retrieved, has {yes}")
    fold_of = [int(hashlib.sha1(r.question.encode("utf-8")).hexdigest()[:8], 16) % FOLDS for r in rows]
    stopped = passed = 0
    for f in range(FOLDS):
        train = [r for r, at in zip(rows, fold_of) if at != f]
        test = [r for r, at in zip(rows, fold_of) if at == f]
        if not test:
            continue
        try:
            gate = _fit(train, answer, abstain)
        except ValueError:  # the other folds hold no answerable retrieval: no gate, nothing stopped
            passed += sum(r.answerable is not None for r in test)
            continue
        stopped += sum(not gate.score_row(r.unanswerable) > gate.threshold for r in test)
        passed += sum(gate.score_row(r.answerable) > gate.threshold for r in test if r.answerable is not None)
    abstained, answered = stopped / len(rows), passed / yes
    kept = abstained > 1.0 - answered
    return GateValidation(abstained, answered, yes, len(rows), _fit(rows, answer, abstain) if kept else None)


def _fit(rows: Sequence[GateRows], answer: float, abstain: float) -> EvidenceGate:
    return fit_gate([r.answerable for r in rows if r.answerable is not None], [r.unanswerable for r in rows],
                    answer=answer, abstain=abstain)
