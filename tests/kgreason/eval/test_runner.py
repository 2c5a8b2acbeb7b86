"""The runner, report, compare and CLI with a deterministic fake engine (no models)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from kg.errors import ConfigError, NotFoundError
from kgreason.eval import cli
from kgreason.eval.report import compare, load_report
from kgreason.eval.runner import evaluate
from kg.graph import KnowledgeGraph
from kg.model import Answer, BuildReport, Document, Evidence, Passage, Retrieval

TEXTS = {
    "d1": "Acme was founded by Ada Lovelace in 1843.",
    "d2": "Ada Lovelace was a mathematician.",
    "d3": "Acme makes anvils.",
    "d4": "The Louvre is a museum.",
    "d5": "Acme is based in Paris.",
    "d6": "Paris, Texas is a film.",
}
QUESTIONS = [
    {"id": "q1", "question": "Who founded Acme?", "answers": ["Ada Lovelace"], "supporting_ids": ["d1", "d2"], "meta": {"hops": 2}},
    {"id": "q2", "question": "Where is Acme based?", "answers": ["Paris"], "supporting_ids": ["d5"], "meta": {"hops": 3}},
    {"id": "q3", "question": "Which museum?", "answers": ["Louvre"], "supporting_ids": ["d4"], "meta": {"hops": 2}},
    {"id": "q4", "question": "The answer?", "answers": ["42"]},
]
# (question id, mode) -> (ranked corpus ids, answer text or None when not found, LLM usage)
PLAN = {
    ("q1", "bm25"): (["d3", "d1", "d1", "d4"], "Ada", {}),
    ("q1", "graph"): (["d1", "d2"], "Ada Lovelace.", {"llm_calls": 1, "prompt_tokens": 100, "completion_tokens": 10}),
    ("q2", "bm25"): ([], None, {}),
    ("q2", "graph"): (["d6", "d5"], "Paris, France", {"llm_calls": 1, "prompt_tokens": 100, "completion_tokens": 10}),
    ("q3", "bm25"): (["d4"], "the Louvre", {}),
    ("q3", "graph"): (["d2", "d3", "d4"], "Louvre Museum", {"llm_calls": 1, "prompt_tokens": 100, "completion_tokens": 10}),
    ("q4", "bm25"): (["d1"], "42", {}),
    ("q4", "graph"): (["d1"], "forty-two", {"llm_calls": 1, "prompt_tokens": 100, "completion_tokens": 10}),
}


class FakeKB:
    def __init__(self, engine: "FakeEngine"):
        self.engine = engine
        docs = [Document.from_text(t, source=f"corpus.jsonl#{i}", title=i, external_id=i) for i, t in TEXTS.items()]
        self.graph = KnowledgeGraph(documents={d.id: d for d in docs},
                                    passages={f"{d.id}:p0": Passage(f"{d.id}:p0", d.id, 0, 0, len(d.text), d.text) for d in docs})
        self.by_ext = {d.external_id: d for d in docs}
        self.settings = {"embedder": "fake-embedder"}
        self.closed = False

    def _qid(self, question: str) -> str:
        return next(q["id"] for q in QUESTIONS if q["question"] == question)

    def _evidence(self, ids, k, mode):
        return tuple(Evidence(f"{self.by_ext[i].id}:p0", self.by_ext[i].id, i, TEXTS[i], 1.0, mode, r)
                     for r, i in enumerate(ids[:k], start=1))

    def retrieve(self, question, k=5, mode=None):
        qid = self._qid(question)
        if qid == self.engine.interrupt_at:
            raise KeyboardInterrupt
        if qid == self.engine.fail_at:
            raise NotFoundError(f"fake failure on {qid}")
        self.engine.calls.append((qid, mode, k))
        ids = PLAN[(qid, mode)][0]
        return Retrieval(question, mode, self._evidence(ids, k, mode), timings={mode: 0.01 * (1 + len(ids))})

    def ask(self, question, *, mode=None, k=5, generator=None):
        qid = self._qid(question)
        ids, text, usage = PLAN[(qid, mode)]
        self.engine.generators.add(generator)
        return Answer(question, text or "No answer in the documents.", text is not None, (), (),
                      self._evidence(ids, k, mode), mode, generator, {"generate": 0.5}, dict(usage),
                      supported=(qid, mode) != ("q2", "graph"))

    def close(self):
        self.closed = True


class FakeEngine:
    def __init__(self, interrupt_at: str = "", fail_at: str = ""):
        self.interrupt_at, self.fail_at = interrupt_at, fail_at
        self.built: set[str] = set()
        self.builds: list[tuple[list[str], str]] = []
        self.calls: list[tuple] = []
        self.generators: set = set()
        self.kb = None

    def build(self, sources, out, config=None, *, strict=False, progress=True):
        self.builds.append(([str(s) for s in sources], str(out)))
        fresh = str(out) not in self.built
        self.built.add(str(out))
        n = len(TEXTS)
        return BuildReport(str(out), n if fresh else 0, 0 if fresh else n, 0, (), n, 3, 2, 0.1, {"extract": 0.05})

    def open(self, path, **options):
        self.kb = FakeKB(self)
        return self.kb


@pytest.fixture()
def dataset(tmp_path) -> Path:
    d = tmp_path / "toy"
    d.mkdir()
    (d / "corpus.jsonl").write_text("".join(json.dumps({"id": i, "title": i, "text": t}) + "\n" for i, t in TEXTS.items()))
    (d / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return d


def _run(dataset, out, engine, **kw):
    kw.setdefault("modes", ("bm25", "graph"))
    kw.setdefault("charts", False)
    return evaluate(dataset, out, generator=kw.pop("generator", "openai"), graph_dir=out.parent / "graph", engine=engine,
                    progress=False, warmup=False, command="kg eval toy", **kw)


def test_report_numbers_are_exact(dataset, tmp_path):
    engine = FakeEngine()
    r = _run(dataset, tmp_path / "run", engine)
    bm, gr = r.modes["bm25"], r.modes["graph"]
    assert not r.partial and engine.kb.closed
    assert (bm.questions, bm.questions_with_gold) == (4, 3)
    assert bm.recall == pytest.approx({"1": 1 / 3, "2": 0.5, "5": 0.5, "10": 0.5})
    assert gr.recall == pytest.approx({"1": 1 / 6, "2": 2 / 3, "5": 1.0, "10": 1.0})
    assert (bm.mrr, gr.mrr) == pytest.approx((0.5, (1 + 0.5 + 1 / 3) / 3))
    assert (bm.exact_match, gr.exact_match) == (0.5, 0.25)
    assert (bm.f1, gr.f1) == pytest.approx(((2 / 3 + 0 + 1 + 1) / 4, (1 + 2 / 3 + 2 / 3 + 0) / 4))
    assert (bm.answer_in_context, gr.answer_in_context) == (0.5, 0.75)
    assert (bm.found, gr.found) == (0.75, 1.0)
    assert (bm.supported, gr.supported) == (1.0, 0.75)
    assert bm.latency["retrieve.bm25"] == pytest.approx({"median": 0.02, "p95": 0.0455})  # .01 .02 .02 .05
    assert gr.latency["ask.generate"] == {"median": 0.5, "p95": 0.5}
    assert gr.usage_total == {"llm_calls": 4, "prompt_tokens": 400, "completion_tokens": 40}
    assert r.costs["graph"].llm_usd_per_1000 == pytest.approx(1000 * (100 * 0.15 + 10 * 0.60) / 1e6)
    assert r.costs["bm25"].llm_usd_per_1000 == 0.0
    assert [(x.mode, x.recall_points_gained) for x in r.roi] == [("bm25", 0.0), ("graph", pytest.approx(50.0))]
    assert r.breakdowns["hops"]["2"]["bm25"]["recall"]["5"] == pytest.approx(0.75)
    assert r.breakdowns["hops"]["3"]["graph"]["questions"] == 1
    assert list(r.breakdowns) == ["hops"]
    assert engine.calls[:2] == [("q1", "bm25", 10), ("q1", "graph", 10)]  # retrieval at the largest k
    assert engine.generators == {"openai"}
    first = r.results[0]
    assert (first.question_id, first.mode, first.retrieved, first.gold) == ("q1", "bm25", ("d3", "d1", "d4"), ("d1", "d2"))
    assert r.results[-1].recall == {} and r.results[-1].reciprocal_rank is None


def test_report_files_content(dataset, tmp_path):
    out = tmp_path / "run"
    _run(dataset, out, FakeEngine(), charts=True)
    data = json.loads((out / "report.json").read_text())
    assert data["format"] == "kgreason-eval-report" and data["version"] == 1 and data["partial"] is False
    assert data["modes"]["bm25"]["recall"]["2"] == 0.5
    assert len(data["results"]) == 8 and data["results"][-1]["reciprocal_rank"] is None
    assert data["reproducibility"]["command"] == "kg eval toy"
    assert data["reproducibility"]["models"]["embedder"] == "fake-embedder"
    assert set(data["reproducibility"]["packages"]) >= {"kgreason", "spacy", "torch", "rdflib", "networkx"}
    assert sorted(Path(p).name for p in data["dataset"]["checksums"]) == ["corpus.jsonl", "questions.jsonl"]
    assert data["settings"]["k_values"] == [1, 2, 5, 10] and data["settings"]["generator"] == "openai"
    assert data["index_cost"]["llm_indexer_estimate"]["chunks"] == 6
    md = (out / "report.md").read_text()
    assert "| bm25 | 33.3 | 50.0 | 50.0 | 50.0 | 50.0 | 50.0 | 3 |" in md
    assert "| graph | 16.7 | 66.7 | 100.0 | 100.0 | 61.1 | 75.0 | 3 |" in md
    assert "| bm25 | 50.0 | 66.7 | 75.0 | 100.0 | 0.00 | 0 | 0 |" in md
    assert "| graph | 25.0 | 58.3 | 100.0 | 75.0 | 1.00 | 100 | 10 |" in md  # q2's answer cites nothing that supports it
    assert "- graph over bm25: +50.0 Recall@5 points" in md
    assert "### By hop count" in md and "| 2 | 2 | 75.0 / 83.3 | 100.0 / 83.3 |" in md
    assert "**Estimate, not measured: an indexer that calls an LLM on every chunk**" in md
    assert "PARTIAL" not in md
    for png in ("recall_at_k.png", "latency.png", "quality_vs_cost.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG" and f"![{png}]({png})" in md
    assert len((out / "results.jsonl").read_text().splitlines()) == 8


def test_graph_is_reused_and_original_build_figures_kept(dataset, tmp_path):
    engine = FakeEngine()
    first = _run(dataset, tmp_path / "a", engine)
    second = _run(dataset, tmp_path / "b", engine)
    assert (first.build.reused, second.build.reused, second.build.original_known) == (False, True, True)
    assert second.build.seconds == first.build.seconds and second.build.documents == 6
    assert engine.builds[0] == ([str(dataset / "corpus.jsonl")], str(tmp_path / "graph"))


def test_interrupt_keeps_finished_questions_then_resume(dataset, tmp_path):
    out, engine = tmp_path / "run", FakeEngine(interrupt_at="q3")
    r = _run(dataset, out, engine)
    assert r.partial and engine.kb.closed
    assert [(x.question_id, x.mode) for x in r.results] == [("q1", "bm25"), ("q1", "graph"), ("q2", "bm25"), ("q2", "graph")]
    assert r.modes["bm25"].recall["2"] == pytest.approx(0.25)  # (0.5 + 0) / 2 finished questions
    data = json.loads((out / "report.json").read_text())
    assert data["partial"] is True and data["run"]["finished_runs"] == 4 and data["run"]["planned_runs"] == 8
    assert "**PARTIAL RUN**: stopped after 4 of 8" in (out / "report.md").read_text()
    engine.interrupt_at, engine.calls = "", []
    resumed = _run(dataset, out, engine, resume=True)
    assert not resumed.partial
    assert [c[:2] for c in engine.calls] == [("q3", "bm25"), ("q3", "graph"), ("q4", "bm25"), ("q4", "graph")]
    assert resumed.modes["bm25"].recall["2"] == 0.5 and len(resumed.results) == 8
    with pytest.raises(ConfigError, match=r"cannot resume: the dataset, generator, k values or build settings differ"):
        _run(dataset, out, engine, resume=True, generator="extractive")


def test_engine_error_writes_partial_report_and_raises(dataset, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(NotFoundError, match="fake failure on q2"):
        _run(dataset, out, FakeEngine(fail_at="q2"))
    data = json.loads((out / "report.json").read_text())
    assert data["partial"] is True and [x["question_id"] for x in data["results"]] == ["q1", "q1"]


def test_bad_options(dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"modes: expected some of bm25, dense, graph, hybrid, got none"):
        _run(dataset, tmp_path / "r", FakeEngine(), modes=[" "])
    with pytest.raises(ConfigError, match=r"modes: expected some of bm25, dense, graph, hybrid, got fast"):
        _run(dataset, tmp_path / "r", FakeEngine(), modes=["bm25", "fast"])
    with pytest.raises(ConfigError, match=r"k_values: expected positive whole numbers, got \[0, 5\]"):
        _run(dataset, tmp_path / "r", FakeEngine(), k_values=(0, 5))
    with pytest.raises(ConfigError, match=r"no price class for generator 'mystery'"):
        _run(dataset, tmp_path / "r", FakeEngine(), generator="mystery")


def test_compare_two_reports(dataset, tmp_path):
    _run(dataset, tmp_path / "a", FakeEngine(), modes=("bm25",))
    _run(dataset, tmp_path / "b", FakeEngine(), modes=("bm25", "graph"))
    text = compare(tmp_path / "a", tmp_path / "b" / "report.json")
    assert "| bm25 | Recall@2 | 50.0 | 50.0 | +0.0 pts |" in text
    assert "| graph | Recall@5 | – | 100.0 | – |" in text
    assert "| graph | F1 | – | 58.3 | – |" in text
    assert "WARNING" not in text
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(Exception, match=r"bad.json: field 'format': expected 'kgreason-eval-report', got 'other'"):
        load_report(tmp_path / "bad.json")


def _cli(argv):
    parser = argparse.ArgumentParser(prog="kg")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return args.func(args)


def test_cli_compare_and_errors(dataset, tmp_path, capsys):
    _run(dataset, tmp_path / "a", FakeEngine())
    assert _cli(["--compare", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert "| graph | Recall@5 | 100.0 | 100.0 | +0.0 pts |" in capsys.readouterr().out
    assert _cli(["--compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == (f"kg eval: error: {tmp_path / 'missing'}: report not found; "
                                       "expected a report.json written by `kg eval` or its folder\n")
    assert _cli([str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--k", "1,x"]) == 2
    assert "--k: expected comma-separated whole numbers like 1,2,5,10, got '1,x'" in capsys.readouterr().err
    assert _cli([str(tmp_path / "nope")]) == 2
    assert "expected DATASET and --out REPORT_DIR (or --compare A B)" in capsys.readouterr().err
