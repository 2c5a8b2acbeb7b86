"""Vectors of a graph's items: the tables a build embeds and stores with the graph, and
inner-product search over them (faiss).

``build_vectors`` embeds three kinds of items: ``passage`` (document title + passage text),
``entity`` (entity name; names only by default) and ``fact`` ("subject predicate object"; only
when asked). Ids are content-derived, so a row of a previous build whose id and model are
unchanged is reused and only new items are embedded. ``VectorIndex`` is the one faiss set-up of
the project: retrieval searches passages, entity names and facts with it, and entity resolution
finds similar names with it.

>>> from kg.embedding import HashingEmbedder
>>> table = VectorTable(("a", "b"), HashingEmbedder(dim=32).embed(["red apple", "blue sky"]), "hashing-32")
>>> index = VectorIndex(table)
>>> [pid for pid, _ in index.search(HashingEmbedder(dim=32).embed(["red apple"])[0], k=1)]
['a']
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .config import ENTITY_VECTOR_CHOICES
from .embedding import Embedder
from .errors import ConfigError
from .graph import KnowledgeGraph, VectorTable
from .model import is_named

# rows; below this exact search is fast enough (see ../shared/STACK.md), above it HNSW
HNSW_THRESHOLD = 200_000
EXACT_BLOCK = 1 << 22  # scores held at once by an exact search of many queries (16 MB of float32, 32 MB
# of partial-sort indices; larger blocks were no faster and held 250 MB more in a 10,000-passage build)
HNSW_LINKS, HNSW_EF_SEARCH = 32, 128  # faiss IndexHNSWFlat M, and candidates kept while searching
EMBED_CHUNK = 4096  # texts per embedder call during a build


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
    *, entities: str = "named", facts: bool = False, progress: Callable[[int], None] | None = None,
) -> dict[str, VectorTable]:
    """Embed passages, entity names (``entities``: "named" or "all") and, when ``facts``, facts.
    Rows of ``previous`` with the same id and model are reused. ``progress(n)`` is called as ``n``
    more items are done (reused rows count at once), for a progress bar.

    >>> from kg.embedding import HashingEmbedder
    >>> build_vectors(KnowledgeGraph(), HashingEmbedder(dim=8))["passage"].vectors.shape
    (0, 8)
    """
    out: dict[str, VectorTable] = {}
    dim = 0  # known once one table has rows: an empty table then needs no probe embedding
    for name, (ids, texts) in item_texts(graph, entities, facts).items():
        old = (previous or {}).get(name)
        out[name] = _embed_table(ids, texts, embedder, old, dim, progress or (lambda n: None))
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


def aligned(table: VectorTable, ids: tuple[str, ...]) -> VectorTable:
    """``table`` with its rows in the order of ``ids`` (each of which it holds).

    >>> aligned(VectorTable(("a", "b"), np.eye(2, dtype=np.float32), "m"), ("b", "a")).vectors.tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    if table.ids == ids:
        return table
    row = {i: n for n, i in enumerate(table.ids)}
    return VectorTable(ids, table.vectors[[row[i] for i in ids]], table.model)


def _embed_table(
    ids: tuple[str, ...], texts: list[str], embedder: Embedder, old: VectorTable | None, dim: int,
    progress: Callable[[int], None],
) -> VectorTable:
    reuse: dict[str, int] = {}
    if old is not None and old.model == embedder.name and len(old.ids):
        reuse = {i: row for row, i in enumerate(old.ids)}
    todo = [n for n, i in enumerate(ids) if i not in reuse]
    progress(len(ids) - len(todo))
    vectors = None
    if todo:  # each chunk goes straight into the table: no list of parts, no second copy of the table
        for start in range(0, len(todo), EMBED_CHUNK):
            rows = todo[start:start + EMBED_CHUNK]
            fresh = embedder.embed([texts[n] for n in rows])
            if vectors is None:
                vectors = np.zeros((len(ids), fresh.shape[1]), dtype=np.float32)
            vectors[rows] = fresh
            progress(len(rows))
    if vectors is None:
        vectors = np.zeros((len(ids), _dimension(embedder, old if reuse else None, dim)), dtype=np.float32)
    if reuse:
        keep = [n for n, i in enumerate(ids) if i in reuse]
        vectors[keep] = old.vectors[[reuse[ids[n]] for n in keep]]
    return VectorTable(ids, vectors, embedder.name)


def _dimension(embedder: Embedder, old: VectorTable | None, known: int = 0) -> int:
    if known:
        return known
    if old is not None:
        return int(old.vectors.shape[1])
    return int(embedder.embed(["dimension probe"]).shape[1])


# ---- vector search -----------------------------------------------------------------------------


class VectorSearch(Protocol):
    """What retrieval needs of a table of L2-normalised vectors: its ``ids``, the nearest rows of
    query vectors, and the vectors of given rows. ``VectorIndex`` holds them in memory; a published
    graph's tables answer from PostgreSQL (``kg.pgstore.PgVectorIndex``)."""

    ids: tuple[str, ...]

    def __len__(self) -> int: ...
    def search_rows(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]: ...
    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]: ...
    def rows(self, rows: np.ndarray) -> np.ndarray: ...
    def matrix(self) -> np.ndarray: ...


