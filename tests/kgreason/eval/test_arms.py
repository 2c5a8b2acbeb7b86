"""kg eval --arms with deterministic fakes: the arms, the folds, closed-book scoring, one-off costs and
the decision section of the report (no models)."""
from __future__ import annotations

import json

import pytest

from kg.errors import BackendError, ConfigError
from kg.model import Answer
from kgreason.eval import arms as arms_module
from kgreason.eval.arms import Arm, ArmModels, fold_plan, plan_arms, score_arm, training_costs
from kgreason.eval.cost import load_prices
from kgreason.eval.datasets import EvalQuestion
from kgreason.eval.decision import total_cost, ArmCost
from kgreason.eval.arms_report import one_off_costs
from reason.generators.base import Generation

from .test_runner import QUESTIONS, FakeEngine, FakeKB, _run, dataset  # noqa: F401 - the dataset fixture


def test_plan_arms_names_kinds_and_order():
    arms = plan_arms(["rag+ft", "ft", "rag", "closed-book"], ["bm25", "hybrid"])
    assert [(a.name, a.kind, a.mode, a.reader) for a in arms] == [
        ("closed-book", "closed-book", None, "local"), ("ft", "ft", None, "local"),
        ("rag/bm25", "rag", "bm25", "local"), ("rag/bm25/extractive", "rag", "bm25", "extractive"),
        ("rag/hybrid", "rag", "hybrid", "local"), ("rag/hybrid/extractive", "rag", "hybrid", "extractive"),
        ("rag+ft/bm25", "rag+ft", "bm25", "local"), ("rag+ft/bm25/extractive", "rag+ft", "bm25", "extractive"),
        ("rag+ft/hybrid", "rag+ft", "hybrid", "local"), ("rag+ft/hybrid/extractive", "rag+ft", "hybrid", "extractive")]
    assert [a.tuned for a in arms] == [False, True, False, False, False, False, True, True, True, True]
    with pytest.raises(ConfigError, match="arms: expected some of closed-book, ft, rag, rag\\+ft, got fine-tune"):
        plan_arms(["rag", "fine-tune"], ["hybrid"])
    with pytest.raises(ConfigError, match="modes: expected some of .*got vector"):
        plan_arms(["rag"], ["vector"])
    assert [a.name for a in plan_arms(["rag+ft", "rag"], ["bm25"], ["extractive"])] == ["rag/bm25/extractive",
                                                                                       "rag+ft/bm25/extractive"]
    assert [a.name for a in plan_arms(["rag"], ["bm25"], ["local"])] == ["rag/bm25"]
    with pytest.raises(ConfigError, match="arm readers: expected some of local, extractive, got gpt"):
        plan_arms(["rag"], ["bm25"], ["gpt"])
    with pytest.raises(ConfigError, match="arms ft: closed-book arms read with the LLM"):
        plan_arms(["ft", "rag"], ["bm25"], ["extractive"])


def test_fold_plan_evaluates_each_question_once_and_never_trains_on_it():
    qs = list(range(9))
    plan = fold_plan(qs, 0.5, 3)
    assert [e for _, e in plan] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert [l for l, _ in plan] == [[3, 4, 5, 6, 7, 8][:4], [6, 7, 8, 0], [0, 1, 2, 3]]  # round(0.5 x 9) = 4 labels
    for labelled, evaluated in plan:
        assert not set(labelled) & set(evaluated)
    assert fold_plan(list(range(4)), 0.25, 2) == [([2], [0, 1]), ([0], [2, 3])]
    with pytest.raises(ConfigError, match=r"label_fraction: expected more than 0 and at most 0.5 with 2 folds .* got 0.6"):
        fold_plan(qs, 0.6, 2)
    with pytest.raises(ConfigError, match="folds: expected at least 2"):
        fold_plan(qs, 0.5, 1)
    with pytest.raises(ConfigError, match="folds: 3 folds need at least 3 questions, got 2"):
        fold_plan([1, 2], 0.5, 3)


class FakeReader:
    def __init__(self, answers: dict[str, str], fail: str = ""):
        self.answers, self.fail = answers, fail

    def answer(self, question):
        if question == self.fail:
            raise BackendError("cut off")
        text = self.answers.get(question)
        usage = {"llm_calls": 1, "prompt_tokens": 30, "completion_tokens": 8}
        return Generation(text, True, (), usage) if text else Generation.not_found(usage)


