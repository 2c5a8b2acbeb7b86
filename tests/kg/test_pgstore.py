"""The PostgreSQL serving store (kg/pgstore.py) against a real PostgreSQL with pgvector."""
from __future__ import annotations

import numpy as np
import pytest

from kg import pgstore
from kg.errors import ConfigError, StoreError
from kg.graph import VectorTable
from kg.model import Document
from kg.vectors import VectorIndex

from .test_store import tiny_graph


def _vectors(n: int, dim: int = 8) -> np.ndarray:
    """Fixed, distinct unit vectors (no randomness): rows of a cosine/sine table."""
    grid = np.arange(n)[:, None] * (np.arange(dim)[None, :] + 1) * 0.37
    v = np.where(np.arange(dim) % 2 == 0, np.cos(grid), np.sin(grid)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_publish_and_load_keep_every_record_in_the_graphs_order(postgres):
    g, _ = tiny_graph()
    entry = pgstore.publish(g, postgres, "roundtrip")
    assert (entry.name, entry.version, entry.schema) == ("roundtrip", 1, "kg_roundtrip_v1")
    back, opened = pgstore.load_graph(postgres, "roundtrip")
    assert opened == entry
    assert back.documents == g.documents and back.passages == g.passages
    assert list(back.passages) == list(g.passages)
    assert back.entities == g.entities and back.relations == g.relations
    assert back.mentions == g.mentions and back.assignments == g.assignments
    assert back.merges == g.merges and back.synonyms == g.synonyms
    assert back.settings == g.settings
    assert back.vectors == {}  # vectors stay in PostgreSQL
    index = pgstore.vector_indexes(postgres, entry)["passage"]
    assert index.ids == tuple(g.passages) and index.model == "fake"
    assert np.allclose(index.matrix(), [[0.6, 0.8]])


def test_vector_search_matches_the_in_memory_index(postgres):
    g, _ = tiny_graph()
    ids = tuple(f"e{i}" for i in range(40))
    vectors = _vectors(40)
    g.vectors = {**g.vectors, "entity": VectorTable(ids, vectors, "fake")}
    entry = pgstore.publish(g, postgres, "search")
    pg = pgstore.vector_indexes(postgres, entry)["entity"]
    memory = VectorIndex(VectorTable(ids, vectors, "fake"))
    queries = _vectors(45)[40:]
    for (rows, cos), (want_rows, want_cos) in zip(pg.search_rows(queries, 7), memory.search_rows(queries, 7)):
        assert rows.tolist() == want_rows.tolist()
        assert np.allclose(cos, want_cos, atol=1e-6)
    assert pg.search(queries[0], 2) == [(ids[r], pytest.approx(float(c), abs=1e-6))
                                        for r, c in zip(*memory.search_rows(queries[:1], 2)[0])]
    assert np.array_equal(pg.rows(np.array([5, 0, 39])), vectors[[5, 0, 39]])
    with pytest.raises(ConfigError, match=r"expected \(n, 8\)"):
        pg.search_rows(np.zeros((1, 3), dtype=np.float32), 2)


def test_a_new_version_is_swapped_in_and_the_one_before_kept(postgres):
    g, _ = tiny_graph()
    first = pgstore.publish(g, postgres, "versions")
    reader = pgstore.vector_indexes(postgres, first)["passage"]  # a process that opened version 1
    second = pgstore.publish(g, postgres, "versions")
    assert second.version == 2 and pgstore.load_graph(postgres, "versions")[1] == second
    assert reader.rows(np.array([0])).shape == (1, 2)  # version 1 is kept for it
    pgstore.publish(g, postgres, "versions")
    reader.close()
    with pytest.raises(StoreError, match="published again since it was opened, open it again"):
        reader.rows(np.array([0]))
    assert [p.version for p in pgstore.published(postgres) if p.name == "versions"] == [3]


def test_a_failed_publish_leaves_the_published_graph_unchanged(postgres):
    g, _ = tiny_graph()
    pgstore.publish(g, postgres, "atomic")
    bad, _ = tiny_graph()
    doc = next(iter(bad.documents.values()))
    bad.documents[doc.id] = Document(doc.id, doc.source, doc.title, doc.text + "\x00", doc.external_id)  # PostgreSQL text refuses NUL
    with pytest.raises(StoreError, match="publishing 'atomic' failed .* the published graph is unchanged"):
        pgstore.publish(bad, postgres, "atomic")
    back, entry = pgstore.load_graph(postgres, "atomic")
    assert entry.version == 1 and back.documents == g.documents


def test_names_and_locations_are_checked_with_clear_messages(postgres):
    with pytest.raises(ConfigError, match="'My Graph': expected 1-40 lower-case letters"):
        pgstore.publish(tiny_graph()[0], postgres, "My Graph")
    with pytest.raises(StoreError, match=r"no published graph 'absent' \(published: .*\); publish one with `kg publish DIR"):
        pgstore.load_graph(postgres, "absent")
    with pytest.raises(StoreError, match="name the published graph to open as .*#NAME"):
        pgstore.load_graph(postgres)  # several are published by now
    with pytest.raises(StoreError, match=r"postgresql://kg:\*\*\*@127.0.0.1:1/x: cannot connect to PostgreSQL"):
        pgstore.published("postgresql://kg:secret@127.0.0.1:1/x")
    assert pgstore.split_location("postgresql://h/db#docs") == ("postgresql://h/db", "docs")
    assert pgstore.is_location("postgres://h/db") and not pgstore.is_location("/data/postgresql")


def test_a_published_graph_of_another_format_version_is_refused(postgres):
    import psycopg

    entry = pgstore.publish(tiny_graph()[0], postgres, "oldformat")
    with psycopg.connect(postgres, autocommit=True) as con:
        con.execute(f"UPDATE {entry.schema}.meta SET value = '99' WHERE key = 'format_version'")
    with pytest.raises(StoreError, match="#oldformat: graph format version 99, this kgreason reads version 2; "
                                         "publish the graph again"):
        pgstore.load_graph(postgres, "oldformat")
