"""GraphML and node-link JSON exports, format dispatch, atomic writes."""
from __future__ import annotations

import json

import networkx as nx
import pytest

from kg.errors import ConfigError, StoreError
from kg.export import FORMATS, export_graph, write_graphml, write_json
from kg.files import atomic_write
from kg.graph import KnowledgeGraph
from kg.model import Document, Entity, Mention, Passage, Provenance, Relation, SynonymLink
from kg.rdf import read_rdf

TEXT = 'Zoë "Z" <Smith> met 東京.\x0b Bye.'


def build_graph() -> KnowledgeGraph:
    """One document, one passage, three entities, two mentions, one relation with two evidences."""
    d = Document("d1", "a b.txt", 'Title "q"', TEXT, "ext-1")
    p = Passage("d1:p0", "d1", 0, 0, len(TEXT), TEXT)
    zoe = Entity("e zoë", 'Zoë "Z" <Smith>', "PERSON", ("Zoë", "Z"))
    tokyo = Entity("e<tokyo>", "東京", "PLACE")
    other = Entity("e3", "line\none", "CONCEPT")
    m1 = Mention("d1:m0-15", "d1", p.id, 0, 15, zoe.name, "PERSON", "ner")
    m2 = Mention("d1:m20-22", "d1", p.id, 20, 22, "東京", "GPE", "ner")
    ev = (
        Provenance("d1", p.id, 0, 23, TEXT[:23], 0.5),
        Provenance("d1", p.id, 0, 30, TEXT[:30], 0.25),
    )
    rel = Relation("r1", zoe.id, "meet", tokyo.id, 0.625, ev)
    return KnowledgeGraph(
        documents={d.id: d},
        passages={p.id: p},
        entities={e.id: e for e in (zoe, tokyo, other)},
        relations={rel.id: rel},
        mentions={m1.id: m1, m2.id: m2},
        assignments={m1.id: zoe.id, m2.id: tokyo.id},
        synonyms=(SynonymLink(tokyo.id, other.id, 0.9, "embedding"),),
        settings={"ingest": {"chunk_size": 800}},
    )


@pytest.fixture
def graph() -> KnowledgeGraph:
    return build_graph()


def test_graphml_reads_back_with_networkx(graph, tmp_path):
    path = tmp_path / "g.graphml"
    write_graphml(graph, path)
    g = nx.read_graphml(path, force_multigraph=True, edge_key_type=str)
    assert g.is_directed() and g.is_multigraph()
    assert sorted(g.nodes) == ["d1", "d1:p0", "e zoë", "e3", "e<tokyo>"]
    # contains, 2 x mentions, relation, synonym
    assert g.number_of_edges() == 5
    assert g.nodes["e zoë"] == {"kind": "entity", "name": 'Zoë "Z" <Smith>', "type": "PERSON", "aliases": "Zoë|Z"}
    assert g.nodes["e3"]["name"] == "line\none"
    assert g.nodes["d1:p0"]["start"] == 0 and g.nodes["d1:p0"]["end"] == len(TEXT)
    # a vertical tab cannot be written in XML: replaced by U+FFFD
    assert g.nodes["d1:p0"]["text"] == TEXT.replace("\x0b", "\ufffd")
    rel = g.edges["e zoë", "e<tokyo>", "r1"]
    assert rel == {
        "kind": "relation", "predicate": "meet", "confidence": 0.625, "evidence": 2,
        "passage_id": "d1:p0", "sentence": 'Zoë "Z" <Smith> met 東京.',
    }
    assert g.edges["e<tokyo>", "e3", "syn:e<tokyo>:e3"] == {"kind": "synonym", "score": 0.9, "reason": "embedding"}
    assert g.edges["d1:p0", "e zoë", "mentions"]["count"] == 1
    assert g.graph["format"] == "kgreason-networkx" and g.graph["format_version"] == 1
    assert json.loads(g.graph["settings"]) == {"ingest": {"chunk_size": 800}}


def test_json_reads_back_with_node_link_graph(graph, tmp_path):
    path = tmp_path / "g.json"
    write_json(graph, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    g = nx.node_link_graph(data)
    assert g.is_directed() and g.is_multigraph()
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 5
    assert g.nodes["d1:p0"]["text"] == TEXT  # JSON keeps every character
    assert g.nodes["e<tokyo>"] == {"kind": "entity", "name": "東京", "type": "PLACE", "aliases": ""}
    assert g.edges["e zoë", "e<tokyo>", "r1"]["confidence"] == 0.625
    assert g.graph == {"format": "kgreason-networkx", "format_version": 1, "settings": {"ingest": {"chunk_size": 800}}}
    assert "東京" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes


def test_export_graph_dispatches_every_format(graph, tmp_path):
    assert FORMATS == ("turtle", "nt", "jsonld", "xml", "graphml", "json")
    export_graph(graph, tmp_path / "g.ttl", "turtle")
    export_graph(graph, tmp_path / "g.nt", "nt")
    export_graph(graph, tmp_path / "g.jsonld", "jsonld")
    export_graph(graph, tmp_path / "g.graphml", "graphml")
    export_graph(graph, tmp_path / "g.json", "json")
    for name in ("g.ttl", "g.nt", "g.jsonld"):
        back = read_rdf(tmp_path / name)
        assert back.entities == graph.entities and back.relations == graph.relations
    assert nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True).number_of_nodes() == 5
    assert nx.node_link_graph(json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))).number_of_edges() == 5
    # the vertical tab in the text: RDF/XML refuses it rather than writing a file nobody can read
    with pytest.raises(StoreError, match="character XML cannot carry"):
        export_graph(graph, tmp_path / "g.rdf", "xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.graphml", "g.json", "g.jsonld", "g.nt", "g.ttl"]


def test_unknown_format(graph, tmp_path):
    with pytest.raises(ConfigError) as err:
        export_graph(graph, tmp_path / "g.csv", "csv")
    assert str(err.value) == "unknown export format 'csv'; expected one of: turtle, nt, jsonld, xml, graphml, json"
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_target_when_writer_fails(tmp_path):
    target = tmp_path / "out.ttl"
    target.write_bytes(b"old content")

    def half_then_fail(fh):
        fh.write(b"half a fi")
        raise RuntimeError("serialiser crashed")

    with pytest.raises(RuntimeError, match="serialiser crashed"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.ttl"]  # no temporary file left behind


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    target = tmp_path / "out.txt"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_failed_json_export_leaves_old_file(graph, tmp_path):
    target = tmp_path / "g.json"
    target.write_text("old", encoding="utf-8")
    graph.settings = {"bad": float("nan")}
    with pytest.raises(StoreError, match=r"g.json: the graph cannot be written as JSON \(Out of range float values"):
        write_json(graph, target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]


def test_missing_folder(graph, tmp_path):
    target = tmp_path / "nope" / "g.graphml"
    with pytest.raises(StoreError) as err:
        write_graphml(graph, target)
    assert str(err.value) == f"{target}: cannot write, folder {tmp_path / 'nope'} does not exist"


def test_graphml_refuses_non_scalar_attributes(tmp_path):
    bad = KnowledgeGraph(entities={"e1": Entity("e1", ["A"], "PERSON")})  # a list where a name belongs
    with pytest.raises(StoreError) as err:
        write_graphml(bad, tmp_path / "g.graphml")
    assert str(err.value) == "node 'e1': attribute 'name' is a list (['A']); GraphML needs str, int, float or bool"
    assert list(tmp_path.iterdir()) == []