def test_closed_book_arm_scores_without_retrieval():
    q = EvalQuestion("q1", "Who founded Acme?", ("Ada Lovelace",), ("d1",), {"hops": 2})
    models = ArmModels(None, None, FakeReader({q.question: "Ada Lovelace"}), FakeReader({}, fail=q.question), "m", {})
    ticks = iter([1.0, 1.25, 5.0, 5.5])
    r = score_arm(models, Arm("closed-book", "closed-book", None, "local"), q, None, (5,), 5, lambda: next(ticks))
    assert (r.mode, r.prediction, r.found, r.exact_match, r.f1) == ("closed-book", "Ada Lovelace", True, 1.0, 1.0)
    assert (r.gold, r.recall, r.retrieved, r.reciprocal_rank) == ((), {}, (), None)
    assert r.supported is False and r.cpu_seconds == 0.25 and r.groups == {"hops": "2"}
    assert r.usage == {"llm_calls": 1, "prompt_tokens": 30, "completion_tokens": 8}
    bad = score_arm(models, Arm("ft", "ft", None, "local"), q, None, (5,), 5, lambda: next(ticks))
    assert (bad.found, bad.f1, bad.prediction, bad.supported) == (False, 0.0, "", True)


def test_arm_models_check_names_what_is_missing():
    models = ArmModels(object(), None, object(), None, "m", {})
    with pytest.raises(ConfigError, match="arm rag\\+ft: the graph has no active kg tune version; run `kg tune DIR`"):
        models.check(plan_arms(["rag+ft"], ["hybrid"]))
    with pytest.raises(ConfigError, match="arm ft: the active kg tune version has no closed-book reader"):
        models.check(plan_arms(["ft"], ["hybrid"]))
    models.check(plan_arms(["closed-book", "rag"], ["hybrid"]))


def test_training_costs_and_one_off_costs_are_hand_computed():
    manifest = {"version": 4, "sources": {"human": 30, "ai:generated": 200},
                "settings": {"cpu_seconds_per_part": {"embedder": 1000.0, "reranker": 500.0, "reader": 2100.0,
                                                      "closed_book": 900.0}}}
    t = training_costs(manifest)
    assert t == {"version": 4, "labels": 30, "generated": 200, "cpu_seconds": {"rag+ft": 3600.0, "ft": 900.0}}
    prices = load_prices()  # $0.048 a vCPU-hour, 2 minutes a label at $40 an hour
    second = {**t, "labels": 10, "cpu_seconds": {"rag+ft": 1800.0, "ft": 300.0}}
    o = one_off_costs("rag+ft", 2.0, [t, second], prices)
    assert o["labels"] == 20 and o["labelling"] == pytest.approx(20 * 2 / 60 * 40)
    assert o["training_cpu_seconds"] == 2700.0 and o["training"] == pytest.approx(2700 * 0.048 / 3600)
    assert o["total"] == pytest.approx(2.0 + 20 * 2 / 60 * 40 + 2700 * 0.048 / 3600)
    assert one_off_costs("ft", 2.0, [t], prices)["total"] == pytest.approx(2.0 + 30 * 2 / 60 * 40 + 900 * 0.048 / 3600)
    assert one_off_costs("closed-book", 2.0, [t], prices)["total"] == 0.0
    assert one_off_costs("rag", 2.0, [t], prices) == {"indexing": 2.0, "labels": 0.0, "labelling": 0.0,
                                                      "training_cpu_seconds": 0.0, "training": 0.0, "total": 2.0}


class TunedKB(FakeKB):
    """The tuned retrieval of the fake: answers as the fake's graph mode does."""

    def retrieve(self, question, k=5, mode=None):
        return super().retrieve(question, k, "graph")

    def ask(self, question, *, mode=None, k=5, generator=None):
        return super().ask(question, mode="graph", k=k, generator=generator)


class ExtractiveAwareKB(FakeKB):
    def ask(self, question, *, mode=None, k=5, generator=None):
        a = super().ask(question, mode=mode, k=k, generator=generator)
        if generator == "extractive" and self._qid(question) == "q3":
            return Answer(question, "No answer.", False, (), (), a.evidence, mode, generator, {}, {}, supported=True)
        return a


