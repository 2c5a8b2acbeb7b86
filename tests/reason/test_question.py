"""Question shapes and decomposition."""
from __future__ import annotations

import pytest

from reason.question import analyze_question, decompose


@pytest.mark.parametrize(
    "question, options",
    [
        ("Which film came out first, Blind Shaft or The Mask Of Fu Manchu?", ("Blind Shaft", "The Mask Of Fu Manchu")),
        ("Who was born first, Ada Lovelace or Charles Babbage?", ("Ada Lovelace", "Charles Babbage")),
        ("Are Alice Munro and John Updike both Canadian?", ("Alice Munro", "John Updike")),
        ("Which of Bitter Rice and Akhono Onek Raat was released later?", ("Bitter Rice", "Akhono Onek Raat")),
        ("Are the directors of films Sword Of The Empire and Seven Guns For Timothy both from the same country?",
         ("Sword Of The Empire", "Seven Guns For Timothy")),
        ("Do director of film Excalibur (Film) and director of film Hype share the same nationality?",
         ("Excalibur (Film)", "Hype")),
    ],
)
def test_comparison_options(question, options):
    shape = analyze_question(question)
    assert shape.kind == "comparison"
    assert shape.options == options


def test_comparison_subqueries_pair_each_item_with_the_stem():
    shape = analyze_question("Which film was released earlier, Grandi Magazzini or Krudt Og Klunker?")
    assert decompose(shape) == (
        "Grandi Magazzini: which film was released earlier",
        "Krudt Og Klunker: which film was released earlier",
    )


def test_bridge_chain_and_innermost_subquery():
    shape = analyze_question("Who is the father of the director of film Polish Wedding?")
    assert shape.kind == "bridge"
    assert shape.relations == ("father", "director")
    assert decompose(shape) == ("director of film Polish Wedding",)


def test_relative_clause_is_a_bridge():
    shape = analyze_question("What is the seat of the county where Van Hook Township is located?")
    assert shape.kind == "bridge"
    assert shape.options == ()


def test_yesno_and_simple():
    assert analyze_question("Is Paris in France?").kind == "yesno"
    simple = analyze_question("Who wrote Hamlet?")
    assert (simple.kind, simple.options, simple.relations, decompose(simple)) == ("simple", (), (), ())


def test_or_without_question_word_is_not_a_comparison():
    assert analyze_question("Tea, coffee or water?").kind == "simple"
