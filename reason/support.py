"""The citation check: does the evidence an answer cites support it?

A factoid answer is supported when a cited sentence (or the title of its source) states it: the whole
answer phrase, or every content word of it across the cited sentences ("Stanley, North Dakota" from two
sentences). A yes/no answer or the pick of a comparison is not written in any sentence; it is
*justified* instead: a comparison's citations must name every compared option (evidence about one side
decides nothing), and a plain yes/no question's citations must state at least half of its content words.
An answer that cites nothing is never supported.

>>> c = Citation("d1", "d1:p0", 0, 27, "Its county seat is Stanley.", "", "Mountrail County")
>>> is_supported("What is the seat of Mountrail County?", "Stanley", (c,))
True
>>> is_supported("What is the seat of Mountrail County?", "Minot", (c,)), is_supported("What?", "Stanley", ())
(False, False)
"""
from __future__ import annotations

from typing import Sequence

from kg.model import Citation
from kg.text import content_words

from .question import analyse_question
from .text import contains_phrase, states

JUSTIFY_COVERAGE = 0.5  # share of a yes/no question's content words its citations must state


def is_supported(question: str, answer: str, citations: Sequence[Citation]) -> bool:
    """Whether ``citations`` state ``answer`` (factoids) or justify it (yes/no, comparisons).

    >>> a = Citation("d1", "d1:p0", 0, 30, "Alpha is a 1960 drama film.", "", "Alpha")
    >>> b = Citation("d2", "d2:p0", 0, 30, "Beta is a 1958 comedy film.", "", "Beta")
    >>> is_supported("Which film came out first, Alpha or Beta?", "Beta", (a, b))
    True
    >>> is_supported("Which film came out first, Alpha or Beta?", "Beta", (b,))
    False
    """
    if not citations:
        return False
    texts = [c.quote for c in citations] + [c.title for c in citations if c.title]
    options = analyse_question(question).options
    if options and (is_yes_no(answer) or any(contains_phrase(o, answer) for o in options)):
        return all(any(contains_phrase(t, o) for t in texts) for o in options)
    if is_yes_no(answer):
        return covers_question(question, texts)
    return states_answer(answer, texts)


def is_yes_no(answer: str) -> bool:
    return answer.strip().rstrip(".").casefold() in ("yes", "no")


def states_answer(answer: str, texts: Sequence[str]) -> bool:
    """Whether one of ``texts`` holds the answer phrase, or all of them together its content words.

    >>> states_answer("Stanley, North Dakota", ["Its seat is Stanley.", "It lies in North Dakota."])
    True
    """
    if any(contains_phrase(t, answer) for t in texts):
        return True
    wanted = set(content_words(answer))
    have = {w for t in texts for w in content_words(t)}
    return bool(wanted) and wanted <= have


def covers_question(question: str, texts: Sequence[str]) -> bool:
    """Whether ``texts`` state at least ``JUSTIFY_COVERAGE`` of the question's content words (words of
    the same relation count: "married" states "wife").

    >>> covers_question("Is Stanley in North Dakota?", ["Stanley is a city in North Dakota."])
    True
    """
    wanted = content_words(question)
    have = {w for t in texts for w in content_words(t)}
    return bool(wanted) and sum(states(have, w) for w in wanted) / len(wanted) >= JUSTIFY_COVERAGE
