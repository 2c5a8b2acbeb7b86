"""Question analysis, one for the whole answering side: what kind of multi-hop question this is,
what a correct answer looks like, and simpler queries that help retrieval.

``kind`` is the retrieval's view:

- ``comparison``: two or more named items compared ("Which film came out first, A or B?",
  "Which of A and B ...?", "Are A and B both ...?", "Was A or B born first?");
- ``bridge``: a chain of relations ("Who is the father of the director of film X?",
  "What is the seat of the county where X is located?");
- ``yesno``: a yes/no question that is not a comparison ("Is X in Y?");
- ``simple``: anything else.

``form`` is the reader's view: ``choice`` (pick one of the options by a date or order),
``same`` (do the options share a value), ``yesno`` or ``factoid``; ``types`` are the spaCy NER
labels a correct answer has. Both views come from one ``analyse_question`` call and share one
list of ``options``, so retrieval and the reader never disagree on what is compared.

>>> q = analyse_question("Which film came out first, Blind Shaft or The Mask Of Fu Manchu?")
>>> q.kind, q.form, q.options, q.order
('comparison', 'choice', ('Blind Shaft', 'The Mask Of Fu Manchu'), 'min')
>>> q.subqueries
('Blind Shaft: which film came out first', 'The Mask Of Fu Manchu: which film came out first')
>>> q = analyse_question("Was Jamie Curry or Alyaksey Vasilewski born first?")
>>> q.kind, q.form, q.options, q.attribute
('comparison', 'choice', ('Jamie Curry', 'Alyaksey Vasilewski'), 'born')
>>> analyse_question("Who is the father of the director of film Hype?").relations
('father', 'director')
>>> sorted(analyse_question("Where was the director of Titanic born?").types[0])
['FAC', 'GPE', 'LOC']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kg.text import words

_YESNO_START = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)
_WH_START = re.compile(r"^(who|whom|whose|what|which|where|when|why|how)\b", re.I)
# "..., A or B?" at the end of a question (the first ", " starts the pair; options may hold commas)
_TAIL_OR = re.compile(r"^(?P<stem>[^,]+?),\s*(?P<pair>.+?\sor\s.+?)\s*\??$", re.I)
# "Was A or B born first?": the options are capitalised, the stem starts at the next lower-case word
_AUX_OR = re.compile(r"^(?P<aux>(?i:is|are|was|were|did|does|do|has|have|had))\s+(?:the\s+)?(?P<a>[A-Z].*?)\s+or\s+"
                     r"(?P<b>[A-Z].*?)\s+(?P<stem>[a-z].*?)\??$")
# "... between A or B?", "... of A or B?"
_BETWEEN_OR = re.compile(r"^(?P<stem>.+?)\b(?:between|of)\s+(?P<pair>.+?\sor\s.+?)\s*\??$", re.I)
# "Which of A and B ..." / "Who of A and B ..."
_WHICH_OF = re.compile(r"^(?:which|who)\s+(?:one\s+)?of\s+(?P<a>.+?)\s+(?:and|or)\s+(?P<b>.+?)\s+"
                       r"(?P<stem>(?:is|was|are|were|has|had|did|does|do|came|died|lived|"
                       r"had|won|played|got|can|directed|received)\b.*?)\??$", re.I)
# "Are A and B both ...", "Are both A and B ...", "Do A and B have the same ..."
_BOTH = re.compile(r"^(?P<aux>are|were|is|was|do|does|did|have|had)\s+(?:both\s+)?(?P<a>.+?)\s+and\s+"
                   r"(?P<b>.+?)\s+(?P<stem>(?:both|from|located|have|has|share|shared|born|"
                   r"considered|each|died)\b.*?)\??$", re.I)
# "Who was born first out of A and B?"
_OUT_OF = re.compile(r"^(?P<stem>(?:who|which|what)\b.+?)\s+(?:out of|among)\s+(?P<a>.+?)\s+(?:and|or)\s+(?P<b>.+?)\s*\??$", re.I)
# "Who lived longer, A or B?": the longer (or shorter) life
_LIFE_LONGER = r"\b(lived|live|lives|living) (longer|shorter)\b|\b(longer|shorter) (life|lifespan|life span)\b"
_OF_CHAIN = re.compile(r"\bthe\s+((?:[a-z-]+\s+){0,2}?[a-z-]+)\s+of\b", re.I)



PERSON = frozenset({"PERSON"})
PLACE = frozenset({"GPE", "LOC", "FAC"})
DATE = frozenset({"DATE"})
TIME = frozenset({"TIME", "DATE"})
NUMBER = frozenset({"CARDINAL", "QUANTITY"})
MONEY = frozenset({"MONEY", "CARDINAL", "QUANTITY"})
PERCENT = frozenset({"PERCENT", "CARDINAL"})
NATIONALITY = frozenset({"NORP"})
LANGUAGE = frozenset({"LANGUAGE", "NORP"})
ORG = frozenset({"ORG"})
WORK = frozenset({"WORK_OF_ART", "TITLE"})
EVENT = frozenset({"EVENT"})
PRODUCT = frozenset({"PRODUCT"})
LAW = frozenset({"LAW"})
NAMED = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "WORK_OF_ART", "EVENT", "PRODUCT", "LAW",
                   "LANGUAGE", "TITLE"})

# Head nouns after which/what, most specific first. Each maps to (primary, secondary) types.
_HEADS: tuple[tuple[str, frozenset, frozenset], ...] = (
    (r"nationality|citizenship", NATIONALITY, PLACE),
    (r"language", LANGUAGE, frozenset()),
    (r"year|date|century|decade|day|month|era|period", DATE, frozenset()),
    (r"time", TIME, frozenset()),
    (r"percentage|percent", PERCENT, frozenset()),
    (r"city|country|state|county|province|town|village|place|region|continent|island|location|capital|"
     r"seat|birthplace|district|nation|river|mountain|lake|ocean|sea|area|territory|municipality|borough", PLACE,
     frozenset({"ORG"})),
    (r"film|movie|book|novel|song|album|show|series|play|opera|poem|game|painting|single|work|story|novella",
     WORK, frozenset({"ORG", "PRODUCT", "PERSON"})),
    (r"company|organi[sz]ation|team|band|group|university|college|school|club|party|label|network|"
     r"newspaper|magazine|agency|firm|institution|employer|league|publisher|army|channel|station|studio", ORG,
     frozenset({"GPE", "PERSON"})),
    (r"war|battle|event|award|prize|tournament|election|festival|competition", EVENT,
     frozenset({"WORK_OF_ART", "ORG", "LAW"})),
    (r"person|man|woman|actor|actress|singer|player|author|writer|director|president|king|queen|leader|"
     r"father|mother|son|daughter|wife|husband|spouse|brother|sister|sibling|child|composer|founder|"
     r"artist|musician|member|producer|performer|character", PERSON, frozenset({"ORG"})),
)

_ORDER_MIN = r"\b(first|earlier|earliest|older|oldest|before|sooner)\b"
_ORDER_MAX = r"\b(later|latest|last|younger|youngest|after|more recently|most recently|recent|newer)\b"
_AUX = {"is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would",
        "should", "may", "might"}


@dataclass(frozen=True)
class QuestionAnalysis:
    """What ``analyse_question`` found. ``form``: factoid | yesno | choice | same. ``types``:
    (primary, secondary) answer labels, empty when anything named fits. ``options``: the compared
    items. ``order``: min/max for choice questions ("first" / "later"). ``attribute``: which value
    a comparison compares. ``kind``: comparison | bridge | yesno | simple. ``relations``: relation
    words of a bridge chain (outermost first). ``subqueries``: queries worth retrieving for."""

    question: str
    form: str
    types: tuple[frozenset[str], frozenset[str]]
    options: tuple[str, ...] = ()
    order: str = ""
    attribute: str = ""  # born | died | released | lifespan | nationality | "" : which value a comparison compares
    kind: str = "simple"
    relations: tuple[str, ...] = ()
    subqueries: tuple[str, ...] = ()
    head: str = ""  # for a reader: the head noun the answer is called by in the evidence (see head_phrases)


def analyse_question(question: str) -> QuestionAnalysis:
    """Classify ``question``, infer its answer types and derive sub-queries (rules only, no model).

    >>> analyse_question("Are Alice Munro and John Updike both Canadian?").options
    ('Alice Munro', 'John Updike')
    """
    q = " ".join(question.split())
    low = q.casefold()
    options, stem = comparison_options(q)
    relations = _relation_chain(q) if not options else ()
    kind = _kind(q, options, relations)
    subs = tuple(f"{o}: {stem}" if stem else o for o in options)
    form, types, order, attribute = _reader_view(q, low, options)
    return QuestionAnalysis(q, form, types, options, order, attribute, kind, relations, subs)


def _kind(q: str, options: tuple[str, ...], relations: tuple[str, ...]) -> str:
    if options:
        return "comparison"
    if len(relations) >= 2 or _is_nested_clause(q):
        return "bridge"
    return "yesno" if _YESNO_START.match(q) else "simple"


def _reader_view(q: str, low: str, options: tuple[str, ...]) -> tuple[str, tuple, str, str]:
    """(form, answer types, order, attribute) of the question for a reader."""
    first = (words(q) or [""])[0]
    attribute = _attribute(low)
    none = (frozenset(), frozenset())
    if options and re.search(_LIFE_LONGER, low):
        return "choice", none, "min" if "shorter" in low else "max", "lifespan"
    if options and re.search(_ORDER_MIN + "|" + _ORDER_MAX, low):
        order = "max" if re.search(r"\b(younger|youngest)\b", low) or not re.search(_ORDER_MIN, low) else "min"
        return "choice", none, order, attribute
    if first in _AUX:
        form = "same" if re.search(r"\bsame\b", low) else "yesno"
        return form, none, "", _same_attribute(low)
    return "factoid", answer_types(q), "", attribute


def comparison_options(q: str) -> tuple[tuple[str, ...], str]:
    """The compared items of a comparison question and the rest of it (the stem, lower case);
    ``((), "")`` when it compares nothing.

    >>> comparison_options("Who was born first, Ada Lovelace or Charles Babbage?")
    (('Ada Lovelace', 'Charles Babbage'), 'who was born first')
    """
    for pattern in (_TAIL_OR, _WHICH_OF, _BOTH, _AUX_OR, _BETWEEN_OR, _OUT_OF):
        m = pattern.match(q)
        if not m:
            continue
        if pattern is _TAIL_OR and not (_WH_START.match(m.group("stem")) or _YESNO_START.match(m.group("stem"))):
            continue
        a, b = _split_or(m) if pattern in (_TAIL_OR, _BETWEEN_OR) else (m.group("a"), m.group("b"))
        a, b = _clean_option(a), _clean_option(b)
        if len(a) > 1 and len(b) > 1 and a.casefold() != b.casefold():
            return (a, b), _clean_stem(m.group("stem"))
    return (), ""


def _split_or(m: re.Match) -> tuple[str, str]:
    """Split "A or B" where either may hold commas or "or": with several " or ", the split whose
    halves are closest in length (titles rarely nest "or")."""
    tail = m.group("pair")
    splits = [x.start() for x in re.finditer(r" or ", tail)]
    at = min(splits, key=lambda i: abs(len(tail[:i]) - len(tail[i + 4:])))
    return tail[:at], tail[at + 4:]


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


def answer_types(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """(primary, secondary) NER labels of the answer; two empty sets when unknown."""
    low = question.casefold()
    if re.search(r"\bhow (many|much)\b", low):
        return (MONEY if re.search(r"\b(cost|money|worth|paid|price|budget)\b", low) else NUMBER), frozenset()
    if re.search(r"\bhow (long|old)\b", low):
        return frozenset({"DATE", "TIME", "QUANTITY", "CARDINAL"}), frozenset()
    m = re.search(r"\b(?:which|what|whose|name the|in what|of what)\s+((?:\w+\s+){0,2}\w+)", low)
    if m:
        for pattern, primary, secondary in _HEADS:
            if re.search(rf"\b({pattern})s?\b", m.group(1)):
                return primary, secondary
    if re.search(r"^(?:\w+,?\s+)?when\b|\bwhen (?:was|were|did|is|does|do|had|has|will)\b|\bwhen\s*\??\s*$", low):
        return DATE, frozenset()
    if re.search(r"\bwhere\b|\bplace of (birth|death)\b", low):
        return PLACE, frozenset({"ORG"})
    if re.search(r"\bwho(m|se)?\b", low):
        return PERSON, frozenset({"ORG"})
    if m:
        for pattern, primary, secondary in _HEADS:
            if re.search(rf"\b({pattern})s?\b", low):
                return primary, secondary
    return frozenset(), frozenset()


_HEAD_RUN = re.compile(r"\b(?:which|what)\s+(?:(?:is|are|was|were)\s+(?:the|a|an)\s+)?((?:[\w-]+\s+){0,2}[\w-]+)", re.I)
_HEAD_STOP = {"of", "in", "on", "at", "to", "for", "from", "by", "with", "that", "which", "who", "the", "a", "an",
              "and", "or", "not", "does", "do", "did", "is", "are", "was", "were", "has", "have", "had"}


def head_phrases(question: str) -> tuple[str, ...]:
    """What a "which / what NOUN ..." question asks for, as the phrases its head may be, longest first:
    up to three words after the wh-word (or after "what is the"), up to the first function word; none
    when the wh-word is followed by a verb ("what does X do"). The evidence tells which phrase is the
    noun ("command" of "which command removes ...", "environment variable" of "what environment
    variable makes ...").

    >>> head_phrases("What environment variable makes npm prune remove packages?")
    ('environment variable makes', 'environment variable', 'environment')
    >>> head_phrases("What is the population of Norway?"), head_phrases("What does npm ci do?")
    (('population',), ())
    """
    m = _HEAD_RUN.search(question)
    if not m:
        return ()
    run = []
    for w in m.group(1).casefold().split():
        if w in _HEAD_STOP or w in _AUX:
            break
        run.append(w)
    return tuple(" ".join(run[:n]) for n in range(len(run), 0, -1))


def _attribute(low: str) -> str:
    if re.search(r"\b(died|die|death|dead)\b", low):
        return "died"
    if re.search(r"\b(born|birth|older|younger|oldest|youngest|age)\b", low):
        return "born"
    if re.search(r"\b(released|release|came out|come out|published|premiered|founded|established|made)\b", low):
        return "released"
    return ""


def _same_attribute(low: str) -> str:
    if re.search(r"\b(nationality|country|citizens?)\b", low):
        return "nationality"
    return ""
