"""``kg eval``: compare retrieval modes on a dataset, or compare two saved reports.

The command is thin: it parses options, calls ``kgreason.eval.runner.evaluate`` (or ``kgreason.eval.report.compare``),
prints a short summary (or JSON with ``--json``) and turns kgreason errors into a clean message with
exit code 2. Ctrl-C writes a partial report and exits 130.

    kg eval samples --out runs/samples
    kg eval ../shared/bench/musique_combined300 --out runs/msq --modes bm25,hybrid --limit 100
    kg eval --compare runs/before runs/after
    kg eval ../shared/bench/2wiki_combined164 --out runs/arms --arms closed-book,ft,rag,rag+ft --modes hybrid \
        --label-fraction 0.5 --folds 2 --volume 20000
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from kg import registry
from kg.config import RETRIEVAL_MODES, load_settings
from kg.errors import ConfigError, KgError

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to an argparse subparsers object; its handler is ``run``."""
    p = subparsers.add_parser(
        "eval", help="compare retrieval modes on a QA dataset (quality, latency, cost)",
        description="Build (or reuse) the graph of DATASET, run every question through every mode, and write "
                    "report.md, report.json and charts to --out. DATASET: a folder with questions.jsonl and "
                    "corpus.jsonl or corpus/, a HotpotQA / 2WikiMultihopQA JSON file, a MuSiQue JSONL file, or "
                    "documents with --questions FILE.")
    p.add_argument("dataset", nargs="?", help="dataset folder or file")
    p.add_argument("--out", "-o", help="report folder (created)")
    p.add_argument("--modes", help=f"comma-separated retrieval modes (default {','.join(RETRIEVAL_MODES)}; "
                                   "with --arms: hybrid)")
    p.add_argument("--generator", choices=registry.names("generator"),
                   help="answer generator (default: generate.generator of --config, else extractive)")
    p.add_argument("--limit", type=int, help="evaluate only the first N questions")
    p.add_argument("--k", default="1,2,5,10", help="Recall@k cut-offs (default 1,2,5,10)")
    p.add_argument("--answer-k", type=int, help="passages given to the generator (default: retrieve.k, 5)")
    p.add_argument("--questions", help="questions JSONL when DATASET is only the documents")
    p.add_argument("--config", help="settings TOML: any of [ingest] [extract] [resolve] [index] [retrieve] [generate]")
    p.add_argument("--graph", help="graph folder to build or reuse (default: a cache keyed by corpus and settings)")
    p.add_argument("--prices", help="prices TOML overriding the defaults (see kgreason/eval/prices.toml)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in the same --out")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = p.add_argument_group("RAG, fine-tuning or both (--arms)")
    g.add_argument("--arms", help="comma-separated arms: closed-book (base LLM, no retrieval), ft (LLM fine-tuned "
                                  "closed-book), rag (retrieval + base LLM, and + the extractive reader, per --modes), "
                                  "rag+ft (tuned retrieval + tuned LLM, and + the extractive reader); instead of "
                                  "comparing modes")
    g.add_argument("--arm-readers", default="local,extractive",
                   help="readers of the rag and rag+ft arms: local (the LLM), extractive, or both (default)")
    g.add_argument("--volume", type=float, default=10_000, help="questions a month the recommendation is for (default 10000)")
    g.add_argument("--months", type=int, default=12, help="horizon of the total cost (default 12)")
    g.add_argument("--label-fraction", type=float, help="train the tuned arms inside the run: the share of questions "
                                                        "labelled per fold, e.g. 0.5 (with --folds)")
    g.add_argument("--folds", type=int, help="folds by question position: each is evaluated with models trained on "
                                             "labels from the others (with --label-fraction)")
    g.add_argument("--generate", type=int, default=2000, help="questions generated from the graph added to each fold's "
                                                              "labels as AI feedback (default 2000)")
    g.add_argument("--label-curve", type=_counts, default=(), metavar="N,N,...",
                   help="also train the tuned arms on only the first N labels of each fold, for each N (0: generated "
                        "questions only): quality against labels and the value of a label (with --folds)")
    g.add_argument("--tune-steps", type=int, default=200, help="embedder steps per fold (default 200; 0: none)")
    g.add_argument("--trust-generated", action="store_true",
                   help="let kg tune judge a fold's embedder, reranker and reader on generated questions when it holds "
                        "out fewer than 10 labelled ones (kg tune --trust-generated)")
    g.add_argument("--reranker-steps", type=int, default=0, help="reranker steps per fold (default 0: none)")
    g.add_argument("--reader-steps", type=int, default=120, help="RAG reader LoRA steps per fold (default 120)")
    g.add_argument("--closed-book-steps", type=int, default=300, help="closed-book reader LoRA steps per fold (default 300)")
    g.add_argument("--reader-validation", type=int, default=20,
                   help="held-out questions each fold's readers answer for kg tune's gate (default 20)")
    g.add_argument("--reader-model", default="", help="the LLM of every LLM arm (default: what the tuned readers "
                                                      "were trained on, else the packaged qwen2.5-0.5b)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="show metric changes from report A to report B")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run, handler=run)
    return p


def _k_values(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--k: expected comma-separated whole numbers like 1,2,5,10, got {text!r}") from None


def _summary(report: Any) -> dict[str, Any]:
    qk = report.run["quality_k"]
    modes = {m: {f"recall@{qk}": s.recall.get(qk), "mrr": s.mrr, "em": s.exact_match, "f1": s.f1,
                 "ask_median_s": s.latency.get("ask", {}).get("median"), "usd_per_1000": report.costs[m].usd_per_1000}
             for m, s in report.modes.items()}
    clean = {m: {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()} for m, d in modes.items()}
    return {"partial": report.partial, "questions": report.run["finished_questions"], "modes": clean,
            "build_seconds": report.build.seconds, "reused_graph": report.build.reused}


def _print_summary(summary: dict[str, Any], out: str) -> None:
    def pct(v):
        return "   –" if v is None else f"{100 * v:5.1f}"

    print(f"{summary['questions']} questions{' (PARTIAL: interrupted)' if summary['partial'] else ''}; "
          f"graph {'reused' if summary['reused_graph'] else 'built'} ({summary['build_seconds']:.1f} s)")
    for mode, m in summary["modes"].items():
        rk = next(k for k in m if k.startswith("recall@"))
        lat = "–" if m["ask_median_s"] is None else f"{1000 * m['ask_median_s']:.0f} ms"
        print(f"  {mode:<8} {rk} {pct(m[rk])}  F1 {pct(m['f1'])}  EM {pct(m['em'])}  ask {lat:>8}  "
              f"${m['usd_per_1000']:.4f} / 1k q")
    print(f"report: {out}/report.md")


def run(args: argparse.Namespace) -> int:
    """Handler of ``kg eval``; returns the process exit code."""
    try:
        if args.compare:
            from .report import compare

            text = compare(*args.compare)
            print(json.dumps({"a": args.compare[0], "b": args.compare[1], "table": text}) if args.json else text)
            return 0
        if not args.dataset or not args.out:
            raise ConfigError("kg eval: expected DATASET and --out REPORT_DIR (or --compare A B)")
        from .runner import evaluate

        report = evaluate(
            args.dataset, args.out, modes=(args.modes or ("hybrid" if args.arms else ",".join(RETRIEVAL_MODES))).split(","), generator=args.generator, limit=args.limit,
            k_values=_k_values(args.k), answer_k=args.answer_k, questions=args.questions,
            config=load_settings(args.config), graph_dir=args.graph, prices=args.prices, resume=args.resume,
            progress=not args.no_progress, charts=not args.no_charts, command=" ".join(["kg", *sys.argv[1:]]),
            arms=args.arms.split(",") if args.arms else None, volume=args.volume, months=args.months,
            label_fraction=args.label_fraction, folds=args.folds, reader_model=args.reader_model,
            label_curve=args.label_curve, arm_readers=[r.strip() for r in args.arm_readers.split(",") if r.strip()],
            tune_options={"generate": args.generate, "steps": args.tune_steps, "reranker_steps": args.reranker_steps,
                          "reader_steps": args.reader_steps, "closed_book_steps": args.closed_book_steps,
                          "reader_validation": args.reader_validation, "trust_generated": args.trust_generated},
        )
    except KgError as exc:
        print(f"kg eval: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # before any question finished (e.g. during the build): nothing to report
        print("kg eval: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = _summary(report)
    if args.json:
        print(json.dumps({**summary, "report": args.out,
                          **({"recommendation": report.decision["recommendation"]} if report.decision else {})}))
    else:
        _print_summary(summary, args.out)
        if report.decision:
            print(f"recommendation: {report.decision['recommendation']}")
    return EXIT_INTERRUPTED if report.partial else 0


def _counts(text: str) -> tuple[int, ...]:
    """``--label-curve``: comma-separated label counts."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated label counts such as 0,25,50, got {text!r}") from None
