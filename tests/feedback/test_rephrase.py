"""LLM rephrasings of generated questions, with a deterministic fake chat model."""
from __future__ import annotations

import json

import pytest

from feedback.questions import generate_questions
from feedback.rephrase import SCHEMA, rephrase, rephrase_questions, required_names
from kg.llm import ChatReply

from .test_questions import graph


class Scripted:
    """Replies with the rewrite given for each question (by its text), recording what it was asked."""

    model_name = "scripted"

    def __init__(self, rewrites: dict[str, str]):
        self.rewrites, self.asked = rewrites, []

    def chat(self, messages, *, max_tokens, json_schema=None):
        question = messages[-1]["content"].removeprefix("Question: ")
        self.asked.append((question, json_schema))
        text = self.rewrites.get(question, "{")  # an unknown question gets a cut-off reply
        return ChatReply(text if text == "{" else json.dumps({"question": text}), 30, 10, 0.1)


def test_required_names_are_the_named_entities_but_not_the_answer():
    qs = {q.question: q for q in generate_questions(graph())}
    born = qs["Li Yang was born in which place?"]
    assert required_names(born, graph()) == ["Li Yang"]
    multi = next(q for q in qs.values() if q.kind == "multi")
    assert required_names(multi, graph()) == ["Blind Shaft"]  # the bridge (Li Yang) is not written in it


def test_a_rewrite_is_kept_only_when_it_names_the_entities_and_hides_the_answer():
    g = graph()
    qs = {q.question: q for q in generate_questions(g)}
    compare = next(q.question for q in qs.values() if q.kind == "comparison")
    chat = Scripted({
        "Li Yang was born in which place?": "Where was Li Yang born?",
        "Blind Shaft was directed by which person?": "Who directed it?",           # the film's name dropped
        compare: "Which was born first, " + compare.split(", ", 1)[1],              # options kept, one the answer
    })
    kept, counts = rephrase_questions(list(qs.values()), g, chat)
    assert [(q.question, text) for q, text in kept][0] == ("Li Yang was born in which place?", "Where was Li Yang born?")
    assert "Who directed it?" not in [t for _, t in kept]
    assert dict(counts) == {"asked": len(qs), "kept": len(kept), "rejected": 1, "failed": len(qs) - len(kept) - 1}
    assert all(schema == SCHEMA for _, schema in chat.asked)


@pytest.mark.parametrize("rewrite", ["Was Li Yang born in Xian?",          # gives the answer
                                     "Li Yang was born in which place?",   # unchanged
                                     "Tell me where Li Yang was born",     # not a question
                                     "Where was Li Yang born, and when?"])  # two questions
def test_rewrites_that_give_the_answer_repeat_the_question_or_are_not_questions_are_rejected(rewrite):
    assert rephrase("Li Yang was born in which place?", "Xian", ["Li Yang"],
                    Scripted({"Li Yang was born in which place?": rewrite})) is None


def test_a_comparison_keeps_both_options_though_one_is_the_answer():
    q = "Who was born on the earlier date, Ada Lovelace or Charles Babbage?"
    names = required_names(next(x for x in generate_questions(graph()) if x.question == q), graph())
    assert sorted(names) == ["Ada Lovelace", "Charles Babbage"]
    good = Scripted({q: "Which was born first, Ada Lovelace or Charles Babbage?"})
    assert rephrase(q, "Charles Babbage", names, good) == "Which was born first, Ada Lovelace or Charles Babbage?"
    assert rephrase(q, "Charles Babbage", names, Scripted({q: "Was Charles Babbage born first?"})) is None


def test_kg_feedback_generate_rephrase_stores_both_with_the_same_answer_and_passages(serve_graph, tmp_path, monkeypatch, capsys):
    import shutil

    from kgreason import cli

    g = tmp_path / "g"
    shutil.copytree(serve_graph, g)
    rewrites = {}

    class Echo(Scripted):
        def chat(self, messages, *, max_tokens, json_schema=None):
            question = messages[-1]["content"].removeprefix("Question: ")
            return ChatReply(json.dumps({"question": f"Tell me: {question}"}), 30, 10, 0.1)

    monkeypatch.setattr(cli, "_chat", lambda model, url: Echo(rewrites))
    assert cli.main(["feedback", str(g), "--generate", "5", "--rephrase", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "added 5 new question(s)" in out and "rephrased 5 of 5 generated question(s)" in out
    import kgreason

    records = list(kgreason.open(g).feedback_store.all())
    template = {r.question: r for r in records if r.source == "ai:graph-questions"}
    rephrased = [r for r in records if r.source == "ai:rephrased:scripted"]
    assert len(rephrased) == 5
    for r in rephrased:
        original = template[r.question.removeprefix("Tell me: ")]
        assert (r.answer, r.relevant, r.verdict) == (original.answer, original.relevant, "good")
