"""Search structures over a graph: embedding tables (built once per build), a vector index and a BM25
index (built once per loaded graph).

``build_vectors`` embeds three kinds of items: ``passage`` (document title + passage text),
``entity`` (entity name; names only by default) and ``fact`` ("subject predicate object"; only
when asked). Ids are content-derived, so a row
of a previous build whose id and model are unchanged is reused and only new items are embedded.

>>> from kg.embedding import HashingEmbedder
>>> from kg.graph import VectorTable
>>> import numpy as np
>>> table = VectorTable(("a", "b"), HashingEmbedder(dim=32).embed(["red apple", "blue sky"]), "hashing-32")
>>> index = VectorIndex(table)
>>> [pid for pid, _ in index.search(HashingEmbedder(dim=32).embed(["red apple"])[0], k=1)]
['a']
>>> BM25Index(["a", "b"], ["red apples", "blue sky"]).search("apple", k=1)[0][0]
'a'
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from kg.config import ENTITY_VECTOR_CHOICES
from kg.embedding import Embedder
from kg.errors import ConfigError
from kg.graph import KnowledgeGraph, VectorTable
from kg.model import is_named

HNSW_THRESHOLD = 200_000  # rows; below this exact search is fast enough (see ../shared/STACK.md)

_STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there
    these they this to was will with which who whom whose what when where why how did does do was were
    been being has have had than from its his her he she him them we you your our i me my which also""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


# ---- texts of the embedded items -----------------------------------------------------------------


def passage_text(graph: KnowledgeGraph, passage_id: str) -> str:
    """The text embedded and indexed for a passage: its document title, then the passage text."""
    p = graph.passages[passage_id]
    title = graph.documents[p.doc_id].title if p.doc_id in graph.documents else ""
    return f"{title}\n{p.text}" if title else p.text


def fact_text(graph: KnowledgeGraph, relation_id: str) -> str:
    """``"subject name predicate words object name"`` for a relation (underscores become spaces)."""
    r = graph.relations[relation_id]
    pred = r.predicate.replace("_", " ")
    return f"{graph.entities[r.subject].name} {pred} {graph.entities[r.object].name}"


def item_texts(graph: KnowledgeGraph, entities: str = "named", facts: bool = False
               ) -> dict[str, tuple[tuple[str, ...], list[str]]]:
    """Table name -> (ids, texts) of every item ``build_vectors`` embeds, in the graph's order.

    ``entities`` is ``"named"`` (names only: concepts, dates and quantities get no vector) or
    ``"all"``; the ``fact`` table is empty unless ``facts``."""
    if entities not in ENTITY_VECTOR_CHOICES:
        raise ConfigError(f"index.entities: expected one of {', '.join(ENTITY_VECTOR_CHOICES)}, got {entities!r}")
    pids = tuple(graph.passages)
    eids = tuple(i for i, e in graph.entities.items() if entities == "all" or is_named(e.type))
    rids = tuple(graph.relations) if facts else ()
    return {
        "passage": (pids, [passage_text(graph, i) for i in pids]),
        "entity": (eids, [graph.entities[i].name for i in eids]),
        "fact": (rids, [fact_text(graph, i) for i in rids]),
    }


def build_vectors(
    graph: KnowledgeGraph, embedder: Embedder, previous: dict[str, VectorTable] | None = None,
    *, entities: str = "named", facts: bool = False,
) -> dict[str, VectorTable]:
    """Embed passages, entity names (``entities``: "named" or "all") and, when ``facts``, facts.
    Rows of ``previous`` with the same id and model are reused.

    >>> from kg.embedding import HashingEmbedder
    >>> build_vectors(KnowledgeGraph(), HashingEmbedder(dim=8))["passage"].vectors.shape
    (0, 8)
    """
    out: dict[str, VectorTable] = {}
    dim = 0  # known once one table has rows: an empty table then needs no probe embedding
    for name, (ids, texts) in item_texts(graph, entities, facts).items():
        old = (previous or {}).get(name)
        out[name] = _embed_table(ids, texts, embedder, old, dim)
        dim = dim or (out[name].vectors.shape[1] if len(ids) else 0)
    return out


def vectors_usable(graph: KnowledgeGraph, tables: dict[str, VectorTable], model: str) -> bool:
    """Whether stored tables fit ``graph`` and were made by ``model``: every passage has a row,
    entity and fact rows name items of the graph (a table may cover a subset of them)."""
    if any(name not in tables or tables[name].model != model for name in ("passage", "entity", "fact")):
        return False
    return (set(tables["passage"].ids) == set(graph.passages)
            and all(i in graph.entities for i in tables["entity"].ids)
            and all(i in graph.relations for i in tables["fact"].ids))


def _embed_table(
    ids: tuple[str, ...], texts: list[str], embedder: Embedder, old: VectorTable | None, dim: int = 0
) -> VectorTable:
    reuse: dict[str, int] = {}
    if old is not None and old.model == embedder.name and len(old.ids):
        reuse = {i: row for row, i in enumerate(old.ids)}
    todo = [n for n, i in enumerate(ids) if i not in reuse]
    fresh = embedder.embed([texts[n] for n in todo]) if todo else None
    dim = _dimension(embedder, fresh, old if reuse else None, dim)
    vectors = np.zeros((len(ids), dim), dtype=np.float32)
    if reuse:
        keep = [n for n, i in enumerate(ids) if i in reuse]
        vectors[keep] = old.vectors[[reuse[ids[n]] for n in keep]]
    if todo:
        vectors[todo] = fresh
    return VectorTable(ids, vectors, embedder.name)


def _dimension(embedder: Embedder, fresh: np.ndarray | None, old: VectorTable | None, known: int = 0) -> int:
    if fresh is not None:
        return int(fresh.shape[1])
    if known:
        return known
    if old is not None:
        return int(old.vectors.shape[1])
    return int(embedder.embed(["dimension probe"]).shape[1])


# ---- vector search -----------------------------------------------------------------------------


class VectorIndex:
    """Inner-product search over a ``VectorTable`` (exact below ``HNSW_THRESHOLD`` rows, HNSW above).

    ``search`` takes one query vector (L2-normalised, like the rows) and returns ``(id, cosine)``
    pairs, best first. ``scores`` gives the cosine of the query against every row (exact tables)."""

    def __init__(self, table: VectorTable, hnsw_threshold: int = HNSW_THRESHOLD):
        import faiss

        self.ids = table.ids
        self.vectors = np.ascontiguousarray(table.vectors, dtype=np.float32)
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        self.exact = len(self.ids) < hnsw_threshold
        if self.exact:
            self._index = faiss.IndexFlatIP(max(dim, 1))
        else:
            self._index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efSearch = 128
        if len(self.ids):
            self._index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        if k <= 0 or not len(self.ids):
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != self.vectors.shape[1]:
            raise ConfigError(
                f"query vector has dimension {q.shape[1]}; expected {self.vectors.shape[1]} "
                "(was the graph embedded with another model?)"
            )
        scores, rows = self._index.search(q, min(k, len(self.ids)))
        return [(self.ids[r], float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` with every row, row-aligned with ``ids``."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        return self.vectors @ np.asarray(query, dtype=np.float32).reshape(-1)


# ---- BM25 ----------------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A light English suffix stripper so that plural, past and -ing forms share one token."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed word tokens (the BM25 vocabulary).

    >>> tokenize("Who directed the films of Ada's studios?")
    ['direct', 'film', 'ada', 'studio']
    """
    words = _WORD.findall(text.casefold())
    return [_stem(w) for w in words if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())]


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
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(n)
    return sorted(part.tolist(), key=lambda i: (-scores[i], i))
