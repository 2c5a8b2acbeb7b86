"""Text helpers of the answering side, shared by context assembly, the answer pipeline and the
readers: phrase matching, related relation words, sentence splitting, token estimates, dates and
numbers. Word tokens, the stop list, the stemmer and the name key are the core's (``kg.text``).

>>> contains_phrase("Born in New York City.", "new york")
True
>>> [s for s, _, _ in split_sentences("Dr. Who is a show. It began in 1963.")]
['Dr. Who is a show.', 'It began in 1963.']
>>> parse_dates("born 2 November 1932 in Budapest")[0].value
(1932, 11, 2)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kg.text import name_key, stem

_ABBREV = frozenset(
    "mr mrs ms dr st jr sr prof gen col lt sgt capt rev hon no vs etc inc ltd co corp fr mt ft u.s u.k".split()
)
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


# Words that state the same relation ("married" ~ "wife"), as stems; a question word counts as
# stated by a sentence holding any word of its group.
_RELATED_GROUPS = (
    "marry married marriage wife husband spouse wed widow",
    "father mother parent son daughter child children",
    "sibling brother sister",
    "employer employ employed employee work worked",
    "born birth birthplace birthday native",
    "die died death dead",
    "play played star starred portray portrayed voice voiced cast role",
    "study studied attend attended educated graduated alumnus",
    "found founded establish established create created",
)
RELATED = {stem(w): frozenset(stem(x) for x in g.split()) for g in _RELATED_GROUPS for w in g.split()}


def states(sentence_words: set[str], word: str) -> bool:
    """Whether a sentence's content words state ``word`` (a stem) or a word of the same relation.

    >>> states({"wife", "frederick"}, "marry")
    True
    """
    return word in sentence_words or bool(RELATED.get(word, frozenset()) & sentence_words)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` on word boundaries, ignoring case and punctuation."""
    p = name_key(phrase)
    return bool(p) and f" {p} " in f" {name_key(text)} "


def split_sentences(text: str) -> list[tuple[str, int, int]]:
    """Sentences of ``text`` as (sentence, start, end) with ``text[start:end] == sentence``.

    Splits after . ! ? followed by a capital or digit, except after common abbreviations and
    initials ("J. R. R. Tolkien"), and at every blank line: a heading, a list or a paragraph of a
    Markdown file ends there, full stop or not.

    >>> [s for s, _, _ in split_sentences("## `os.hostname()`\\n\\nReturns the host name. It is a string.")]
    ['## `os.hostname()`', 'Returns the host name.', 'It is a string.']
    """
    out: list[tuple[str, int, int]] = []
    at = 0
    for block in re.finditer(r"\n[ \t]*\n", text):
        _split_block(out, text, at, block.start())
        at = block.end()
    _split_block(out, text, at, len(text))
    return out


def _split_block(out: list, text: str, start: int, stop: int) -> None:
    for m in _SENT_END.finditer(text, start, stop):
        before = text[start : m.start() + 1].split()
        last = before[-1].rstrip(".").casefold() if before else ""
        if len(last) <= 1 or last in _ABBREV or re.fullmatch(r"(\w\.)+\w?", last):
            continue
        end = m.end() - len(m.group()) + len(m.group().rstrip())
        _append(out, text, start, end)
        start = m.end()
    _append(out, text, start, stop)


def _append(out: list, text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((text[start:end], start, end))


def estimate_tokens(text: str) -> int:
    """Word-piece count estimate: one token per punctuation mark, one or more per word."""
    return sum(1 + len(t) // 7 for t in re.findall(r"\w+|[^\w\s]", text))


# ---- dates and numbers -----------------------------------------------------------------------------

MONTHS = {
    m: i + 1
    for i, names in enumerate(
        ["jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
         "aug august", "sep sept september", "oct october", "nov november", "dec december"]
    )
    for m in names.split()
}
_M = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})\s+(?P<m1>{_M})\s*,?\s*(?P<y1>\d{{3,4}})"
    rf"|(?P<m2>{_M})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s*,\s*(?P<y2>\d{{3,4}})"
    rf"|(?P<m3>{_M})\s+(?P<y3>\d{{4}})"
    rf"|(?P<y4>1\d{{3}}|20\d{{2}}))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateSpan:
    """A date found in text: comparable ``value`` (year, month, day; 0 when unknown) and its span."""

    text: str
    start: int
    end: int
    value: tuple[int, int, int]