class VectorIndex:
    """Inner-product search over a ``VectorTable``: exact (numpy) below ``hnsw_threshold`` rows, a faiss
    HNSW graph above.

    Building an HNSW graph takes minutes for a million rows, so with ``cache`` (a folder) it is
    written there once as ``NAME-FINGERPRINT.hnsw`` and read back by later loads of the same table
    (same ids, vectors and model: the fingerprint is a hash of them). The file is written whole and
    swapped in, other files of the same ``name`` are removed, and a file that cannot be read is
    rebuilt, never trusted.

    ``search`` takes one query vector (L2-normalised, like the rows) and returns ``(id, cosine)``
    pairs, best first. ``scores`` gives the cosine of the query against every row (exact tables)."""

    def __init__(self, table: VectorTable, hnsw_threshold: int = HNSW_THRESHOLD, cache: Path | None = None,
                 name: str = "vectors", block: int = EXACT_BLOCK):
        self.ids = table.ids
        self.block = block  # exact search: query rows x table rows scored at once, at most
        self.vectors = np.ascontiguousarray(table.vectors, dtype=np.float32)
        self.exact = len(self.ids) < hnsw_threshold
        self.loaded_from_cache = False
        if not self.exact:
            self._index = self._hnsw(table.model, cache, name)

    def _hnsw(self, model: str, cache: Path | None, name: str):
        import faiss

        path = None
        if cache is not None:
            path = Path(cache) / f"{name}-{_fingerprint(self.ids, self.vectors, model)}.hnsw"
            if path.is_file():
                try:
                    index = faiss.read_index(str(path))
                    if index.ntotal == len(self.ids) and index.d == self.vectors.shape[1]:
                        index.hnsw.efSearch = HNSW_EF_SEARCH
                        self.loaded_from_cache = True
                        return index
                except RuntimeError:  # a truncated or foreign file: build afresh below
                    pass
        index = faiss.IndexHNSWFlat(self.vectors.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = HNSW_EF_SEARCH
        index.add(self.vectors)
        if path is not None:
            _write_index(index, path, name)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows closest to one query vector, as ``(id, cosine)``, best first."""
        return self.search_many(np.asarray(query, dtype=np.float32).reshape(1, -1), k)[0]

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """``search`` for each row of ``queries`` (one faiss call for all of them)."""
        return [[(self.ids[r], float(s)) for r, s in zip(row_ids.tolist(), row_scores)]
                for row_ids, row_scores in self.search_rows(queries, k)]

    def search_rows(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each row of ``queries``, ``(rows, cosines)`` of its ``k`` nearest rows, best first
        (row numbers of ``ids``; exact tables find the true top ``k``, HNSW an approximation)."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32))
        if k <= 0 or not len(self.ids):
            return [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in range(len(q))]
        if q.ndim != 2 or q.shape[1] != self.vectors.shape[1]:
            raise ConfigError(
                f"query vectors have shape {q.shape}; expected (n, {self.vectors.shape[1]}) "
                "(was the graph embedded with another model?)"
            )
        k = min(k, len(self.ids))
        if self.exact:  # a product and a partial sort: no thread pool to wake (faiss's stalls behind onnxruntime's)
            # in blocks of queries: all names against all names (resolution) would be an n x n matrix
            step = max(1, self.block // max(1, len(self.ids)))
            return [hit for at in range(0, len(q), step) for hit in top_rows(q[at:at + step] @ self.vectors.T, k)]
        scores, rows = self._index.search(q, k)
        return [(r[r >= 0].astype(np.int64), s[r >= 0]) for r, s in zip(rows, scores)]

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` (row numbers of ``ids``), in that order."""
        return self.vectors[np.asarray(rows, dtype=np.int64)]

    def matrix(self) -> np.ndarray:
        """Every vector, row-aligned with ``ids`` (for scoring a small table whole)."""
        return self.vectors

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` with every row, row-aligned with ``ids``."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        return self.vectors @ np.asarray(query, dtype=np.float32).reshape(-1)


def top_rows(scores: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each row of a (queries x items) score matrix, ``(items, scores)`` of its ``k`` best, best first.

    >>> [(r.tolist(), s.tolist()) for r, s in top_rows(np.array([[0.1, 0.9, 0.5]]), 2)]
    [([1, 2], [0.9, 0.5])]
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=scores.dtype)) for _ in scores]
    rows = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(k), (len(scores), 1))
    rows = np.take_along_axis(rows, np.argsort(-np.take_along_axis(scores, rows, 1), axis=1, kind="stable"), 1)
    return [(r.astype(np.int64), s[r]) for r, s in zip(rows, scores)]


def _fingerprint(ids: tuple[str, ...], vectors: np.ndarray, model: str) -> str:
    """A hash of a table's ids, vectors and model, and of the HNSW settings: the cache key."""
    import faiss

    h = hashlib.blake2b(digest_size=12)
    h.update(f"{model}\x00{vectors.shape}\x00{HNSW_LINKS}\x00{faiss.__version__}\x00".encode())
    h.update("\x00".join(ids).encode())
    h.update(memoryview(vectors).cast("B"))
    return h.hexdigest()


def _write_index(index, path: Path, name: str) -> None:
    """Write ``index`` to ``path`` whole (a temporary file swapped in), then remove older files of
    ``name``. A cache that cannot be written (read-only folder, full disk) is skipped: it only saves time."""
    import faiss

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(tmp))
        os.replace(tmp, path)
        for old in path.parent.glob(f"{name}-*.hnsw"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, RuntimeError):  # faiss reports a failed write as RuntimeError
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
