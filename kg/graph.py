"""The knowledge graph: documents, passages, resolved entities, relations with provenance.

``assemble_graph`` is a plain function: it turns extraction output plus an entity resolution into a
``KnowledgeGraph`` without changing its inputs. The graph answers "which passages say this?" for
every fact, and converts to networkx for analysis and export.

>>> from kg.model import Document, Passage, Mention, RawRelation, DocumentExtraction, Entity, Resolution
>>> d = Document.from_text("Ada wrote Notes.", source="a.txt")
>>> p = Passage(f"{d.id}:p0", d.id, 0, 0, 16, d.text)
>>> m1 = Mention(f"{d.id}:m0-3", d.id, p.id, 0, 3, "Ada", "PERSON", "ner")
>>> m2 = Mention(f"{d.id}:m10-15", d.id, p.id, 10, 15, "Notes", "WORK_OF_ART", "ner")
>>> r = RawRelation(m1.id, "write", m2.id, p.id, 0, 16, 0.9, "svo")
>>> res = Resolution((Entity("e1", "Ada", "PERSON"), Entity("e2", "Notes", "WORK")), {m1.id: "e1", m2.id: "e2"})
>>> g = assemble_graph([d], [p], [DocumentExtraction(d.id, (m1, m2), (r,))], res)
>>> [(x.subject, x.predicate, x.object) for x in g.relations.values()]
[('e1', 'write', 'e2')]
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .errors import NotFoundError
from .model import (
    Document,
    DocumentExtraction,
    Entity,
    Mention,
    MergeRecord,
    Passage,
    Provenance,
    Relation,
    Resolution,
    SynonymLink,
    relation_id,
)


@dataclass(frozen=True)
class VectorTable:
    """Row-aligned ids and L2-normalised vectors (e.g. one row per passage)."""

    ids: tuple[str, ...]
    vectors: np.ndarray  # float32, shape (len(ids), dim)
    model: str = ""


@dataclass
class KnowledgeGraph:
    """All records of one graph, keyed by id, in deterministic (sorted) order."""

    documents: dict[str, Document] = field(default_factory=dict)
    passages: dict[str, Passage] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    mentions: dict[str, Mention] = field(default_factory=dict)
    assignments: dict[str, str] = field(default_factory=dict)  # mention id -> entity id
    merges: tuple[MergeRecord, ...] = ()
    synonyms: tuple[SynonymLink, ...] = ()
    vectors: dict[str, VectorTable] = field(default_factory=dict)  # "passage" | "entity" | "fact"
    settings: dict = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------------
    def passages_of(self, doc_id: str) -> list[Passage]:
        return sorted((p for p in self.passages.values() if p.doc_id == doc_id), key=lambda p: p.index)

    def entity_mentions(self) -> dict[str, list[Mention]]:
        """Entity id -> its mentions, in document order."""
        out: dict[str, list[Mention]] = defaultdict(list)
        for mid, eid in self.assignments.items():
            out[eid].append(self.mentions[mid])
        for ms in out.values():
            ms.sort(key=lambda m: (m.doc_id, m.start))
        return dict(out)

    def entity_passages(self) -> dict[str, set[str]]:
        """Entity id -> ids of the passages that mention it."""
        out: dict[str, set[str]] = defaultdict(set)
        for mid, eid in self.assignments.items():
            out[eid].add(self.mentions[mid].passage_id)
        return dict(out)

    def relations_of(self, entity_id: str) -> list[Relation]:
        """Relations where the entity is subject or object, most confident first."""
        rels = [r for r in self.relations.values() if entity_id in (r.subject, r.object)]
        return sorted(rels, key=lambda r: (-r.confidence, r.id))

    def find_entity(self, name: str) -> Entity:
        """The entity whose id, name or alias equals ``name`` (case-insensitive), preferring the
        best-attested one; raises NotFoundError with close suggestions otherwise."""
        if name in self.entities:
            return self.entities[name]
        key = name.casefold().strip()
        counts = self._mention_counts()
        hits = [e for e in self.entities.values() if e.name.casefold() == key]
        hits = hits or [e for e in self.entities.values() if key in (a.casefold() for a in e.aliases)]
        if hits:
            return max(hits, key=lambda e: (counts.get(e.id, 0), e.id))
        close = sorted(e.name for e in self.entities.values() if key and key in e.name.casefold())[:5]
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        raise NotFoundError(f"no entity named {name!r} in the graph{hint}")

    def find_document(self, key: str) -> Document:
        """A document by id, external id (e.g. a JSONL ``id``) or source path."""
        if key in self.documents:
            return self.documents[key]
        for d in self.documents.values():
            if key in (d.external_id, d.source):
                return d
        raise NotFoundError(f"no document with id, external id or source {key!r} in the graph")

    def _mention_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for eid in self.assignments.values():
            counts[eid] += 1
        return counts

    def stats(self) -> dict[str, int]:
        return {
            "documents": len(self.documents),
            "passages": len(self.passages),
            "entities": len(self.entities),
            "mentions": len(self.mentions),
            "relations": len(self.relations),
            "relation_evidence": sum(len(r.evidence) for r in self.relations.values()),
            "synonym_links": len(self.synonyms),
        }

    # ---- conversion ----------------------------------------------------------------------------
    def to_networkx(self):
        """A networkx MultiDiGraph with document, passage and entity nodes and typed edges
        (``contains``, ``mentions``, ``relation``, ``synonym``). Attribute values are scalars so
        the graph can be written as GraphML."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for d in self.documents.values():
            g.add_node(d.id, kind="document", title=d.title, source=d.source, external_id=d.external_id)
        for p in self.passages.values():
            g.add_node(p.id, kind="passage", doc_id=p.doc_id, start=p.start, end=p.end, text=p.text)
            g.add_edge(p.doc_id, p.id, key="contains", kind="contains")
        for e in self.entities.values():
            g.add_node(e.id, kind="entity", name=e.name, type=e.type, aliases="|".join(e.aliases))
        for (pid, eid), n in sorted(_mention_pairs(self).items()):
            g.add_edge(pid, eid, key="mentions", kind="mentions", count=n)
        for r in self.relations.values():
            first = r.evidence[0]
            g.add_edge(
                r.subject, r.object, key=r.id, kind="relation", predicate=r.predicate,
                confidence=r.confidence, evidence=len(r.evidence), passage_id=first.passage_id,
                sentence=first.sentence,
            )
        for s in self.synonyms:
            g.add_edge(s.a, s.b, key=f"syn:{s.a}:{s.b}", kind="synonym", score=s.score, reason=s.reason)
        return g


