"""The outputs of entity resolution, read off the merged name nodes of ``extract.resolve``.

Entities (one per union-find component, with canonical name, majority type and aliases), the
assignment of pronouns to their antecedents' entities, one merge record per surface form naming
the rule that brought it in, and the weaker equivalences kept as scored ``SynonymLink`` edges:
ambiguous acronyms and name variants, and embedding neighbours.

>>> dedupe_links([SynonymLink("a", "b", 0.5, "embedding"), SynonymLink("a", "b", 0.9, "embedding")])
(SynonymLink(a='a', b='b', score=0.9, reason='embedding'),)
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

from kg.embedding import Embedder
from kg.errors import BackendError, InputError
from kg.model import Entity, Mention, MergeRecord, SynonymLink, entity_id
from kg.text import strip_accents

from .merging import Merger, NameNode
from .names import (
    concept_name,
    family,
    majority_type,
    most_frequent,
    near_group,
    number_signature,
    similar_names,
)


REASONS = ("exact", "normalised", "acronym", "person-name", "fuzzy", "embedding", "pronoun")
_MAX_CANDIDATES = 5  # an ambiguous acronym/name with more candidates than this links to none
_NEIGHBOURS = 10  # embedding neighbours examined per entity name


# ---- entities, assignments and explanations -------------------------------------------------------


def settle_entities(merger: Merger) -> tuple[dict[str, tuple[Entity, int]], list[str]]:
    """Entities per component; components that get the same id are one entity, so merge and redo."""
    while True:
        components: dict[int, list[int]] = defaultdict(list)
        for i in range(len(merger.nodes)):
            components[merger.uf.find(i)].append(i)
        entities: dict[str, tuple[Entity, int]] = {}
        collided = False
        for members in components.values():
            entity, canonical = _describe(merger.nodes, members)
            if entity.id in entities:
                collided |= merger.merge(entities[entity.id][1], canonical, "exact", 1.0)
            entities[entity.id] = (entity, canonical)
        if not collided:
            owner = [""] * len(merger.nodes)
            for eid, (_, canonical) in entities.items():
                for i in components[merger.uf.find(canonical)]:
                    owner[i] = eid
            return entities, owner


def _describe(nodes: list[NameNode], members: list[int]) -> tuple[Entity, int]:
    """The entity of one component and the node holding its canonical name."""
    named = [i for i in members if nodes[i].family == "NAME"]
    types = Counter()
    for i in named or members:
        types.update(nodes[i].types)
    pool = [i for i in named if not nodes[i].scope] or members
    surfaces = Counter()
    for i in pool:
        surfaces.update(nodes[i].surfaces)
    name = most_frequent(surfaces) if named or nodes[members[0]].family != "CONCEPT" else concept_name(surfaces)
    canonical = next((i for i in pool if name in nodes[i].surfaces), pool[0])
    aliases = sorted({s for i in members for s in nodes[i].surfaces} - {name})
    etype = majority_type(types)
    return Entity(entity_id(name, etype), name, etype, tuple(aliases)), canonical


def assign_pronouns(pronouns: list[Mention], ordered: list[Mention], assignments: dict[str, str]) -> None:
    """A pronoun belongs to the entity of its antecedent (followed through pronoun chains)."""
    by_id = {m.id: m for m in ordered}
    for p in pronouns:
        current, seen = p, set()
        while current.kind == "pronoun":
            seen.add(current.id)
            nxt = by_id.get(current.refers_to)
            if nxt is None or nxt.id in seen:
                raise InputError(
                    p.doc_id,
                    f"pronoun mention {p.id!r} refers to {current.refers_to!r}; "
                    "expected the id of a non-pronoun mention in the input",
                )
            current = nxt
        assignments[p.id] = assignments[current.id]


def merge_records(merger: Merger, entities: dict[str, tuple[Entity, int]]) -> list[MergeRecord]:
    """One record per (surface form, entity): the rule on the path that brought its node in."""
    best: dict[tuple[str, str], tuple[int, float, str]] = {}
    for eid, (entity, canonical) in entities.items():
        for node, (reason, score) in _reasons_from(merger, canonical).items():
            for surface in merger.nodes[node].surfaces:
                why = (reason, score) if node != canonical else ("exact" if surface == entity.name else "normalised", 1.0)
                candidate = (REASONS.index(why[0]), -why[1], why[0])
                key = (surface, eid)
                best[key] = min(best.get(key, candidate), candidate)
    return [MergeRecord(s, eid, reason, -neg) for (s, eid), (_, neg, reason) in best.items()]


def _reasons_from(merger: Merger, root: int) -> dict[int, tuple[str, float]]:
    """Breadth-first over the merge tree: each node with the edge that joined it to its parent."""
    reasons = {root: ("exact", 1.0)}
    frontier = [root]
    while frontier:
        nxt = []
        for node in frontier:
            for other, reason, score in sorted(merger.tree.get(node, ())):
                if other not in reasons:
                    reasons[other] = (reason, score)
                    nxt.append(other)
        frontier = nxt
    return reasons


def pronoun_records(pronouns: list[Mention], assignments: dict[str, str]) -> list[MergeRecord]:
    return [MergeRecord(p.text, assignments[p.id], "pronoun", 1.0) for p in pronouns]


# ---- synonym links ------------------------------------------------------------------------------------


def ambiguity_links(merger: Merger, owner: list[str]) -> list[SynonymLink]:
    """An acronym or name variant with a few candidates links to each, scored 1/candidates.
    (A name variant with one candidate was merged; an acronym with one is linked, score 1.)"""
    links = []
    for node, candidates, reason in merger.ambiguous:
        targets = sorted({owner[c] for c in candidates} - {owner[node]})
        if (1 < len(targets) or reason == "acronym") and 0 < len(targets) <= _MAX_CANDIDATES:
            links += [_link(owner[node], t, 1.0 / len(targets), reason) for t in targets]
    return links


def _link(a: str, b: str, score: float, reason: str) -> SynonymLink:
    a, b = sorted((a, b))
    return SynonymLink(a, b, round(float(score), 4), reason)


def dedupe_links(links: list[SynonymLink]) -> tuple[SynonymLink, ...]:
    best: dict[tuple[str, str, str], SynonymLink] = {}
    for link in links:
        key = (link.a, link.b, link.reason)
        if key not in best or link.score > best[key].score:
            best[key] = link
    return tuple(best[k] for k in sorted(best))


def embedding_links(entities: list[Entity], embedder: Embedder, threshold: float,
                     concepts: bool = False) -> list[SynonymLink]:
    """Entities of compatible type whose names embed close together (not merged: reversible).

    Names, and concept noun phrases when ``concepts``. People are left out (a name's embedding is
    only its spelling: "Thomas Lennon" ~ "John Lennon"), and so are names without a Latin letter,
    which English-vocabulary models map to one unknown token.
    """
    families = ("NAME", "CONCEPT") if concepts else ("NAME",)
    pool = [e for e in entities if family(e.type) in families and e.type != "PERSON"
            and re.search(r"[A-Za-z]", strip_accents(e.name))]
    names = sorted({e.name for e in pool})
    if len(names) < 2:
        return []
    by_name: dict[str, list[Entity]] = defaultdict(list)
    for e in pool:
        by_name[e.name].append(e)
    links = []
    vectors = np.asarray(embedder.embed(names), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(names):
        raise BackendError(f"embedder {embedder.name!r} returned shape {vectors.shape}; expected ({len(names)}, dim)")
    for (a, b), score in similar_names(names, vectors, threshold, _NEIGHBOURS):
        if number_signature(a) != number_signature(b):
            continue
        links += [_link(x.id, y.id, score, "embedding") for x in by_name[a] for y in by_name[b]
                  if near_group(x.type) == near_group(y.type)]
    return links


