"""The citation check (reason/support.py) on hand-made answers and citations."""
from __future__ import annotations

import pytest

from kg.model import Citation
from reason.support import covers_question, is_supported, states_answer


def cite(quote: str, title: str = "") -> Citation:
    return Citation("d1", "d1:p0", 0, len(quote), quote, "a.txt", title)


SEAT = cite("Its county seat is Stanley.", "Mountrail County")
TOWNSHIP = cite("Van Hook Township is a township in Mountrail County, North Dakota.", "Van Hook Township")
ALPHA = cite("Alpha is a 1960 drama film directed by John Smith.", "Alpha")
BETA = cite("Beta is a 1958 comedy film directed by Mary Jones.", "Beta")
SEAT_Q = "What is the seat of the county where Van Hook Township is located?"


@pytest.mark.parametrize("answer, citations, expected", [
    ("Stanley", (SEAT, TOWNSHIP), True),            # stated in a cited sentence
    ("stanley.", (SEAT,), True),                      # case and punctuation do not matter
    ("Stanley, North Dakota", (SEAT, TOWNSHIP), True),  # its words across the cited sentences
    ("Mountrail County", (SEAT,), True),              # the cited source's title
    ("Minot", (SEAT, TOWNSHIP), False),               # cited, but nothing cited says it
    ("Stanley", (TOWNSHIP,), False),                  # the supporting sentence was not cited
    ("Stanley", (), False),                           # cites nothing
])
def test_factoid_answer_is_supported_when_a_cited_sentence_states_it(answer, citations, expected):
    assert is_supported(SEAT_Q, answer, citations) is expected


@pytest.mark.parametrize("answer, citations, expected", [
    ("Beta", (ALPHA, BETA), True),
    ("Alpha", (ALPHA, BETA), True),   # justified means evidence on both sides, not that it is right
    ("Beta", (BETA,), False),          # evidence about one option decides nothing
    ("Beta", (), False),
])
def test_comparison_pick_is_justified_by_evidence_on_every_option(answer, citations, expected):
    assert is_supported("Which film came out first, Alpha or Beta?", answer, citations) is expected


def test_yes_no_is_justified_by_citations_stating_the_question():
    assert is_supported("Is Alpha directed by John Smith?", "yes", (ALPHA,)) is True
    assert is_supported("Is Alpha directed by John Smith?", "No", (BETA,)) is False
    assert is_supported("Are Alpha and Beta both drama films?", "no", (ALPHA, BETA)) is True
    assert is_supported("Are Alpha and Beta both drama films?", "no", (ALPHA,)) is False


def test_helpers():
    assert states_answer("The Beatles", ["Beatles songs were covered."]) is True
    assert states_answer("Who", ["Who is there?"]) is True and states_answer("The Who", ["Nobody."]) is False
    assert covers_question("Where was Ada born?", ["Ada was born in London."]) is True
    assert covers_question("Where was Ada born?", ["Tea is a drink."]) is False