def _mention_pairs(graph: KnowledgeGraph) -> dict[tuple[str, str], int]:
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for mid, eid in graph.assignments.items():
        pairs[(graph.mentions[mid].passage_id, eid)] += 1
    return pairs


def assemble_graph(
    documents: Iterable[Document],
    passages: Iterable[Passage],
    extractions: Iterable[DocumentExtraction],
    resolution: Resolution,
    settings: dict | None = None,
) -> KnowledgeGraph:
    """Join documents, passages, per-document extractions and a resolution into one graph.

    Raw relations are mapped onto resolved entities; facts stated several times are merged into one
    ``Relation`` whose evidence lists every supporting sentence, and whose confidence is the noisy-OR
    of its evidence. Self-loops (both ends resolved to one entity) are dropped.
    """
    docs = {d.id: d for d in sorted(documents, key=lambda d: d.id)}
    pas = {p.id: p for p in sorted(passages, key=lambda p: (p.doc_id, p.index))}
    mentions: dict[str, Mention] = {}
    evidence: dict[tuple[str, str, str], list[Provenance]] = defaultdict(list)
    sentences: dict[tuple[str, int, int], str] = {}
    for ex in sorted(extractions, key=lambda x: x.doc_id):
        text = docs[ex.doc_id].text
        for m in ex.mentions:
            mentions[m.id] = m
        for r in ex.relations:
            s, o = resolution.assignments.get(r.subject), resolution.assignments.get(r.object)
            if s is None or o is None or s == o:
                continue
            key = (ex.doc_id, r.sentence_start, r.sentence_end)  # relations of one sentence share its text
            sentence = sentences.get(key)
            if sentence is None:
                sentence = sentences[key] = text[r.sentence_start : r.sentence_end]
            evidence[(s, r.predicate, o)].append(
                Provenance(ex.doc_id, r.passage_id, r.sentence_start, r.sentence_end, sentence, r.confidence)
            )
    relations: dict[str, Relation] = {}
    for (s, pred, o), provs in sorted(evidence.items()):
        provs = sorted(set(provs), key=lambda p: (p.doc_id, p.start, -p.confidence))
        miss = 1.0
        for p in provs:
            miss *= 1.0 - p.confidence
        rid = relation_id(s, pred, o)
        relations[rid] = Relation(rid, s, pred, o, round(1.0 - miss, 4), tuple(provs))
    assignments = {mid: eid for mid, eid in sorted(resolution.assignments.items()) if mid in mentions}
    return KnowledgeGraph(
        documents=docs,
        passages=pas,
        entities={e.id: e for e in sorted(resolution.entities, key=lambda e: e.id)},
        relations=dict(sorted(relations.items())),
        mentions=dict(sorted(mentions.items())),
        assignments=assignments,
        merges=tuple(resolution.merges),
        synonyms=tuple(resolution.synonyms),
        settings=dict(settings or {}),
    )
