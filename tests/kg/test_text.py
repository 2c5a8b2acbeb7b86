"""The one name key, stop list and stemmer every stage compares text with."""
from __future__ import annotations

import pytest

from kg.text import content_words, name_key, stem, tokenize


@pytest.mark.parametrize("a, b", [
    ("The Beatles", "beatles"), ("U.S.", "U. S."), ("Fédération", "federation"), ("AT&T", "AT and T"),
    ("Hitler's regime", "hitler regime"), ("O'Brien", "OBrien"), ("  Ada   Lovelace ", "ada lovelace"),
])
def test_name_key_equates_spelling_variants(a, b):
    assert name_key(a) == name_key(b)


def test_name_key_keeps_numbers_and_distinct_names_apart():
    assert name_key("Apollo 11") != name_key("Apollo 13")
    assert name_key("The The") == "the"  # a name that is only an article keeps it


@pytest.mark.parametrize("word, expected", [
    ("directed", "direct"), ("director", "direct"), ("directors", "direct"), ("cities", "city"), ("films", "film"),
    ("water", "water"), ("class", "class"), ("status", "status"), ("born", "born"), ("1999", "1999"),
])
def test_stem(word, expected):
    assert stem(word) == expected


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The directors directed films, released in 1999") == ["direct", "direct", "film", "releas", "1999"]


def test_content_words_are_distinct_stems_in_order():
    assert content_words("Who married the wife of the director who directed Titanic?") == [
        "marry", "wife", "direct", "titanic"]
