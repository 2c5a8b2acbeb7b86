"""RDF export (and, through ``kg.rdf_read``, import) of a KnowledgeGraph via rdflib (vocabulary: docs/rdf-vocabulary.md).

Entities, documents, passages and mentions become IRIs under ``base``; every relation is written
twice: as a direct triple ``<subject> kgrel:<predicate> <object>`` for simple queries, and as a
reified ``rdf:Statement`` carrying its confidence and, per supporting sentence, a ``prov:Derivation``
with the passage, document, character span and sentence. ``from_rdf`` reads back everything but
vectors and merge records, so ``from_rdf(to_rdf(g))`` has the same documents, passages, entities,
mentions, assignments, relations, synonyms and settings as ``g``.

>>> from kg.graph import KnowledgeGraph
>>> from kg.model import Entity
>>> g = KnowledgeGraph(entities={"e1": Entity("e1", "Zoë", "PERSON", ("Zoe",))})
>>> from_rdf(to_rdf(g)).entities == g.entities
True
"""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import rdflib
from rdflib import RDF, RDFS, SKOS, XSD, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from .errors import ConfigError, StoreError
from .files import XML_INVALID, atomic_write
from .graph import KnowledgeGraph
from .model import Document, Entity, Passage, Relation, SynonymLink
from .rdf_read import from_rdf, read_rdf  # noqa: F401 - kg.rdf is the one RDF entry point
from .rdf_vocab import (  # noqa: F401
    DEFAULT_BASE,
    FORMAT_VERSION,
    KGR,
    KGREL,
    RDF_FORMATS,
    SDO,
    TYPE_CLASSES,
    rdf_format,
)

_BAD_BASE = re.compile(r"[\s<>\"{}|\\^`]")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_-]")


# ---- IRIs ---------------------------------------------------------------------------------------


def node_iri(base: str, kind: str, node_id: str) -> URIRef:
    """The IRI of a graph node: ``<base><kind>/<percent-encoded id>``; safe for any id.

    >>> str(node_iri("https://x.org/g/", "entity", 'Zoë "Z" <1>'))
    'https://x.org/g/entity/Zo%C3%AB%20%22Z%22%20%3C1%3E'
    """
    return URIRef(f"{base}{kind}/{_quote(node_id)}")


def _quote(node_id: str) -> str:
    # '~' too, so every IRI splits into a few shared namespaces (rdflib's Turtle writer slows down
    # quadratically with the number of distinct namespaces it sees)
    return quote(node_id, safe="").replace("~", "%7E")


class _Iris:
    """Node IRIs under one base, memoised: the same ids recur in many triples.

    Parts of a record (a relation's evidence, an entity's alias list cells) are ``<base><kind>/<id>-<i>``
    rather than ``<base>relation/<id>/evidence/<i>``, again to keep the namespaces few.
    """

    def __init__(self, base: str):
        self.base = base
        self.cache: dict[tuple[str, str], URIRef] = {}

    def __call__(self, kind: str, node_id: str) -> URIRef:
        key = (kind, node_id)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = node_iri(self.base, kind, node_id)
        return found

    def part(self, kind: str, owner_id: str, index: int) -> URIRef:
        return URIRef(f"{self.base}{kind}/{_quote(owner_id)}-{index}")


def predicate_iri(predicate: str) -> URIRef:
    """The IRI of a relation predicate in the ``kgrel:`` namespace.

    The local name must be an XML name, or RDF/XML cannot write it: letters, digits, ``_`` and ``-``
    stay, every other character becomes ``.HH`` per UTF-8 byte, and a name that does not start with
    a letter gets a ``_`` prefix (with its first character escaped), so distinct predicates never
    share an IRI.

    >>> [predicate_iri(p).split("#")[1] for p in ("capital_of", "bear in", "1st", "_x", "東")]
    ['capital_of', 'bear.20in', '_.31st', '_.5Fx', '_.E6.9D.B1']
    """
    if predicate[:1].isascii() and predicate[:1].isalpha():
        return KGREL[_escape(predicate)]
    return KGREL["_" + _escape(predicate[:1], force=True) + _escape(predicate[1:])]


def _escape(text: str, force: bool = False) -> str:
    return "".join(
        c if not force and _NAME_CHAR.fullmatch(c) else "".join(f".{b:02X}" for b in c.encode("utf-8"))
        for c in text
    )