def test_arms_report_opens_with_a_recommendation_from_the_numbers(dataset, tmp_path, monkeypatch):
    engine = FakeEngine()
    training = {"version": 2, "labels": 10, "generated": 100, "cpu_seconds": {"rag+ft": 3600.0, "ft": 1800.0}}
    closed = FakeReader({})
    ft = FakeReader({q["question"]: a for q, a in zip(QUESTIONS, ["Ada Lovelace", "Rome", "", ""])})

    def fake_models(graph_dir, settings, *, model="", threads=None):
        return ArmModels(ExtractiveAwareKB(engine), TunedKB(engine), closed, ft, "qwen-test", dict(training))

    monkeypatch.setattr(arms_module, "open_models", fake_models)
    out = tmp_path / "run"
    r = _run(dataset, out, engine, modes=("bm25",), arms=["closed-book", "ft", "rag", "rag+ft"], volume=5000,
             months=6, charts=True, generator="extractive")
    names = ["closed-book", "ft", "rag/bm25", "rag/bm25/extractive", "rag+ft/bm25", "rag+ft/bm25/extractive"]
    assert list(r.modes) == names and not r.partial
    f1 = {n: r.modes[n].f1 for n in names}
    assert f1 == pytest.approx({"closed-book": 0.0, "ft": 0.25, "rag/bm25": (2 / 3 + 0 + 1 + 1) / 4,
                                "rag/bm25/extractive": (2 / 3 + 0 + 0 + 1) / 4, "rag+ft/bm25": (1 + 2 / 3 + 2 / 3 + 0) / 4,
                                "rag+ft/bm25/extractive": (1 + 2 / 3 + 2 / 3 + 0) / 4})
    d = r.decision
    assert d["baseline"] == "rag/bm25" and d["questions"] == 4 and (d["volume"], d["months"]) == (5000, 6)
    rows = {x["b"]: x for x in d["against_baseline"]}
    assert rows["closed-book"]["mean"] == pytest.approx(-f1["rag/bm25"])
    assert rows["rag+ft/bm25"]["mean"] == pytest.approx(f1["rag+ft/bm25"] - f1["rag/bm25"])
    assert rows["closed-book"]["low"] <= rows["closed-book"]["mean"] <= rows["closed-book"]["high"]
    accuracy = {a["arm"]: a["accuracy"] for a in d["arms"]}
    assert accuracy == {"closed-book": 0.0, "ft": 0.25, "rag/bm25": 0.75, "rag/bm25/extractive": 0.5, "rag+ft/bm25": 0.75,
                        "rag+ft/bm25/extractive": 0.75}
    index_usd = r.index_cost["measured"]["usd"]
    assert d["one_off"]["closed-book"]["total"] == 0.0 and d["one_off"]["rag/bm25"]["total"] == pytest.approx(index_usd)
    assert d["one_off"]["rag+ft/bm25"]["total"] == pytest.approx(index_usd + 10 * 2 / 60 * 40 + 3600 * 0.048 / 3600)
    costs = {a["arm"]: ArmCost(a["arm"], a["one_off_usd"], a["per_question_usd"], a["accuracy"], a["f1"]) for a in d["arms"]}
    for b in d["break_even"]:  # the two arms' totals are equal at the break-even volume
        assert total_cost(costs[b["a"]], b["volume"], months=6) == pytest.approx(total_cost(costs[b["b"]], b["volume"], months=6))
    picked = d["recommendation"].split("pick ")[1].split(":")[0]
    assert picked in names and d["recommendation"].startswith("At 5,000 questions a month over 6 months, pick ")
    md = (out / "report.md").read_text()
    assert md.index("## Recommendation") < md.index("## RAG, fine-tuning or both") < md.index("## Summary")
    assert d["recommendation"] in md and "| rag+ft/bm25 |" in md and "10 / $13.3" in md
    assert (out / "cost_vs_volume.png").stat().st_size > 5000
    saved = json.loads((out / "report.json").read_text())
    assert saved["decision"]["recommendation"] == d["recommendation"]
    assert [t["version"] for t in saved["settings"]["training"]] == [2]
    from kgreason.eval.report import compare

    table = compare(out, out)  # --compare reads arms reports as it reads mode reports
    assert "| rag+ft/bm25 | F1 | 58.3 | 58.3 | +0.0 pts |" in table and "| closed-book | F1 | 0.0 | 0.0 |" in table


