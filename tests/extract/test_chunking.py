"""Tests of extract/chunking.py: sentence spans and passages on sentence boundaries."""
from __future__ import annotations

import time

import pytest

from extract.chunking import chunk_document, split_sentences
from kg.errors import ConfigError
from kg.model import Document, Passage, passage_id


def sentences(text: str) -> list[str]:
    spans = split_sentences(text)
    assert all(text[s:e] == text[s:e].strip() and s < e for s, e in spans)
    return [text[s:e] for s, e in spans]


# ---- split_sentences -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
        ("Mr. and Mrs. Jones met Prof. Lee.", ["Mr. and Mrs. Jones met Prof. Lee."]),
        ("J. R. R. Tolkien wrote it. George W. Bush read it.", ["J. R. R. Tolkien wrote it.", "George W. Bush read it."]),
        ("He moved to the U.S. in 1990. She stayed.", ["He moved to the U.S. in 1990.", "She stayed."]),
        ("He moved to the U.S. The end.", ["He moved to the U.S.", "The end."]),
        ("The U.S. Army won.", ["The U.S. Army won."]),
        ("Use tools, e.g. hammers, i.e. Things like that.", ["Use tools, e.g. hammers, i.e. Things like that."]),
        ("Apple Inc. was founded. Acme Inc. The rival.", ["Apple Inc. was founded.", "Acme Inc.", "The rival."]),
        ("Martin Luther King Jr. was born in 1929.", ["Martin Luther King Jr. was born in 1929."]),
        ("St. Louis is big. He lives on Main St. The house is old.", ["St. Louis is big.", "He lives on Main St.", "The house is old."]),
        ("Pi is 3.14159 roughly. It costs $2.50 now.", ["Pi is 3.14159 roughly.", "It costs $2.50 now."]),
        ("See No. 5 and Vol. 3 from Jan. 12 to Feb. 2.", ["See No. 5 and Vol. 3 from Jan. 12 to Feb. 2."]),
        ("It ended in 1990. 2001 was different.", ["It ended in 1990.", "2001 was different."]),
        ("Wait... and see. Then go.", ["Wait... and see.", "Then go."]),
        ("Wait… What? Yes! Fine.", ["Wait…", "What?", "Yes!", "Fine."]),
        ('He said "Go home." Then he left.', ['He said "Go home."', "Then he left."]),
        ("(This is aside.) Next one.", ["(This is aside.)", "Next one."]),
        ("She cried “Stop!” Nobody did.", ["She cried “Stop!”", "Nobody did."]),
        ("Yahoo! is a site. Really?! Yes.", ["Yahoo! is a site.", "Really?!", "Yes."]),
        ("Smith et al. (2020) found it.", ["Smith et al. (2020) found it."]),
        ("No full stop at the end", ["No full stop at the end"]),
    ],
)
def test_sentence_rules(text, expected):
    assert sentences(text) == expected


def test_newlines_and_blank_lines_are_hard_boundaries_and_whitespace_is_excluded():
    text = "  Title line\nFirst sentence. Second one\n\n\n   Para two.  \n"
    assert split_sentences(text) == [(2, 12), (13, 28), (29, 39), (45, 54)]
    assert sentences(text) == ["Title line", "First sentence.", "Second one", "Para two."]


def test_unicode_offsets_are_character_offsets():
    text = "Zoë visited 北京 in 2019. Ünal met José 🎉. Ok."
    assert split_sentences(text) == [(0, 23), (24, 40), (41, 44)]
    assert sentences(text) == ["Zoë visited 北京 in 2019.", "Ünal met José 🎉.", "Ok."]


def test_empty_and_blank_text_have_no_sentences():
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []


# ---- chunk_document ------------------------------------------------------------------------------


def doc_of(text: str) -> Document:
    return Document.from_text(text, source="t.txt", title="T")


