"""What the learned ranker costs a question: hybrid retrieval without it, with the linear kind and with the
boosted kind, interleaved question by question on the same retriever (so a slow spell of the machine falls
on all three), median / p95 ms and the ratios to hybrid. Each ranker is fitted on the set's own questions
(its weights do not change its cost).

    python benchmarks/ranker_latency.py --sets musique_combined300 2wiki_combined164
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(graph: Path, questions: list[dict], rounds: int) -> dict[str, float]:
    import kgreason
    from kgreason.tune.data import TrainingQuestion
    from kgreason.tune.ranker import candidate_pools
    from reason.learned_rank import fit, fit_boosted

    kb = kgreason.open(graph, ranker=None)
    by_ext = {}
    for p in kb.graph.passages.values():
        by_ext.setdefault(kb.graph.documents[p.doc_id].external_id, []).append(p.id)
    training = [TrainingQuestion(q["question"], tuple(p for d in q["supporting_ids"] for p in by_ext.get(d, ())), "human")
                for q in questions]
    pools = candidate_pools(kb, training)
    rankers, fit_s = {"hybrid": None}, {}
    for kind, fitter in (("linear", fit), ("boosted", fit_boosted)):
        t = time.perf_counter()
        rankers[f"hybrid + {kind}"] = fitter(pools)
        fit_s[kind] = round(time.perf_counter() - t, 2)
    retriever = kb.retriever
    times = {name: [] for name in rankers}
    for _ in range(rounds):
        for n, q in enumerate(questions):
            for name in list(times)[n % 3:] + list(times)[:n % 3]:  # each goes first in turn
                retriever.ranker = rankers[name]
                t = time.perf_counter()
                kb.retrieve(q["question"], mode="hybrid")
                times[name].append(time.perf_counter() - t)
    out = {"fit_s": fit_s}
    for name, xs in times.items():
        xs.sort()
        out[name] = {"median_ms": round(1000 * statistics.median(xs), 2), "p95_ms": round(1000 * xs[int(0.95 * len(xs))], 2)}
    out["ratio"] = {name: round(out[name]["median_ms"] / out["hybrid"]["median_ms"], 3) for name in times if name != "hybrid"}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=REPO.parent / "shared" / "bench")
    ap.add_argument("--sets", nargs="+", default=["musique_combined300", "2wiki_combined164"])
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="graphs built by retrieval.py")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    for name in args.sets:
        questions = [json.loads(x) for x in (args.bench_dir / name / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
        print(name, json.dumps(measure(args.graph_dir / name, questions, args.rounds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
