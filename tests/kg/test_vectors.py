"""Embedding tables of a graph and the vector index."""
from __future__ import annotations

import numpy as np
import pytest

from kg.errors import ConfigError
from kg.graph import KnowledgeGraph, VectorTable
from kg.model import Document, Entity, Passage, Provenance, Relation
from kg.vectors import VectorIndex, build_vectors, item_texts, vectors_usable


class CountingEmbedder:
    """Fixed 3-d vectors by keyword; records every text it was asked to embed."""

    name = "counting"

    def __init__(self):
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen.extend(texts)
        rows = [[1.0 if "ada" in t.casefold() else 0.0, 1.0 if "bob" in t.casefold() else 0.0, 1.0] for t in texts]
        v = np.asarray(rows, dtype=np.float32).reshape(len(texts), 3)
        return v / np.linalg.norm(v, axis=1, keepdims=True) if len(texts) else v


def _graph(extra: bool = False) -> KnowledgeGraph:
    docs, pas = {}, {}
    for title, text in [("Ada", "Ada wrote notes."), ("Bob", "Bob met Ada.")] + ([("Cy", "Cy sang.")] if extra else []):
        d = Document.from_text(text, source=f"{title}.txt", title=title)
        docs[d.id] = d
        pas[f"{d.id}:p0"] = Passage(f"{d.id}:p0", d.id, 0, 0, len(text), text)
    ents = {"e1": Entity("e1", "Ada", "PERSON"), "e2": Entity("e2", "Bob", "PERSON")}
    first = next(iter(pas.values()))
    prov = Provenance(first.doc_id, first.id, 0, 11, "Bob met Ada.", 0.9)
    rels = {"r1": Relation("r1", "e2", "met_with", "e1", 0.9, (prov,))}
    return KnowledgeGraph(documents=docs, passages=pas, entities=ents, relations=rels)


def test_item_texts_use_title_names_and_predicate_words():
    texts = item_texts(_graph(), facts=True)
    assert sorted(texts["passage"][1]) == ["Ada\nAda wrote notes.", "Bob\nBob met Ada."]
    assert texts["entity"] == (("e1", "e2"), ["Ada", "Bob"])
    assert texts["fact"] == (("r1",), ["Bob met with Ada"])


def test_item_texts_skip_facts_and_unnamed_entities_by_default():
    graph = _graph()
    graph.entities["e3"] = Entity("e3", "notes", "CONCEPT")
    graph.entities["e4"] = Entity("e4", "1843", "DATE")
    texts = item_texts(graph)
    assert texts["entity"] == (("e1", "e2"), ["Ada", "Bob"])
    assert texts["fact"] == ((), [])
    assert item_texts(graph, entities="all")["entity"][0] == ("e1", "e2", "e3", "e4")
    with pytest.raises(ConfigError, match=r"^index.entities: expected one of named, all, got 'some'$"):
        item_texts(graph, entities="some")


def test_stored_tables_are_usable_when_they_fit_the_graph_and_model():
    graph = _graph()
    tables = build_vectors(graph, CountingEmbedder())
    assert vectors_usable(graph, tables, "counting")
    assert not vectors_usable(graph, tables, "other-model")
    graph.entities["e3"] = Entity("e3", "notes", "CONCEPT")  # entity rows may cover a subset
    assert vectors_usable(graph, tables, "counting")
    extra = _graph(extra=True)  # a passage without a row
    assert not vectors_usable(extra, tables, "counting")
    assert not vectors_usable(graph, {k: v for k, v in tables.items() if k != "fact"}, "counting")


def test_empty_fact_table_takes_the_dimension_of_the_others_without_a_probe():
    emb = CountingEmbedder()
    tables = build_vectors(_graph(), emb)
    assert tables["fact"].vectors.shape == (0, 3)
    assert "dimension probe" not in emb.seen


def test_build_vectors_reuses_previous_rows():
    emb = CountingEmbedder()
    first = build_vectors(_graph(), emb, facts=True)
    assert first["passage"].vectors.shape == (2, 3) and first["passage"].model == "counting"
    assert len(emb.seen) == 2 + 2 + 1
    emb.seen.clear()
    second = build_vectors(_graph(extra=True), emb, first, facts=True)
    assert emb.seen == ["Cy\nCy sang."]  # only the new passage is embedded
    assert second["entity"].ids == ("e1", "e2")
    row = second["passage"].ids.index(first["passage"].ids[0])
    assert np.array_equal(second["passage"].vectors[row], first["passage"].vectors[0])


def test_build_vectors_reembeds_when_model_changed():
    emb = CountingEmbedder()
    old = build_vectors(_graph(), emb)
    other = CountingEmbedder()
    other.name = "other"
    build_vectors(_graph(), other, old)
    assert len(other.seen) == 2 + 2  # passages and names; no facts unless asked


def test_vector_index_exact_and_hnsw_agree_on_ranking():
    v = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=np.float32)
    table = VectorTable(("a", "b", "c"), v, "m")
    q = np.array([1, 0, 0], dtype=np.float32)
    exact = VectorIndex(table)
    assert exact.exact
    assert [(i, round(s, 4)) for i, s in exact.search(q, 2)] == [("a", 1.0), ("b", 0.8)]
    hnsw = VectorIndex(table, hnsw_threshold=2)
    assert not hnsw.exact
    assert [i for i, _ in hnsw.search(q, 3)] == ["a", "b", "c"]
    assert exact.scores(q).tolist() == pytest.approx([1.0, 0.8, 0.0])


