"""Sentence splitting and chunking of documents into overlapping passages on sentence boundaries.

The splitter is rule-based (no spaCy) so chunking thousands of documents takes well under a second.
Every span is an absolute character offset into the document text, without surrounding whitespace.

>>> text = "Dr. Smith met J. R. R. Tolkien in the U.S. in 1950. It rained 2.5 cm!"
>>> [text[s:e] for s, e in split_sentences(text)]
['Dr. Smith met J. R. R. Tolkien in the U.S. in 1950.', 'It rained 2.5 cm!']
"""
from __future__ import annotations

import re

from kg.errors import ConfigError
from kg.model import Document, Passage, passage_id

# A candidate end: terminal punctuation, then closing quotes/brackets, then whitespace.
_END = re.compile(r"(?:[.!?]+|…)[.!?…]*[\"'”’»)\]]*(?=\s)")
_LINE = re.compile(r"[^\n]+")
_TOKEN_BEFORE = re.compile(r"(\S*)$")
_LEADING_PUNCT = re.compile(r"^[\"'“‘«(\[]+")
_WORD = re.compile(r"\s*[\"'“‘«(\[]*(\w+)")
_DOTTED = re.compile(r"^(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}$")  # U.S, e.g, Ph.D, a.m

# Never end a sentence: titles and Latin abbreviations that are always followed by more sentence.
_NEVER_END = frozenset(
    "mr mrs ms mx dr prof messrs mme mlle rev hon gen col lt capt sgt maj cmdr adm gov sen rep pres "
    "fr e.g i.e cf vs viz approx ca".split()
)
# End only before a number-free word: "No. 5", "Jan. 12", "pp. 3-9", "Fig. 2".
_BEFORE_NUMBER = frozenset(
    "no nos vol vols p pp fig figs art ch sec op ed eds jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Ambiguous: end a sentence only when the next word is a common sentence opener ("in the U.S. The ...").
_SOFT = frozenset("inc ltd co corp llc plc bros jr sr st mt ft ave blvd rd etc esq dept univ est al".split())
_OPENERS = frozenset(
    "the a an he she it they we i you this that these those there his her its their our my in on at "
    "but and however after before as when while during from for by with his then later also some many "
    "both one two after since although though despite".split()
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, without surrounding whitespace.

    Newlines are hard boundaries; abbreviations (Dr., U.S., e.g., Inc.), initials (J. R. R. Tolkien),
    decimals and ellipses followed by lower case do not end a sentence; closing quotes and
    brackets after the full stop stay with it.

    >>> split_sentences('He said "Go." Then he left.\\nNew line')
    [(0, 13), (14, 27), (28, 36)]
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start = line.start()
        for cut in _line_cuts(text, line.start(), line.end()):
            _add_span(text, start, cut, spans)
            start = cut
        _add_span(text, start, line.end(), spans)
    return spans


def _line_cuts(text: str, lo: int, hi: int) -> list[int]:
    cuts = []
    for match in _END.finditer(text, lo, hi):
        nxt = _next_char(text, match.end(), hi)
        if nxt is not None and _ends_sentence(text, lo, match, nxt):
            cuts.append(match.end())
    return cuts


def _next_char(text: str, pos: int, hi: int) -> str | None:
    while pos < hi and text[pos].isspace():
        pos += 1
    return text[pos] if pos < hi else None


def _ends_sentence(text: str, lo: int, match: re.Match, nxt: str) -> bool:
    if nxt.islower():
        return False
    if not match.group().startswith(".") or match.group().startswith(".."):
        return True
    window = max(lo, match.start() - 40)  # longer tokens are never abbreviations
    token = _LEADING_PUNCT.sub("", _TOKEN_BEFORE.search(text, window, match.start()).group(1))
    low = token.lower()
    if len(token) == 1 and token.isupper():  # an initial: "J. R. R. Tolkien", "George W. Bush"
        return False
    if low in _NEVER_END:
        return False
    if low in _BEFORE_NUMBER and nxt.isdigit():
        return False
    if low in _SOFT or _DOTTED.match(token):
        return _next_word(text, match.end()).lower() in _OPENERS
    return True


def _next_word(text: str, pos: int) -> str:
    found = _WORD.match(text, pos)
    return found.group(1) if found else ""


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def chunk_document(doc: Document, chunk_size: int = 1200, overlap: int = 200) -> tuple[Passage, ...]:
    """Split ``doc`` into passages of whole sentences, each as long as possible up to ``chunk_size``
    characters; each passage after the first starts with trailing sentences of the previous one
    totalling at most ``overlap`` characters. A sentence longer than ``chunk_size`` is split at
    whitespace. ``passage.text == doc.text[passage.start:passage.end]`` always.

    Sentences are found in the document's prose view (``doc.prose``, for Markdown and
    reStructuredText), so markup never decides a boundary; each code block is one more piece (cut
    at whitespace when too long), so code stays searchable. A passage never crosses a heading: each
    section is chunked on its own and its passages carry its heading path.

    >>> doc = Document.from_text("One. Two. Three.", source="x.txt")
    >>> [p.text for p in chunk_document(doc, chunk_size=12, overlap=4)]
    ['One. Two.', 'Two. Three.']
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size: expected at least 1 character, got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise ConfigError(f"overlap: expected 0 <= overlap < chunk_size ({chunk_size}), got {overlap}")
    spans: list[tuple[int, int, str]] = []
    for lo, hi, section in _sections(doc):
        pieces = _pieces(doc, lo, hi, chunk_size)
        spans.extend((start, end, section) for start, end in _group(pieces, chunk_size, overlap))
    return tuple(
        Passage(passage_id(doc.id, index), doc.id, index, start, end, doc.text[start:end], section)
        for index, (start, end, section) in enumerate(spans)
    )


def _sections(doc: Document) -> list[tuple[int, int, str]]:
    """``(start, end, heading path)`` of each section of ``doc``, covering all of its text."""
    starts = [(start, path) for start, path in doc.sections if start < len(doc.text)]
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, ""))
    ends = [start for start, _ in starts[1:]] + [len(doc.text)]
    return [(start, end, path) for (start, path), end in zip(starts, ends)]


def _pieces(doc: Document, lo: int, hi: int, chunk_size: int) -> list[tuple[int, int]]:
    """Sentence spans of the prose view and code blocks within ``lo:hi``, in order, with pieces
    longer than ``chunk_size`` cut at whitespace."""
    view = doc.prose or doc.text
    sentences = [(lo + s, lo + e) for s, e in split_sentences(view[lo:hi])]
    code = {(max(s, lo), min(e, hi)) for s, e in doc.code if s < hi and e > lo}
    pieces: list[tuple[int, int]] = []
    for start, end in sorted(sentences + list(code)):
        if (start, end) not in code:
            start, end = with_markup(doc.text, view, start, end, pieces[-1][1] if pieces else lo, hi)
        _cut(doc.text, start, end, chunk_size, pieces)
    return pieces


def with_markup(text: str, view: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """A sentence of the prose view widened over the markup glued to its ends ("`kg`", "**Note**"),
    but not past ``lo`` and ``hi``, so that a passage or quote takes whole words of the file.

    >>> with_markup("See **Ada**.", "See   Ada  .", 6, 9, 0, 12)
    (4, 11)
    """
    while start > lo and view[start - 1] == " " and not text[start - 1].isspace():
        start -= 1
    while end < hi and view[end] == " " and not text[end].isspace():
        end += 1
    return start, end


def _cut(text: str, start: int, end: int, chunk_size: int, pieces: list[tuple[int, int]]) -> None:
    while end - start > chunk_size:
        cut = _last_space(text, start, start + chunk_size)
        _add_span(text, start, cut, pieces)
        start = cut
        while text[start].isspace():
            start += 1
    _add_span(text, start, end, pieces)


def _last_space(text: str, start: int, limit: int) -> int:
    """The last whitespace position in ``(start, limit]``, or ``limit`` for one overlong word."""
    for pos in range(limit, start, -1):
        if text[pos].isspace():
            return pos
    return limit


def _group(pieces: list[tuple[int, int]], chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    spans = []
    first = 0
    while first < len(pieces):
        last = first
        while last + 1 < len(pieces) and pieces[last + 1][1] - pieces[first][0] <= chunk_size:
            last += 1
        spans.append((pieces[first][0], pieces[last][1]))
        if last + 1 == len(pieces):
            break
        first = _overlap_start(pieces, first, last, chunk_size, overlap)
    return spans


def _overlap_start(pieces: list[tuple[int, int]], first: int, last: int, chunk_size: int, overlap: int) -> int:
    """First piece of the next passage: the earliest trailing pieces of this one that fit in
    ``overlap`` and still leave room for the next new piece (so every passage makes progress)."""
    following_end = pieces[last + 1][1]
    for k in range(first + 1, last + 1):
        if pieces[last][1] - pieces[k][0] <= overlap and following_end - pieces[k][0] <= chunk_size:
            return k
    return last + 1