def parse_dates(text: str) -> list[DateSpan]:
    """Dates in ``text`` in order: '2 November 1932', 'July 23, 1968', 'May 1990', '1944'."""
    out = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        year = int(g["y1"] or g["y2"] or g["y3"] or g["y4"])
        month_name = (g["m1"] or g["m2"] or g["m3"] or "").casefold().rstrip(".")
        day = int(g["d1"] or g["d2"] or 0)
        month = MONTHS.get(month_name, MONTHS.get(month_name[:3], 0)) if month_name else 0
        out.append(DateSpan(m.group(), m.start(), m.end(), (year, month, day if day <= 31 else 0)))
    return out


_DASH = re.compile(r"\s*[–—]\s*|\s+-\s+|(?<=[\d?])\s*-\s*(?=\w)|\s+to\s+")
_BORN, _DIED = re.compile(r"\b(?:born|b\.)\s*$", re.I), re.compile(r"\b(?:died|d\.)\s*$", re.I)


def lifespan(text: str) -> dict[str, DateSpan]:
    """The birth and death dates a name's parenthesis gives, as ``{"born": .., "died": ..}`` (spans in
    ``text``): "Ada (10 December 1815 – 27 November 1852) was", "(born 1 May 1900)", "(died 1141)",
    "(c. 1583 – 1640)", "(April 27, 1672 in Bordeaux – April 11, 1743 in Quebec)". The first
    parenthesis holding a date counts, when it opens within the sentence's first words (after a name,
    not a date in passing); a parenthesis inside it ("(some sources say 1671)") is not read.

    >>> {k: d.text for k, d in lifespan("Sir John Williams (9 January 1794 – 10 September 1859) was a baronet.").items()}
    {'born': '9 January 1794', 'died': '10 September 1859'}
    >>> {k: d.text for k, d in lifespan("Margaret of L' Aigle( died 1141) was a queen.").items()}
    {'died': '1141'}
    """
    for start, end in _parentheses(text):
        if len(text[:start].split()) > 12:
            return {}
        inner = re.sub(r"\([^()]*\)?", lambda m: " " * len(m.group()), text[start + 1:end])
        dates = parse_dates(inner)
        if dates:
            return {event: replace(d, start=d.start + start + 1, end=d.end + start + 1)
                    for event, d in _life_dates(inner, dates).items()}
    return {}


def _parentheses(text: str):
    """(start, end) of each outermost parenthesis, ``end`` at its ")" (or the text's end)."""
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth, start = depth + 1, i if depth == 0 else start
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                yield start, i
    if depth:
        yield start, len(text)


def _life_dates(inner: str, dates: list[DateSpan]) -> dict[str, DateSpan]:
    """Birth and death among the ``dates`` of a parenthesis' text ``inner``."""
    head = inner[:dates[0].start]
    if _DIED.search(head):
        return {"died": dates[0]}
    if _BORN.search(head):
        return {"born": dates[0]}
    for dash in _DASH.finditer(inner):
        before = [d for d in dates if d.end <= dash.start()]
        after = [d for d in dates if d.start >= dash.end()]
        if before and after:
            return {"born": before[0], "died": after[0]}
        if before and not inner[dash.end():].strip(" ?"):
            return {"born": before[0]}  # "(1950–)": living
    return {}


_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
_NUMBER = re.compile(r"\b(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def find_numbers(text: str) -> list[tuple[str, int, int]]:
    """Cardinal numbers (digits or number words) as (text, start, end)."""
    return [(m.group(), m.start(), m.end()) for m in _NUMBER.finditer(text)]