def test_passages_are_greedy_with_sentence_overlap():
    # sentences of 10 characters each, separated by one space
    text = " ".join(f"Sentence{i}." for i in range(6))
    doc = doc_of(text)
    passages = chunk_document(doc, chunk_size=32, overlap=12)
    assert [p.text for p in passages] == [
        "Sentence0. Sentence1. Sentence2.",
        "Sentence2. Sentence3. Sentence4.",
        "Sentence4. Sentence5.",
    ]
    assert passages[0] == Passage(passage_id(doc.id, 0), doc.id, 0, 0, 32, text[0:32])
    assert [(p.index, p.start, p.end) for p in passages] == [(0, 0, 32), (1, 22, 54), (2, 44, 65)]


def test_zero_overlap_partitions_sentences():
    text = "One one. Two two. Three three. Four four."
    passages = chunk_document(doc_of(text), chunk_size=18, overlap=0)
    assert [p.text for p in passages] == ["One one. Two two.", "Three three.", "Four four."]


def test_overlap_keeps_only_trailing_sentences_that_fit():
    text = "A short one. A much longer second sentence here. Tail."
    passages = chunk_document(doc_of(text), chunk_size=50, overlap=20)
    # the long sentence (36 chars) is over the overlap, so the next passage starts after it
    assert [p.text for p in passages] == ["A short one. A much longer second sentence here.", "Tail."]


def test_overlap_is_dropped_when_it_would_leave_no_room_for_new_text():
    text = "Aaaa bbbb. Cccc dddd eeee ffff gggg hhhh."
    passages = chunk_document(doc_of(text), chunk_size=30, overlap=12)
    assert [p.text for p in passages] == ["Aaaa bbbb.", "Cccc dddd eeee ffff gggg hhhh."]


def test_long_sentence_is_split_at_whitespace():
    text = "word " * 30 + "end."
    passages = chunk_document(doc_of(text), chunk_size=50, overlap=0)
    assert all(len(p.text) <= 50 for p in passages)
    assert [p.text for p in passages] == ["word " * 9 + "word", "word " * 9 + "word", "word " * 9 + "word", "end."]


def test_single_overlong_word_is_cut_at_chunk_size():
    text = "x" * 25 + " tail."
    passages = chunk_document(doc_of(text), chunk_size=10, overlap=0)
    assert [p.text for p in passages] == ["x" * 10, "x" * 10, "x" * 5, "tail."]


def test_empty_document_gives_no_passages():
    assert chunk_document(doc_of("")) == ()
    assert chunk_document(doc_of("  \n\n ")) == ()


def test_short_document_is_one_trimmed_passage():
    text = "\n  Only sentence here.  \n"
    (passage,) = chunk_document(doc_of(text))
    assert (passage.start, passage.end, passage.text) == (3, 22, "Only sentence here.")


def test_passage_text_matches_document_slice_with_unicode():
    text = (
        "Zoë visited 北京 in 2019 with Dr. Ünal. 🎉 They ate crème brûlée at the café.\n\n"
        "Μια ελληνική πρόταση εδώ. Ещё одно предложение на русском языке. "
        + "Ça va très bien, merci beaucoup. " * 8
    )
    doc = doc_of(text)
    passages = chunk_document(doc, chunk_size=90, overlap=40)
    assert len(passages) > 4
    for i, p in enumerate(passages):
        assert p.text == doc.text[p.start:p.end]
        assert p.text == p.text.strip() and len(p.text) <= 90
        assert (p.id, p.doc_id, p.index) == (passage_id(doc.id, i), doc.id, i)
    assert passages[0].start == 0 and passages[-1].end == len(text.rstrip())
    assert all(b.start > a.start and b.end > a.end for a, b in zip(passages, passages[1:]))


def test_every_sentence_is_covered_and_chunking_is_deterministic():
    text = " ".join(f"Sentence number {i} has {'x' * (i % 7)} some words." for i in range(40))
    doc = doc_of(text)
    first = chunk_document(doc, chunk_size=200, overlap=60)
    assert first == chunk_document(doc, chunk_size=200, overlap=60)
    for s, e in split_sentences(text):
        assert any(p.start <= s and e <= p.end for p in first)
    for a, b in zip(first, first[1:]):
        assert b.start <= a.end and a.end - b.start <= 60  # overlap region within the limit


