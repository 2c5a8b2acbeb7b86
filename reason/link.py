"""Question entity linking: mentions in a question -> graph entities, by exact name, alias, fuzzy
(rapidfuzz) and embedding match.

Mentions come from a ``MentionFinder`` injected by the caller (the facade passes the spaCy one from
``extract.question_mentions``); ``NameMentionFinder`` is a model-free finder that spots known entity
names in the question, and its matches are always added.

>>> from kg.graph import KnowledgeGraph
>>> from kg.model import Entity
>>> g = KnowledgeGraph(entities={"e1": Entity("e1", "Ada Lovelace", "PERSON", ("Ada King",))})
>>> table = NameTable.from_graph(g)
>>> [(l.mention, l.name, l.method) for l in link_entities("Who taught Ada King?", g, None, None, table)]
[('Ada King', 'Ada Lovelace', 'alias')]
"""
from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from kg.config import LinkConfig
from kg.embedding import Embedder
from kg.graph import KnowledgeGraph
from kg.model import LinkedEntity
from kg.text import name_key
from kg.vectors import VectorIndex


_CATEGORY = re.compile(r"^(?:film|movie|song|album|book)\s+")
_QUESTION_WORDS = frozenset("who whom whose what which where when why how is are was were do does did".split())
_TOKEN = re.compile(r"[\w'&\-.]+")
_POSSESSIVE = re.compile(r"['’]s$")
_PARTICLES = frozenset("of the de del della di da van von der den du la le y".split())


@runtime_checkable
class MentionFinder(Protocol):
    """Finds entity mentions and salient noun phrases in a question: ``(surface, label)`` pairs."""

    def find(self, text: str) -> list[tuple[str, str]]: ...


def link_key(text: str) -> str:
    """The key a name is linked by: ``kg.text.name_key`` without a leading category word, so that
    "the film Hype" finds "Hype".

    >>> link_key("  The  Beatles' "), link_key("film Hype")
    ('beatles', 'hype')
    """
    return _CATEGORY.sub("", name_key(text))


@dataclass(frozen=True)
class NameTable:
    """Lookup tables of one graph's entity names, built once per loaded graph.

    ``specificity[eid]`` is ``1 / log2(2 + passages mentioning it)``: rare names weigh more as
    seeds than names found everywhere (HippoRAG's node specificity)."""

    by_name: dict[str, tuple[str, ...]]
    by_alias: dict[str, tuple[str, ...]]
    keys: tuple[str, ...]  # distinct name keys, shortest first: fuzzy matching reads a slice by length
    specificity: dict[str, float]
    max_words: int
    lengths: tuple[int, ...] = ()  # len of each key, for bisecting (set from ``keys``)

    def __post_init__(self):
        object.__setattr__(self, "lengths", tuple(len(k) for k in self.keys))

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "NameTable":
        counts: dict[str, set[str]] = defaultdict(set)
        for mid, eid in graph.assignments.items():
            m = graph.mentions.get(mid)
            if m is not None:
                counts[eid].add(m.passage_id)
        by_name: dict[str, list[str]] = defaultdict(list)
        by_alias: dict[str, list[str]] = defaultdict(list)
        for e in graph.entities.values():
            if key := link_key(e.name):
                by_name[key].append(e.id)
            for a in e.aliases:
                if (akey := link_key(a)) and akey != key:
                    by_alias[akey].append(e.id)
        rank = lambda ids: tuple(sorted(set(ids), key=lambda i: (-len(counts.get(i, ())), i)))
        spec = {e: 1.0 / math.log2(2 + len(counts.get(e, ()))) for e in graph.entities}
        longest = max((len(k.split()) for k in list(by_name) + list(by_alias)), default=1)
        return cls({k: rank(v) for k, v in by_name.items()}, {k: rank(v) for k, v in by_alias.items()},
                   tuple(sorted(by_name, key=lambda k: (len(k), k))), spec, min(longest, 12))

    def keys_near(self, key: str, threshold: float) -> tuple[str, ...]:
        """The name keys that can reach a rapidfuzz ratio of ``threshold`` with ``key``: the ratio is
        at most 1 - |a - b| / (a + b) for lengths a and b, so only keys within a length window can
        (lossless blocking; at 90 that is 0.82x to 1.22x the length).

        >>> t = NameTable({}, {}, ("ab", "abcd", "abcde", "abcdefghij"), {}, 1)
        >>> t.keys_near("abcd", 80.0)
        ('abcd', 'abcde')
        """
        start, end = self._window(key, threshold)
        return self.keys[start:end]

    def fuzzy_candidates(self, key: str, threshold: float, block_from: int | None = None) -> tuple[str, ...]:
        """``keys_near`` narrowed, still losslessly, by shared letter trigrams: a key within rapidfuzz
        ratio ``threshold`` of ``key`` is at most ``D`` insertions and deletions away, and each of
        those breaks at most 3 of ``key``'s trigrams, so it shares all but ``3 * D`` of them, hence
        at least one of the rarest ``3 * D + 1``. Only keys listed under those trigrams are
        compared; a key too short for the bound keeps the length window, and so does a window of
        at most ``BLOCK_FROM`` keys (scanning it costs less than building the trigram index, about
        0.3 s per 65,000 names, which a large graph's first fuzzy lookup pays once).

        >>> t = NameTable({}, {}, ("abcdefgh", "abcdefgx", "zzzzzzzz", "abcdefghi"), {}, 1)
        >>> t.fuzzy_candidates("abcdefgh", 90.0, block_from=0)
        ('abcdefgh', 'abcdefgx', 'abcdefghi')
        """
        block_from = BLOCK_FROM if block_from is None else block_from
        start, end = self._window(key, threshold)
        grams = _trigrams(key)
        if end - start <= block_from or not grams:
            return self.keys[start:end]
        longest = self.lengths[end - 1]
        edits = math.floor((1.0 - threshold / 100.0) * (len(key) + longest) + 1e-9)
        need = len(grams) - 3 * edits
        if need <= 0:
            return self.keys[start:end]
        index = self._gram_index()
        postings = sorted((index.get(g, _NONE) for g in grams), key=len)[: len(grams) - need + 1]
        rows = np.unique(np.concatenate(postings))
        rows = rows[(rows >= start) & (rows < end)]
        return tuple(self.keys[r] for r in rows.tolist())

    def _window(self, key: str, threshold: float) -> tuple[int, int]:
        slack = 1.0 - threshold / 100.0
        lo, hi = len(key) * (1 - slack) / (1 + slack), len(key) * (1 + slack) / (1 - slack) if slack < 1 else float("inf")
        return (bisect.bisect_left(self.lengths, math.ceil(lo - 1e-9)),
                bisect.bisect_right(self.lengths, math.floor(hi + 1e-9)))

    def _gram_index(self) -> dict[str, np.ndarray]:
        """Trigram -> positions in ``keys`` of the keys containing it (built on the first fuzzy
        lookup, then kept with the table)."""
        index = self.__dict__.get("_grams")
        if index is None:
            lists: dict[str, list[int]] = defaultdict(list)
            for at, key in enumerate(self.keys):
                for g in _trigrams(key):
                    lists[g].append(at)
            index = {g: np.asarray(v, dtype=np.int64) for g, v in lists.items()}
            object.__setattr__(self, "_grams", index)
        return index


