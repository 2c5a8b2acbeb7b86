"""Nested questions: a question that asks about something it only describes.

"What is the seat of the county where Van Hook Township is located?" names no county; it describes
one ("the county where Van Hook Township is located", the *bridge*) and asks for an attribute of it
("seat"). The answer is then never the bridge itself: it is read from the evidence about the bridge.
``describe`` finds the innermost description and the question's words outside it.

>>> d = describe("What is the seat of the county where Van Hook Township is located?")
>>> d.text, d.noun, d.outer_words
('the county where Van Hook Township is located', 'county', ('seat',))
>>> describe("Who is the director of Titanic?") is None
True
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kg.text import content_words

_WORD = r"[A-Z0-9][\w.'’\-&:!]*"
_GLUE = r"(?:(?:of|in|on|for|at|to|and|from|with|under|&)(?:\s+(?:the|a|an))?|de|the|a|an|von|van|du|da|la|le|del|der|di)"
_JOIN = rf"(?:\s+|,\s+|\s+{_GLUE}\s+)"
_NAME = rf"(?:{_WORD}(?:{_JOIN}{_WORD})*(?:\s*\([^)]*\))?)"
_GLUE_WORDS = r"(?:of|in|on|for|at|to|by|from|with|who|whom|that|which|where|whose|when)\b"
_NOUN = rf"the\s+(?P<noun>[a-z][\w-]*(?:\s+(?!{_GLUE_WORDS})[a-z][\w-]*)?)"
_FORMS = (
    # "the director of (film) Titanic"
    re.compile(rf"\b{_NOUN}\s+(?:of|for|by|from)\s+(?:(?:the|a|an|[a-z][\w-]*)\s+){{0,2}}{_NAME}"),
    # "the county where Van Hook Township is located" (a relative clause runs to the end)
    re.compile(rf"\b{_NOUN}\s+(?:who|whom|that|which|where|whose|when|in which|on which)\s+.+$"),
    # "Anna Benson's husband"
    re.compile(rf"(?P<owner>{_NAME})['’]s\s+(?P<noun>[a-z][\w-]*)"),
)


@dataclass(frozen=True)
class Description:
    """The innermost described entity of a question: its ``text`` span, head ``noun`` (the
    bridge's type, e.g. 'county') and the content words of the question outside it."""

    text: str
    noun: str
    outer: str
    outer_words: tuple[str, ...]


def describe(question: str) -> Description | None:
    """The innermost description of ``question`` when the question asks something about it; None
    when the question has none, or when it asks for the described entity itself ("Who is the
    director of Titanic?")."""
    q = question.strip().rstrip("?").strip()
    found = [m for form in _FORMS for m in form.finditer(q)]
    if not found:
        return None
    m = max(found, key=lambda x: (x.start(), x.end()))
    noun = _head_noun(m.group("noun"))
    outer = (q[: m.start()] + " " + q[m.end() :]).strip()
    outer_words = tuple(content_words(outer))
    if not outer_words:
        return None
    return Description(m.group(), noun, outer, outer_words)


def _head_noun(phrase: str) -> str:
    """The last word of a short lower-case noun phrase ('highest civilian honor' -> 'honor')."""
    return phrase.split()[-1]
