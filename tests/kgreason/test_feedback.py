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
