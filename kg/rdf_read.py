"""Import of RDF written by ``kg.rdf`` back into a KnowledgeGraph (vocabulary: docs/rdf-vocabulary.md).

``from_rdf`` reads back everything but vectors and merge records, so ``from_rdf(to_rdf(g))`` has
the same documents, passages, entities, mentions, assignments, relations, synonyms and settings as
``g``; ``read_rdf`` does the same from a file. Both are also importable from ``kg.rdf``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from urllib.parse import unquote

import rdflib
from rdflib import RDF, RDFS, SKOS, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, PROV

from .errors import InputError, KgError, StoreError
from .graph import KnowledgeGraph
from .model import Document, Entity, Mention, Passage, Provenance, Relation, SynonymLink
from .rdf_vocab import FORMAT_VERSION, KGR, RDF_FORMATS, rdf_format


def from_rdf(rdf: rdflib.Graph) -> KnowledgeGraph:
    """Rebuild a KnowledgeGraph from triples written by ``to_rdf`` (any base IRI).

    Raises StoreError naming the node and property when the data is not a kgreason export of a
    supported version, or a record is incomplete or points at a node that is not there.
    """
    r = _Reader(rdf)
    settings = r.settings()
    docs = {d.id: d for d in sorted(r.documents(), key=lambda d: d.id)}
    passages = {p.id: p for p in sorted(r.passages(), key=lambda p: (p.doc_id, p.index))}
    entities = {e.id: e for e in sorted(r.entities(), key=lambda e: e.id)}
    mentions, assignments = r.mentions(passages)
    relations = sorted(r.relations(), key=lambda x: x.id)
    return KnowledgeGraph(
        documents=docs,
        passages=passages,
        entities=entities,
        relations={x.id: x for x in relations},
        mentions=dict(sorted(mentions.items())),
        assignments=dict(sorted(assignments.items())),
        synonyms=tuple(r.synonyms()),
        settings=settings,
    )


class _Reader:
    """Reads the records of one rdflib graph; maps node IRIs back to record ids as it goes."""

    def __init__(self, rdf: rdflib.Graph):
        self.rdf = rdf
        self.ids: dict[str, dict[URIRef, str]] = {"document": {}, "passage": {}, "entity": {}, "mention": {}}

    def value(self, node, prop, default=None):
        v = self.rdf.value(node, prop)
        if v is None:
            if default is not None:
                return default
            raise StoreError(f"<{node}>: missing {self.rdf.namespace_manager.normalizeUri(prop)}")
        return v

    def text(self, node, prop, default=None) -> str:
        return str(self.value(node, prop, default))

    def num(self, node, prop, kind=int):
        v = self.value(node, prop)
        try:
            return kind(str(v))
        except ValueError:
            name = self.rdf.namespace_manager.normalizeUri(prop)
            raise StoreError(f"<{node}>: {name} is {str(v)!r}; expected a {kind.__name__}") from None

    def ref(self, node, prop, kind: str) -> str:
        target = self.value(node, prop)
        try:
            return self.ids[kind][target]
        except KeyError:
            article = "an" if kind[0] in "aeiou" else "a"
            raise StoreError(f"<{node}>: <{target}> is not {article} {kind} of the graph") from None

    def typed(self, cls, kind: str):
        for node in sorted(self.rdf.subjects(RDF.type, cls)):
            if kind:
                self.ids[kind][node] = self.text(node, KGR.id)
            yield node

    def settings(self) -> dict:
        nodes = list(self.rdf.subjects(RDF.type, KGR.Graph))
        if len(nodes) != 1:
            raise StoreError(f"found {len(nodes)} kgr:Graph nodes; expected one (RDF written by kgreason's to_rdf)")
        version = self.num(nodes[0], KGR.formatVersion)
        if version != FORMAT_VERSION:
            raise StoreError(f"<{nodes[0]}>: RDF format version {version} is not supported; expected {FORMAT_VERSION}")
        try:
            settings = json.loads(self.text(nodes[0], KGR.settings))
        except ValueError as exc:
            raise StoreError(f"<{nodes[0]}>: kgr:settings is not valid JSON ({exc})") from None
        if not isinstance(settings, dict):
            raise StoreError(f"<{nodes[0]}>: kgr:settings must be a JSON object, got {type(settings).__name__}")
        return settings

    def documents(self):
        for n in self.typed(KGR.Document, "document"):
            ext = self.text(n, DCTERMS.identifier, "")
            source, title = self.text(n, DCTERMS.source), self.text(n, DCTERMS.title)
            yield Document(self.text(n, KGR.id), source, title, self.text(n, KGR.text), ext)

    def passages(self):
        for n in self.typed(KGR.Passage, "passage"):
            doc = self.ref(n, DCTERMS.isPartOf, "document")
            index, start, end = self.num(n, KGR["index"]), self.num(n, KGR.start), self.num(n, KGR.end)
            yield Passage(self.text(n, KGR.id), doc, index, start, end, self.text(n, KGR.text))

    def entities(self):
        for n in self.typed(KGR.Entity, "entity"):
            head = self.rdf.value(n, KGR.aliasList)
            if head is not None:
                aliases = tuple(str(a) for a in Collection(self.rdf, head))
            else:
                aliases = tuple(sorted(str(a) for a in self.rdf.objects(n, SKOS.altLabel)))
            yield Entity(self.text(n, KGR.id), self.text(n, RDFS.label), self.text(n, KGR.entityType), aliases)

    def mentions(self, passages: dict[str, Passage]) -> tuple[dict[str, Mention], dict[str, str]]:
        nodes = list(self.typed(KGR.Mention, "mention"))  # ids first: refersTo may point forward
        mentions: dict[str, Mention] = {}
        assignments: dict[str, str] = {}
        for n in nodes:
            mid, pid = self.ids["mention"][n], self.ref(n, KGR.inPassage, "passage")
            mentions[mid] = Mention(
                mid, passages[pid].doc_id, pid, self.num(n, KGR.start), self.num(n, KGR.end), self.text(n, KGR.text),
                self.text(n, KGR.label), self.text(n, KGR.kind), self.refers_to(n),
            )
            if self.rdf.value(n, KGR.denotes) is not None:
                assignments[mid] = self.ref(n, KGR.denotes, "entity")
        return mentions, assignments

    def relations(self):
        for n in self.typed(KGR.Relation, ""):
            derivations = self.rdf.objects(n, PROV.qualifiedDerivation)
            evidence = sorted((self.evidence(e) for e in derivations), key=lambda x: x[0])
            yield Relation(
                self.text(n, KGR.id), self.ref(n, RDF.subject, "entity"), self.text(n, KGR.predicateName),
                self.ref(n, RDF.object, "entity"), self.num(n, KGR.confidence, float), tuple(p for _, p in evidence),
            )

    def refers_to(self, n) -> str:
        target = self.rdf.value(n, KGR.refersTo)
        if target is None:
            return ""
        # an antecedent need not be a mention of the graph: its id is in the IRI
        return self.ids["mention"].get(target) or unquote(str(target).rsplit("/", 1)[-1])

    def evidence(self, n) -> tuple[int, Provenance]:
        prov = Provenance(
            self.ref(n, PROV.hadPrimarySource, "document"), self.ref(n, PROV.entity, "passage"),
            self.num(n, KGR.start), self.num(n, KGR.end), self.text(n, KGR.sentence),
            self.num(n, KGR.confidence, float),
        )
        return self.num(n, KGR["index"]), prov

    def synonyms(self):
        links = []
        for n in self.typed(KGR.SynonymLink, ""):
            link = SynonymLink(
                self.ref(n, RDF.subject, "entity"), self.ref(n, RDF.object, "entity"),
                self.num(n, KGR.score, float), self.text(n, KGR.reason),
            )
            links.append((self.num(n, KGR["index"]), link))
        return [link for _, link in sorted(links, key=lambda x: x[0])]



def read_rdf(path: str | Path, format: str | None = None) -> KnowledgeGraph:
    """Read a graph written by ``write_rdf``; the format is guessed from the extension when None."""
    name = rdf_format(path, format)
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "file not found")
    rdf = rdflib.Graph()
    try:
        with warnings.catch_warnings():  # rdflib's JSON-LD parser warns about its own internals
            warnings.simplefilter("ignore", DeprecationWarning)
            rdf.parse(str(p), format=RDF_FORMATS[name])
    except KgError:
        raise
    except Exception as exc:  # rdflib's parsers raise many unrelated exception types
        raise InputError(str(p), f"not valid {name} RDF ({type(exc).__name__}: {exc})") from None
    try:
        return from_rdf(rdf)
    except StoreError as exc:
        raise StoreError(f"{p}: {exc}") from None
