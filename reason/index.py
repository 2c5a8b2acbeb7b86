"""Keyword search over a graph's passages: BM25 (bm25s) with the project's one tokenizer
(``kg.text.tokenize``), built once per loaded graph, and the ``top_k`` helper retrieval ranks with.

>>> BM25Index(["a", "b"], ["red apples", "blue sky"]).search("apple", k=1)[0][0]
'a'
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kg.errors import ConfigError
from kg.graph import KnowledgeGraph
from kg.text import tokenize
from kg.vectors import passage_text


class BM25Index:
    """Okapi BM25 (bm25s, sparse) over texts; ``search`` returns ``(id, score)`` pairs, best first."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], k1: float = 1.2, b: float = 0.75):
        import bm25s

        if len(ids) != len(texts):
            raise ConfigError(f"BM25Index: {len(ids)} ids but {len(texts)} texts; expected one text per id")
        self.ids = tuple(ids)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.ids:
            self._bm25.index([tokenize(t) or ["\x00"] for t in texts], show_progress=False)

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "BM25Index":
        """BM25 over every passage (document title + text)."""
        ids = tuple(graph.passages)
        return cls(ids, [passage_text(graph, i) for i in ids])

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of ``query`` for every text, row-aligned with ``ids``."""
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict] if self.ids else []
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        s = self.scores(query)
        return [(self.ids[i], float(s[i])) for i in top_k(s, k) if s[i] > 0]


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Row numbers of the ``k`` highest scores, best first (ties by row number)."""
    n = len(scores)
    if k <= 0 or n == 0:
        return []
    scores = np.asarray(scores)
    part = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    return part[np.lexsort((part, -scores[part]))].tolist()  # by score, then row number
