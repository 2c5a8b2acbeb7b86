"""Lookups over one graph built once, for exploring it interactively (``kg serve``, ``kb.search``):
entity -> relations, entity -> passages, mention counts, and names sorted for prefix search.

``KnowledgeGraph``'s own helpers scan every record per call (fine for one ``kg show``); a page that
asks for an entity's neighbourhood on every click needs them indexed.

>>> from kg.model import Entity, Provenance, Relation
>>> g = KnowledgeGraph(entities={i: Entity(i, n, "PERSON") for i, n in [("a", "Ada"), ("b", "Babbage"), ("c", "Byron")]},
...                    relations={"r1": Relation("r1", "a", "met", "b", 0.9, ()), "r2": Relation("r2", "c", "father_of", "a", 0.8, ())})
>>> look = GraphLookup.from_graph(g)
>>> [e.name for e in look.search("b")], look.named("ADA")
(['Babbage', 'Byron'], 'a')
>>> n = neighbourhood(look, "a", hops=1)
>>> sorted(n.nodes), [r.id for r in n.relations], n.more
(['a', 'b', 'c'], ['r1', 'r2'], 0)
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from .errors import NotFoundError
from .graph import KnowledgeGraph
from .model import Entity, MergeRecord, Relation


@dataclass(frozen=True)
class GraphLookup:
    """Indexes of one graph (see the module docstring); build with ``from_graph``."""

    graph: KnowledgeGraph
    relations: dict[str, tuple[Relation, ...]]  # entity id -> its relations, most confident first
    passages: dict[str, tuple[str, ...]]  # entity id -> passages mentioning it
    counts: dict[str, int]  # entity id -> mentions
    names: tuple[tuple[str, str], ...]  # (casefolded name or alias, entity id), sorted
    merges: dict[str, tuple[MergeRecord, ...]]  # entity id -> why its mentions were merged into it

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "GraphLookup":
        rels: dict[str, list[Relation]] = defaultdict(list)
        for r in graph.relations.values():
            rels[r.subject].append(r)
            if r.object != r.subject:
                rels[r.object].append(r)
        passages: dict[str, set[str]] = defaultdict(set)
        counts: dict[str, int] = defaultdict(int)
        for mid, eid in graph.assignments.items():
            m = graph.mentions.get(mid)
            if m is not None:
                passages[eid].add(m.passage_id)
                counts[eid] += 1
        names = sorted({(n.casefold(), e.id) for e in graph.entities.values() for n in (e.name, *e.aliases) if n})
        merges: dict[str, list[MergeRecord]] = defaultdict(list)
        for m in graph.merges:
            merges[m.entity_id].append(m)
        return cls(graph, {k: tuple(sorted(v, key=lambda r: (-r.confidence, r.id))) for k, v in rels.items()},
                   {k: tuple(sorted(v)) for k, v in passages.items()}, dict(counts), tuple(names),
                   {k: tuple(v) for k, v in merges.items()})

    def entity(self, entity_id: str) -> Entity:
        try:
            return self.graph.entities[entity_id]
        except KeyError:
            raise NotFoundError(f"no entity with id {entity_id!r} in the graph") from None

    def named(self, name: str) -> str | None:
        """The id of the best-attested entity with exactly this name or alias (case-insensitive)."""
        key = name.casefold().strip()
        start = bisect.bisect_left(self.names, (key, ""))
        ids = [e for n, e in self.names[start:start + 50] if n == key]
        return max(ids, key=lambda e: (self.counts.get(e, 0), e)) if ids else None

    def search(self, text: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or an alias starts with ``text`` (case-insensitive), best attested first;
        then, to fill ``limit``, those containing it."""
        key = text.casefold().strip()
        if not key:
            return []
        start = bisect.bisect_left(self.names, (key, ""))
        prefix: dict[str, None] = {}
        for name, eid in self.names[start:]:
            if not name.startswith(key) or len(prefix) >= 200:
                break
            prefix[eid] = None
        ranked = sorted(prefix, key=lambda e: (-self.counts.get(e, 0), self.graph.entities[e].name))[:limit]
        if len(ranked) < limit:
            inside = dict.fromkeys(e for n, e in self.names if key in n and e not in prefix)
            ranked += sorted(inside, key=lambda e: (-self.counts.get(e, 0), self.graph.entities[e].name))[:limit - len(ranked)]
        return [self.graph.entities[e] for e in ranked]


@dataclass(frozen=True)
class Neighbourhood:
    """Entities within ``hops`` relation edges of ``center`` and the relations between them; ``more``
    counts the center's relations left out by ``limit`` (ask again with ``offset``)."""

    center: str
    nodes: dict[str, int]  # entity id -> hops from the center
    relations: tuple[Relation, ...]
    more: int


def neighbourhood(look: GraphLookup, entity_id: str, hops: int = 1, limit: int = 30, offset: int = 0,
                  per_neighbour: int = 5) -> Neighbourhood:
    """The center's relations ``offset`` .. ``offset + limit`` (most confident first) and, with
    ``hops=2``, up to ``per_neighbour`` relations of each neighbour, so a hub entity stays readable
    and costs the same as any other."""
    if hops not in (1, 2) or limit < 1 or offset < 0:
        raise ValueError(f"neighbourhood: expected hops 1 or 2, limit >= 1, offset >= 0; got {hops}, {limit}, {offset}")
    look.entity(entity_id)
    own = look.relations.get(entity_id, ())
    page = own[offset:offset + limit]
    nodes = {entity_id: 0}
    chosen: dict[str, Relation] = {}
    for r in page:
        chosen[r.id] = r
        for end in (r.subject, r.object):
            nodes.setdefault(end, 1)
    if hops == 2:
        for n in [n for n, d in nodes.items() if d == 1]:
            for r in look.relations.get(n, ())[:per_neighbour]:
                chosen.setdefault(r.id, r)
                for end in (r.subject, r.object):
                    nodes.setdefault(end, 2)
    return Neighbourhood(entity_id, nodes, tuple(chosen.values()), max(0, len(own) - offset - len(page)))