def test_the_label_curve_trains_on_fewer_labels_and_prices_a_label(dataset, tmp_path, monkeypatch):
    """With 2 folds of 4 questions (2 labels a fold) and --label-curve 0,1: each fold trained again on 0
    and 1 labels; the fake's tuned retrieval is the base one until a fold has a label."""
    engine = FakeEngine()
    trained: list[tuple[str, int]] = []

    def fake_train(graph_dir, fold_dir, labelled, roots, tune_options, progress, untrained_ok=False):
        assert untrained_ok == fold_dir.as_posix().split("/run/")[1].startswith("curve/")  # the main run must train
        trained.append((fold_dir.relative_to(tmp_path / "run").as_posix(), len(labelled)))
        return tmp_path / f"labels-{len(labelled)}"

    def fake_models(graph_dir, settings, *, model="", threads=None):
        labels = int(str(graph_dir).rsplit("-", 1)[1])
        tuned = TunedKB(engine) if labels else None  # no labels: kg tune judged nothing, trained nothing
        return ArmModels(ExtractiveAwareKB(engine), tuned, FakeReader({}), None, "qwen-test",
                         {"version": 1, "labels": labels, "generated": 50, "cpu_seconds": {"rag+ft": 60.0, "ft": 0.0}})

    monkeypatch.setattr(arms_module, "train_fold", fake_train)
    monkeypatch.setattr(arms_module, "open_models", fake_models)
    out = tmp_path / "run"
    r = _run(dataset, out, engine, modes=("bm25",), arms=["rag", "rag+ft"], label_fraction=0.5, folds=2,
             label_curve=[1, 0], charts=True, generator="extractive")
    assert trained == [("folds/1", 2), ("folds/2", 2), ("curve/0/1", 0), ("curve/0/2", 0), ("curve/1/1", 1), ("curve/1/2", 1)]
    points = r.decision["label_curve"]
    assert [p["labels"] for p in points] == [0, 1, 2]
    f1 = [p["arms"]["rag+ft/bm25/extractive"]["f1"] for p in points]
    assert f1 == pytest.approx([(2 / 3 + 0 + 0 + 1) / 4, (1 + 2 / 3 + 2 / 3 + 0) / 4, (1 + 2 / 3 + 2 / 3 + 0) / 4])
    assert points[1]["arms"]["rag+ft/bm25"]["recall"] == pytest.approx(r.modes["rag+ft/bm25"].recall["5"])
    value = r.decision["label_value"]
    gain = 100 * ((1 + 2 / 3 + 2 / 3 + 0) / 4 - (2 / 3 + 0 + 0 + 1) / 4)  # F1 points from 0 to 2 labels
    assert value["rag+ft/bm25/extractive"]["points_per_label"] == pytest.approx(gain / 2, abs=1e-5)
    assert value["rag+ft/bm25/extractive"]["usd_per_point"] == pytest.approx(2 * 2 / 60 * 40 / gain, abs=1e-5)
    assert value["rag+ft/bm25"]["usd_per_point"] is None  # (2/3 + 0 + 1 + 1) / 4 with no labels: labels lost F1
    md = (out / "report.md").read_text()
    assert md.index("## RAG, fine-tuning or both") < md.index("## Value of labels") < md.index("## Summary")
    assert "- **rag+ft/bm25**: F1 66.7 with 0 labels -> 58.3 with 2: the labels bought no F1 here." in md
    assert f"- **rag+ft/bm25/extractive**: F1 41.7 with 0 labels -> 58.3 with 2: {gain / 2:+.3g} F1 points" in md
    assert (out / "quality_vs_labels.png").stat().st_size > 5000
    saved = json.loads((out / "curve.json").read_text())
    assert [p["labels"] for p in saved["points"]] == [0, 1]
    trained.clear()  # the same run again: the curve's points are reused, not trained again
    _run(dataset, out, engine, modes=("bm25",), arms=["rag", "rag+ft"], label_fraction=0.5, folds=2,
         label_curve=[0, 1], resume=True, generator="extractive")
    assert not [t for t in trained if t[0].startswith("curve/")]
    with pytest.raises(ConfigError, match="label curve: expected label counts from 0 to 1 .* got 2"):
        _run(dataset, tmp_path / "r2", engine, modes=("bm25",), arms=["rag+ft"], label_fraction=0.5, folds=2,
             label_curve=[2])
    with pytest.raises(ConfigError, match="--label-curve trains the tuned arms on fewer labels: give it with --folds"):
        _run(dataset, tmp_path / "r3", engine, modes=("bm25",), arms=["rag"], label_fraction=0.5, folds=2, label_curve=[0])


