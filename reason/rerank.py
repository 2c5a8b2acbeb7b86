"""Reranking: a model reads the question beside each of the best candidate passages and rescores them.

A ``Reranker`` scores (question, passage) pairs; ``rerank`` mixes its scores into the retriever's over
the top candidates: both standardised over the candidates, added with the reranker's ``weight``
(``retrieve.rerank_weight``), so a reranker moves the retriever's ranking rather than replacing it.
``kg tune`` trains the cross-encoder one (``CrossEncoderReranker``) on a graph's feedback and
activates it only when it retrieves the held-out questions better.

>>> class Length:
...     name = "length"
...     def score(self, question, passages):
...         return np.array([len(p) for p in passages], dtype=float)
>>> rerank("q?", [3.0, 2.0, 1.0], ["a", "bbb", "cc"], Length(), weight=2.0).round(2)
array([1., 4., 1.])
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .fusion import pool_standardize


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each passage answers the question (higher: better); any scale."""

    name: str

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray: ...


def rerank(question: str, scores: Sequence[float], texts: Sequence[str], reranker: Reranker,
           weight: float = 1.0) -> np.ndarray:
    """New scores for candidate passages (their retriever ``scores`` and ``texts``): the standardised
    retriever score plus ``weight`` times the standardised reranker score, put back on the retriever
    scores' scale (same mean and spread), so later stages that add penalties in those units still
    mean the same."""
    base = np.asarray(scores, dtype=float)
    if len(base) < 2:
        return base
    spread = base.std() or 1.0
    model = pool_standardize(np.asarray(reranker.score(question, list(texts)), dtype=float))
    return base.mean() + spread * (pool_standardize(base) + weight * model)


class CrossEncoderReranker:
    """A transformers sequence-classification model with one output (a cross-encoder) in ``folder``,
    reading "question [SEP] passage" pairs; loaded on first use, on a GPU when present."""

    def __init__(self, folder: str | Path, max_length: int = 256, batch_size: int = 32):
        self.folder, self.max_length, self.batch_size = Path(folder), max_length, batch_size
        self.name = f"cross-encoder:{self.folder.name}"
        self._model = self._tokenizer = None

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            model = AutoModelForSequenceClassification.from_pretrained(str(self.folder))
            self._model = model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
        return self._model, self._tokenizer

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        import torch

        model, tokenizer = self._load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(passages), self.batch_size):
                chunk = list(passages[i:i + self.batch_size])
                batch = tokenizer([question] * len(chunk), chunk, truncation="only_second", padding=True,
                                  max_length=self.max_length, return_tensors="pt").to(model.device)
                out.append(model(**batch).logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)
