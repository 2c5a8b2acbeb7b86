"""kg tune on the bench sets, simulating a team that labels part of its questions.

For each set, the questions are split in two folds by position; the labels of one fold (answers and
supporting documents) become human feedback, questions generated from the graph are added as AI
feedback, ``kg tune`` trains the embedder, and the other fold is evaluated with hybrid retrieval
before and after (the trained version is measured whether or not its own validation gate activated it).
Then the folds swap, unless ``--folds 1``. Each run works on a copy of the cached graph.

    python benchmarks/tune_folds.py --sets musique_combined300 --folds 1 --steps 200 --generate 2000
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
        import_labels(kb, labels)
        add_generated_questions(kb, args.generate)
        before = {k: recall(kb, evaluated, k) for k in (2, 5)}
        dense_before = {k: recall(kb, evaluated, k, "dense") for k in (2, 5)}
        started = time.perf_counter()
        report = tune(g, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                      reranker_steps=args.reranker_steps, reader_steps=args.reader_steps, progress=True)
        versions.activate(g, report.version)  # measure the trained version even if its gate kept it inactive
        tuned = kgreason.open(g)
        after = {k: recall(tuned, evaluated, k) for k in (2, 5)}
        no_reranker = kgreason.open(g, reranker=None)
        manifest = versions.read_manifest(versions.version_dir(g, report.version))
        readers = reader_scores(tuned, g / "models" / str(report.version), manifest, evaluated, args) if args.reader_steps else {}
        return {"before": before, "after": after, "gate_activated": report.activated, "readers": readers,
                "reader_manifest": manifest.get("reader"), "reader_validation": report.settings.get("reader_validation"),
                "parts": versions.read_manifest(versions.version_dir(g, report.version))["parts"],
                "dense": {"before": dense_before, "after": {k: recall(no_reranker, evaluated, k, "dense") for k in (2, 5)}},
                "hybrid_tuned_embedder_only": {k: recall(no_reranker, evaluated, k) for k in (2, 5)},
                "validation_per_part": report.settings.get("validation_recall_per_part", {}),
                "cpu_seconds_per_part": report.settings.get("cpu_seconds_per_part", {}),
                "validation": [report.recall_before, report.recall_after], "train_questions": report.train_questions,
                "sources": report.sources, "tune_seconds": round(time.perf_counter() - started, 1),
                "tune_cpu_seconds": report.cpu_seconds}


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
    ap.add_argument("--folds", type=int, choices=(1, 2), default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--reranker-steps", type=int, default=200)
    ap.add_argument("--reader-steps", type=int, default=120, help="LoRA reader steps (0: no reader)")
    ap.add_argument("--reader-questions", type=int, default=40, help="evaluated questions the readers answer")
    ap.add_argument("--reader-ablated", type=int, default=20, help="of those, asked again without their gold documents")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate", type=int, default=2000, help="generated questions added as AI feedback")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out = {}
    for name in args.sets:
        questions = [json.loads(x) for x in (args.bench_dir / name / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
        half = len(questions) // 2
        folds = [(questions[:half], questions[half:]), (questions[half:], questions[:half])][: args.folds]
        out[name] = [run_fold(args.graph_dir / name, a, b, args) for a, b in folds]
        for i, r in enumerate(out[name], 1):
            d = r["dense"]
            print(f"{name} fold {i}: dense R@5 {d['before'][5]:.3f} -> {d['after'][5]:.3f}; hybrid R@2 {r['before'][2]:.3f} -> "
                  f"{r['after'][2]:.3f}, R@5 {r['before'][5]:.3f} -> {r['after'][5]:.3f} with {'+'.join(r['parts'])} "
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
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
