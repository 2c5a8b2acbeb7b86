"""Whether the extractive reader's answer is grounded in the question, not just near its words.

Two checks, both general: the sentences an answer rests on must name everything the question is about
(its *names*: capitalised names and years, or the graph names they were linked to), and the answer's
own sentence must state what the question asks for (one of its *relation words*: "seat", "father",
"born"...). An answer failing either was picked from evidence about something else, so the reader
abstains instead ("Port Blair is the capital of the Nicobar Islands" does not make "India" the answer
to a question about another territory's capital).

>>> question_names("In 2002, what company merged with the top PC manufacturer from 1994?")
[('2002',), ('PC',), ('1994',)]
>>> relation_words("Which team was Kris Benson's father on?", ["Kris Benson"])
frozenset({'fath'})
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from kg.model import LinkedEntity
from kg.text import content_words, name_key

from ..link import CapitalisedSpanFinder
from ..text import contains_phrase, states
from .evidence import Sentence, same_name, strip_parenthetical

# Capitalised function words that start a question's name span without being part of the name
# ("In True Grit", "Of which river").
_LEADING = frozenset("in of on at for the a an to by from with as".split())
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})\b")
_WH_HEAD = re.compile(r"^\s*(?:what|which)\s+(\w+)", re.IGNORECASE)


def question_names(question: str, linked: Sequence[LinkedEntity] = ()) -> list[tuple[str, ...]]:
    """Names the question is about, each as the forms it may be written in: a capitalised span (without
    a leading function word) or a year outside parentheses, plus the graph name the span was linked to.
    A span inside a longer linked mention stands for that mention ("Own" of "A League of their Own");
    a link made from a part of a span names nothing ("Island" of "Bansaan Island").

    >>> from kg.model import LinkedEntity
    >>> question_names("Who was born in NYC?", [LinkedEntity("NYC", "e1", "New York City", "GPE", 1.0, "alias")])
    [('NYC', 'New York City')]
    """
    bare = re.sub(r"\([^)]*\)?", " ", question)  # "(2017 film)" disambiguates, it asks nothing
    spans = [_drop_leading(s) for s, _ in CapitalisedSpanFinder().find(question) if not _sentence_start(s, question)]
    spans += _YEAR.findall(bare)
    out = []
    for span in dict.fromkeys(s for s in spans if len(name_key(s)) > 1):
        covering = [x for x in linked if contains_phrase(x.mention, span)]
        longest = max(covering, key=lambda x: len(name_key(x.mention)), default=None)
        if longest is not None and len(name_key(longest.mention)) > len(name_key(span)):
            span = _drop_leading(longest.mention)
        graph_names = [x.name for x in linked if name_key(_drop_leading(x.mention)) == name_key(span)]
        out.append(tuple(dict.fromkeys(f for n in [span, *graph_names] for f in name_forms(n))))
    return list(dict.fromkeys(out))


def known_names(names: Sequence[tuple[str, ...]], linked: Sequence[LinkedEntity]) -> list[tuple[str, ...]]:
    """The names the graph knows as a whole (the span was linked as it stands) and years: the ones every
    answer must cite. A capitalised phrase the graph does not know ("Smooth Jazz Stations") may be a
    common phrase written with capitals, so it is not required.

    >>> from kg.model import LinkedEntity
    >>> names = question_names("Is Kenny G on Smooth Jazz Stations in 1990?")
    >>> known_names(names, [LinkedEntity("Kenny G", "e1", "Kenny G", "PERSON", 1.0, "exact")])
    [('Kenny G',), ('1990',)]
    """
    keys = {name_key(_drop_leading(x.mention)) for x in linked}
    return [forms for forms in names if name_key(forms[0]) in keys or _YEAR.fullmatch(forms[0])]


def _sentence_start(span: str, question: str) -> bool:
    """A one-word span opening the question is capitalised as the first word ("Along with Kenny G, ..."),
    not as a name."""
    return len(span.split()) == 1 and question.lstrip().startswith(span)


def _drop_leading(span: str) -> str:
    words = span.split()
    while words and words[0].casefold() in _LEADING:
        words = words[1:]
    return " ".join(words)


def name_forms(name: str) -> list[str]:
    """A name as documents may write it: whole, without a parenthetical disambiguator, and before its
    first comma when that part is itself a full name ("Edward Baring, 1st Baron Revelstoke").

    >>> name_forms("Alice de Lusignan, Countess of Surrey")
    ['Alice de Lusignan, Countess of Surrey', 'Alice de Lusignan']
    """
    core = re.sub(r"\s*\([^)]*\)?\s*$", "", name).strip() or name  # a question may lack the closing ")"
    head = core.split(",")[0].strip()
    return list(dict.fromkeys([name, core] + ([head] if len(head.split()) >= 2 else [])))


def names_any(sentences: Iterable[Sentence], names: Sequence[tuple[str, ...]]) -> bool:
    """Whether ``sentences`` (or their sources' titles) name one of ``names``; True without names."""
    sentences = list(sentences)
    return not names or any(_named(sentences, forms) for forms in names)


def names_all(sentences: Iterable[Sentence], names: Sequence[tuple[str, ...]]) -> bool:
    """Whether ``sentences`` (or their sources' titles) name every one of ``names``: evidence for each
    thing the question names, not only for some of them."""
    sentences = list(sentences)
    return all(_named(sentences, forms) for forms in names)


def _named(sentences: list[Sentence], forms: tuple[str, ...]) -> bool:
    return any(contains_phrase(s.text, f) or s.title and same_name(s.title, f) for s in sentences for f in forms)


def relation_words(question: str, names: Sequence[str] = ()) -> frozenset[str]:
    """The question's content words (stems) outside ``names`` and its wh-head noun: what it asks about
    its subject. The head noun of "which team ..." is the answer's type, stated by the answer itself."""
    named = {w for n in names for w in content_words(n)}
    head = _WH_HEAD.match(question)
    skip = named | set(content_words(head.group(1))) if head else named
    return frozenset(w for w in content_words(question) if w not in skip)


def states_any(text: str, wanted: Iterable[str]) -> bool:
    """Whether ``text`` states one of ``wanted`` (stems; words of the same relation count); True for none.

    >>> father = relation_words("Who is the father of Ada?", ["Ada"])
    >>> states_any("He was the son of Sir Francis Baring.", father), states_any("He was a banker.", father)
    (True, False)
    """
    wanted = set(wanted)
    if not wanted:
        return True
    stated = set(content_words(text))
    return any(states(stated, w) for w in wanted)
