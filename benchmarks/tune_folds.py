"""kg tune on the bench sets, simulating a team that labels part of its questions.

For each set, the questions are split in two folds by position; the labels of one fold (answers and
supporting documents) become human feedback, questions generated from the graph are added as AI
feedback, ``kg tune`` trains its parts, and the other fold is evaluated before and after with what the
tune left active: its validation gate decides, as it does for a user (``--force`` measures the trained
version even when the gate kept it inactive). Then the folds swap, unless ``--folds 1``. Each run works on
a copy of the cached graph.

``--curve 0 25 50 100 all`` also tunes with only the first N labels of the first fold (0: generated
questions alone, the no-label run) and evaluates the same other fold each time: a learning curve,
drawn to ``--chart``.

    python benchmarks/tune_folds.py --steps 0 --reranker-steps 0 --reader-steps 0 --curve 0 25 50 100 all
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # answers.py's scoring


def recall(kb, questions: list[dict], k: int, mode: str = "hybrid") -> float:
    external = {d.id: d.external_id for d in kb.graph.documents.values()}
    scores = []
    for q in questions:
        docs = list(dict.fromkeys(external[e.doc_id] for e in kb.retrieve(q["question"], k=k, mode=mode).evidence))
        scores.append(len(set(docs[:k]) & set(q["supporting_ids"])) / len(set(q["supporting_ids"])))
    return statistics.fmean(scores)


def run_fold(graph: Path, labelled: list[dict], evaluated: list[dict], args) -> dict:
    import kgreason
    from kg.errors import ConfigError
    from kgreason.labels import add_generated_questions, import_labels
    from kgreason.tune import versions
    from kgreason.tune.runner import tune

    with tempfile.TemporaryDirectory(prefix="kg-tune-bench-") as tmp:
        g = Path(tmp) / "g"
        shutil.copytree(graph, g)
        (g / "feedback.sqlite").unlink(missing_ok=True)
        labels = Path(tmp) / "labels.jsonl"
        labels.write_text("".join(json.dumps(q) + "\n" for q in labelled), encoding="utf-8")
        kb = kgreason.open(g)
        if labelled:
            import_labels(kb, labels)
        add_generated_questions(kb, args.generate)
        before = {k: recall(kb, evaluated, k) for k in (2, 5)}
        dense_before = {k: recall(kb, evaluated, k, "dense") for k in (2, 5)}
        started = time.perf_counter()
        try:
            report = tune(g, steps=args.steps, batch_size=args.batch_size, seed=args.seed, rank=not args.no_ranker,
                          trust_generated=args.trust_generated,
                          reranker_steps=args.reranker_steps, reader_steps=args.reader_steps, progress=True)
        except ConfigError as exc:  # kg tune found nothing it could judge: it trained nothing, changed nothing
            print(f"  {exc}", flush=True)
            return {"labels": len(labelled), "before": before, "after": before, "gate_activated": False, "readers": {},
                    "refused": str(exc), "parts": [], "ranker_validation": None, "dense": {"before": dense_before, "after": dense_before},
                    "hybrid_tuned_embedder_only": before, "validation_per_part": {}, "cpu_seconds_per_part": {},
                    "validation": [float("nan")] * 2, "train_questions": 0, "sources": {},
                    "tune_seconds": round(time.perf_counter() - started, 1), "tune_cpu_seconds": 0.0}
        if args.force:
            versions.activate(g, report.version)  # measure the trained version even if its gate kept it inactive
        tuned = kgreason.open(g)
        after = {k: recall(tuned, evaluated, k) for k in (2, 5)}
        no_reranker = kgreason.open(g, reranker=None, ranker=None)
        manifest = versions.read_manifest(versions.version_dir(g, report.version))
        readers = reader_scores(tuned, g / "models" / str(report.version), manifest, evaluated, args) if args.reader_steps else {}
        return {"labels": len(labelled), "before": before, "after": after, "gate_activated": report.activated, "readers": readers,
                "reader_manifest": manifest.get("reader"), "reader_validation": report.settings.get("reader_validation"),
                "ranker_validation": report.settings.get("ranker_validation"),
                "parts": versions.read_manifest(versions.version_dir(g, report.version))["parts"],
                "dense": {"before": dense_before, "after": {k: recall(no_reranker, evaluated, k, "dense") for k in (2, 5)}},
                "hybrid_tuned_embedder_only": {k: recall(no_reranker, evaluated, k) for k in (2, 5)},
                "validation_per_part": report.settings.get("validation_recall_per_part", {}),
                "cpu_seconds_per_part": report.settings.get("cpu_seconds_per_part", {}),
                "validation": [report.recall_before, report.recall_after], "train_questions": report.train_questions,
                "sources": report.sources, "tune_seconds": round(time.perf_counter() - started, 1),
                "tune_cpu_seconds": report.cpu_seconds}


def _parts(r: dict) -> str:
    """The parts a run kept, the ranker with its kind ("ranker (boosted)")."""
    kind = (r.get("ranker_validation") or {}).get("kind")
    return "+".join(f"ranker ({kind})" if part == "ranker" and kind else part for part in r["parts"]) or "none"


def reader_scores(kb, version: Path, manifest: dict, evaluated: list[dict], args) -> dict:
    """EM / F1, answered share and abstention of the base 0.5B and the version's tuned reader, on the
    same (tuned) retrieval of the first ``--reader-questions`` evaluated questions, the first
    ``--reader-ablated`` of them also asked with their gold documents excluded. A reader the gate did
    not keep is gone from the version: then only the base is measured, and the printed line says so."""
    from answers import run_set

    from reason.generators.local import LocalGenerator

    reader = manifest.get("reader")
    generators = {"base": LocalGenerator(model="qwen2.5-0.5b")}
    if reader:
        generators["tuned"] = LocalGenerator(model=reader["model"], adapter=str(version / "reader" / reader["adapter"]))
    questions = evaluated[: args.reader_questions]
    got = run_set(kb, questions, generators, kb.retrieve_config.k, ablate=args.reader_ablated)
    return {name: {k: v for k, v in r.items() if not k.endswith("rows")} for name, r in got.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=["musique_combined300", "2wiki_combined164"])
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="graphs built by retrieval.py")
    ap.add_argument("--folds", type=int, choices=(0, 1, 2), default=2, help="folds run both ways (0: only --curve)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--reranker-steps", type=int, default=0)
    ap.add_argument("--reader-steps", type=int, default=120, help="LoRA reader steps (0: no reader)")
    ap.add_argument("--reader-questions", type=int, default=40, help="evaluated questions the readers answer")
    ap.add_argument("--reader-ablated", type=int, default=20, help="of those, asked again without their gold documents")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate", type=int, default=2000, help="generated questions added as AI feedback")
    ap.add_argument("--no-ranker", action="store_true", help="train no learned ranker")
    ap.add_argument("--trust-generated", action="store_true", help="kg tune --trust-generated")
    ap.add_argument("--force", action="store_true", help="measure the trained version even when its gate kept it inactive")
    ap.add_argument("--curve", nargs="*", default=[], metavar="N",
                    help="label counts of the learning curve on the first fold (0: no labels; 'all': the whole fold)")
    ap.add_argument("--chart", type=Path, default=REPO / "docs" / "tune_curve.png", help="the learning curve's chart")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out, curves = {}, {}
    for name in args.sets:
        questions = [json.loads(x) for x in (args.bench_dir / name / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
        half = len(questions) // 2
        folds = [(questions[:half], questions[half:]), (questions[half:], questions[:half])]
        out[name] = [run_fold(args.graph_dir / name, a, b, args) for a, b in folds[: args.folds]]
        labelled, evaluated = folds[0]
        curves[name] = []
        counts = [len(labelled) if n == "all" else min(int(n), len(labelled)) for n in args.curve]
        for count in dict.fromkeys(counts):  # each count once ("100" and "all" may be the same)
            whole = count == len(labelled) and out[name]
            r = out[name][0] if whole else run_fold(args.graph_dir / name, labelled[:count], evaluated, args)
            curves[name].append(r)
            print(f"{name} curve: {count} labels: hybrid R@2 {r['before'][2]:.3f} -> {r['after'][2]:.3f}, R@5 "
                  f"{r['before'][5]:.3f} -> {r['after'][5]:.3f}; dense R@5 {r['dense']['before'][5]:.3f} -> "
                  f"{r['dense']['after'][5]:.3f}; parts {_parts(r)}; gate "
                  f"{'activated' if r['gate_activated'] else 'kept inactive'}", flush=True)
        for i, r in enumerate(out[name], 1):
            d = r["dense"]
            print(f"{name} fold {i}: dense R@5 {d['before'][5]:.3f} -> {d['after'][5]:.3f}; hybrid R@2 {r['before'][2]:.3f} -> "
                  f"{r['after'][2]:.3f}, R@5 {r['before'][5]:.3f} -> {r['after'][5]:.3f} with {_parts(r)} "
                  f"(tuned embedder alone {r['hybrid_tuned_embedder_only'][5]:.3f}); CPU s per part {r['cpu_seconds_per_part']}; gate {'activated' if r['gate_activated'] else 'kept inactive'} "
                  f"(validation {r['validation'][0]:.3f} -> {r['validation'][1]:.3f}); {r['train_questions']} training "
                  f"questions {r['sources']}; tune {r['tune_seconds']:.0f} s, {r['tune_cpu_seconds']:.0f} CPU s", flush=True)
            if r["readers"] and "tuned" not in r["readers"]:
                print(f"  tuned reader not kept by the gate: validation {r['reader_validation']}", flush=True)
            for reader, m in r["readers"].items():
                print(f"  reader {reader}: EM {m['em']:.3f} F1 {m['f1']:.3f} answered {m['found']:.2f} (n={m['questions']}); "
                      f"ablated abstained {m.get('ablated_abstained', float('nan')):.2f}; gold retrieved answered "
                      f"{m.get('gold_retrieved_answered', float('nan')):.2f}; median {m['median_answer_ms'] / 1000:.1f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"folds": out, "curves": curves}, indent=2), encoding="utf-8")
    if any(curves.values()):
        chart(curves, args.chart)
    return 0


def chart(curves: dict[str, list[dict]], path: Path) -> None:
    """Hybrid Recall@5 of the evaluated fold against the number of labelled questions, per set, with
    the untuned figure as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in curves.items():
        if not rows:
            continue
        line, = ax.plot([r["labels"] for r in rows], [r["after"][5] for r in rows], marker="o", label=f"{name}: tuned")
        ax.axhline(rows[0]["before"][5], linestyle="--", color=line.get_color(), label=f"{name}: untuned")
    ax.set_xlabel("labelled questions (plus generated questions)")
    ax.set_ylabel("hybrid Recall@5, other fold")
    ax.set_title("kg tune: quality against labels")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