_NONE = np.zeros(0, dtype=np.int64)
BLOCK_FROM = 50_000  # name keys in a length window above which fuzzy matching blocks by trigrams


def _trigrams(key: str) -> set[str]:
    return {key[i:i + 3] for i in range(len(key) - 2)}


class NameMentionFinder:
    """Model-free finder: the longest word n-grams of the question that are known entity names.

    >>> t = NameTable({"ada lovelace": ("e1",)}, {}, ("ada lovelace",), {"e1": 1.0}, 2)
    >>> NameMentionFinder(t).find("Was Ada Lovelace a poet?")
    [('Ada Lovelace', 'NAME')]
    """

    def __init__(self, table: NameTable):
        self.table = table

    def find(self, text: str) -> list[tuple[str, str]]:
        spans = [(m.start(), m.end()) for m in re.finditer(r"[\w'&\-.]+", text)]
        found, n, i = [], len(spans), 0
        while i < n:
            for j in range(min(n, i + self.table.max_words), i, -1):
                surface = text[spans[i][0] : spans[j - 1][1]].strip(".'")
                key = link_key(surface)
                if _linkable(key, surface) and (key in self.table.by_name or key in self.table.by_alias):
                    found.append((surface, "NAME"))
                    i = j - 1
                    break
            i += 1
        return found


class CapitalisedSpanFinder:
    """Model-free mentions: runs of capitalised words or numbers, with lower-case particles inside
    ("Duke of Edinburgh", "Ludwig van Beethoven"), skipping a capitalised question word at the start.
    They go through exact, alias, fuzzy and embedding matching, so a misspelt name still links.

    Measured against spaCy's entities and noun chunks as question mentions (benchmarks/retrieval.py):
    hybrid Recall@5 .652 against .639 on MuSiQue and .884 against .858 on 2Wiki, at half the latency
    and without loading spaCy for a question.

    >>> CapitalisedSpanFinder().find("Who was the Duke of Edinburgh's wife, born in 1926?")
    [('Duke of Edinburgh', 'NAME')]
    """

    def find(self, text: str) -> list[tuple[str, str]]:
        tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
        found, i = [], 0
        while i < len(tokens):
            if not _starts_name(tokens, i):
                i += 1
                continue
            j = i + 1
            while j < len(tokens) and (_continues_name(tokens[j][2]) or _particle_inside(tokens, j)):
                j += 1
            found.append((_POSSESSIVE.sub("", text[tokens[i][0]:tokens[j - 1][1]]).strip(".'"), "NAME"))
            i = j
        return found


