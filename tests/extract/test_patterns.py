"""Dependency patterns on hand-written sentences parsed by the packaged small English pipeline."""
from __future__ import annotations

import pytest

from extract.patterns import CONFIDENCE, INHERITED, normalise_predicate, sentence_triples


def triples(nlp, text: str) -> list[tuple[str, str, str, str]]:
    doc = nlp(text)
    return [(t.subject.text, t.predicate, t.object.text, t.pattern) for s in doc.sents for t in sentence_triples(s)]


def test_normalise_predicate_lowercases_and_joins_with_underscores():
    assert normalise_predicate("Bear", "in") == "bear_in"
    assert normalise_predicate("set up", "in") == "set_up_in"
    assert normalise_predicate("capital", " ", "of") == "capital_of"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Alice Walker founded Acme Corp.", [("Walker", "found", "Corp.", "svo")]),
        ("Marie Curie was born in Warsaw.", [("Curie", "bear_in", "Warsaw", "svpo")]),
        ("The bridge is located in London.", [("bridge", "locate_in", "London", "svpo")]),
        ("Jaws was directed by Steven Spielberg.", [("Spielberg", "direct", "Jaws", "passive")]),
        ("Berlin is the capital of Germany.", [("Berlin", "capital_of", "Germany", "copula")]),
        ("Paris, the capital of France, is large.", [("Paris", "capital_of", "France", "appos")]),
        ("His father was John Smith.", [("Smith", "father_of", "His", "poss")]),
        ("Pierre Curie was her husband.", [("Curie", "husband_of", "her", "copula")]),
        ("Steven Spielberg is a director.", [("Spielberg", "be", "director", "isa")]),
        ("He set up a company in London.", [("He", "set_up", "company", "svo"), ("He", "set_up_in", "London", "svpo")]),
        (
            "She was born in Mediaș, Transylvania.",
            [("She", "bear_in", "Mediaș", "svpo"), ("Mediaș", "locate_in", "Transylvania", "place")],
        ),
        (
            "He competed at the 2002 Winter Olympics in Salt Lake City.",
            [("He", "compete_at", "Olympics", "svpo"), ("Olympics", "in", "City", "nprep")],
        ),
        (
            "France's president Emmanuel Macron visited Berlin.",
            [("Macron", "president_of", "France", "poss"), ("Macron", "visit", "Berlin", "svo")],
        ),
    ],
)
def test_each_pattern_gives_its_triples(nlp, text, expected):
    assert triples(nlp, text) == expected


def test_conjoined_subjects_and_objects_each_get_the_relation(nlp):
    assert triples(nlp, "Alice Walker and Bob Dylan founded Acme Corp and Widget Inc.") == [
        ("Walker", "found", "Corp", "svo"),
        ("Walker", "found", "Inc.", "svo"),
        ("Dylan", "found", "Corp", "svo"),
        ("Dylan", "found", "Inc.", "svo"),
    ]


def test_conjoined_verb_shares_the_subject_with_lower_confidence(nlp):
    doc = nlp("Marie Curie was born in Warsaw and died in Passy.")
    got = [(t.subject.text, t.predicate, t.object.text, t.confidence) for t in sentence_triples(next(doc.sents))]
    assert got == [
        ("Curie", "bear_in", "Warsaw", CONFIDENCE["svpo"]),
        ("Curie", "die_in", "Passy", round(CONFIDENCE["svpo"] * INHERITED, 4)),
    ]


def test_conjoined_passive_verb_keeps_the_patient(nlp):
    assert triples(nlp, "Jaws was directed by Steven Spielberg and produced by Richard Zanuck.") == [
        ("Spielberg", "direct", "Jaws", "passive"),
        ("Zanuck", "produce", "Jaws", "passive"),
    ]


def test_relative_clause_takes_the_noun_it_modifies(nlp):
    assert triples(nlp, "Steven Spielberg, who was born in Cincinnati, directed Jaws.") == [
        ("Spielberg", "bear_in", "Cincinnati", "svpo"),
        ("Spielberg", "direct", "Jaws", "svo"),
    ]


def test_reduced_relative_on_a_copular_noun_attaches_to_the_subject(nlp):
    assert triples(nlp, "Jaws is a 1975 film directed by Steven Spielberg.") == [
        ("Jaws", "be", "film", "isa"),
        ("Spielberg", "direct", "Jaws", "passive"),
    ]


def test_bare_date_modifier_of_a_verb_is_an_object(nlp):
    assert triples(nlp, "Larry Page was born 26 March 1973.") == [
        ("Page", "bear", "26", "svo"),
        ("Page", "bear", "March", "svo"),
    ]


def test_negated_verb_gives_nothing(nlp):
    assert triples(nlp, "Marie Curie did not win the Oscar.") == []