def _check_base(base: str) -> None:
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", base) or not base.endswith(("/", "#")) or _BAD_BASE.search(base):
        raise ConfigError(
            f"RDF base {base!r}: expected an absolute IRI ending in '/' or '#', without spaces or <>\"{{}}|\\^`"
        )


# ---- export -------------------------------------------------------------------------------------


def to_rdf(graph: KnowledgeGraph, base: str = DEFAULT_BASE) -> rdflib.Graph:
    """The graph as RDF triples (see docs/rdf-vocabulary.md). Vectors and merge records are left out.

    >>> from kg.model import Entity
    >>> rdf = to_rdf(KnowledgeGraph(entities={"e1": Entity("e1", "Paris", "GPE")}), "https://x.org/g/")
    >>> sorted(str(c) for c in rdf.objects(URIRef("https://x.org/g/entity/e1"), RDF.type))
    ['https://kgreason.org/ns#Entity', 'https://schema.org/Place']
    """
    _check_base(base)
    rdf = rdflib.Graph()
    prefixes = {"kgr": KGR, "kgrel": KGREL, "schema": SDO, "skos": SKOS, "prov": PROV, "dcterms": DCTERMS}
    for prefix, ns in prefixes.items():
        rdf.bind(prefix, ns, override=True, replace=True)
    add, iri = rdf.add, _Iris(base)
    _add_graph_node(add, graph, iri)
    for d in graph.documents.values():
        _add_document(add, iri, d)
    for p in graph.passages.values():
        _add_passage(add, iri, p)
    for e in graph.entities.values():
        _add_entity(add, iri, e)
    _add_mentions(add, iri, graph)
    for r in graph.relations.values():
        _add_relation(add, iri, r)
    for i, s in enumerate(graph.synonyms):
        _add_synonym(add, iri, i, s)
    return rdf


def _dec(value: float) -> Literal:
    """xsd:decimal written out in full: rdflib's Turtle writer rounds xsd:double to a few digits."""
    if not math.isfinite(value):
        raise StoreError(f"cannot write the number {value!r} to RDF; expected a finite number")
    return Literal(format(Decimal(repr(float(value))), "f"), datatype=XSD.decimal)


def _add_graph_node(add, graph: KnowledgeGraph, iri: _Iris) -> None:
    node = URIRef(f"{iri.base}graph")
    try:
        settings = json.dumps(graph.settings, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"graph settings cannot be written as JSON ({exc})") from None
    add((node, RDF.type, KGR.Graph))
    add((node, KGR.formatVersion, Literal(FORMAT_VERSION)))
    add((node, KGR.settings, Literal(settings)))


def _add_document(add, iri: _Iris, d: Document) -> None:
    node = iri("document", d.id)
    add((node, RDF.type, KGR.Document))
    add((node, RDF.type, PROV.Entity))
    add((node, KGR.id, Literal(d.id)))
    add((node, DCTERMS.title, Literal(d.title)))
    add((node, DCTERMS.source, Literal(d.source)))
    add((node, KGR.text, Literal(d.text)))
    if d.external_id:
        add((node, DCTERMS.identifier, Literal(d.external_id)))


def _add_passage(add, iri: _Iris, p: Passage) -> None:
    node = iri("passage", p.id)
    add((node, RDF.type, KGR.Passage))
    add((node, RDF.type, PROV.Entity))
    add((node, KGR.id, Literal(p.id)))
    add((node, DCTERMS.isPartOf, iri("document", p.doc_id)))
    add((node, KGR["index"], Literal(p.index)))
    add((node, KGR.start, Literal(p.start)))
    add((node, KGR.end, Literal(p.end)))
    add((node, KGR.text, Literal(p.text)))


def _add_entity(add, iri: _Iris, e: Entity) -> None:
    node = iri("entity", e.id)
    add((node, RDF.type, KGR.Entity))
    cls = TYPE_CLASSES.get(e.type.upper())
    if cls is not None:
        add((node, RDF.type, cls))
    add((node, KGR.id, Literal(e.id)))
    add((node, RDFS.label, Literal(e.name)))
    add((node, KGR.entityType, Literal(e.type)))
    for alias in e.aliases:
        add((node, SKOS.altLabel, Literal(alias)))
    # skos:altLabel is a set; an rdf:List keeps the order (list nodes are IRIs, not blank nodes, so
    # two exports of one graph are the same set of triples)
    cells = [iri.part("alias", e.id, i) for i in range(len(e.aliases))]
    for cell, alias, rest in zip(cells, e.aliases, cells[1:] + [RDF.nil]):
        add((cell, RDF.first, Literal(alias)))
        add((cell, RDF.rest, rest))
    if cells:
        add((node, KGR.aliasList, cells[0]))