def _starts_name(tokens: list[tuple[int, int, str]], i: int) -> bool:
    word = tokens[i][2]
    return word[:1].isupper() and not (i == 0 and word.casefold() in _QUESTION_WORDS)


def _continues_name(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


def _particle_inside(tokens: list[tuple[int, int, str]], j: int) -> bool:
    return tokens[j][2] in _PARTICLES and j + 1 < len(tokens) and tokens[j + 1][2][:1].isupper()


def _linkable(key: str, surface: str) -> bool:
    """Skip question words and short lower-case common words as stand-alone mentions."""
    if not key or key in _QUESTION_WORDS:
        return False
    return any(c.isupper() or c.isdigit() for c in surface) or len(key.split()) > 1


def link_entities(
    question: str,
    graph: KnowledgeGraph,
    finder: MentionFinder | None,
    embedder: Embedder | None,
    table: NameTable | None = None,
    entity_index: VectorIndex | None = None,
    config: LinkConfig = LinkConfig(),
) -> list[LinkedEntity]:
    """Link the question's mentions to graph entities; sorted by match score, then by specificity
    (rarer entities first).

    Each mention tries, in order: exact name, alias, fuzzy name (rapidfuzz ratio >= ``config.fuzzy_threshold``),
    embedding nearest neighbour over entity names (cosine >= ``config.embedding_threshold``, needs ``embedder`` and
    ``entity_index``); the last two only for name-like mentions (with a capital or a digit), so
    common phrases ("the county") do not drift to unrelated names. Names spotted by
    ``NameMentionFinder`` are always included."""
    table = table or NameTable.from_graph(graph)
    mentions = list(finder.find(question)) if finder is not None else []
    mentions += NameMentionFinder(table).find(question)
    links: dict[str, LinkedEntity] = {}
    unmatched: list[str] = []
    for surface, _label in _dedupe(mentions):
        name_like = any(c.isupper() or c.isdigit() for c in surface)
        found = _lexical(surface, graph, table, config.fuzzy_threshold if name_like else 101.0)
        if not found and name_like:  # common lower-case phrases link exactly or not at all
            unmatched.append(surface)
        for link in found:
            if link.entity_id not in links or link.score > links[link.entity_id].score:
                links[link.entity_id] = link
    for link in _by_embedding(unmatched, graph, embedder, entity_index, config.embedding_threshold):
        links.setdefault(link.entity_id, link)
    return sorted(links.values(), key=lambda l: (-l.score, -table.specificity.get(l.entity_id, 0), l.entity_id))


def _dedupe(mentions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for surface, label in mentions:
        key = link_key(surface)
        if key and key not in seen and key not in _QUESTION_WORDS:
            seen.add(key)
            out.append((surface.strip(), label))
    return out


def _lexical(surface: str, graph: KnowledgeGraph, table: NameTable, threshold: float) -> list[LinkedEntity]:
    key = link_key(surface)
    for method, index in (("exact", table.by_name), ("alias", table.by_alias)):
        if key in index:
            return [_link(surface, graph, eid, 1.0, method) for eid in index[key][:3]]
    if len(key) < 4 or not table.keys:
        return []
    from rapidfuzz import fuzz, process

    if threshold > 100:
        return []
    hits = process.extract(key, table.fuzzy_candidates(key, threshold), scorer=fuzz.ratio, score_cutoff=threshold,
                           limit=None)
    if not hits:
        return []
    hit = min(hits, key=lambda h: (-h[1], h[0]))  # ties: the alphabetically first key
    return [_link(surface, graph, eid, round(hit[1] / 100.0, 4), "fuzzy") for eid in table.by_name[hit[0]][:3]]


def _by_embedding(surfaces, graph, embedder, entity_index, threshold) -> list[LinkedEntity]:
    if not surfaces or embedder is None or entity_index is None or not len(entity_index):
        return []
    vectors = np.asarray(embedder.embed(list(surfaces)))
    out = []
    for surface, vec in zip(surfaces, vectors):
        for eid, score in entity_index.search(vec, 1):
            if score >= threshold and eid in graph.entities:
                out.append(_link(surface, graph, eid, round(float(score), 4), "embedding"))
    return out


def _link(surface: str, graph: KnowledgeGraph, eid: str, score: float, method: str) -> LinkedEntity:
    e = graph.entities[eid]
    return LinkedEntity(surface, e.id, e.name, e.type, score, method)
