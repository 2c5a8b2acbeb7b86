"""The SQLite graph store: round trip, format checks, atomic replacement."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from kg import store
from kg.errors import StoreError
from kg.graph import KnowledgeGraph, VectorTable, assemble_graph
from kg.model import (
    Document,
    DocumentExtraction,
    Entity,
    Mention,
    MergeRecord,
    Passage,
    RawRelation,
    Resolution,
    SynonymLink,
)


def tiny_graph() -> tuple[KnowledgeGraph, dict[str, DocumentExtraction]]:
    d = Document.from_text("Ada Lovelace wrote Notes. She met Babbage.", source="a.txt", title="Ada", external_id="x1")
    p = Passage(f"{d.id}:p0", d.id, 0, 0, len(d.text), d.text)
    ada = Mention(f"{d.id}:m0-12", d.id, p.id, 0, 12, "Ada Lovelace", "PERSON", "ner")
    notes = Mention(f"{d.id}:m19-24", d.id, p.id, 19, 24, "Notes", "WORK_OF_ART", "ner")
    she = Mention(f"{d.id}:m26-29", d.id, p.id, 26, 29, "She", "PERSON", "pronoun", refers_to=ada.id)
    bab = Mention(f"{d.id}:m34-41", d.id, p.id, 34, 41, "Babbage", "PERSON", "ner")
    rels = (
        RawRelation(ada.id, "write", notes.id, p.id, 0, 25, 0.8, "svo"),
        RawRelation(she.id, "meet", bab.id, p.id, 26, 42, 0.7, "svo"),
    )
    ex = DocumentExtraction(d.id, (ada, notes, she, bab), rels)
    res = Resolution(
        (Entity("e1", "Ada Lovelace", "PERSON", ("She",)), Entity("e2", "Notes", "WORK"), Entity("e3", "Babbage", "PERSON")),
        {ada.id: "e1", notes.id: "e2", she.id: "e1", bab.id: "e3"},
        (MergeRecord("She", "e1", "pronoun", 1.0),),
        (SynonymLink("e1", "e3", 0.5, "embedding"),),
    )
    g = assemble_graph([d], [p], [ex], res, {"build": {"ingest": {"chunk_size": 99}}})
    g.vectors = {"passage": VectorTable((p.id,), np.array([[0.6, 0.8]], dtype=np.float32), "fake")}
    return g, {d.id: ex}


def test_round_trip_keeps_every_record(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    back = store.load_graph(tmp_path)
    assert back.documents == g.documents
    assert back.passages == g.passages
    assert back.entities == g.entities
    assert back.relations == g.relations
    assert back.mentions == g.mentions
    assert back.assignments == g.assignments
    assert back.merges == g.merges and back.synonyms == g.synonyms
    assert back.settings == {"build": {"ingest": {"chunk_size": 99}}}
    assert back.vectors["passage"].ids == g.vectors["passage"].ids
    np.testing.assert_array_equal(back.vectors["passage"].vectors, np.array([[0.6, 0.8]], dtype=np.float32))
    rel = next(r for r in back.relations.values() if r.predicate == "meet")
    assert rel.evidence[0].sentence == "She met Babbage."
    assert store.load_extractions(tmp_path, back) == {k: DocumentExtraction(v.doc_id, tuple(sorted(v.mentions, key=lambda m: m.id)), v.relations) for k, v in ex.items()}


def test_missing_and_foreign_directories_are_named(tmp_path):
    with pytest.raises(StoreError, match=r"nope: no such graph directory; create one with `kg build"):
        store.load_graph(tmp_path / "nope")
    with pytest.raises(StoreError, match=r"not a kgreason graph directory \(no graph.sqlite\)"):
        store.load_graph(tmp_path)
    (tmp_path / "graph.sqlite").write_bytes(b"this is not sqlite at all" * 10)
    with pytest.raises(StoreError, match=r"graph.sqlite: not a readable kgreason graph file"):
        store.load_graph(tmp_path)


def test_newer_format_version_is_refused_with_advice(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    con = sqlite3.connect(tmp_path / "graph.sqlite")
    con.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError) as err:
        store.load_graph(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'graph.sqlite'}: written by a newer kgreason (graph format version 99); this kgreason reads "
        f"versions 1 and 2: upgrade kgreason to read it, or rebuild it from its documents with "
        f"`kg build SOURCES --out {tmp_path} --rebuild`")


def test_older_format_version_asks_for_a_rebuild(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    con = sqlite3.connect(tmp_path / "graph.sqlite")
    con.execute("UPDATE meta SET value = '0' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"graph format version 0, this kgreason reads versions 1 and 2; rebuild it from its "
                                         r"documents with `kg build SOURCES --out .* --rebuild`"):
        store.load_graph(tmp_path)


@pytest.mark.parametrize("damage, problem", [
    ("DROP TABLE raw_relations", "table raw_relations is missing"),
    ("ALTER TABLE raw_relations DROP COLUMN pattern", "table raw_relations has columns doc_id, subject, predicate, "
     "object, passage_id, start, end, confidence, expected doc_id, subject, predicate, object, passage_id, start, "
     "end, confidence, pattern"),
])
def test_a_damaged_table_is_reported_by_every_reader_with_what_to_do(tmp_path, damage, problem):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    con = sqlite3.connect(tmp_path / "graph.sqlite")
    con.execute(damage)
    con.commit()
    con.close()
    expected = (f"{tmp_path / 'graph.sqlite'}: damaged graph file: {problem}; rebuild it from its documents with "
                f"`kg build SOURCES --out {tmp_path} --rebuild`")
    for read in (store.load_graph, store.check_integrity):
        with pytest.raises(StoreError) as err:
            read(tmp_path)
        assert str(err.value) == expected


def test_integrity_check_finds_a_corrupt_page(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    store.check_integrity(tmp_path)  # a healthy file passes
    file = tmp_path / "graph.sqlite"
    data = bytearray(file.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the page size, from the file header
    data[2 * page: 2 * page + 8] = b"\xff" * 8  # the b-tree header of the third page (a table's root)
    file.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"graph.sqlite: (damaged graph file|not a readable kgreason graph file)"):
        store.check_integrity(tmp_path)


def test_stale_temp_files_of_killed_saves_are_removed(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    stale = [tmp_path / ".graph.sqlite.tmp-4242", tmp_path / ".graph.sqlite.tmp-17"]
    for f in stale:
        f.write_bytes(b"half a graph")
    assert sorted(store.remove_stale_temp_files(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.sqlite"]


def test_failed_save_leaves_previous_graph_intact(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    before = (tmp_path / "graph.sqlite").read_bytes()
    broken = KnowledgeGraph(settings={"not json": object()})
    with pytest.raises(TypeError):
        store.save_graph(broken, tmp_path)
    assert (tmp_path / "graph.sqlite").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.sqlite"]
    assert store.load_graph(tmp_path).entities == g.entities


def test_saving_twice_gives_identical_tables(tmp_path):
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path / "a", ex)
    store.save_graph(store.load_graph(tmp_path / "a"), tmp_path / "b", store.load_extractions(tmp_path / "a", g))

    def dump(folder):
        con = sqlite3.connect(folder / "graph.sqlite")
        lines = [l for l in con.iterdump() if "saved_at" not in l]
        con.close()
        return lines

    assert dump(tmp_path / "a") == dump(tmp_path / "b")


def test_a_version_1_graph_opens_as_it_is(tmp_path):
    """Graphs built before documents carried their prose view and sections still open, read as plain text."""
    g, ex = tiny_graph()
    store.save_graph(g, tmp_path, ex)
    con = sqlite3.connect(tmp_path / "graph.sqlite")
    for table, column in (("documents", "prose"), ("documents", "sections"), ("documents", "code"), ("passages", "section")):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    con.commit()
    con.close()
    loaded = store.load_graph(tmp_path)
    assert loaded.documents.keys() == g.documents.keys() and loaded.passages.keys() == g.passages.keys()
    assert all(d.prose == "" and d.sections == () for d in loaded.documents.values())
    assert all(p.section == "" for p in loaded.passages.values())
