"""Question shapes: what kind of multi-hop question this is, and simpler queries that help retrieval.

- ``comparison``: two or more named items compared ("Which film came out first, A or B?",
  "Which of A and B ...?", "Are A and B both ...?", "Who was born first, A or B?");
- ``bridge``: a chain of relations ("Who is the father of the director of film X?",
  "What is the seat of the county where X is located?");
- ``yesno``: a yes/no question that is not a comparison ("Is X in Y?");
- ``simple``: anything else.

>>> s = analyze_question("Which film came out first, Blind Shaft or The Mask Of Fu Manchu?")
>>> s.kind, s.options
('comparison', ('Blind Shaft', 'The Mask Of Fu Manchu'))
>>> s.subqueries
('Blind Shaft: which film came out first', 'The Mask Of Fu Manchu: which film came out first')
>>> analyze_question("Who is the father of the director of film Hype?").relations
('father', 'director')
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_YESNO_START = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)
_WH_START = re.compile(r"^(who|whom|whose|what|which|where|when|why|how)\b", re.I)
# "..., A or B?" at the end of a question
_TAIL_OR = re.compile(r"^(?P<stem>.+?),\s*(?P<a>[^,]+?)\s+or\s+(?P<b>[^,]+?)\s*\??$", re.I)
# "Which of A and B ..." / "Who of A and B ..."
_WHICH_OF = re.compile(r"^(?:which|who)\s+(?:one\s+)?of\s+(?P<a>.+?)\s+(?:and|or)\s+(?P<b>.+?)\s+"
                       r"(?P<stem>(?:is|was|are|were|has|had|did|does|do|came|died|lived|"
                       r"had|won|played|got|can|directed|received)\b.*?)\??$", re.I)
# "Are A and B both ...", "Are both A and B ...", "Do A and B have the same ..."
_BOTH = re.compile(r"^(?P<aux>are|were|is|was|do|does|did|have|had)\s+(?:both\s+)?(?P<a>.+?)\s+and\s+"
                   r"(?P<b>.+?)\s+(?P<stem>(?:both|from|located|have|has|share|shared|born|"
                   r"considered|each|died)\b.*?)\??$", re.I)
_OF_CHAIN = re.compile(r"\bthe\s+((?:[a-z-]+\s+){0,2}?[a-z-]+)\s+of\b", re.I)


@dataclass(frozen=True)
class QuestionShape:
    """What ``analyze_question`` found: the kind, compared items (``options``), relation words of a
    bridge chain (outermost first), and sub-queries worth retrieving for separately."""

    question: str
    kind: str  # comparison | bridge | yesno | simple
    options: tuple[str, ...] = ()
    relations: tuple[str, ...] = ()
    subqueries: tuple[str, ...] = ()


def analyze_question(question: str) -> QuestionShape:
    """Classify ``question`` and derive sub-queries (plain function; rules only, no model).

    >>> analyze_question("Are Alice Munro and John Updike both Canadian?").options
    ('Alice Munro', 'John Updike')
    """
    q = " ".join(question.split())
    options, stem = _comparison(q)
    if options:
        subs = tuple(f"{o}: {stem}" if stem else o for o in options)
        return QuestionShape(question, "comparison", options, (), subs)
    relations = _relation_chain(q)
    if len(relations) >= 2 or _is_nested_clause(q):
        return QuestionShape(question, "bridge", (), relations, ())
    kind = "yesno" if _YESNO_START.match(q) else "simple"
    return QuestionShape(question, kind, (), relations, ())


def _comparison(q: str) -> tuple[tuple[str, ...], str]:
    for pattern in (_TAIL_OR, _WHICH_OF, _BOTH):
        m = pattern.match(q)
        if not m:
            continue
        a, b = _clean_option(m.group("a")), _clean_option(m.group("b"))
        if pattern is _TAIL_OR and not (_WH_START.match(m.group("stem")) or _YESNO_START.match(m.group("stem"))):
            continue
        if len(a) > 1 and len(b) > 1 and a.casefold() != b.casefold():
            return (a, b), _clean_stem(m.group("stem"))
    return (), ""


def _clean_option(text: str) -> str:
    text = re.sub(r"^(?:both\s+)?(?:the\s+)?(?:[a-z]+s?\s+of\s+(?:the\s+)?)?"
                  r"(?:films?|movies?|songs?|albums?|books?|bands?|persons?)\s+", "", text.strip(), flags=re.I)
    return text.strip(" ?.,'\"")


def _clean_stem(text: str) -> str:
    return text.strip(" ?.,").casefold()


def _relation_chain(q: str) -> tuple[str, ...]:
    """Relation words of "the X of the Y of Z" (outermost first), possessives included:
    "Edward's father's birthplace" reads as (birthplace, father)."""
    words = [m.group(1).casefold() for m in _OF_CHAIN.finditer(q)]
    possessive = re.findall(r"'s\s+((?:[a-z-]+\s+)?[a-z-]+)", q)
    words.extend(w.casefold() for w in reversed(possessive) if w.islower())
    return tuple(w for w in words if w not in {"name", "one", "part", "most", "rest", "kind", "type"})


def _is_nested_clause(q: str) -> bool:
    """A relative clause hanging off a noun ("the county where X is located", "the team that Y
    plays for") usually hides a second hop."""
    return bool(re.search(r"\bthe\s+[a-z]+(?:\s+[a-z]+)?\s+(?:where|that|which|who|whose|in which|of which)\b", q, re.I))


def decompose(shape: QuestionShape) -> tuple[str, ...]:
    """Queries to retrieve for, besides the question itself: one per compared item, or for a bridge
    chain the innermost "relation of anchor" phrase.

    >>> decompose(analyze_question("Who is the mother of the director of film Polish Wedding?"))
    ('director of film Polish Wedding',)
    """
    if shape.subqueries:
        return shape.subqueries
    if shape.kind == "bridge" and shape.relations:
        inner = shape.relations[-1]
        m = re.search(rf"\b{re.escape(inner)}\s+of\s+(?:the\s+)?(.+?)\??$", shape.question, re.I)
        if m and not _OF_CHAIN.search(m.group(1)):
            return (f"{inner} of {m.group(1).strip()}",)
    return ()
