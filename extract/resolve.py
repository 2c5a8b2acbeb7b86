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
Entities, merge records and links are read off the merged nodes in ``extract.resolution``.

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
from collections import defaultdict
from typing import Sequence

from kg.config import ResolveConfig
from kg.embedding import Embedder
from kg.errors import ConfigError
from kg.model import Mention, Resolution

from .names import (
    acronym_form,
    coarse_type,
    family,
    fuzzy_pairs,
    initials,
    is_name_variant,
    match_key,
    near_group,
    number_signature,
    person_tokens,
)
from .merging import Merger, NameNode
from .resolution import (
    ambiguity_links,
    assign_pronouns,
    dedupe_links,
    embedding_links,
    merge_records,
    pronoun_records,
    settle_entities,
)

_RULE_SCORE = {"person-name": 0.9, "acronym": 0.9}  # fixed confidence of the symbolic rules
_MAX_SURNAME_BLOCK = 300  # more people than this share a surname: any short variant is ambiguous


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
    merger = Merger(_build_nodes(named))
    _link_surnames(merger)
    _join_concepts(merger)
    _merge_person_variants(merger)
    _merge_acronyms(merger)
    _merge_fuzzy(merger, config.fuzzy_threshold)
    entities, owner = settle_entities(merger)
    assignments = {m.id: owner[i] for i, n in enumerate(merger.nodes) for m in n.mentions}
    pronouns = [m for m in ordered if m.kind == "pronoun"]
    assign_pronouns(pronouns, ordered, assignments)
    merges = merge_records(merger, entities) + pronoun_records(pronouns, assignments)
    synonyms = ambiguity_links(merger, owner)
    if embedder is not None and config.use_embeddings:
        synonyms += embedding_links([e for e, _ in entities.values()], embedder, config.embedding_threshold,
                                     config.embed_concepts)
    return Resolution(
        entities=tuple(e for _, (e, _) in sorted(entities.items())),
        assignments=dict(sorted(assignments.items())),
        merges=tuple(sorted(set(merges), key=lambda r: (r.entity_id, r.mention_text, r.reason))),
        synonyms=dedupe_links(synonyms),
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


def _build_nodes(named: list[Mention]) -> list[NameNode]:
    """One node per (family, key), plus one per (document, key) for a surname or acronym that
    stands for a name written out in the same document (rules 3 and 4, decided locally)."""
    keyed = []
    for m in named:
        ctype = coarse_type(m.label)
        fam = family(ctype)
        # plural noun phrases and nationalities ("Americans") name the same thing as the singular
        keyed.append((m, fam, match_key(m.text, fam, fold_plural=fam == "CONCEPT" or ctype == "GROUP")))
    surnames, acronyms = _surname_targets(keyed), _acronym_targets(keyed)
    nodes: dict[tuple[str, str, str], NameNode] = {}
    for m, fam, key in keyed:
        person = coarse_type(m.label) == "PERSON"
        target, reason = (surnames, "person-name") if person else (acronyms, "acronym")
        target = target.get((m.doc_id, key), "") if fam == "NAME" else ""
        scope = m.doc_id if target else ""
        node = nodes.get((fam, key, scope))
        if node is None:
            node = nodes[(fam, key, scope)] = NameNode(fam, key, scope, target, reason if target else "")
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


def _link_surnames(merger: Merger) -> None:
    """Each document-local surname or acronym node joins the name it was set aside for."""
    index = {n.key: i for i, n in enumerate(merger.nodes) if n.family == "NAME" and not n.scope}
    for i, node in enumerate(merger.nodes):
        if node.target:
            merger.merge(index[node.target], i, node.target_reason, _RULE_SCORE[node.target_reason])


# ---- rules 2-4: concepts, person-name variants, acronyms ---------------------------------------------


def _join_concepts(merger: Merger) -> None:
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


def _merge_person_variants(merger: Merger) -> None:
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


def _merge_unique(merger: Merger, node: int, candidates: list[int], reason: str) -> None:
    """Merge with the one candidate entity, or remember an ambiguity (kept as synonym links)."""
    distinct = merger.distinct(candidates)
    if len(distinct) == 1:
        merger.merge(distinct[0], node, reason, _RULE_SCORE[reason])
    elif len(distinct) > 1:
        merger.ambiguous.append((node, distinct, reason))


def _merge_acronyms(merger: Merger) -> None:
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


def _merge_fuzzy(merger: Merger, threshold: float) -> None:
    """Close spellings of compatible type merge, best pairs first, unless a guard says otherwise."""
    nodes = merger.nodes
    # one-word names one letter apart are usually different names (Harlem / Haarlem, Edward / Edwards),
    # and noun phrases that close are different words (factor / factory): only multi-word names qualify
    eligible = [i for i, n in enumerate(nodes) if not n.scope and n.family == "NAME" and " " in n.key]
    pairs = fuzzy_pairs(_fuzzy_blocks(nodes, eligible), threshold)
    for (a, b), score in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if _fuzzy_allowed(nodes[a], nodes[b]):
            merger.merge(a, b, "fuzzy", round(score / 100.0, 4))


def _fuzzy_blocks(nodes: list[NameNode], eligible: list[int]) -> dict[tuple[str, str, str], list[tuple[str, int, str]]]:
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


def _fuzzy_allowed(a: NameNode, b: NameNode) -> bool:
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
