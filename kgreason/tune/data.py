"""Training data for ``kg tune``, from the graph's feedback store.

A training question is a question with the passages that answer it: from people (imported labels, or a
verdict with passages marked relevant) and from the questions generated from the graph's facts. Each
question goes to training or validation by a hash of its text (``validation`` share, 20% by default),
so a question is never trained on and validated on, and the split does not move when feedback arrives.
Hard negatives are the passages the current retriever ranks highest that are not marked relevant.

>>> split([TrainingQuestion("q%d" % i, ("p",), "human") for i in range(10)], 0.2)[1]  # doctest: +ELLIPSIS
[...]
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from kg.model import Feedback
from reason.retrieve import queries


@dataclass(frozen=True)
class TrainingQuestion:
    """A question, the passage ids that answer it, where it came from (a feedback source), and its
    answer ('' when the feedback gave none: a "partly" verdict without a correction)."""

    question: str
    positives: tuple[str, ...]
    source: str
    answer: str = ""


def training_questions(records: Sequence[Feedback], passages: set[str]) -> list[TrainingQuestion]:
    """One question per distinct question text with at least one relevant passage still in the graph
    (good or partly verdicts; a person's record outranks a judge's, as ``effective`` decided)."""
    out: dict[str, TrainingQuestion] = {}
    for f in records:
        positives = tuple(p for p in f.relevant if p in passages)
        if f.verdict == "bad" or not positives:
            continue
        if f.question not in out or (f.is_human and not out[f.question].source == "human"):
            answer = f.correction or (f.answer if f.verdict == "good" else "")
            out[f.question] = TrainingQuestion(f.question, positives, f.source, answer.strip())
    return [out[q] for q in sorted(out)]


def split(questions: Sequence[TrainingQuestion], validation: float = 0.2) -> tuple[list, list]:
    """(training, validation) by a stable hash of each question's text."""
    train, val = [], []
    for q in questions:
        bucket = int(hashlib.sha1(q.question.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
        (val if bucket < validation else train).append(q)
    return train, val


def passage_recall(ranked: Sequence[str], positives: Sequence[str], k: int) -> float:
    """Share of ``positives`` among the first ``k`` ranked passage ids.

    >>> passage_recall(["a", "x", "b"], ["a", "b"], 2)
    0.5
    """
    return len(set(ranked[:k]) & set(positives)) / len(set(positives)) if positives else 0.0


def with_query_vectors(kb, questions: Sequence[TrainingQuestion], progress: Callable[[int], None] = lambda n: None
                       ) -> Iterator[tuple[TrainingQuestion, np.ndarray]]:
    """Each question with the embeddings of its retrieval queries (``reason.retrieve.queries``), made in
    one embedder call per question as ``kb.retrieve`` makes them: a vector made in a batch of other
    questions differs (the int8 embedder scales a call's activations together), and a ranker fitted
    on such pools gained .003 less Recall@5 on MuSiQue's second fold than one fitted on the served vectors.
    ``progress`` gets 1 per question once it is used."""
    for q in questions:
        yield q, kb.embedder.embed(queries(q.question))
        progress(1)
