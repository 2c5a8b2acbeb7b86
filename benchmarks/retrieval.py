"""Retrieval benchmark: Recall@2/@5 of gold supporting passages and latency, per retrieval mode.

Builds each benchmark corpus into a graph once (``kgreason.build``, cached under ``--graph-dir``),
then asks every question in every mode through ``KnowledgeBase.retrieve`` and reports, per mode,
the recall of gold passages in the top 2 and top 5 (averaged over questions) and the median / p95
retrieval latency (question in, ranked evidence out), with the ratio to dense measured in the same
run.

    python benchmarks/retrieval.py                         # both sets, all modes
    python benchmarks/retrieval.py --sets musique_combined300 --limit 100 --misses 5

Gold ``supporting_ids`` are corpus record ids, i.e. ``Document.external_id`` in the graph.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from kg.config import RETRIEVAL_MODES as MODES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DEFAULT_SETS = ("musique_combined300", "2wiki_combined164")


def load_questions(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def open_graph(corpus: Path, graph_dir: Path, rebuild: bool = False, workers: int = 2):
    """Open the cached graph of ``corpus``, building it first when absent."""
    import kgreason
    from kg.config import BuildConfig

    if rebuild or not graph_dir.exists():
        started = time.perf_counter()
        config = BuildConfig.from_dict({"extract": {"workers": workers}})
        report = kgreason.build([str(corpus)], graph_dir, config, progress=True)
        print(f"built {graph_dir}: {report.passages} passages, {report.entities} entities, "
              f"{report.relations} relations in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return kgreason.open(graph_dir)


def recall(retrieved_docs: list[str], gold: list[str], k: int) -> float:
    """Fraction of ``gold`` among the first ``k`` distinct retrieved documents.

    >>> recall(["a", "x", "b"], ["a", "b"], 2)
    0.5
    """
    top = list(dict.fromkeys(retrieved_docs))[:k]
    return len(set(top) & set(gold)) / len(set(gold)) if gold else 0.0


def run_set(kb, questions: list[dict], modes: tuple[str, ...], k: int = 5) -> dict[str, dict]:
    """Per mode: mean Recall@2 / Recall@5, latency median / p95 (ms), and per-question results.

    The modes take turns question by question (the first mode rotating), so a slow spell of the
    machine falls on every mode alike and the ratios between them hold."""
    external = {d.id: d.external_id for d in kb.graph.documents.values()}
    for mode in modes:  # warm-up: load models, build indexes
        kb.retrieve(questions[0]["question"], k=k, mode=mode)
    acc = {mode: {"r2": [], "r5": [], "latency": [], "rows": []} for mode in modes}
    for n, q in enumerate(questions):
        for mode in modes[n % len(modes):] + modes[:n % len(modes)]:
            t = time.perf_counter()
            retrieval = kb.retrieve(q["question"], k=k, mode=mode)
            a = acc[mode]
            a["latency"].append(time.perf_counter() - t)
            docs = [external.get(e.doc_id, e.doc_id) for e in retrieval.evidence]
            a["r2"].append(recall(docs, q["supporting_ids"], 2))
            a["r5"].append(recall(docs, q["supporting_ids"], 5))
            a["rows"].append({"id": q["id"], "docs": docs, "recall5": a["r5"][-1]})
    results: dict[str, dict] = {}
    for mode, a in acc.items():
        latency = sorted(a["latency"])
        results[mode] = {
            "recall@2": statistics.fmean(a["r2"]), "recall@5": statistics.fmean(a["r5"]),
            "median_ms": 1000 * statistics.median(latency),
            "p95_ms": 1000 * latency[min(len(latency) - 1, int(0.95 * len(latency)))],
            "questions": a["rows"],
        }
    return results


def print_table(name: str, results: dict[str, dict]) -> None:
    dense = results.get("dense", {}).get("median_ms")
    print(f"\n{name}")
    print(f"{'mode':8} {'R@2':>6} {'R@5':>6} {'median ms':>10} {'p95 ms':>8} {'x dense':>8}")
    for mode, r in results.items():
        ratio = f"{r['median_ms'] / dense:.2f}" if dense else "-"
        print(f"{mode:8} {r['recall@2']:6.3f} {r['recall@5']:6.3f} {r['median_ms']:10.1f} {r['p95_ms']:8.1f} {ratio:>8}")


def print_misses(kb, questions: list[dict], results: dict[str, dict], mode: str, n: int) -> None:
    """Show a few questions whose gold passages the mode missed in its top 5."""
    titles = {d.external_id: d.title for d in kb.graph.documents.values()}
    shown = 0
    for q, row in zip(questions, results[mode]["questions"]):
        if row["recall5"] < 1.0 and shown < n:
            shown += 1
            print(f"- {q['question']}\n  gold: {[titles.get(g, g) for g in q['supporting_ids']]}"
                  f"\n  got:  {[titles.get(d, d) for d in row['docs']]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="cache of built graphs")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each set")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="extraction processes when building a graph")
    ap.add_argument("--misses", type=int, default=0, help="print N hybrid misses per set")
    ap.add_argument("--json", type=Path, default=None, help="write the figures (without per-question rows) here")
    args = ap.parse_args(argv)
    summary = {}
    for name in args.sets:
        folder = args.bench_dir / name
        kb = open_graph(folder / "corpus.jsonl", args.graph_dir / name, args.rebuild, args.workers)
        questions = load_questions(folder / "questions.jsonl", args.limit)
        results = run_set(kb, questions, tuple(args.modes))
        print_table(f"{name} ({len(questions)} questions, {len(kb.graph.passages)} passages)", results)
        if args.misses and "hybrid" in results:
            print_misses(kb, questions, results, "hybrid", args.misses)
        summary[name] = {m: {k: v for k, v in r.items() if k != "questions"} for m, r in results.items()}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