def _add_mentions(add, iri: _Iris, graph: KnowledgeGraph) -> None:
    linked: set[tuple[str, str]] = set()
    for m in graph.mentions.values():
        node = iri("mention", m.id)
        add((node, RDF.type, KGR.Mention))
        add((node, KGR.id, Literal(m.id)))
        add((node, KGR.inPassage, iri("passage", m.passage_id)))
        add((node, KGR.start, Literal(m.start)))
        add((node, KGR.end, Literal(m.end)))
        add((node, KGR.text, Literal(m.text)))
        add((node, KGR.label, Literal(m.label)))
        add((node, KGR.kind, Literal(m.kind)))
        if m.refers_to:
            add((node, KGR.refersTo, iri("mention", m.refers_to)))
        eid = graph.assignments.get(m.id)
        if eid is not None:
            add((node, KGR.denotes, iri("entity", eid)))
            linked.add((eid, m.passage_id))
    for eid, pid in sorted(linked):
        add((iri("entity", eid), KGR.mentionedIn, iri("passage", pid)))


def _add_relation(add, iri: _Iris, r: Relation) -> None:
    node = iri("relation", r.id)
    s, o, pred = iri("entity", r.subject), iri("entity", r.object), predicate_iri(r.predicate)
    add((s, pred, o))
    add((node, RDF.type, RDF.Statement))
    add((node, RDF.type, KGR.Relation))
    add((node, KGR.id, Literal(r.id)))
    add((node, RDF.subject, s))
    add((node, RDF.predicate, pred))
    add((node, RDF.object, o))
    add((node, KGR.predicateName, Literal(r.predicate)))
    add((node, KGR.confidence, _dec(r.confidence)))
    for i, ev in enumerate(r.evidence):
        passage = iri("passage", ev.passage_id)
        add((node, PROV.wasDerivedFrom, passage))
        dn = iri.part("evidence", r.id, i)
        add((node, PROV.qualifiedDerivation, dn))
        add((dn, RDF.type, PROV.Derivation))
        add((dn, RDF.type, KGR.Evidence))
        add((dn, KGR["index"], Literal(i)))
        add((dn, PROV.entity, passage))
        add((dn, PROV.hadPrimarySource, iri("document", ev.doc_id)))
        add((dn, KGR.start, Literal(ev.start)))
        add((dn, KGR.end, Literal(ev.end)))
        add((dn, KGR.sentence, Literal(ev.sentence)))
        add((dn, KGR.confidence, _dec(ev.confidence)))


def _add_synonym(add, iri: _Iris, index: int, s: SynonymLink) -> None:
    a, b, node = iri("entity", s.a), iri("entity", s.b), URIRef(f"{iri.base}synonym/{index}")
    add((a, SKOS.closeMatch, b))
    add((node, RDF.type, RDF.Statement))
    add((node, RDF.type, KGR.SynonymLink))
    add((node, KGR["index"], Literal(index)))
    add((node, RDF.subject, a))
    add((node, RDF.predicate, SKOS.closeMatch))
    add((node, RDF.object, b))
    add((node, KGR.score, _dec(s.score)))
    add((node, KGR.reason, Literal(s.reason)))


# ---- files --------------------------------------------------------------------------------------


def write_rdf(graph: KnowledgeGraph, path: str | Path, format: str | None = None, base: str = DEFAULT_BASE) -> None:
    """Write ``graph`` as RDF to ``path`` (atomically) in turtle, nt, jsonld or xml (guessed from the
    extension when ``format`` is None). RDF/XML cannot carry most control characters: text holding
    one raises StoreError naming it (use turtle, nt or jsonld for such data)."""
    name = rdf_format(path, format)
    rdf = to_rdf(graph, base)
    if name == "xml":
        for s, p, o in rdf:
            if isinstance(o, Literal) and XML_INVALID.search(o):
                raise StoreError(
                    f"{path}: <{s}> has text with a character XML cannot carry "
                    f"({XML_INVALID.search(o).group()!r}); write turtle, nt or jsonld instead"
                )
    atomic_write(path, lambda fh: rdf.serialize(destination=fh, format=RDF_FORMATS[name], encoding="utf-8"))

