"""Judge agreement with gold: how often the judge's "correct" coincides with token F1 >= 0.5.

Each question of a set is retrieved once (``KnowledgeBase.retrieve``, k=5, the graphs cached under
``--graph-dir`` as in ``benchmarks/answers.py``) and answered by ``--reader``; every answer that was
found is judged by ``reason.judge.LLMJudge`` on the passages it cites. Reported per set: answers
judged, agreement (judge "correct" == F1 >= 0.5), the confusion counts, how often the judge said
"unsure", how often its ``supported`` matches the pipeline's citation check, and seconds per verdict.

    python benchmarks/judge_agreement.py --limit 30 --model qwen2.5-0.5b
    python benchmarks/judge_agreement.py --limit 30 --base-url http://127.0.0.1:8080/v1 --model any
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from answers import DEFAULT_BENCH, DEFAULT_SETS, load_questions, make_generators, open_graph, token_f1

F1_CORRECT = 0.5


def make_judge(model: str, base_url: str, threads: int):
    """An LLMJudge on llama.cpp in-process, or on an OpenAI-compatible server when ``base_url`` is set."""
    from kg.llamacpp import LlamaCppChat
    from kg.openai_chat import OpenAIChat
    from reason.judge import LLMJudge

    chat = OpenAIChat(model, base_url) if base_url else LlamaCppChat(model, threads=threads)
    return LLMJudge(chat)


def judge_set(kb, questions: list[dict], reader, judge, k: int) -> list[dict]:
    """One row per found answer: gold correctness, the verdict, the citation check, seconds judging."""
    from reason.answer import answer
    from reason.judge import judge_answer

    rows = []
    for q in questions:
        a = answer(kb.retrieve(q["question"], k=k), kb.graph, reader)
        if not a.found:
            continue
        started = time.perf_counter()
        v = judge_answer(judge, a)
        rows.append({"id": q["id"], "question": q["question"], "gold": q["answers"], "prediction": a.text,
                     "gold_correct": token_f1(a.text, q["answers"]) >= F1_CORRECT, "label": v.label,
                     "judge_supported": v.supported, "citation_check": a.supported, "reason": v.reason,
                     "seconds": time.perf_counter() - started})
    return rows


def agreement(rows: list[dict]) -> dict:
    """Agreement of "correct" with F1 >= 0.5, and the confusion counts behind it."""
    def count(label_correct: bool, gold: bool) -> int:
        return sum((r["label"] == "correct") == label_correct and r["gold_correct"] == gold for r in rows)

    n = len(rows)
    return {
        "judged": n,
        "agreement": round((count(True, True) + count(False, False)) / n, 4) if n else float("nan"),
        "correct_and_right": count(True, True), "correct_but_wrong": count(True, False),
        "not_correct_but_right": count(False, True), "not_correct_and_wrong": count(False, False),
        "unsure": sum(r["label"] == "unsure" for r in rows),
        "supported_matches_citation_check": round(sum(r["judge_supported"] == r["citation_check"] for r in rows) / n, 4)
        if n else float("nan"),
        "median_seconds": round(statistics.median(r["seconds"] for r in rows), 2) if rows else float("nan"),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--reader", default="extractive", help="generator whose answers are judged (name or name:model)")
    ap.add_argument("--model", default="qwen2.5-0.5b", help="judge model: packaged name, .gguf path or server model")
    ap.add_argument("--base-url", default="", help="judge on this OpenAI-compatible server instead of in-process")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, help="first N questions of each set (default all)")
    ap.add_argument("-k", type=int, default=5, help="passages retrieved per question")
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="cache of built graphs")
    ap.add_argument("--json", type=Path, help="write the figures (with per-answer rows) here")
    args = ap.parse_args(argv)
    reader = make_generators([args.reader])[args.reader]
    judge = make_judge(args.model, args.base_url, args.threads)
    report = {}
    for name in args.sets:
        folder = args.bench / name
        kb = open_graph(folder / "corpus.jsonl", args.graph_dir / name)
        report[name] = s = agreement(judge_set(kb, load_questions(folder / "questions.jsonl", args.limit), reader, judge, args.k))
        print(f"{name:22} judge {judge.name} on {args.reader}: judged {s['judged']}  agreement {s['agreement']:.2f}  "
              f"(correct&right {s['correct_and_right']}, correct&wrong {s['correct_but_wrong']}, "
              f"not-correct&right {s['not_correct_but_right']}, not-correct&wrong {s['not_correct_and_wrong']}, "
              f"unsure {s['unsure']})  supported = citation check {s['supported_matches_citation_check']:.2f}  "
              f"median {s['median_seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
