"""Entity resolution across documents: every mention of every document -> entities, with reasons.

Rules, each one merging through a single union-find over *name nodes* (the distinct matching keys):

1. exact / normalised: mentions of one family (names, dates, quantities, noun phrases) with one
   matching key are one node, whatever label spaCy gave each ("Chelsea" as ORG and GPE).
2. a noun phrase (CONCEPT) with the key of a named entity joins that entity.
3. person-name: a bare surname joins the only full name of *its own document* that ends with it;
   a longer variant ("Willi Schneider", "J. Smith") joins the only fuller name that contains it.
4. acronym: "FIBT" joins the only long form whose initials it spells (not for people).
5. fuzzy: spelling variants of compatible type, found by blocking (never all pairs) and kept apart
   when their numbers differ ("Super Bowl XX" / "Super Bowl XL").

Weaker equivalences become ``SynonymLink`` edges instead of merges: embedding neighbours, and
acronyms or name variants with several candidates. Pronouns join their antecedent's entity.

>>> from kg.model import Mention
>>> def m(doc, start, text, label, kind="ner", refers_to=""):
...     return Mention(f"{doc}:m{start}-{start + len(text)}", doc, f"{doc}:p0", start, start + len(text),
...                    text, label, kind, refers_to)
>>> res = resolve([m("d1", 0, "Wilfried Willi Schneider", "PERSON"), m("d1", 40, "Schneider", "PERSON"),
...                m("d1", 60, "He", "PRON", "pronoun", "d1:m0-24"), m("d2", 0, "W. Schneider", "PERSON")])
>>> [(e.name, e.type, e.aliases) for e in res.entities]
[('Wilfried Willi Schneider', 'PERSON', ('Schneider', 'W. Schneider'))]
>>> sorted((r.mention_text, r.reason) for r in res.merges)
[('He', 'pronoun'), ('Schneider', 'person-name'), ('W. Schneider', 'person-name'), ('Wilfried Willi Schneider', 'exact')]
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from kg.config import ResolveConfig
from kg.embedding import Embedder
from kg.errors import BackendError, ConfigError, InputError
from kg.model import Entity, Mention, MergeRecord, Resolution, SynonymLink, entity_id

from .names import (
    acronym_form,
    coarse_type,
    concept_name,
    family,
    fuzzy_pairs,
    initials,
    is_name_variant,
    majority_type,
    match_key,
    most_frequent,
    near_group,
    number_signature,
    person_tokens,
    similar_names,
    strip_accents,
)

REASONS = ("exact", "normalised", "acronym", "person-name", "fuzzy", "embedding", "pronoun")
_RULE_SCORE = {"person-name": 0.9, "acronym": 0.9}  # fixed confidence of the symbolic rules
_MAX_SURNAME_BLOCK = 300  # more people than this share a surname: any short variant is ambiguous
_MAX_CANDIDATES = 5  # an ambiguous acronym/name with more candidates than this links to none
_NEIGHBOURS = 10  # embedding neighbours examined per entity name


@dataclass
class _Node:
    """Mentions sharing one matching key (``scope`` is a document id for a document-local surname)."""

    family: str
    key: str
    scope: str
    target: str = ""  # document-local surname or acronym: the key of the name it stands for
    target_reason: str = ""  # person-name | acronym
    mentions: list[Mention] = field(default_factory=list)

    def __post_init__(self):
        self.surfaces: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.docs: set[str] = set()

    def add(self, mention: Mention) -> None:
        self.mentions.append(mention)
        self.surfaces[mention.text] += 1
        self.types[coarse_type(mention.label)] += 1
        self.docs.add(mention.doc_id)

    @cached_property
    def ctype(self) -> str:
        """Majority coarse type (read once all mentions are added)."""
        return majority_type(self.types)

    @cached_property
    def surface(self) -> str:
        """Most frequent surface form (read once all mentions are added)."""
        return most_frequent(self.surfaces)


class _UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


class _Merger:
    """Union-find over nodes that remembers the edge (reason, score) behind every successful union."""

    def __init__(self, nodes: list[_Node]):
        self.nodes = nodes
        self.uf = _UnionFind(len(nodes))
        self.tree: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
        self.ambiguous: list[tuple[int, list[int], str]] = []

    def merge(self, a: int, b: int, reason: str, score: float) -> bool:
        if not self.uf.union(a, b):
            return False
        self.tree[a].append((b, reason, score))
        self.tree[b].append((a, reason, score))
        return True

    def distinct(self, candidates: list[int]) -> list[int]:
        """One representative (the first) per component among ``candidates``."""
        seen: dict[int, int] = {}
        for c in candidates:
            seen.setdefault(self.uf.find(c), c)
        return list(seen.values())


def resolve(
    mentions: Sequence[Mention], config: ResolveConfig = ResolveConfig(), embedder: Embedder | None = None
) -> Resolution:
    """Group the mentions of all documents into entities, explaining every merge.

    Every mention is assigned; the same mentions in any order give the same ``Resolution``.
    Embedding synonyms are computed only when ``embedder`` is given and ``config.use_embeddings``.

    >>> from kg.model import Mention
    >>> a = Mention("d1:m0-4", "d1", "d1:p0", 0, 4, "FIBT", "ORG", "ner")
    >>> b = Mention("d2:m0-55", "d2", "d2:p0", 0, 55, "Fédération Internationale de Bobsleigh et de Tobogganing", "ORG", "ner")
    >>> res = resolve([a, b])  # across documents an acronym is linked, not merged
    >>> [e.name for e in res.entities], [s.reason for s in res.synonyms]
    (['Fédération Internationale de Bobsleigh et de Tobogganing', 'FIBT'], ['acronym'])
    """
    _check_config(config)
    ordered = sorted(set(mentions), key=_mention_order)
    named = [m for m in ordered if m.kind != "pronoun"]
    merger = _Merger(_build_nodes(named))
    _link_surnames(merger)
    _join_concepts(merger)
    _merge_person_variants(merger)
    _merge_acronyms(merger)
    _merge_fuzzy(merger, config.fuzzy_threshold)
    entities, owner = _settle_entities(merger)
    assignments = {m.id: owner[i] for i, n in enumerate(merger.nodes) for m in n.mentions}
    pronouns = [m for m in ordered if m.kind == "pronoun"]
    _assign_pronouns(pronouns, ordered, assignments)
    merges = _merge_records(merger, entities) + _pronoun_records(pronouns, assignments)
    synonyms = _ambiguity_links(merger, owner)
    if embedder is not None and config.use_embeddings:
        synonyms += _embedding_links([e for e, _ in entities.values()], embedder, config.embedding_threshold,
                                     config.embed_concepts)
    return Resolution(
        entities=tuple(e for _, (e, _) in sorted(entities.items())),
        assignments=dict(sorted(assignments.items())),
        merges=tuple(sorted(set(merges), key=lambda r: (r.entity_id, r.mention_text, r.reason))),
        synonyms=_dedupe_links(synonyms),
    )


def _check_config(config: ResolveConfig) -> None:
    if not 0 <= config.fuzzy_threshold <= 100:
        raise ConfigError(f"resolve.fuzzy_threshold: expected a score from 0 to 100, got {config.fuzzy_threshold!r}")
    if not -1 <= config.embedding_threshold <= 1:
        raise ConfigError(
            f"resolve.embedding_threshold: expected a cosine from -1 to 1, got {config.embedding_threshold!r}"
        )


def _mention_order(m: Mention) -> tuple:
    return (m.id, m.doc_id, m.start, m.end, m.text, m.label, m.kind, m.refers_to, m.passage_id)


# ---- rule 1: nodes of one matching key, with document-local surnames set aside ----------------------


def _build_nodes(named: list[Mention]) -> list[_Node]:
    """One node per (family, key), plus one per (document, key) for a surname or acronym that
    stands for a name written out in the same document (rules 3 and 4, decided locally)."""
    keyed = []
    for m in named:
        ctype = coarse_type(m.label)
        fam = family(ctype)
        # plural noun phrases and nationalities ("Americans") name the same thing as the singular
        keyed.append((m, fam, match_key(m.text, fam, fold_plural=fam == "CONCEPT" or ctype == "GROUP")))
    surnames, acronyms = _surname_targets(keyed), _acronym_targets(keyed)
    nodes: dict[tuple[str, str, str], _Node] = {}
    for m, fam, key in keyed:
        person = coarse_type(m.label) == "PERSON"
        target, reason = (surnames, "person-name") if person else (acronyms, "acronym")
        target = target.get((m.doc_id, key), "") if fam == "NAME" else ""
        scope = m.doc_id if target else ""
        node = nodes.get((fam, key, scope))
        if node is None:
            node = nodes[(fam, key, scope)] = _Node(fam, key, scope, target, reason if target else "")
        node.add(m)
    return [nodes[k] for k in sorted(nodes)]


def _acronym_targets(keyed: list[tuple[Mention, str, str]]) -> dict[tuple[str, str], str]:
    """(document, acronym key) -> the key of the one long form in that document it abbreviates.

    Why per document: a text that writes "FIBT" near its long form defines it there, even when the
    same letters abbreviate other names elsewhere.
    """
    long_forms: dict[tuple[str, str], set[str]] = defaultdict(set)  # (doc, letters) -> long-form keys
    short: dict[tuple[str, str], str] = {}
    for m, fam, key in keyed:
        if fam != "NAME" or coarse_type(m.label) == "PERSON":
            continue
        for letters in initials(m.text):
            long_forms[(m.doc_id, letters)].add(key)
        letters = acronym_form(m.text)
        if letters:
            short[(m.doc_id, key)] = letters
    targets = {}
    for (doc, key), letters in sorted(short.items()):
        forms = long_forms.get((doc, letters), set()) - {key}
        if len(forms) == 1:
            targets[(doc, key)] = next(iter(forms))
    return targets


def _surname_targets(keyed: list[tuple[Mention, str, str]]) -> dict[tuple[str, str], str]:
    """(document, surname key) -> the key of the one full name of that document ending with it.

    Why per document: within one text "Schneider" is the Schneider named in full there; across
    texts a bare surname could be anyone.
    """
    full: dict[tuple[str, str], set[str]] = defaultdict(set)  # (doc, last token) -> full-name keys
    bare: set[tuple[str, str]] = set()
    for m, fam, key in keyed:
        tokens = person_tokens(key)
        if fam != "NAME" or coarse_type(m.label) != "PERSON":
            continue
        if len(tokens) > 1 and " of " not in key:  # "Countess of Surrey": Surrey is a place, not a surname
            full[(m.doc_id, tokens[-1])].add(key)
        else:
            bare.add((m.doc_id, key))
    targets = {}
    for doc, key in sorted(bare):
        names = _fullest(full.get((doc, person_tokens(key)[0]), set()))
        if len(names) == 1:
            targets[(doc, key)] = names[0]
    return targets


def _fullest(keys: set[str]) -> list[str]:
    """Drop names that are variants of another candidate ("Willi Schneider" under "Wilfried Willi Schneider")."""
    tokens = {k: person_tokens(k) for k in keys}
    return sorted(k for k in keys if not any(is_name_variant(tokens[k], tokens[o]) for o in keys if o != k))


def _link_surnames(merger: _Merger) -> None:
    """Each document-local surname or acronym node joins the name it was set aside for."""
    index = {n.key: i for i, n in enumerate(merger.nodes) if n.family == "NAME" and not n.scope}
    for i, node in enumerate(merger.nodes):
        if node.target:
            merger.merge(index[node.target], i, node.target_reason, _RULE_SCORE[node.target_reason])


# ---- rules 2-4: concepts, person-name variants, acronyms ---------------------------------------------


def _join_concepts(merger: _Merger) -> None:
    """A noun phrase written exactly as a named entity's name, articles aside, is that entity
    ("the Beatles" / "The Beatles"); a lower-case common noun ("house") does not join "House"."""
    nodes = merger.nodes
    names = {n.key: i for i, n in enumerate(nodes) if n.family == "NAME" and not n.scope}
    for i, node in enumerate(nodes):
        if node.family != "CONCEPT":
            continue
        hits = {
            j for surface in node.surfaces for j in [names.get(match_key(surface, "NAME"))]
            if j is not None and _bare(surface) in {_bare(s) for s in nodes[j].surfaces}
        }
        if len(hits) == 1:
            j = hits.pop()
            merger.merge(j, i, "exact" if set(node.surfaces) & set(nodes[j].surfaces) else "normalised", 1.0)


def _bare(surface: str) -> str:
    """A surface without a leading article, case kept."""
    return re.sub(r"^(the|a|an)\s+(?=\S)", "", surface.strip(), flags=re.IGNORECASE)


def _merge_person_variants(merger: _Merger) -> None:
    """A multi-word name joins the only fuller name it is a variant of ("J. Smith" -> "John Smith")."""
    blocks: dict[str, list[int]] = defaultdict(list)
    tokens = {}
    for i, n in enumerate(merger.nodes):
        if n.family == "NAME" and not n.scope and n.ctype == "PERSON" and len(person_tokens(n.key)) > 1:
            tokens[i] = person_tokens(n.key)
            blocks[tokens[i][-1]].append(i)
    for _, block in sorted(blocks.items()):
        if len(block) > _MAX_SURNAME_BLOCK:
            continue
        # fuller and initial-free variants first, so "J. Smith" sees "John Smith" already merged upward
        order = sorted(block, key=lambda i: (-len(tokens[i]), sum(len(t) == 1 for t in tokens[i]), i))
        for v in order:
            fuller = sorted((f for f in block if f != v and (tokens[f] == tokens[v] or is_name_variant(tokens[v], tokens[f]))),
                            key=lambda f: (-len(tokens[f]), f))
            _merge_unique(merger, v, fuller, "person-name")


def _merge_unique(merger: _Merger, node: int, candidates: list[int], reason: str) -> None:
    """Merge with the one candidate entity, or remember an ambiguity (kept as synonym links)."""
    distinct = merger.distinct(candidates)
    if len(distinct) == 1:
        merger.merge(distinct[0], node, reason, _RULE_SCORE[reason])
    elif len(distinct) > 1:
        merger.ambiguous.append((node, distinct, reason))


def _merge_acronyms(merger: _Merger) -> None:
    """Across documents an acronym only links (synonym edge) to the long forms whose initials it spells:
    a globally unique long form is often the wrong one ("CBS" -> "Central Bureau of Statistics" when the
    network is only ever written "CBS"). Merges happen in-document (see ``_acronym_targets``).
    People have no acronyms."""
    long_forms: dict[str, list[int]] = defaultdict(list)
    eligible = [i for i, n in enumerate(merger.nodes) if n.family == "NAME" and not n.scope and n.ctype != "PERSON"]
    for i in eligible:
        for letters in sorted(initials(merger.nodes[i].surface)):
            long_forms[letters].append(i)
    for i in eligible:
        letters = acronym_form(merger.nodes[i].surface)
        distinct = merger.distinct([j for j in long_forms.get(letters, []) if j != i]) if letters else []
        if distinct:
            merger.ambiguous.append((i, distinct, "acronym"))


# ---- rule 5: fuzzy spelling variants with blocking ----------------------------------------------------


def _merge_fuzzy(merger: _Merger, threshold: float) -> None:
    """Close spellings of compatible type merge, best pairs first, unless a guard says otherwise."""
    nodes = merger.nodes
    # one-word names one letter apart are usually different names (Harlem / Haarlem, Edward / Edwards),
    # and noun phrases that close are different words (factor / factory): only multi-word names qualify
    eligible = [i for i, n in enumerate(nodes) if not n.scope and n.family == "NAME" and " " in n.key]
    pairs = fuzzy_pairs(_fuzzy_blocks(nodes, eligible), threshold)
    for (a, b), score in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if _fuzzy_allowed(nodes[a], nodes[b]):
            merger.merge(a, b, "fuzzy", round(score / 100.0, 4))


def _fuzzy_blocks(nodes: list[_Node], eligible: list[int]) -> dict[tuple[str, str, str], list[tuple[str, int, str]]]:
    """Blocking keys: first / last four letters and first four of the sorted tokens, per type group.
    Why three: a typo can sit anywhere, but rarely in two of these places at once."""
    blocks: dict[tuple[str, str, str], list[tuple[str, int, str]]] = defaultdict(list)
    for i in eligible:
        node = nodes[i]
        group, compact = near_group(node.ctype), node.key.replace(" ", "")
        by_tokens = " ".join(sorted(node.key.split()))
        blocks[(group, "prefix", compact[:4])].append((node.key, i, node.key))
        blocks[(group, "suffix", compact[-4:])].append((node.key[::-1], i, node.key))
        blocks[(group, "tokens", by_tokens[:4])].append((by_tokens, i, node.key))
    return blocks


def _fuzzy_allowed(a: _Node, b: _Node) -> bool:
    """Guards: same numbers; for names, no shared document (one text uses one spelling, so two close
    spellings in it are two things); for people, each differing word a long, same-initial variant."""
    ta, tb = person_tokens(a.key), person_tokens(b.key)
    if len(ta) != len(tb) or not a.docs.isdisjoint(b.docs):
        return False
    if number_signature(a.surface) != number_signature(b.surface):
        return False
    if a.ctype == "PERSON" or b.ctype == "PERSON":
        return all(x == y or (min(len(x), len(y)) >= 5 and x[0] == y[0]) for x, y in zip(ta, tb))
    return True


# ---- entities, assignments and explanations -------------------------------------------------------


def _settle_entities(merger: _Merger) -> tuple[dict[str, tuple[Entity, int]], list[str]]:
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


def _describe(nodes: list[_Node], members: list[int]) -> tuple[Entity, int]:
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


def _assign_pronouns(pronouns: list[Mention], ordered: list[Mention], assignments: dict[str, str]) -> None:
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


def _merge_records(merger: _Merger, entities: dict[str, tuple[Entity, int]]) -> list[MergeRecord]:
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


def _reasons_from(merger: _Merger, root: int) -> dict[int, tuple[str, float]]:
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


def _pronoun_records(pronouns: list[Mention], assignments: dict[str, str]) -> list[MergeRecord]:
    return [MergeRecord(p.text, assignments[p.id], "pronoun", 1.0) for p in pronouns]


# ---- synonym links ------------------------------------------------------------------------------------


def _ambiguity_links(merger: _Merger, owner: list[str]) -> list[SynonymLink]:
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


def _dedupe_links(links: list[SynonymLink]) -> tuple[SynonymLink, ...]:
    best: dict[tuple[str, str, str], SynonymLink] = {}
    for link in links:
        key = (link.a, link.b, link.reason)
        if key not in best or link.score > best[key].score:
            best[key] = link
    return tuple(best[k] for k in sorted(best))


def _embedding_links(entities: list[Entity], embedder: Embedder, threshold: float,
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


