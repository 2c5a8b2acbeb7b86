"""Answer benchmark: exact match and token F1 (SQuAD normalisation) per generator.

Each benchmark corpus is built into a graph once (``kgreason.build``, cached under ``--graph-dir``;
the same cache as ``benchmarks/retrieval.py``), every question is retrieved once with
``KnowledgeBase.retrieve(question, k=5)``, and each generator answers from that same retrieval
through ``reason.answer.answer``. Reported per set and generator: EM, F1, share answered (found),
EM/F1 over comparison-style (yes/no and "A or B") questions, and the median answer latency
(context + generation, without retrieval).

    python benchmarks/answers.py --limit 50
    python benchmarks/answers.py --generators extractive --sets 2wiki_combined164 --json out.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DEFAULT_SETS = ("musique_combined300", "2wiki_combined164")

try:  # the project's SQuAD-normalised metrics, when present
    from kgreason.eval.metrics import exact_match, f1_score as token_f1
except ImportError:  # pragma: no cover - standalone fallback with the same definitions
    import re
    import string
    from collections import Counter

    def _norm(text: str) -> str:
        text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
        return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())

    def exact_match(prediction: str, golds) -> float:
        return float(any(_norm(prediction) == _norm(g) for g in golds))

    def token_f1(prediction: str, golds) -> float:
        def one(gold: str) -> float:
            p, g = _norm(prediction).split(), _norm(gold).split()
            common = sum((Counter(p) & Counter(g)).values())
            if not p or not g or not common:
                return float(p == g)
            return 2 * common / (len(p) + len(g))

        return max((one(g) for g in golds), default=0.0)


def load_questions(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def open_graph(corpus: Path, graph_dir: Path):
    """Open the cached graph of ``corpus``, building it first when absent."""
    import kgreason

    if not graph_dir.exists():
        started = time.perf_counter()
        report = kgreason.build([str(corpus)], graph_dir, progress=True)
        print(f"built {graph_dir}: {report.passages} passages in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return kgreason.open(graph_dir)


def is_comparison(question: str, answers: list[str]) -> bool:
    return any(a.casefold() in ("yes", "no") for a in answers) or " or " in question


def run_set(kb, questions: list[dict], generators: dict, k: int) -> dict[str, dict]:
    """Per generator: EM, F1, found share, comparison EM/F1, median answer seconds, and rows."""
    from reason.answer import answer

    retrievals = [kb.retrieve(q["question"], k=k) for q in questions]
    out = {}
    for name, gen in generators.items():
        rows = []
        for q, r in zip(questions, retrievals):
            started = time.perf_counter()
            a = answer(r, kb.graph, gen)
            rows.append({
                "id": q["id"], "question": q["question"], "gold": q["answers"], "prediction": a.text,
                "found": a.found, "em": exact_match(a.text, q["answers"]), "f1": token_f1(a.text, q["answers"]),
                "comparison": is_comparison(q["question"], q["answers"]), "seconds": time.perf_counter() - started,
            })
        out[name] = summarise(rows)
    return out


def summarise(rows: list[dict]) -> dict:
    def mean(key: str, subset: list[dict]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 4) if subset else 0.0

    comp = [r for r in rows if r["comparison"]]
    return {
        "questions": len(rows), "em": mean("em", rows), "f1": mean("f1", rows), "found": mean("found", rows),
        "comparison_questions": len(comp), "comparison_em": mean("em", comp), "comparison_f1": mean("f1", comp),
        "median_answer_ms": round(1000 * statistics.median(r["seconds"] for r in rows), 1) if rows else 0.0,
        "rows": rows,
    }


def make_generators(names: list[str]) -> dict:
    from kg.registry import create

    return {n: create("generator", n, model="", base_url="", api_key_env="KG_OPENAI_API_KEY", max_new_tokens=32)
            for n in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--generators", nargs="+", default=["extractive", "transformers"])
    ap.add_argument("--limit", type=int, help="first N questions of each set (default all)")
    ap.add_argument("-k", type=int, default=5, help="passages retrieved per question")
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="cache of built graphs")
    ap.add_argument("--errors", type=int, default=0, metavar="N", help="print N wrong answers per generator")
    ap.add_argument("--json", type=Path, help="write the figures (with per-question rows) here")
    args = ap.parse_args(argv)
    generators = make_generators(args.generators)
    report = {}
    for name in args.sets:
        folder = args.bench / name
        kb = open_graph(folder / "corpus.jsonl", args.graph_dir / name)
        report[name] = run_set(kb, load_questions(folder / "questions.jsonl", args.limit), generators, args.k)
        for gen, s in report[name].items():
            print(f"{name:22} {gen:38} n={s['questions']:3}  EM {s['em']:.3f}  F1 {s['f1']:.3f}  "
                  f"found {s['found']:.2f}  comparison EM {s['comparison_em']:.3f} (n={s['comparison_questions']})  "
                  f"median {s['median_answer_ms']:.0f} ms")
            for r in [r for r in s["rows"] if not r["em"]][: args.errors]:
                print(f"    {r['question']!r}: got {r['prediction']!r}, gold {r['gold'][:3]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
