"""Post-retrieval context assembly: compress the retrieved passages to the sentences that matter,
drop near-duplicates, fit a token budget, and keep a citation for every sentence.

A sentence is kept when it mentions a linked question entity or an answer candidate, or shares
content words with the question; each passage also keeps its first sentence (it names the subject).
Offsets are absolute document offsets, so ``citation.quote == document.text[start:end]``.

>>> from kg.graph import KnowledgeGraph
>>> from kg.model import Document, Evidence, Passage, Retrieval
>>> d = Document.from_text("Ada Lovelace was a writer. She liked tea. She wrote Notes.", source="a.txt", title="Ada")
>>> g = KnowledgeGraph(documents={d.id: d}, passages={d.id + ":p0": Passage(d.id + ":p0", d.id, 0, 0, 58, d.text)})
>>> r = Retrieval("Which notes did Ada write?", "dense", (Evidence(d.id + ":p0", d.id, "Ada", d.text, 1.0, "dense"),))
>>> print(build_context(r, g).render())
[1] Ada: Ada Lovelace was a writer. She wrote Notes.
"""
from __future__ import annotations

import weakref
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from kg.errors import ConfigError, NotFoundError
from kg.graph import KnowledgeGraph
from kg.model import Citation, Evidence, Hop, LinkedEntity, Mention, Retrieval, ScoredEntity
from kg.text import content_words, name_key, words

from .text import contains_phrase, estimate_tokens, split_sentences

MAX_CANDIDATES = 20  # answer candidates whose mentions make a sentence relevant
DUPLICATE_JACCARD = 0.8  # word-set overlap above which a sentence repeats an earlier one


@dataclass(frozen=True)
class ContextMention:
    """An entity mention inside a kept sentence (absolute offsets), with its resolved entity."""

    text: str
    label: str
    kind: str
    start: int
    end: int
    source: int  # 1-based number of the source it appears in
    entity_id: str = ""
    entity_name: str = ""
    entity_type: str = ""


@dataclass(frozen=True)
class ContextSentence:
    """A kept sentence; ``citation.quote`` is its text; ``section`` the heading it is written under
    (the last part of its document's section path; "" outside any)."""

    citation: Citation
    score: float
    section: str = ""

    @property
    def text(self) -> str:
        return self.citation.quote


