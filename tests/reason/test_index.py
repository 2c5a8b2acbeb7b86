"""The BM25 index and ranking helper."""
from __future__ import annotations

import numpy as np
import pytest

from kg.errors import ConfigError
from kg.graph import KnowledgeGraph
from kg.model import Document, Passage
from reason.index import BM25Index, top_k


def test_bm25_ranks_by_term_overlap():
    index = BM25Index(["a", "b", "c"], ["the red apple tree", "a blue sky over the sea", "red red sky"])
    hits = index.search("red sky", 3)
    assert [i for i, _ in hits] == ["c", "a", "b"]  # a is shorter than b: same idf, higher tf weight
    assert all(s > 0 for _, s in hits)
    assert index.search("unknownword", 3) == []
    assert index.scores("").tolist() == [0.0, 0.0, 0.0]


def test_bm25_from_graph_indexes_title_and_text():
    docs, pas = {}, {}
    for title, text in [("Ada", "Ada wrote notes."), ("Bob", "Bob met Ada.")]:
        d = Document.from_text(text, source=f"{title}.txt", title=title)
        docs[d.id] = d
        pas[f"{d.id}:p0"] = Passage(f"{d.id}:p0", d.id, 0, 0, len(text), text)
    g = KnowledgeGraph(documents=docs, passages=pas)
    index = BM25Index.from_graph(g)
    (pid, _), *_ = index.search("notes", 1)
    assert g.passages[pid].text == "Ada wrote notes."


def test_bm25_rejects_misaligned_input():
    with pytest.raises(ConfigError, match="BM25Index: 2 ids but 1 texts"):
        BM25Index(["a", "b"], ["x"])


def test_top_k_orders_and_breaks_ties_by_row():
    assert top_k(np.array([0.1, 0.5, 0.5, 0.9]), 3) == [3, 1, 2]
    assert top_k(np.array([1.0]), 5) == [0]
    assert top_k(np.array([]), 2) == []
