"""Core records of kgreason: small frozen dataclasses with stable, content-derived ids.

Every stage passes these records, never dicts: documents -> extraction (mentions, raw relations)
-> resolution (entities) -> graph (relations with provenance) -> answers with citations.

Character offsets (``start``/``end``) are always absolute offsets into the *document* text, so any
fact can be traced back to the exact characters of its source.

>>> doc = Document.from_text("Paris is the capital of France.", source="notes.txt")
>>> doc.id == document_id("", "Paris is the capital of France.")
True
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def stable_hash(*parts: str, length: int = 16) -> str:
    """Hex digest of ``parts`` joined by NUL; the basis of every id in the project."""
    h = hashlib.sha1("\x00".join(parts).encode("utf-8"))
    return h.hexdigest()[:length]


def document_id(title: str, text: str) -> str:
    """Content-derived id: the same title and text always give the same id."""
    return "d" + stable_hash(title, text)


def passage_id(doc_id: str, index: int) -> str:
    return f"{doc_id}:p{index}"


def mention_id(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id}:m{start}-{end}"


def entity_id(name: str, etype: str) -> str:
    """Entity ids derive from the canonical (normalised) name and coarse type."""
    return "e" + stable_hash(name.casefold(), etype)


def relation_id(subject: str, predicate: str, obj: str) -> str:
    return "r" + stable_hash(subject, predicate, obj)


@dataclass(frozen=True)
class Document:
    """One source document. ``source`` locates it (path, or ``path#record-id`` for JSONL);
    ``external_id`` is the id the user's data gave it (JSONL ``id``), if any.

    ``text`` is the file's text as written (Markdown included), so every offset points into it.
    Files with markup (Markdown, reStructuredText) also carry ``prose``: a view of the text of the
    same length in which markup and code are spaces, read by sentence splitting and extraction
    ("" when it would equal ``text``); ``sections``: ``(start offset, heading path)`` where each
    section begins, the path like "Installation > Using pip" ("" before the first heading and under
    the title heading); ``code``: ``(start, end)`` of each code block (in passages, never extracted).

    >>> Document.from_text("# Ada", source="a.md").prose
    ''
    """

    id: str
    source: str
    title: str
    text: str
    external_id: str = ""
    prose: str = ""
    sections: tuple[tuple[int, str], ...] = ()
    code: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_text(cls, text: str, *, source: str, title: str = "", external_id: str = "") -> "Document":
        return cls(document_id(title, text), source, title, text, external_id)


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk of a document on sentence boundaries; ``text == document.text[start:end]``.
    ``section`` is the heading path of the section holding it (a passage never spans two)."""

    id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    section: str = ""


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity mention found by an extractor.

    ``kind`` says how it was found: ``ner`` (named entity), ``noun`` (salient noun phrase),
    ``title`` (the document title), ``pronoun`` (a pronoun linked to the title entity).
    ``label`` is the fine type (spaCy NER label, ``CONCEPT`` for noun phrases).
    ``refers_to`` is the id of the antecedent mention (pronouns), resolved to the same entity.
    A ``title`` mention whose title does not occur in the text has ``start == end == 0``.
    """

    id: str
    doc_id: str
    passage_id: str
    start: int
    end: int
    text: str
    label: str
    kind: str
    refers_to: str = ""


@dataclass(frozen=True, slots=True)
class RawRelation:
    """A relation between two mentions of one document, before entity resolution.

    ``sentence_start``/``sentence_end`` delimit the supporting sentence in the document text.
    ``pattern`` names the dependency pattern that produced it (for explanation and debugging).
    """

    subject: str  # mention id
    predicate: str
    object: str  # mention id
    passage_id: str
    sentence_start: int
    sentence_end: int
    confidence: float
    pattern: str


@dataclass(frozen=True)
class DocumentExtraction:
    """Everything an extractor found in one document."""

    doc_id: str
    mentions: tuple[Mention, ...]
    relations: tuple[RawRelation, ...]


# Coarse entity types that are not names (noun-phrase concepts, dates, quantities); every other
# type (PERSON, PLACE, ORG, WORK, ...) names one thing.
UNNAMED_TYPES = ("CONCEPT", "DATE", "QUANTITY")


def is_named(entity_type: str) -> bool:
    """Whether a coarse entity type is a name (not a concept, date or quantity).

    >>> is_named("PERSON"), is_named("CONCEPT")
    (True, False)
    """
    return entity_type not in UNNAMED_TYPES


@dataclass(frozen=True, slots=True)
class Entity:
    """A resolved entity: one node standing for all mentions that were merged into it."""

    id: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """Why a mention was assigned to an entity (resolution is explainable and reversible)."""

    mention_text: str
    entity_id: str
    reason: str  # exact | normalised | acronym | person-name | fuzzy | embedding | pronoun
    score: float


@dataclass(frozen=True, slots=True)
class SynonymLink:
    """A weaker equivalence kept as an edge instead of a merge."""

    a: str  # entity id
    b: str  # entity id
    score: float
    reason: str


@dataclass(frozen=True)
class Resolution:
    """Output of entity resolution over all mentions of all documents."""

    entities: tuple[Entity, ...]
    assignments: dict[str, str]  # mention id -> entity id
    merges: tuple[MergeRecord, ...] = ()
    synonyms: tuple[SynonymLink, ...] = ()


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a fact is stated: the passage, its document and the sentence's character span."""

    doc_id: str
    passage_id: str
    start: int
    end: int
    sentence: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Relation:
    """An entity-to-entity fact with every passage that supports it."""

    id: str
    subject: str  # entity id
    predicate: str
    object: str  # entity id
    confidence: float
    evidence: tuple[Provenance, ...]


@dataclass(frozen=True)
class SkippedInput:
    """An input that was not ingested, with the reason (reported at the end of a build)."""

    source: str
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class BuildReport:
    """What ``kg.build`` did."""

    out: str
    documents_added: int
    documents_unchanged: int
    documents_removed: int
    skipped: tuple[SkippedInput, ...]
    passages: int
    entities: int
    relations: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


# ---- reasoning records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    doc_id: str
    passage_id: str
    start: int
    end: int
    quote: str
    source: str = ""
    title: str = ""


@dataclass(frozen=True)
class Hop:
    """One step of a reasoning chain: subject -predicate-> object, with its evidence."""

    subject: str  # entity name
    predicate: str
    object: str  # entity name
    evidence: Citation | None = None


@dataclass(frozen=True)
class Evidence:
    """A retrieved passage with its score and the retrieval mode that found it."""

    passage_id: str
    doc_id: str
    title: str
    text: str
    score: float
    mode: str
    rank: int = 0


@dataclass(frozen=True)
class LinkedEntity:
    """A question mention linked to a graph entity, and how."""

    mention: str
    entity_id: str
    name: str
    type: str
    score: float
    method: str  # exact | alias | fuzzy | embedding


@dataclass(frozen=True)
class ScoredEntity:
    """A graph entity ranked for a question (e.g. by personalised PageRank): answer candidates."""

    entity_id: str
    name: str
    type: str
    score: float


@dataclass(frozen=True)
class Retrieval:
    """Ranked evidence for a question, without generation (``KnowledgeBase.retrieve``)."""

    question: str
    mode: str
    evidence: tuple[Evidence, ...]
    chain: tuple[Hop, ...] = ()
    linked: tuple[LinkedEntity, ...] = ()
    entities: tuple[ScoredEntity, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the retrieve settings that produced it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The answer to a question, with where it comes from. ``found`` is False when the documents
    hold no evidence for an answer; ``text`` then says so instead of inventing one. ``supported`` is
    False when a found answer cites nothing, or none of its cited sentences states (or, for yes/no
    and comparisons, justifies) it; the answer pipeline always sets it (True for "not found", which
    claims nothing)."""

    question: str
    text: str
    found: bool
    citations: tuple[Citation, ...]
    chain: tuple[Hop, ...]
    evidence: tuple[Evidence, ...]
    mode: str
    generator: str
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # {"retrieve": ..., "generate": ...} used
    supported: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


VERDICTS = ("good", "bad", "partly")


@dataclass(frozen=True)
class Feedback:
    """A verdict on an answer, from a person (``source`` "human") or a judge model ("ai:<judge>").

    ``evidence`` is what was shown: ``(passage id, rank)`` pairs. ``correction`` is the right answer
    when the given one was wrong; ``relevant`` / ``irrelevant`` are passage ids marked as answering
    the question or not. A labelled question imported from a file is feedback on its gold answer
    (verdict "good"). ``graph_version`` is the saved graph it was given on; ``created`` is ISO 8601 UTC.
    The id derives from the content, so the same feedback stored twice is one record.

    >>> f = Feedback("Who wrote Notes?", "Ada", "good", created="2026-12-03T10:00:00Z")
    >>> f.id == Feedback("Who wrote Notes?", "Ada", "good", created="2026-12-03T10:00:00Z").id, f.is_human
    (True, True)
    """

    question: str
    answer: str
    verdict: str
    source: str = "human"
    correction: str = ""
    evidence: tuple[tuple[str, int], ...] = ()
    relevant: tuple[str, ...] = ()
    irrelevant: tuple[str, ...] = ()
    graph_version: str = ""
    created: str = ""

    @property
    def id(self) -> str:
        return "f" + stable_hash(self.question, self.answer, self.verdict, self.source, self.correction,
                                 repr(self.evidence), repr(self.relevant), repr(self.irrelevant), self.created)

    @property
    def is_human(self) -> bool:
        return self.source == "human"
