"""Feedback through the Python API and the command line, on the shipped samples."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import kgreason
from kgreason.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fb")
    cfg = folder / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    assert main(["build", str(SAMPLES / "corpus"), "--out", str(folder / "g"), "--config", str(cfg), "--no-progress"]) == 0
    return folder / "g"


def test_kb_feedback_records_the_answer_and_its_evidence(graph_dir, tmp_path):
    import shutil

    g = shutil.copytree(graph_dir, tmp_path / "g")
    kb = kgreason.open(g)
    answer = kb.ask("What is the seat of the county where Van Hook Township is located?")
    f = kb.feedback(answer, "bad", correction="Stanley", relevant=[answer.evidence[0].passage_id])
    assert kb.feedback_store.all() == [f]
    assert f.evidence == tuple((e.passage_id, e.rank) for e in answer.evidence) and f.graph_version
    assert kb.stats()["feedback"]["bad"] == 1


def test_import_export_list_and_stats_from_the_command_line(graph_dir, tmp_path, capsys):
    import shutil

    g = shutil.copytree(graph_dir, tmp_path / "g")
    questions = [json.loads(x) for x in (SAMPLES / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
    assert main(["feedback", str(g), "--import", str(SAMPLES / "questions.jsonl")]) == 0
    assert main(["feedback", str(g), "--import", str(SAMPLES / "questions.jsonl")]) == 0  # again: nothing new
    out = capsys.readouterr().out
    assert f"imported {len(questions)} new" in out and "imported 0 new" in out
    records = kgreason.open(g).feedback_store.all()
    assert len(records) == len(questions) and all(r.relevant and r.verdict == "good" for r in records)
    assert main(["feedback", str(g), "--export", str(tmp_path / "fb.jsonl")]) == 0
    assert len((tmp_path / "fb.jsonl").read_text(encoding="utf-8").splitlines()) == len(questions)
    assert main(["stats", str(g)]) == 0
    assert f"feedback: {len(questions)} records ({len(questions)} human, 0 AI)" in capsys.readouterr().out


def test_an_unknown_gold_document_is_named(graph_dir, tmp_path, capsys):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "Who?", "answers": ["x"], "supporting_ids": ["nope.md"]}\n', encoding="utf-8")
    assert main(["feedback", str(graph_dir), "--import", str(bad)]) == 2
    assert "supporting_ids name documents not in the graph: nope.md" in capsys.readouterr().err


def test_kg_ask_rate_stores_the_verdict_typed_at_the_terminal(graph_dir, tmp_path):
    import shutil

    g = shutil.copytree(graph_dir, tmp_path / "g")
    run = subprocess.run([sys.executable, "-m", "kgreason.cli", "ask", str(g), "Where is Van Hook Township?", "--rate"],
                         input="b\nMountrail County\n", capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (f,) = kgreason.open(g).feedback_store.all()
    assert (f.verdict, f.correction, f.source) == ("bad", "Mountrail County", "human")


def test_generated_questions_are_stored_as_ai_feedback_once(graph_dir, tmp_path, capsys):
    import shutil

    g = shutil.copytree(graph_dir, tmp_path / "g")
    assert main(["feedback", str(g), "--generate", "5"]) == 0
    assert main(["feedback", str(g), "--generate", "5"]) == 0
    assert "added 5 new" in capsys.readouterr().out
    records = kgreason.open(g).feedback_store.all()
    assert len(records) == 5 and {r.source for r in records} == {"ai:graph-questions"}
    assert all(r.relevant and r.answer and r.question.endswith("?") for r in records)


def test_import_and_generate_in_one_command_do_both(graph_dir, tmp_path, capsys):
    """The README's `kg feedback DIR --generate --import FILE` (it once imported and silently generated nothing)."""
    import shutil

    g = shutil.copytree(graph_dir, tmp_path / "g")
    assert main(["feedback", str(g), "--generate", "5", "--import", str(SAMPLES / "questions.jsonl"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": 13, "imported": 8, "generated": 5}
    sources = [r.source for r in kgreason.open(g).feedback_store.all()]
    assert sources.count("human") == 8 and sources.count("ai:graph-questions") == 5


class ScriptedJudge:
    """Grades by a fixed rule: an answer containing ``right`` is correct and supported, others incorrect."""

    name = "scripted"

    def __init__(self, right):
        self.right, self.seen = right, []

    def judge(self, question, answer_text, cited_passages):
        from reason.judge import Verdict
        self.seen.append((question, answer_text, tuple(cited_passages)))
        ok = self.right in answer_text
        return Verdict("correct" if ok else "incorrect", ok, "scripted")


def test_judged_answers_become_ai_feedback_with_cited_passages_relevant(graph_dir, tmp_path):
    import shutil

    from kgreason.labels import judge_questions

    g = shutil.copytree(graph_dir, tmp_path / "g")
    kb = kgreason.open(g)
    questions = ["What team was Anna Benson's husband on?", "Who is the mayor of Atlantis?"]
    expected = kb.ask(questions[0])
    judge = ScriptedJudge(expected.text)
    counts = judge_questions(kb, questions, judge)
    assert counts == {"asked": 2, "not_found": 1, "good": 1, "partly": 0, "bad": 0, "unsure": 0, "added": 1}
    (record,) = kb.feedback_store.all()
    assert (record.verdict, record.source, record.answer) == ("good", "ai:scripted", expected.text)
    assert record.relevant == tuple(dict.fromkeys(c.passage_id for c in expected.citations)) and record.relevant
    assert judge.seen[0][2]  # the judge read the cited passages


def test_kg_feedback_judge_reads_questions_and_names_a_bad_line(graph_dir, tmp_path, capsys):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "Where is Stanley?"}\n{"q": "x"}\n', encoding="utf-8")
    assert main(["feedback", str(graph_dir), "--judge", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "q.jsonl:2: expected a JSON object with a non-empty string field 'question'" in err
    from kgreason.labels import read_question_lines
    plain = tmp_path / "q.txt"
    plain.write_text("Where is Stanley?\n\n  Who founded it?  \n", encoding="utf-8")
    assert read_question_lines(plain) == ["Where is Stanley?", "Who founded it?"]