def test_vector_index_rejects_wrong_dimension():
    index = VectorIndex(VectorTable(("a",), np.ones((1, 3), dtype=np.float32), "m"))
    with pytest.raises(ConfigError, match=r"query vectors have shape \(1, 2\); expected \(n, 3\)"):
        index.search(np.ones(2, dtype=np.float32), 1)
    assert VectorIndex(VectorTable((), np.zeros((0, 3), dtype=np.float32))).search(np.ones(3), 5) == []


def test_search_many_answers_each_query_in_order():
    table = VectorTable(("a", "b"), np.eye(2, dtype=np.float32), "m")
    hits = VectorIndex(table).search_many(np.array([[0, 1], [1, 0]], dtype=np.float32), 1)
    assert [h[0][0] for h in hits] == ["b", "a"]


def test_build_vectors_reports_progress_per_item_reused_rows_at_once():
    g = _graph()
    steps: list[int] = []
    first = build_vectors(g, CountingEmbedder(), progress=steps.append)
    assert sum(steps) == sum(len(t.ids) for t in first.values())
    steps.clear()
    build_vectors(g, CountingEmbedder(), first, progress=steps.append)
    assert sum(steps) == sum(len(t.ids) for t in first.values()) and steps.count(0) <= 3  # all reused


def test_build_vectors_in_chunks_write_the_same_rows(monkeypatch):
    import kg.vectors

    whole = build_vectors(_graph(extra=True), CountingEmbedder(), facts=True)
    monkeypatch.setattr(kg.vectors, "EMBED_CHUNK", 2)
    emb, steps = CountingEmbedder(), []
    chunked = build_vectors(_graph(extra=True), emb, facts=True, progress=steps.append)
    for name in whole:
        assert chunked[name].ids == whole[name].ids
        assert np.array_equal(chunked[name].vectors, whole[name].vectors) and chunked[name].vectors.dtype == np.float32
    assert steps == [0, 2, 1, 0, 2, 0, 1]  # passages 2 + 1, names 2, facts 1: a step per chunk


def test_cached_embedder_frozen_serves_what_it_holds_and_keeps_nothing_new():
    from kg.embedding import CachedEmbedder

    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    names = cached.embed(["Ada", "Bob"])
    cached.freeze()
    inner.seen.clear()
    out = cached.embed(["Bob", "Bob met Ada.", "Bob met Ada."])
    assert inner.seen == ["Bob met Ada."] and len(cached) == 2  # served, embedded once, not kept
    assert np.array_equal(out[0], names[1]) and np.array_equal(out[1], out[2])


def _unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_hnsw_index_is_kept_in_the_cache_and_read_back_with_the_same_answers(tmp_path):
    v = _unit_rows(300)
    table = VectorTable(tuple(f"p{i}" for i in range(300)), v, "m")
    first = VectorIndex(table, hnsw_threshold=100, cache=tmp_path, name="passage")
    again = VectorIndex(table, hnsw_threshold=100, cache=tmp_path, name="passage")
    assert (first.loaded_from_cache, again.loaded_from_cache) == (False, True)
    assert len(list(tmp_path.glob("passage-*.hnsw"))) == 1
    for q in v[:20]:
        assert again.search(q, 5) == first.search(q, 5)
    # other vectors (a tuned embedder, new passages): a new file, and the old one is removed
    changed = VectorTable(table.ids, _unit_rows(300, seed=1), "m")
    assert not VectorIndex(changed, hnsw_threshold=100, cache=tmp_path, name="passage").loaded_from_cache
    assert len(list(tmp_path.glob("passage-*.hnsw"))) == 1
    # another table's file is left alone
    VectorIndex(VectorTable(table.ids, v, "m"), hnsw_threshold=100, cache=tmp_path, name="entity")
    assert len(list(tmp_path.glob("*.hnsw"))) == 2


def test_a_damaged_cache_file_is_rebuilt_not_trusted(tmp_path):
    table = VectorTable(tuple(f"p{i}" for i in range(200)), _unit_rows(200), "m")
    VectorIndex(table, hnsw_threshold=100, cache=tmp_path, name="passage")
    (path,) = tmp_path.glob("passage-*.hnsw")
    path.write_bytes(path.read_bytes()[:1000])  # an interrupted copy
    index = VectorIndex(table, hnsw_threshold=100, cache=tmp_path, name="passage")
    assert not index.loaded_from_cache
    assert index.search(table.vectors[7], 1)[0][0] == "p7"
    assert VectorIndex(table, hnsw_threshold=100, cache=tmp_path, name="passage").loaded_from_cache  # rewritten whole


def test_an_unwritable_cache_only_costs_time(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    table = VectorTable(tuple(f"p{i}" for i in range(150)), _unit_rows(150), "m")
    index = VectorIndex(table, hnsw_threshold=100, cache=blocker / "indexes", name="passage")
    assert index.search(table.vectors[3], 1)[0][0] == "p3" and not index.loaded_from_cache


def test_exact_search_of_many_queries_runs_in_blocks_with_the_same_result():
    """All names against all names (entity resolution) must not hold an n x n score matrix."""
    from kg.graph import VectorTable
    from kg.vectors import VectorIndex

    grid = np.arange(50)[:, None] * (np.arange(6)[None, :] + 1) * 0.41
    v = np.where(np.arange(6) % 2 == 0, np.cos(grid), np.sin(grid)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    table = VectorTable(tuple(f"n{i}" for i in range(50)), v, "fixed")
    whole, blocked = VectorIndex(table), VectorIndex(table, block=120)  # 2 query rows per product
    for (rows, scores), (want_rows, want_scores) in zip(blocked.search_rows(v, 4), whole.search_rows(v, 4)):
        assert rows.tolist() == want_rows.tolist() and np.allclose(scores, want_scores)
    assert len(blocked.search_rows(v, 4)) == 50
