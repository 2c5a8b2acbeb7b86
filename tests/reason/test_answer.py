"""The answer pipeline: Retrieval + graph + generator -> Answer, with the not-found guard and chain pruning."""
from __future__ import annotations

from kg.graph import KnowledgeGraph
from kg.model import Document, Entity, Evidence, Hop, LinkedEntity, Mention, Passage, Retrieval
from reason.answer import answer, relevant_chain
from reason.context import Context
from reason.generators.base import Generation
from reason.generators.base import NOT_FOUND
from reason.generators.extractive import ExtractiveGenerator

TEXT = "Titanic is a 1997 film directed by James Cameron. It was a box office hit."


def titanic(question: str, linked: bool = True, chain=()) -> tuple[KnowledgeGraph, Retrieval]:
    d = Document.from_text(TEXT, source="titanic.txt", title="Titanic")
    p = Passage(f"{d.id}:p0", d.id, 0, 0, len(TEXT), TEXT)
    g = KnowledgeGraph(documents={d.id: d}, passages={p.id: p})
    for surface, label, eid in [("Titanic", "WORK_OF_ART", "e-titanic"), ("James Cameron", "PERSON", "e-cameron")]:
        at = TEXT.index(surface)
        m = Mention(f"{d.id}:m{at}", d.id, p.id, at, at + len(surface), surface, label, "ner")
        g.mentions[m.id], g.assignments[m.id] = m, eid
        g.entities[eid] = Entity(eid, surface, label)
    links = (LinkedEntity("Titanic", "e-titanic", "Titanic", "WORK_OF_ART", 1.0, "exact"),) if linked else ()
    ev = (Evidence(p.id, d.id, "Titanic", TEXT, 0.9, "hybrid", 0),)
    return g, Retrieval(question, "hybrid", ev, tuple(chain), links, (), {"link": 0.01, "rank": 0.02})


class RecordingGenerator:
    """A deterministic fake: answers 'X' and records the contexts it saw."""

    name = "recording"

    def __init__(self):
        self.seen: list[Context] = []

    def generate(self, context: Context) -> Generation:
        self.seen.append(context)
        return Generation("James Cameron", True, context.citations()[:1], {"llm_calls": 1, "prompt_tokens": 9,
                                                                           "completion_tokens": 2})


def test_answer_carries_text_citations_evidence_and_timings():
    g, r = titanic("Who directed Titanic?")
    a = answer(r, g, ExtractiveGenerator())
    assert (a.question, a.text, a.found, a.mode, a.generator) == (
        "Who directed Titanic?", "James Cameron", True, "hybrid", "extractive")
    assert [(c.quote, c.start, c.end, c.title, c.source) for c in a.citations] == [
        ("Titanic is a 1997 film directed by James Cameron.", 0, 49, "Titanic", "titanic.txt")]
    assert a.evidence == r.evidence
    assert list(a.timings) == ["link", "rank", "context", "generate"]
    assert a.usage == {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}


def test_generator_sees_the_budgeted_context_and_usage_is_passed_on():
    g, r = titanic("Who directed Titanic?")
    gen = RecordingGenerator()
    a = answer(r, g, gen, token_budget=20)
    assert gen.seen[0].render() == "[1] Titanic: Titanic is a 1997 film directed by James Cameron."
    assert answer(r, g, RecordingGenerator(), token_budget=10).found is False  # no sentence fits
    assert (a.generator, a.usage) == ("recording", {"llm_calls": 1, "prompt_tokens": 9, "completion_tokens": 2})


def test_no_evidence_is_not_found_without_calling_the_generator():
    g, r = titanic("Who directed Titanic?")
    gen = RecordingGenerator()
    a = answer(Retrieval(r.question, "dense", ()), g, gen)
    assert (a.text, a.found, a.citations, a.chain, gen.seen) == ("Not found in the documents.", False, (), (), [])


def test_unlinked_question_with_weak_evidence_is_not_found():
    g, r = titanic("Which submarine explored the wreck in 2005?", linked=False)
    gen = RecordingGenerator()
    a = answer(r, g, gen)
    assert (a.text, a.found, gen.seen) == ("Not found in the documents.", False, [])
    g, r = titanic("Which 1997 film was directed by James Cameron?", linked=False)
    assert answer(r, g, gen).found is True


def test_chain_is_pruned_to_the_hops_leading_to_the_answer():
    chain = (
        Hop("Titanic", "directed by", "James Cameron"),
        Hop("Titanic", "released in", "1997"),
        Hop("James Cameron", "born in", "Kapuskasing"),
    )
    assert relevant_chain(chain, "Kapuskasing") == (chain[0], chain[2])
    assert relevant_chain(chain, "James Cameron") == (chain[0],)
    assert relevant_chain(chain, "Canada") == chain
    g, r = titanic("Who directed Titanic?", chain=chain)
    assert answer(r, g, ExtractiveGenerator()).chain == (chain[0],)


class CannedGenerator:
    """Replies ``text`` citing the context sentences at ``cite`` (indexes)."""

    name = "canned"

    def __init__(self, text: str, cite: tuple[int, ...] = (0,)):
        self.text, self.cite = text, cite

    def generate(self, context: Context) -> Generation:
        cites = tuple(context.citations()[i] for i in self.cite)
        return Generation(self.text, True, cites, {"llm_calls": 1, "prompt_tokens": 9, "completion_tokens": 2})


def test_every_answer_is_checked_against_its_own_citations():
    g, r = titanic("Who directed Titanic, a box office hit?")  # both sentences are kept
    assert answer(r, g, CannedGenerator("James Cameron")).supported is True
    cites_nothing = answer(r, g, CannedGenerator("James Cameron", cite=()))
    assert (cites_nothing.found, cites_nothing.supported) == (True, False)
    wrong_sentence = answer(r, g, CannedGenerator("box office hit", cite=(0,)))  # stated in sentence 2, cites 1
    assert (wrong_sentence.found, wrong_sentence.supported) == (True, False)
    assert answer(r, g, CannedGenerator("box office hit", cite=(1,))).supported is True
    not_found = answer(Retrieval(r.question, "dense", ()), g, CannedGenerator("x"))
    assert (not_found.found, not_found.supported) == (False, True)  # claims nothing


def test_an_answer_no_context_sentence_states_is_not_found_and_keeps_the_usage():
    g, r = titanic("Who directed Titanic?")
    a = answer(r, g, CannedGenerator("Steven Spielberg"))
    assert (a.text, a.found, a.citations, a.supported) == (NOT_FOUND, False, (), True)
    assert a.usage == {"llm_calls": 1, "prompt_tokens": 9, "completion_tokens": 2}
    assert answer(r, g, CannedGenerator("yes")).found is True  # yes/no is never written out



def test_a_reader_s_reason_for_no_answer_is_kept_in_the_settings():
    g, r = titanic("What does Titanic do to its viewers?")
    a = answer(r, g, ExtractiveGenerator())
    assert not a.found and a.settings["reader"]["note"].startswith("the extractive reader answers with a name")
    assert "reader" not in answer(titanic("Who directed Titanic?")[1], g, ExtractiveGenerator()).settings
