"""What a question asks for: its form (factoid, yes/no, choice between options, same-value
comparison), the entity types a correct answer has, and the options of a comparison.

>>> q = analyse_question("Which film came out first, Dune or Alien?")
>>> q.form, q.options, q.order
('choice', ('Dune', 'Alien'), 'min')
>>> sorted(analyse_question("Where was the director of Titanic born?").types[0])
['FAC', 'GPE', 'LOC']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import words

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
_SAME = r"\b(same|both)\b"
_AUX = {"is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would",
        "should", "may", "might"}


@dataclass(frozen=True)
class QuestionAnalysis:
    """``form``: factoid | yesno | choice | same. ``types``: (primary, secondary) answer labels;
    empty when anything named fits. ``order``: min/max for choice questions ("first" / "later")."""

    question: str
    form: str
    types: tuple[frozenset[str], frozenset[str]]
    options: tuple[str, ...] = ()
    order: str = ""
    attribute: str = ""  # born | died | released | "" : which date a comparison compares


def analyse_question(question: str) -> QuestionAnalysis:
    """Classify ``question`` and infer the answer types (spaCy NER labels)."""
    q = question.strip()
    low = q.casefold()
    first = (words(q) or [""])[0]
    options = choice_options(q) or _aux_options(q)
    attribute = _attribute(low)
    if options and re.search(_ORDER_MIN + "|" + _ORDER_MAX, low):
        order = "min" if re.search(_ORDER_MIN, low) else "max"
        if re.search(r"\b(younger|youngest)\b", low):
            order = "max"
        return QuestionAnalysis(q, "choice", (frozenset(), frozenset()), options, order, attribute)
    if first in _AUX:
        form = "same" if re.search(_SAME, low) and re.search(r"\bsame\b", low) else "yesno"
        return QuestionAnalysis(q, form, (frozenset(), frozenset()), (), "", _same_attribute(low))
    return QuestionAnalysis(q, "factoid", answer_types(q), options, "", attribute)


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
    if re.search(r"^(?:\w+,?\s+)?when\b|\bwhen (?:was|were|did|is|does|do|had|has|will)\b", low):
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


def choice_options(question: str) -> tuple[str, ...]:
    """The two options of "..., A or B?" (options may contain commas and question marks)."""
    q = question.strip().rstrip("?").strip()
    head, sep, tail = q.partition(", ")
    if not sep or " or " not in tail:
        m = re.search(r"\b(?:between|of)\s+(.+\sor\s.+)$", q)
        if not m:
            return ()
        tail = m.group(1)
    splits = [m.start() for m in re.finditer(r" or ", tail)]
    # With several " or ", prefer the split whose halves are closest in length (titles rarely nest "or").
    at = min(splits, key=lambda i: abs(len(tail[:i]) - len(tail[i + 4 :])))
    a, b = tail[:at].strip(" ,?"), tail[at + 4 :].strip(" ,?")
    return (a, b) if a and b else ()


def _aux_options(question: str) -> tuple[str, ...]:
    """Options of "Was A or B born first?": after the auxiliary, up to the first lower-case word."""
    m = re.match(r"^\w+\s+(?:the\s+)?([A-Z].*?)\s+or\s+([A-Z].*?)\s+(?=[a-z])", question.strip())
    return (m.group(1).strip(" ,"), m.group(2).strip(" ,")) if m else ()


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