def test_arms_need_both_fold_options(dataset, tmp_path):
    with pytest.raises(ConfigError, match="--label-fraction and --folds go together"):
        _run(dataset, tmp_path / "r", FakeEngine(), arms=["rag+ft"], label_fraction=0.5)
    with pytest.raises(ConfigError, match="--label-fraction, --folds and --label-curve train the tuned arms: give them with --arms"):
        _run(dataset, tmp_path / "r", FakeEngine(), folds=2, label_fraction=0.5)
    with pytest.raises(ConfigError, match="arm ft with --folds: the closed-book reader needs training steps"):
        _run(dataset, tmp_path / "r", FakeEngine(), arms=["ft"], label_fraction=0.5, folds=2,
             tune_options={"closed_book_steps": 0})
    with pytest.raises(ConfigError, match="label_fraction: expected more than 0 and at most 0.5"):
        _run(dataset, tmp_path / "r", FakeEngine(), arms=["rag+ft"], label_fraction=0.9, folds=2)


def test_kg_eval_arms_end_to_end_on_samples_with_folds(tmp_path, capsys):
    """Every arm with the packaged models on samples/: two folds, each training kg tune (embedder, RAG reader,
    closed-book reader: a few steps) on the other fold's labels, then a report that recommends an arm."""
    from pathlib import Path

    from kgreason.cli import main

    samples = Path(__file__).resolve().parents[3] / "samples"
    out = tmp_path / "arms"
    code = main(["eval", str(samples), "--out", str(out), "--graph", str(tmp_path / "g"), "--limit", "4",
                 "--arms", "closed-book,ft,rag,rag+ft", "--label-fraction", "0.5", "--folds", "2", "--generate", "60",
                 "--tune-steps", "2", "--reranker-steps", "0", "--reader-steps", "2", "--closed-book-steps", "2",
                 "--reader-validation", "1", "--volume", "2000", "--trust-generated", "--no-progress", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["recommendation"].startswith("At 2,000 questions a month over 12 months, pick ")
    report = json.loads((out / "report.json").read_text())
    names = ["closed-book", "ft", "rag/hybrid", "rag/hybrid/extractive", "rag+ft/hybrid", "rag+ft/hybrid/extractive"]
    assert report["settings"]["modes"] == names
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["question_id"], r["mode"]) for r in results) == sorted((q, n) for q in {r["question_id"] for r in results}
                                                                           for n in names)
    assert len({r["question_id"] for r in results}) == 4
    training = report["settings"]["training"]
    assert [(t["fold"], t["labelled"], t["evaluated"]) for t in training] == [(1, 2, 2), (2, 2, 2)]
    assert all(t["version"] == 1 and t["labels"] == 2 and t["cpu_seconds"]["ft"] > 0 and t["cpu_seconds"]["rag+ft"] > 0
               and t["model"] == "qwen2.5-0.5b" for t in training)
    for fold in (1, 2):  # the fold's trained graph copy is gone, its labels file and record stay
        assert not (out / "folds" / str(fold) / "graph").exists()
        labelled = [json.loads(line)["id"] for line in (out / "folds" / str(fold) / "labels.jsonl").read_text().splitlines()]
        evaluated = [r["question_id"] for r in results if r["mode"] == "ft"][2 * (fold - 1): 2 * fold]
        assert len(labelled) == 2 and not set(labelled) & set(evaluated)
    rows = {r["mode"]: r for r in results if r["question_id"] == results[0]["question_id"]}
    assert rows["closed-book"]["recall"] == {} and rows["rag/hybrid"]["recall"]["5"] >= 0
    d = report["decision"]
    assert d["baseline"] == "rag/hybrid" and d["questions"] == 4 and len(d["against_baseline"]) == 5
    assert d["one_off"]["closed-book"]["total"] == 0 and d["one_off"]["ft"]["labelling"] == pytest.approx(2 * 2 / 60 * 40)
    md = (out / "report.md").read_text()
    assert md.index("## Recommendation") < md.index("## Summary") and "trained inside this run: 2 folds" in md
    assert (out / "cost_vs_volume.png").is_file()
