"""Regenerate the evaluation figures quoted in the README from ../shared/bench.

Runs `kg eval` (kgreason.eval.runner.evaluate) on each benchmark folder, writes one full report per dataset
(report.md, report.json, charts) under --out, and prints the README table: Recall@2/5, answer F1/EM,
median answer latency, cost per 1,000 questions and build time, per mode.

    python benchmarks/eval_bench.py                       # both QA sets, every question (slow on 2 cores)
    python benchmarks/eval_bench.py --limit 50 --modes bm25,hybrid
    python benchmarks/eval_bench.py --datasets 2wiki_combined164 --out runs/bench

The graph of each corpus is built once and cached (see `kg eval --graph`); reruns only re-ask.
Reference (plain BM25 over title+text, from shared/bench/README.md): Recall@2 / @5 MuSiQue .39 / .49,
2Wiki .54 / .68.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DATASETS = ("musique_combined300", "2wiki_combined164")


def _pct(v: float | None) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def table(reports: dict) -> str:
    """The README table from {dataset name: EvalReport}."""
    lines = ["| dataset | mode | Recall@2 | Recall@5 | F1 | EM | ask median | $ / 1k questions | build |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in reports.items():
        for mode, s in r.modes.items():
            lat = s.latency.get("ask", {}).get("median", math.nan)
            lines.append(f"| {name} ({s.questions} q) | {mode} | {_pct(s.recall.get('2'))} | {_pct(s.recall.get('5'))} | "
                         f"{_pct(s.f1)} | {_pct(s.exact_match)} | {1000 * lat:.0f} ms | ${r.costs[mode].usd_per_1000:.4f} | "
                         f"{r.build.seconds:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", default=str(DEFAULT_BENCH), help="folder holding the benchmark datasets")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--modes", default="bm25,dense,graph,hybrid")
    p.add_argument("--generator", default="extractive")
    p.add_argument("--limit", type=int, help="first N questions of each dataset (the corpus stays whole)")
    p.add_argument("--out", default="runs/eval-bench", help="report folders go here, one per dataset")
    args = p.parse_args(argv)

    from kgreason.eval.runner import evaluate

    bench, out = Path(args.bench), Path(args.out)
    if not bench.is_dir():
        print(f"eval_bench: {bench} not found; pass --bench", file=sys.stderr)
        return 2
    reports = {}
    for name in args.datasets.split(","):
        reports[name] = evaluate(bench / name, out / name, modes=args.modes.split(","), generator=args.generator,
                                 limit=args.limit, command=" ".join(["python", *sys.argv]))
        if reports[name].partial:
            break
    text = table(reports)
    (out / "README-table.md").write_text(text + "\n", encoding="utf-8")
    (out / "summary.json").write_text(json.dumps({n: r.to_dict()["modes"] for n, r in reports.items()}, indent=1),
                                      encoding="utf-8")
    print(text)
    return 130 if any(r.partial for r in reports.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