@pytest.mark.parametrize(
    "size, overlap, message",
    [
        (0, 0, "chunk_size: expected at least 1 character, got 0"),
        (100, 100, "overlap: expected 0 <= overlap < chunk_size (100), got 100"),
        (100, -1, "overlap: expected 0 <= overlap < chunk_size (100), got -1"),
    ],
)
def test_bad_parameters_raise_config_error(size, overlap, message):
    with pytest.raises(ConfigError) as info:
        chunk_document(doc_of("Text."), chunk_size=size, overlap=overlap)
    assert str(info.value) == message


# ---- marked-up documents: prose view, sections, code ---------------------------------------------

README = """# `kg` Guide

Ada Lovelace wrote **notes**. She met Charles Babbage.

## Install

Run this:

```bash
$ pip install kgreason
```

Then build. It is quick.

## Use

Ask *questions* with `kg ask`.
"""


def markdown_doc(text: str) -> Document:
    from dataclasses import replace

    from extract.markdown_text import read_markdown

    layout = read_markdown(text)
    doc = Document.from_text(text, source="guide.md", title=layout.title)
    return replace(doc, prose=layout.prose, sections=layout.sections, code=layout.code)


def test_passages_stay_in_their_section_and_carry_its_heading_path():
    doc = markdown_doc(README)
    passages = chunk_document(doc, chunk_size=1200, overlap=200)
    assert [(p.section, p.text) for p in passages] == [
        ("", "`kg` Guide\n\nAda Lovelace wrote **notes**. She met Charles Babbage."),
        ("Install", "Install\n\nRun this:\n\n```bash\n$ pip install kgreason\n```\n\nThen build. It is quick."),
        ("Use", "Use\n\nAsk *questions* with `kg ask`."),
    ]
    assert all(p.text == doc.text[p.start:p.end] for p in passages)


def test_markup_never_makes_a_sentence_boundary_and_code_is_one_piece():
    doc = markdown_doc(README)
    passages = chunk_document(doc, chunk_size=34, overlap=0)
    assert [(p.section, p.text) for p in passages] == [
        ("", "`kg` Guide"), ("", "Ada Lovelace wrote **notes**."), ("", "She met Charles Babbage."),
        ("Install", "Install\n\nRun this:"), ("Install", "```bash\n$ pip install kgreason\n```"),
        ("Install", "Then build. It is quick."), ("Use", "Use"), ("Use", "Ask *questions* with `kg ask`."),
    ]


def test_a_long_code_block_is_cut_at_whitespace():
    text = "Intro.\n\n```\n" + "word " * 30 + "\n```\n"
    doc = markdown_doc(text)
    passages = chunk_document(doc, chunk_size=50, overlap=0)
    assert passages[0].text == "Intro."
    assert all(len(p.text) <= 50 and p.text == doc.text[p.start:p.end] for p in passages)
    assert "".join(p.text for p in passages[1:]).replace(" ", "").replace("\n", "") == "```" + "word" * 30 + "```"


def test_benchmark_corpus_chunks_fast_with_exact_slices(bench_dir):
    from extract.loaders import load_documents

    docs = load_documents([bench_dir / "2wiki_combined164" / "corpus.jsonl"]).documents
    started = time.perf_counter()
    passages = [p for d in docs for p in chunk_document(d, chunk_size=400, overlap=100)]
    seconds = time.perf_counter() - started
    by_id = {d.id: d for d in docs}
    assert all(p.text == by_id[p.doc_id].text[p.start:p.end] and len(p.text) <= 400 for p in passages)
    assert len(passages) > len(docs)
    assert seconds < 5.0  # measured ~0.3 s for 7,005 documents
