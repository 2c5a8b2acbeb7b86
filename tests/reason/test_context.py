"""Context assembly: sentence selection, absolute citation spans, de-duplication, token budget."""
from __future__ import annotations

import pytest

from kg.errors import ConfigError, NotFoundError
from kg.graph import KnowledgeGraph
from kg.model import Document, Entity, Evidence, LinkedEntity, Mention, Passage, Retrieval, ScoredEntity

TEXT = (
    "Ada Lovelace was an English mathematician. She was the daughter of Lord Byron. "
    "Ada liked horses. She worked with Charles Babbage on the Analytical Engine. The weather was cold."
)
SPLIT = TEXT.index("She worked")  # second passage starts here


def graph_with(*docs: tuple[str, str]) -> tuple[KnowledgeGraph, list[Evidence]]:
    """Each (title, text) becomes a document; the Ada text is cut into two passages at SPLIT."""
    g = KnowledgeGraph()
    evidence = []
    for title, text in docs:
        d = Document.from_text(text, source=f"{title}.txt", title=title)
        g.documents[d.id] = d
        cuts = [0, SPLIT, len(text)] if text == TEXT else [0, len(text)]
        for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
            p = Passage(f"{d.id}:p{i}", d.id, i, a, b, text[a:b])
            g.passages[p.id] = p
            evidence.append(Evidence(p.id, d.id, title, p.text, 1.0, "hybrid", len(evidence)))
    return g, evidence


def add_mention(g: KnowledgeGraph, doc_id: str, surface: str, label: str, eid: str) -> None:
    d = g.documents[doc_id]
    start = d.text.index(surface)
    p = next(p for p in g.passages.values() if p.doc_id == doc_id and p.start <= start < p.end)
    m = Mention(f"{doc_id}:m{start}", doc_id, p.id, start, start + len(surface), surface, label, "ner")
    g.mentions[m.id], g.assignments[m.id] = m, eid
    g.entities.setdefault(eid, Entity(eid, surface, label))


def test_keeps_first_sentence_and_relevant_ones_in_order():
    from reason.context import build_context

    g, ev = graph_with(("Ada Lovelace", TEXT))
    ctx = build_context(Retrieval("Who was Ada Lovelace's father?", "hybrid", tuple(ev[:1])), g)
    assert ctx.render() == "[1] Ada Lovelace: Ada Lovelace was an English mathematician. Ada liked horses."


def test_entities_make_sentences_relevant_and_spans_are_absolute():
    from reason.context import build_context

    g, ev = graph_with(("Ada Lovelace", TEXT))
    doc_id = ev[0].doc_id
    add_mention(g, doc_id, "Lord Byron", "PERSON", "e-byron")
    add_mention(g, doc_id, "Charles Babbage", "PERSON", "e-babbage")
    r = Retrieval("Who was Ada's father?", "hybrid", tuple(ev), entities=(ScoredEntity("e-byron", "Lord Byron", "PERSON", 0.9),))
    ctx = build_context(r, g)
    assert ctx.render() == (
        "[1] Ada Lovelace: Ada Lovelace was an English mathematician. She was the daughter of Lord Byron. "
        "Ada liked horses.\n"
        "[2] Ada Lovelace: She worked with Charles Babbage on the Analytical Engine."
    )
    cites = ctx.citations()
    assert [(c.start, c.end) for c in cites] == [(0, 42), (43, 78), (79, 96), (97, 154)]
    assert all(c.quote == TEXT[c.start : c.end] for c in cites)
    assert {(c.passage_id, c.title, c.source) for c in cites[3:]} == {(ev[1].passage_id, "Ada Lovelace", "Ada Lovelace.txt")}
    assert [(m.text, m.label, m.source, m.entity_id, m.start) for m in ctx.mentions] == [
        ("Lord Byron", "PERSON", 1, "e-byron", 67),
        ("Charles Babbage", "PERSON", 2, "e-babbage", 113),
    ]
    assert (ctx.candidates, ctx.linked, ctx.chain) == (r.entities, (), ())


def test_linked_entity_names_select_sentences():
    from reason.context import build_context

    g, ev = graph_with(("Ada Lovelace", TEXT))
    r = Retrieval("Whom did she work with?", "hybrid", (ev[1],),
                  linked=(LinkedEntity("Analytical Engine", "e-engine", "Analytical Engine", "PRODUCT", 1.0, "exact"),))
    assert build_context(r, g).render() == "[1] Ada Lovelace: She worked with Charles Babbage on the Analytical Engine."


def test_near_duplicate_sentences_are_dropped():
    from reason.context import build_context

    copy = "Ada Lovelace was an English mathematician! Ada liked horses a lot."
    g, ev = graph_with(("Ada Lovelace", TEXT), ("Mirror", copy))
    ctx = build_context(Retrieval("Who was Ada Lovelace?", "hybrid", (ev[0], ev[2])), g)
    assert ctx.render() == (
        "[1] Ada Lovelace: Ada Lovelace was an English mathematician. Ada liked horses.\n"
        "[2] Mirror: Ada liked horses a lot."
    )


def test_token_budget_gives_each_source_its_best_sentence_first():
    from reason.context import build_context

    g, ev = graph_with(("Ada Lovelace", TEXT), ("Engine", "The Analytical Engine was a computer. Babbage designed it."))
    r = Retrieval("Which engine did Babbage design?", "hybrid", (ev[0], ev[1], ev[2]))
    words = lambda text: len(text.split())  # noqa: E731 - an injected tokenizer
    full = build_context(r, g, 1500, words)
    assert full.render() == (
        "[1] Ada Lovelace: Ada Lovelace was an English mathematician.\n"
        "[2] Ada Lovelace: She worked with Charles Babbage on the Analytical Engine.\n"
        "[3] Engine: The Analytical Engine was a computer. Babbage designed it."
    )
    assert full.tokens == sum(words(line) for line in full.render().splitlines())
    tight = build_context(r, g, 20, words)
    assert tight.render() == (
        "[1] Ada Lovelace: She worked with Charles Babbage on the Analytical Engine.\n"
        "[2] Engine: The Analytical Engine was a computer."
    )
    assert tight.tokens == 20
    assert [s.evidence.passage_id for s in tight.sources] == [ev[1].passage_id, ev[2].passage_id]


def test_default_token_estimate_counts_word_pieces():
    from reason.text import estimate_tokens

    assert estimate_tokens("Ada met Babbage.") == 5  # 3 words, 1 mark, 1 extra piece for a 7-letter word
    assert estimate_tokens("internationalisation") == 3


def test_missing_passage_and_bad_budget_raise():
    from reason.context import build_context

    g, ev = graph_with(("Ada Lovelace", TEXT))
    ghost = Evidence("dX:p0", "dX", "Ghost", "Boo.", 1.0, "dense")
    with pytest.raises(NotFoundError) as err:
        build_context(Retrieval("Who?", "dense", (ghost,)), g)
    assert str(err.value) == "evidence passage 'dX:p0' is not in the graph; expected a passage id of it"
    with pytest.raises(ConfigError) as err:
        build_context(Retrieval("Who?", "dense", tuple(ev)), g, 0)
    assert str(err.value) == "token_budget: expected a positive number of tokens, got 0"
