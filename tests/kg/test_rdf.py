"""RDF export/import: exact triples, round trips in every format, nasty names, clear errors."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import rdflib
from rdflib import RDF, RDFS, SKOS, XSD, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from kg.errors import ConfigError, InputError, StoreError
from kg.graph import KnowledgeGraph, assemble_graph
from kg.model import (
    Document,
    DocumentExtraction,
    Entity,
    Mention,
    Passage,
    RawRelation,
    Resolution,
    SynonymLink,
)
from kg.rdf import KGR, KGREL, SDO, from_rdf, node_iri, predicate_iri, read_rdf, to_rdf, write_rdf

BASE = "https://example.org/g/"
DOCS_MD = Path(__file__).resolve().parents[2] / "docs" / "rdf-vocabulary.md"

TEXT1 = 'Ada Lovelace wrote "Notes" in London.\nShe met Charles Babbage in 東京.'
TEXT2 = "Zoë <Z> Smith said that Ada Lovelace wrote \"Notes\"."
ADA, NOTES, LONDON, TOKYO = "e-ada", 'e "notes" <1>', "e london", "e\\tokyo\n"
ZOE, BABBAGE, ODD = "zoë", "e-babbage", "e-odd"


def _mention(doc: Document, pid: str, surface: str, label: str, occurrence: int = 0, refers_to: str = "") -> Mention:
    start = -1
    for _ in range(occurrence + 1):
        start = doc.text.index(surface, start + 1)
    return Mention(f"{doc.id}:m{start}-{start + len(surface)}", doc.id, pid, start, start + len(surface), surface, label, "ner", refers_to)


def build_graph() -> KnowledgeGraph:
    """Two documents, nasty names and ids, an ordered alias list, two evidences for one relation."""
    d1 = Document.from_text(TEXT1, source="docs/a b.txt", title='Ada "the Countess"', external_id="ext-1")
    d2 = Document.from_text(TEXT2, source="c:\\data\\<b>.txt")
    split = TEXT1.index("\n") + 1
    p1a = Passage(f"{d1.id}:p0", d1.id, 0, 0, split, TEXT1[:split])
    p1b = Passage(f"{d1.id}:p1", d1.id, 1, split, len(TEXT1), TEXT1[split:])
    p2 = Passage(f"{d2.id}:p0", d2.id, 0, 0, len(TEXT2), TEXT2)
    ada1, notes1 = _mention(d1, p1a.id, "Ada Lovelace", "PERSON"), _mention(d1, p1a.id, '"Notes"', "WORK_OF_ART")
    london = _mention(d1, p1a.id, "London", "GPE")
    she = Mention(f"{d1.id}:m{split}-{split + 3}", d1.id, p1b.id, split, split + 3, "She", "PERSON", "pronoun", ada1.id)
    babbage, tokyo = _mention(d1, p1b.id, "Charles Babbage", "PERSON"), _mention(d1, p1b.id, "東京", "GPE")
    zoe, ada2 = _mention(d2, p2.id, "Zoë <Z> Smith", "PERSON"), _mention(d2, p2.id, "Ada Lovelace", "PERSON")
    notes2 = _mention(d2, p2.id, '"Notes"', "WORK_OF_ART")
    s1 = (0, split - 1)
    rels1 = (
        RawRelation(ada1.id, "write", notes1.id, p1a.id, *s1, 0.8, "svo"),
        RawRelation(ada1.id, "bear in", london.id, p1a.id, *s1, 0.5, "prep"),
        RawRelation(she.id, 'met <in> "x"', babbage.id, p1b.id, split, len(TEXT1), 0.7, "svo"),
        RawRelation(babbage.id, "東京_in", tokyo.id, p1b.id, split, len(TEXT1), 0.3, "prep"),
    )
    rels2 = (
        RawRelation(ada2.id, "write", notes2.id, p2.id, 0, len(TEXT2), 0.6, "svo"),
        RawRelation(zoe.id, "1st say", ada2.id, p2.id, 0, len(TEXT2), 0.9, "svo"),
    )
    entities = (
        Entity(ADA, "Ada Lovelace", "PERSON", ("Countess of Lovelace", "Ada", "She")),
        Entity(NOTES, '"Notes"', "WORK"),
        Entity(LONDON, "London", "GPE"),
        Entity(TOKYO, "東京", "PLACE", ("Tokyo",)),
        Entity(ZOE, "Zoë <Z> Smith", "PERSON", ("Zoë",)),
        Entity(BABBAGE, "Charles Babbage", "PERSON"),
        Entity(ODD, "line one\nline two \\ 'q'", "Custom type"),
    )
    assignments = {
        ada1.id: ADA, ada2.id: ADA, she.id: ADA, notes1.id: NOTES, notes2.id: NOTES, london.id: LONDON,
        tokyo.id: TOKYO, zoe.id: ZOE, babbage.id: BABBAGE,
    }
    synonyms = (SynonymLink(LONDON, TOKYO, 0.91, "embedding"), SynonymLink(ZOE, ADA, 0.123456789, "fuzzy"))
    resolution = Resolution(entities, assignments, synonyms=synonyms)
    extractions = [
        DocumentExtraction(d1.id, (ada1, notes1, london, she, babbage, tokyo), rels1),
        DocumentExtraction(d2.id, (zoe, ada2, notes2), rels2),
    ]
    settings = {"ingest": {"chunk_size": 1200}, "note": "Zoë \"q\"\n"}
    return assemble_graph([d1, d2], [p1a, p1b, p2], extractions, resolution, settings)


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    return build_graph()


@pytest.fixture(scope="module")
def rdf(graph) -> rdflib.Graph:
    return to_rdf(graph, BASE)


def ent(eid: str) -> URIRef:
    return node_iri(BASE, "entity", eid)


def write_relation(graph: KnowledgeGraph):
    return next(r for r in graph.relations.values() if r.predicate == "write")


# ---- exact triples ------------------------------------------------------------------------------


def test_iris_are_percent_encoded_for_any_id():
    assert str(ent(NOTES)) == "https://example.org/g/entity/e%20%22notes%22%20%3C1%3E"
    assert str(ent(TOKYO)) == "https://example.org/g/entity/e%5Ctokyo%0A"
    assert str(ent(ZOE)) == "https://example.org/g/entity/zo%C3%AB"
    assert str(node_iri(BASE, "passage", "d1:p0")) == "https://example.org/g/passage/d1%3Ap0"


def test_predicate_iris_are_xml_names_and_distinct():
    names = ["write", "bear in", "1st say", 'met <in> "x"', "東京_in", "_1st say", "", "a.b"]
    locals_ = [str(predicate_iri(n)).removeprefix(str(KGREL)) for n in names]
    assert locals_ == ["write", "bear.20in", "_.31st.20say", "met.20.3Cin.3E.20.22x.22", "_.E6.9D.B1.E4.BA.AC_in", "_.5F1st.20say", "_", "a.2Eb"]
    assert len(set(locals_)) == len(names)


def test_entity_triples(rdf):
    assert set(rdf.objects(ent(ADA), RDF.type)) == {KGR.Entity, SDO.Person}
    assert set(rdf.objects(ent(TOKYO), RDF.type)) == {KGR.Entity, SDO.Place}
    assert set(rdf.objects(ent(NOTES), RDF.type)) == {KGR.Entity, SDO.CreativeWork}
    assert set(rdf.objects(ent(ODD), RDF.type)) == {KGR.Entity}
    assert rdf.value(ent(ODD), KGR.entityType) == Literal("Custom type")
    assert rdf.value(ent(TOKYO), RDFS.label) == Literal("東京")
    assert set(rdf.objects(ent(ADA), SKOS.altLabel)) == {Literal("Countess of Lovelace"), Literal("Ada"), Literal("She")}
    assert rdf.value(ent(ADA), KGR.id) == Literal(ADA)


def test_relation_direct_triple_and_statement(graph, rdf):
    rel = write_relation(graph)
    assert (ent(ADA), KGREL.write, ent(NOTES)) in rdf
    assert (ent(ADA), KGREL["bear.20in"], ent(LONDON)) in rdf
    node = node_iri(BASE, "relation", rel.id)
    assert set(rdf.objects(node, RDF.type)) == {RDF.Statement, KGR.Relation}
    assert (rdf.value(node, RDF.subject), rdf.value(node, RDF.predicate), rdf.value(node, RDF.object)) == (
        ent(ADA), KGREL.write, ent(NOTES),
    )
    assert rdf.value(node, KGR.predicateName) == Literal("write")
    # noisy-OR of 0.8 and 0.6
    assert rdf.value(node, KGR.confidence) == Literal("0.92", datatype=XSD.decimal)
    passages = {str(p).rsplit("/", 1)[1] for p in rdf.objects(node, PROV.wasDerivedFrom)}
    assert passages == {quote(e.passage_id, safe="") for e in rel.evidence}


def test_evidence_nodes(graph, rdf):
    rel = write_relation(graph)
    node = node_iri(BASE, "relation", rel.id)
    evidence = sorted(rdf.objects(node, PROV.qualifiedDerivation))
    assert [str(e) for e in evidence] == [f"{BASE}evidence/{rel.id}-0", f"{BASE}evidence/{rel.id}-1"]
    first = evidence[0]
    assert set(rdf.objects(first, RDF.type)) == {PROV.Derivation, KGR.Evidence}
    ev = rel.evidence[0]
    assert rdf.value(first, PROV.entity) == node_iri(BASE, "passage", ev.passage_id)
    assert rdf.value(first, PROV.hadPrimarySource) == node_iri(BASE, "document", ev.doc_id)
    assert rdf.value(first, KGR.sentence) == Literal(ev.sentence)
    assert (rdf.value(first, KGR.start), rdf.value(first, KGR.end)) == (Literal(ev.start), Literal(ev.end))
    assert rdf.value(first, KGR.start).datatype == XSD.integer
    sentences = sorted(str(rdf.value(e, KGR.sentence)) for e in evidence)
    assert sentences == ['Ada Lovelace wrote "Notes" in London.', 'Zoë <Z> Smith said that Ada Lovelace wrote "Notes".']


def test_documents_passages_mentions(graph, rdf):
    d1 = next(d for d in graph.documents.values() if d.external_id == "ext-1")
    dn = node_iri(BASE, "document", d1.id)
    assert set(rdf.objects(dn, RDF.type)) == {KGR.Document, PROV.Entity}
    assert rdf.value(dn, DCTERMS.title) == Literal('Ada "the Countess"')
    assert rdf.value(dn, DCTERMS.identifier) == Literal("ext-1")
    assert rdf.value(dn, DCTERMS.source) == Literal("docs/a b.txt")
    pn = node_iri(BASE, "passage", f"{d1.id}:p1")
    assert rdf.value(pn, DCTERMS.isPartOf) == dn
    assert (rdf.value(pn, KGR.start), rdf.value(pn, KGR.end)) == (Literal(38), Literal(len(TEXT1)))
    mentioned = {str(p).rsplit("%3A", 1)[1] for p in rdf.objects(ent(ADA), KGR.mentionedIn)}
    assert mentioned == {"p0", "p1"} and len(list(rdf.objects(ent(ADA), KGR.mentionedIn))) == 3
    assert len(list(rdf.subjects(KGR.denotes, ent(ADA)))) == 3


def test_synonyms_and_settings(rdf):
    assert (ent(LONDON), SKOS.closeMatch, ent(TOKYO)) in rdf
    node = URIRef(f"{BASE}synonym/1")
    assert rdf.value(node, RDF.subject) == ent(ZOE)
    assert rdf.value(node, KGR.score) == Literal("0.123456789", datatype=XSD.decimal)
    assert rdf.value(node, KGR.reason) == Literal("fuzzy")
    graph_node = URIRef(f"{BASE}graph")
    assert rdf.value(graph_node, KGR.settings) == Literal('{"ingest": {"chunk_size": 1200}, "note": "Zoë \\"q\\"\\n"}')
    assert rdf.value(graph_node, KGR.formatVersion) == Literal(1)


# ---- round trips --------------------------------------------------------------------------------


def assert_same_graph(got: KnowledgeGraph, want: KnowledgeGraph) -> None:
    assert got.documents == want.documents
    assert got.passages == want.passages
    assert got.entities == want.entities
    assert list(got.entities["e-ada"].aliases) == ["Countess of Lovelace", "Ada", "She"]
    assert got.relations == want.relations
    assert list(got.relations) == list(want.relations)
    assert got.mentions == want.mentions
    assert got.assignments == want.assignments
    assert got.synonyms == want.synonyms
    assert got.settings == want.settings
    assert got.entity_passages() == want.entity_passages()


def test_from_rdf_in_memory(graph, rdf):
    assert_same_graph(from_rdf(rdf), graph)


@pytest.mark.parametrize("fmt,suffix", [("turtle", ".ttl"), ("nt", ".nt"), ("jsonld", ".jsonld"), ("xml", ".rdf")])
def test_round_trip_through_every_format(graph, rdf, tmp_path, fmt, suffix):
    path = tmp_path / f"graph{suffix}"
    write_rdf(graph, path, fmt, base=BASE)
    parsed = rdflib.Graph().parse(str(path), format={"jsonld": "json-ld"}.get(fmt, fmt))
    assert set(parsed) == set(rdf)
    assert_same_graph(read_rdf(path), graph)  # format guessed from the extension
    assert_same_graph(read_rdf(path, fmt), graph)


def test_relation_evidence_survives_in_detail(graph, tmp_path):
    write_rdf(graph, tmp_path / "g.ttl")
    rel = write_relation(read_rdf(tmp_path / "g.ttl"))
    assert [(e.start, e.end, e.confidence, e.sentence) for e in rel.evidence] == [
        (e.start, e.end, e.confidence, e.sentence) for e in write_relation(graph).evidence
    ]
    assert len(rel.evidence) == 2 and rel.confidence == 0.92


def test_empty_graph_round_trips():
    assert_empty = from_rdf(to_rdf(KnowledgeGraph()))
    assert assert_empty.stats() == KnowledgeGraph().stats() and assert_empty.settings == {}


# ---- SPARQL example of the docs ------------------------------------------------------------------


def test_sparql_example_of_the_docs_works(tmp_path):
    query = re.search(r"```sparql\n(.*?)```", DOCS_MD.read_text(encoding="utf-8"), re.S).group(1)
    write_rdf(build_graph(), tmp_path / "g.ttl", "turtle")
    rows = rdflib.Graph().parse(str(tmp_path / "g.ttl")).query(query)
    got = [(str(r.predicate), str(r.objectName), str(r.sentence)) for r in rows]
    assert got == [
        ("bear in", "London", 'Ada Lovelace wrote "Notes" in London.'),
        ('met <in> "x"', "Charles Babbage", "She met Charles Babbage in 東京."),
        ("write", '"Notes"', 'Ada Lovelace wrote "Notes" in London.'),
        ("write", '"Notes"', 'Zoë <Z> Smith said that Ada Lovelace wrote "Notes".'),
    ]


def test_turtle_example_of_the_docs_is_real_output():
    d = Document.from_text("Ada Lovelace was born in London.", source="bios/ada.txt", title="Ada Lovelace", external_id="wiki-42")
    p = Passage(f"{d.id}:p0", d.id, 0, 0, len(d.text), d.text)
    m1 = Mention(f"{d.id}:m0-12", d.id, p.id, 0, 12, "Ada Lovelace", "PERSON", "ner")
    m2 = Mention(f"{d.id}:m25-31", d.id, p.id, 25, 31, "London", "GPE", "ner")
    r = RawRelation(m1.id, "bear_in", m2.id, p.id, 0, len(d.text), 0.85, "passive-prep")
    entities = (Entity("e-ada", "Ada Lovelace", "PERSON", ("Ada", "Countess of Lovelace")), Entity("e-london", "London", "PLACE"))
    res = Resolution(entities, {m1.id: "e-ada", m2.id: "e-london"})
    g = assemble_graph([d], [p], [DocumentExtraction(d.id, (m1, m2), (r,))], res, {"ingest": {"chunk_size": 1200}})
    example = re.search(r"```turtle\n(.*?)```", DOCS_MD.read_text(encoding="utf-8"), re.S).group(1)
    shown = set(rdflib.Graph().parse(data=example, format="turtle"))
    assert len(shown) == 51
    assert shown <= set(to_rdf(g, "https://example.org/g/"))


# ---- errors -------------------------------------------------------------------------------------


def test_read_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        read_rdf(tmp_path / "nope.ttl")
    assert str(err.value) == f"{tmp_path / 'nope.ttl'}: file not found"


def test_unknown_format_and_extension(tmp_path, graph):
    with pytest.raises(InputError) as err:
        read_rdf(tmp_path / "g.csv")
    assert str(err.value) == (
        f"{tmp_path / 'g.csv'}: unknown RDF extension '.csv'; expected one of: turtle, nt, jsonld, xml "
        "(or a file ending in .ttl, .nt, .jsonld, .rdf, .xml, .owl, .turtle, .ntriples, .json-ld, .rdfxml)"
    )
    with pytest.raises(InputError, match=r"unknown RDF format 'n3'; expected one of: turtle, nt, jsonld, xml"):
        write_rdf(graph, tmp_path / "g.ttl", "n3")
    assert not (tmp_path / "g.ttl").exists()


def test_unparsable_file(tmp_path):
    path = tmp_path / "broken.ttl"
    path.write_text("<a> <b> this is not turtle", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_rdf(path)
    assert str(err.value).startswith(f"{path}: not valid turtle RDF (")


def test_not_a_kgreason_export(tmp_path):
    path = tmp_path / "other.nt"
    path.write_text("<https://x.org/a> <https://x.org/b> <https://x.org/c> .\n", encoding="utf-8")
    with pytest.raises(StoreError) as err:
        read_rdf(path)
    assert str(err.value) == f"{path}: found 0 kgr:Graph nodes; expected one (RDF written by kgreason's to_rdf)"


def test_unsupported_version(graph):
    rdf = to_rdf(graph, BASE)
    rdf.set((URIRef(f"{BASE}graph"), KGR.formatVersion, Literal(2)))
    with pytest.raises(StoreError) as err:
        from_rdf(rdf)
    assert str(err.value) == f"<{BASE}graph>: RDF format version 2 is not supported; expected 1"


def test_dangling_and_incomplete_records(graph):
    rel = write_relation(graph)
    rdf = to_rdf(graph, BASE)
    rdf.remove((ent(NOTES), RDF.type, KGR.Entity))
    rdf.remove((None, KGR.denotes, ent(NOTES)))  # else a mention is the first to point at it
    with pytest.raises(StoreError) as err:
        from_rdf(rdf)
    assert str(err.value) == f"<{node_iri(BASE, 'relation', rel.id)}>: <{ent(NOTES)}> is not an entity of the graph"
    rdf = to_rdf(graph, BASE)
    rdf.remove((ent(ODD), RDFS.label, None))
    with pytest.raises(StoreError) as err:
        from_rdf(rdf)
    assert str(err.value) == f"<{ent(ODD)}>: missing rdfs:label"
    rdf = to_rdf(graph, BASE)
    rdf.set((node_iri(BASE, "relation", rel.id), KGR.confidence, Literal("high")))
    with pytest.raises(StoreError, match=r"kgr:confidence is 'high'; expected a float"):
        from_rdf(rdf)


def test_bad_base():
    with pytest.raises(ConfigError) as err:
        to_rdf(KnowledgeGraph(), "https://x.org/my graph/")
    assert str(err.value).startswith("RDF base 'https://x.org/my graph/': expected an absolute IRI ending in '/' or '#'")
    with pytest.raises(ConfigError):
        to_rdf(KnowledgeGraph(), "https://x.org/g")


def test_xml_refuses_control_characters_and_keeps_the_old_file(tmp_path):
    d = Document.from_text("bad \x0b text", source="x.txt")
    g = KnowledgeGraph(documents={d.id: d})
    path = tmp_path / "g.rdf"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(StoreError) as err:
        write_rdf(g, path)
    assert str(err.value) == (
        f"{path}: <{node_iri('https://kgreason.org/graph/', 'document', d.id)}> has text with a character XML cannot "
        "carry ('\\x0b'); write turtle, nt or jsonld instead"
    )
    assert path.read_text(encoding="utf-8") == "old"
    write_rdf(g, tmp_path / "g.nt")
    assert read_rdf(tmp_path / "g.nt").documents == g.documents


def test_confidence_is_exact_decimal(rdf, graph):
    values = {Decimal(str(o)) for o in rdf.objects(None, KGR.confidence)}
    assert Decimal("0.92") in values and Decimal("0.8") in values


@pytest.mark.parametrize("suffix", [".turtle", ".ntriples", ".json-ld", ".rdfxml"])
def test_format_names_as_extensions_read_back(tmp_path, graph, suffix):
    """`kg export --format turtle -o x.turtle` must read back without naming the format again."""
    path = tmp_path / f"g{suffix}"
    write_rdf(graph, path)
    assert_same_graph(read_rdf(path), graph)
