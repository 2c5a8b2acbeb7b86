"""Questions generated from a hand-made graph with known facts."""
from __future__ import annotations

from kg.graph import KnowledgeGraph
from kg.model import Entity, Provenance, Relation
from feedback.questions import generate_questions

E = {
    "film": Entity("film", "Blind Shaft", "WORK_OF_ART"),
    "li": Entity("li", "Li Yang", "PERSON"),
    "xian": Entity("xian", "Xian", "GPE"),
    "ada": Entity("ada", "Ada Lovelace", "PERSON", ("Ada",)),
    "bab": Entity("bab", "Charles Babbage", "PERSON"),
    "d1815": Entity("d1815", "10 December 1815", "DATE"),
    "d1791": Entity("d1791", "26 December 1791", "DATE"),
    "paris": Entity("paris", "Paris", "GPE"),
    "rome": Entity("rome", "Rome", "GPE"),
    "bob": Entity("bob", "Bob", "PERSON"),
    "town": Entity("town", "the town", "CONCEPT"),
}


def fact(rid, s, p, o, sentence, pid):
    return Relation(rid, s, p, o, 0.9, (Provenance("d", pid, 0, len(sentence), sentence, 0.9),))


def graph() -> KnowledgeGraph:
    rels = [
        fact("r1", "film", "direct_by", "li", "Blind Shaft was directed by Li Yang.", "p1"),
        fact("r2", "li", "bear_in", "xian", "Li Yang was born in Xian.", "p2"),
        fact("r3", "ada", "bear_on", "d1815", "Ada Lovelace was born on 10 December 1815.", "p3"),
        fact("r4", "bab", "bear_on", "d1791", "Charles Babbage was born on 26 December 1791.", "p4"),
        fact("r5", "bob", "live_in", "paris", "Bob lived in Paris.", "p5"),  # Bob lived in two cities:
        fact("r6", "bob", "live_in", "rome", "Bob lived in Rome.", "p6"),    # no single answer
        fact("r7", "xian", "capital_of", "xian", "Xian is the capital of Xian.", "p7"),  # answer in question
        fact("r8", "li", "visit", "town", "Li Yang visited the town.", "p8"),  # a concept answer
        fact("r9", "ada", "know", "bab", "She knew Charles Babbage.", "p9"),  # subject not named
    ]
    return KnowledgeGraph(entities=dict(E), relations={r.id: r for r in rels})


def test_single_hop_questions_are_clozes_of_their_evidence():
    single = [(q.question, q.answer, q.passages) for q in generate_questions(graph()) if q.kind == "single"]
    assert single == [
        ("Blind Shaft was directed by which person?", "Li Yang", ("p1",)),
        ("Li Yang was born in which place?", "Xian", ("p2",)),
        ("Ada Lovelace was born on which date?", "10 December 1815", ("p3",)),
        ("Charles Babbage was born on which date?", "26 December 1791", ("p4",)),
    ]


def test_multi_hop_describes_the_bridge_by_the_first_question():
    (q,) = [q for q in generate_questions(graph()) if q.kind == "multi"]
    assert q.question == 'The person that answers "Blind Shaft was directed by which person?" was born in which place?'
    assert (q.answer, q.passages, q.facts) == ("Xian", ("p1", "p2"), ("r1", "r2"))


def test_comparison_of_two_dates_with_the_same_wording():
    (q,) = [q for q in generate_questions(graph()) if q.kind == "comparison"]
    assert q.question == "Who was born on the earlier date, Ada Lovelace or Charles Babbage?"
    assert (q.answer, q.passages) == ("Charles Babbage", ("p3", "p4"))


def test_generation_is_deterministic_and_limited():
    assert generate_questions(graph()) == generate_questions(graph())
    assert len(generate_questions(graph(), limit=2)) == 2