@dataclass(frozen=True)
class ContextSource:
    """One retrieved passage, reduced to its kept sentences, numbered from 1 in evidence order."""

    number: int
    title: str
    evidence: Evidence
    sentences: tuple[ContextSentence, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


@dataclass(frozen=True)
class Context:
    """What a generator sees: numbered sources plus the graph's view of the question."""

    question: str
    sources: tuple[ContextSource, ...]
    candidates: tuple[ScoredEntity, ...]
    linked: tuple[LinkedEntity, ...]
    chain: tuple[Hop, ...]
    mentions: tuple[ContextMention, ...]
    tokens: int

    def render(self) -> str:
        """Numbered-sources prompt text, one source a line: ``[1] Title: sentence ...``."""
        return "\n".join(_source_line(s) for s in self.sources)

    def citations(self) -> tuple[Citation, ...]:
        return tuple(s.citation for src in self.sources for s in src.sentences)


def _source_line(source: ContextSource) -> str:
    head = f"[{source.number}] {source.title}: " if source.title else f"[{source.number}] "
    return head + source.text


def build_context(
    retrieval: Retrieval,
    graph: KnowledgeGraph,
    token_budget: int = 1500,
    count_tokens: Callable[[str], int] | None = None,
) -> Context:
    """Compress ``retrieval.evidence`` into a cited context of at most ``token_budget`` tokens.

    ``count_tokens`` is the generator's tokenizer length function; a word-piece estimate otherwise.
    Raises NotFoundError when an evidence passage is not in ``graph``.
    """
    if token_budget < 1:
        raise ConfigError(f"token_budget: expected a positive number of tokens, got {token_budget}")
    count = count_tokens or estimate_tokens
    focus = _Focus.of(retrieval)
    index = _mention_index(graph)
    pools = [_score_passage(ev, graph, index, focus) for ev in retrieval.evidence]
    pools = _drop_duplicates(pools)
    kept = _fit_budget(pools, retrieval.evidence, graph, token_budget, count)
    sources, mentions = _make_sources(retrieval.evidence, kept, graph, index)
    used = sum(count(_source_line(s)) for s in sources)
    return Context(retrieval.question, sources, retrieval.entities, retrieval.linked, retrieval.chain, mentions, used)


@dataclass(frozen=True)
class _Focus:
    """What makes a sentence relevant: question words and entity ids/names."""

    words: frozenset[str]
    linked_ids: frozenset[str]
    candidate_ids: frozenset[str]
    names: tuple[str, ...]

    @classmethod
    def of(cls, r: Retrieval) -> "_Focus":
        cands = r.entities[:MAX_CANDIDATES]
        names = [x.name for x in r.linked] + [x.mention for x in r.linked] + [h.object for h in r.chain]
        return cls(
            frozenset(content_words(r.question)),
            frozenset(x.entity_id for x in r.linked),
            frozenset(x.entity_id for x in cands),
            tuple(n for n in dict.fromkeys(names) if len(name_key(n)) > 2),
        )


# (citation, score, sentence index within passage)
_Scored = tuple[Citation, float, int]


def _score_passage(ev: Evidence, graph: KnowledgeGraph, index: dict, focus: _Focus) -> list[_Scored]:
    passage = graph.passages.get(ev.passage_id)
    if passage is None:
        raise NotFoundError(f"evidence passage {ev.passage_id!r} is not in the graph; expected a passage id of it")
    doc = graph.documents[passage.doc_id]
    ments = index.get(ev.passage_id, [])
    out: list[_Scored] = []
    for i, (text, s, e) in enumerate(split_sentences(passage.text)):
        start, end = passage.start + s, passage.start + e
        eids = {graph.assignments.get(m.id) for m in ments if start <= m.start and m.end <= end and m.end > m.start}
        score = 2.0 * len(eids & focus.linked_ids) + 1.0 * len(eids & focus.candidate_ids)
        score += sum(1.0 for n in focus.names if contains_phrase(text, n))
        overlap = len(focus.words & set(content_words(text)))
        score += overlap / max(1, len(focus.words))
        if score > 0 or i == 0:
            cite = Citation(doc.id, passage.id, start, end, doc.text[start:end], doc.source, doc.title)
            out.append((cite, score + (0.5 if i == 0 else 0.0), i))
    return out


def _drop_duplicates(pools: list[list[_Scored]]) -> list[list[_Scored]]:
    """Remove sentences whose word set nearly equals an earlier kept sentence's (overlapping chunks,
    mirrored documents)."""
    seen: list[set[str]] = []
    out = []
    for pool in pools:
        kept = []
        for item in pool:
            ws = set(words(item[0].quote))
            if any(len(ws & o) / max(1, len(ws | o)) >= DUPLICATE_JACCARD for o in seen):
                continue
            seen.append(ws)
            kept.append(item)
        out.append(kept)
    return out


def _fit_budget(pools, evidence, graph, budget: int, count) -> list[list[_Scored]]:
    """Greedy in three rounds so every source gets its best sentence before any gets a second:
    best sentence of each source, then first sentences, then the rest; by score within a round."""
    chosen: list[list[_Scored]] = [[] for _ in pools]
    used = 0
    by_score = lambda kx: (-kx[1][1], kx[0], kx[1][2])  # noqa: E731
    rounds = [
        sorted(((k, max(pool, key=lambda x: (x[1], -x[2]))) for k, pool in enumerate(pools) if pool), key=by_score),
        [(k, pool[0]) for k, pool in enumerate(pools) if pool and pool[0][2] == 0],
        sorted(((k, x) for k, pool in enumerate(pools) for x in pool), key=by_score),
    ]
    for round_ in rounds:
        for k, item in round_:
            if item in chosen[k]:
                continue
            cost = count(item[0].quote) + (count(f"[{k + 1}] {evidence[k].title}: ") if not chosen[k] else 0)
            if used + cost <= budget:
                chosen[k].append(item)
                used += cost
    return [sorted(c, key=lambda x: x[2]) for c in chosen]


def _make_sources(evidence, kept, graph: KnowledgeGraph, index: dict):
    sources, mentions = [], []
    for ev, items in zip(evidence, kept):
        if not items:
            continue
        number = len(sources) + 1
        doc = graph.documents[ev.doc_id]
        title = doc.title or ev.title
        sents = tuple(ContextSentence(c, round(score, 4), section_at(doc, c.start)) for c, score, _ in items)
        sources.append(ContextSource(number, title, ev, sents))
        for m in index.get(ev.passage_id, []):
            if any(c.start <= m.start and m.end <= c.end and m.end > m.start for c, _, _ in items):
                mentions.append(_context_mention(m, number, graph))
    return tuple(sources), tuple(mentions)


def section_at(doc, offset: int) -> str:
    """The heading of the section of ``doc`` that ``offset`` is in: the last part of its path.

    >>> from kg.model import Document
    >>> doc = Document("d", "a.md", "A", "x" * 50, sections=((10, "API"), (30, "API > `os.hostname()`")))
    >>> section_at(doc, 5), section_at(doc, 12), section_at(doc, 40)
    ('', 'API', '`os.hostname()`')
    """
    at = bisect_right([start for start, _ in doc.sections], offset) - 1
    return doc.sections[at][1].rsplit(" > ", 1)[-1] if at >= 0 else ""


def _context_mention(m: Mention, number: int, graph: KnowledgeGraph) -> ContextMention:
    eid = graph.assignments.get(m.id, "")
    ent = graph.entities.get(eid)
    return ContextMention(
        m.text, m.label, m.kind, m.start, m.end, number, eid, ent.name if ent else "", ent.type if ent else ""
    )


# Mentions by passage, built once per graph object (graphs are not hashable, so key by id and drop
# the entry when the graph is collected).
_INDEXES: dict[int, tuple[int, dict[str, list[Mention]]]] = {}


def _mention_index(graph: KnowledgeGraph) -> dict[str, list[Mention]]:
    key = id(graph)
    cached = _INDEXES.get(key)
    if cached is not None and cached[0] == len(graph.mentions):
        return cached[1]
    index: dict[str, list[Mention]] = {}
    for m in graph.mentions.values():
        index.setdefault(m.passage_id, []).append(m)
    for ms in index.values():
        ms.sort(key=lambda m: (m.start, m.end))
    if cached is None:
        weakref.finalize(graph, _INDEXES.pop, key, None)
    _INDEXES[key] = (len(graph.mentions), index)
    return index
