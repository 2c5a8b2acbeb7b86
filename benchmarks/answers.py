"""Answer benchmark: exact match and token F1 (SQuAD normalisation) per generator.

Each benchmark corpus is built into a graph once (``kgreason.build``, cached under ``--graph-dir``;
the same cache as ``benchmarks/retrieval.py``), every question is retrieved once with
``KnowledgeBase.retrieve(question, k=5)``, and each generator answers from that same retrieval
through ``reason.answer.answer``. Reported per set and generator: EM, F1, share answered (found),
EM/F1 over comparison-style (yes/no and "A or B") questions, and the median answer latency
(context + generation, without retrieval), and the share of answers whose citations support them.

``--ablate-gold`` measures abstention without new data: each question is asked a second time with its
gold documents excluded from retrieval (``Retriever.retrieve(..., exclude=...)``), so the documents no
longer hold its answer. Reported: the share of those ablated questions the reader abstained on, and the
share of normal questions it answered among those whose gold documents were all retrieved.

``--gate-folds`` adds the evidence gate ``kg tune`` fits (``reason.sufficiency``, ``kgreason.tune.gate``),
as a team that labelled half its questions would have it: the questions are cut in two folds by
position, the labels of one fold (questions with their supporting documents) fit and cross-validate a
gate, and the other fold is answered behind it (no gate where the cross-validation did not keep one);
then the folds swap. ``--limit N`` then takes the first N/2 questions of each fold. Each reader is
reported without the gate and behind it (``NAME+gate``), from the same answers (see ``run_set``).

    python benchmarks/answers.py --limit 50
    python benchmarks/answers.py --generators extractive --sets 2wiki_combined164 --json out.json
    python benchmarks/answers.py --generators extractive --limit 30 --ablate-gold
    python benchmarks/answers.py --generators local:qwen2.5-0.5b --limit 10 --ablate-gold
    python benchmarks/answers.py --generators extractive --ablate-gold --gate-folds
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


def gold_documents(kb, question: dict) -> set[str]:
    """Graph document ids of a question's ``supporting_ids`` (the corpus' JSONL ids)."""
    by_external = {d.external_id: d.id for d in kb.graph.documents.values() if d.external_id}
    return {by_external[i] for i in question.get("supporting_ids", ()) if i in by_external}


def fold_gates(kb, questions: list[dict], limit: int | None) -> tuple[list[dict], list, list[dict]]:
    """(the questions to answer, the evidence gate each is answered behind, what each fold's
    cross-validation measured): ``--gate-folds`` in the module docstring."""
    from kgreason.tune.data import TrainingQuestion
    from kgreason.tune.gate import cross_validate_gate, gate_rows

    half = len(questions) // 2
    folds = [questions[:half], questions[half:]]
    picked, gates, figures = [], [], []
    for at, fold in enumerate(folds):
        labelled = folds[1 - at]
        train = [TrainingQuestion(q["question"], tuple(p.id for d in sorted(gold_documents(kb, q))
                                                      for p in kb.graph.passages_of(d)), "human")
                 for q in labelled]
        try:
            validated = cross_validate_gate(gate_rows(kb, [t for t in train if t.positives]))
            gate, summary = validated.gate, validated.summary()
        except ValueError as exc:
            gate, summary = None, {"kept": False, "reason": str(exc)}
        chosen = fold[:limit // 2] if limit else fold
        picked += chosen
        gates += [gate] * len(chosen)
        figures.append({"labelled_fold": 2 - at, **summary})
        print(f"  gate fitted on fold {2 - at}: {summary}", flush=True)
    return picked, gates, figures


def run_set(kb, questions: list[dict], generators: dict, k: int, ablate: bool | int = False,
            gates: list | None = None) -> dict[str, dict]:
    """Per generator: EM, F1, found and supported shares, comparison EM/F1, median and p95 answer
    seconds, rows; with ``ablate`` also the abstention figures (see the module docstring), over the
    first ``ablate`` questions when it is a number. ``gates``: the evidence gate of each question; each
    generator is then also reported as ``NAME+gate``, from the same answers: a gate decides before the
    generator runs and generators are deterministic, so behind the gate a question is either "not found"
    or answered exactly as without it."""
    gates = gates or [None] * len(questions)
    golds = [gold_documents(kb, q) for q in questions]
    retrievals = [kb.retrieve(q["question"], k=k) for q in questions]
    n_ablated = len(questions) if ablate is True else int(ablate)
    ablated = [kb.retriever.retrieve(q["question"], k=k, exclude=g) for q, g in zip(questions[:n_ablated], golds)]
    stopped = [s is not None and not s.sufficient(r) for r, s in zip(retrievals, gates)]
    stopped_ablated = [s is not None and not s.sufficient(r) for r, s in zip(ablated, gates)]
    out = {}
    for name, gen in generators.items():
        rows = [score(kb, q, r, gen, g) for q, r, g in zip(questions, retrievals, golds)]
        ablated_rows = [score(kb, q, r, gen, g) for q, r, g in zip(questions, ablated, golds)]
        out[name] = summarise(rows)
        if ablated:
            out[name].update(abstention(rows, ablated_rows))
        if any(s is not None for s in gates):
            behind = [not_found(r, q) if stop else r for r, q, stop in zip(rows, questions, stopped)]
            out[f"{name}+gate"] = summarise(behind)
            if ablated:
                out[f"{name}+gate"].update(abstention(behind, [not_found(r, q) if stop else r for r, q, stop in
                                                               zip(ablated_rows, questions, stopped_ablated)]))
    return out


def not_found(row: dict, q: dict) -> dict:
    """``row`` as the evidence gate answers it when it stops the question: "not found", no generator time."""
    return {**row, "prediction": "", "found": False, "gate_stopped": True, "supported": True, "error": "",
            "em": exact_match("", q["answers"]), "f1": token_f1("", q["answers"]), "seconds": 0.0}


def score(kb, q: dict, retrieval, generator, gold: set[str]) -> dict:
    """One answered question as a row: prediction, EM, F1, found, supported, gold retrieved, seconds."""
    from reason.answer import answer

    from kg.errors import BackendError

    started = time.perf_counter()
    try:
        a = answer(retrieval, kb.graph, generator)
        text, found, supported, error = a.text, a.found, a.supported, ""
    except BackendError as e:  # one bad reply is a row of its own, counted, not the end of an hour's run
        text, found, supported, error = "", False, False, str(e)
    prediction = text if found else ""  # as kg eval scores it: "Not found ..." is no answer, not words
    return {
        "id": q["id"], "question": q["question"], "gold": q["answers"], "prediction": text, "error": error,
        "found": found, "gate_stopped": False, "supported": supported, "em": exact_match(prediction, q["answers"]),
        "f1": token_f1(prediction, q["answers"]), "comparison": is_comparison(q["question"], q["answers"]),
        "gold_retrieved": bool(gold) and gold <= {e.doc_id for e in retrieval.evidence},
        "seconds": time.perf_counter() - started,
    }


def abstention(normal: list[dict], ablated: list[dict]) -> dict:
    """Share of ablated questions abstained on; share of normal questions answered (and answered right,
    F1 >= .5) among those whose gold documents were all retrieved (the issue's floors: >= .80 and >= .90
    answered)."""
    with_gold = [r for r in normal if r["gold_retrieved"]]
    return {
        "ablated_questions": len(ablated),
        "ablated_abstained": round(sum(not r["found"] for r in ablated) / len(ablated), 4) if ablated else 0.0,
        "gold_retrieved_questions": len(with_gold),
        "gold_retrieved_answered": round(sum(r["found"] for r in with_gold) / len(with_gold), 4) if with_gold else 0.0,
        "gold_retrieved_correct": round(sum(r["f1"] >= 0.5 for r in with_gold) / len(with_gold), 4) if with_gold else 0.0,
        "ablated_rows": ablated,
    }


def summarise(rows: list[dict]) -> dict:
    def mean(key: str, subset: list[dict]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 4) if subset else float("nan")

    comp = [r for r in rows if r["comparison"]]
    answered = [r for r in rows if r["found"]]
    return {
        "questions": len(rows), "em": mean("em", rows), "f1": mean("f1", rows), "found": mean("found", rows),
        "supported": mean("supported", answered),
        "comparison_questions": len(comp), "comparison_em": mean("em", comp), "comparison_f1": mean("f1", comp),
        "median_answer_ms": round(1000 * statistics.median(r["seconds"] for r in rows), 1) if rows else 0.0,
        "p95_answer_ms": round(1000 * _p95([r["seconds"] for r in rows]), 1) if rows else 0.0,
        "errors": sum(bool(r["error"]) for r in rows),
        "rows": rows,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def make_generators(names: list[str], threads: int = 1) -> dict:
    """Generators by registry name, or ``name:model`` for a model setting (``local:qwen2.5-0.5b``);
    ``threads`` for the llama.cpp ones."""
    from kg.registry import create

    out = {}
    for spec in names:
        name, _, model = spec.partition(":")
        extra = {"threads": threads} if name in ("local", "combined") else {}
        out[spec] = create("generator", name, model=model, base_url="", api_key_env="KG_OPENAI_API_KEY",
                           max_new_tokens=32, **extra)
    return out


def print_summary(name: str, gen: str, s: dict, errors: int) -> None:
    print(f"{name:22} {gen:30} n={s['questions']:3}  EM {s['em']:.3f}  F1 {s['f1']:.3f}  found {s['found']:.2f}  "
          f"supported {s['supported']:.2f}  comparison EM {s['comparison_em']:.3f} (n={s['comparison_questions']})  "
          f"median {s['median_answer_ms']:.0f} ms  p95 {s['p95_answer_ms']:.0f} ms  errors {s['errors']}")
    if "ablated_questions" in s:
        print(f"{'':22} {gen:30} ablated: abstained {s['ablated_abstained']:.2f} (n={s['ablated_questions']}); "
              f"gold retrieved: answered {s['gold_retrieved_answered']:.2f}, right (F1 >= .5) "
              f"{s['gold_retrieved_correct']:.2f} (n={s['gold_retrieved_questions']})")
    for r in [r for r in s["rows"] if not r["em"]][:errors]:
        print(f"    {r['question']!r}: got {r['prediction']!r}, gold {r['gold'][:3]}")
    for r in [r for r in s.get("ablated_rows", []) if r["found"]][:errors]:
        print(f"    ablated {r['question']!r}: answered {r['prediction']!r} (gold {r['gold'][:3]})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--generators", nargs="+", default=["extractive", "transformers"])
    ap.add_argument("--limit", type=int, help="first N questions of each set (default all)")
    ap.add_argument("-k", type=int, default=5, help="passages retrieved per question")
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="cache of built graphs")
    ap.add_argument("--ablate-gold", action="store_true",
                    help="also ask each question with its gold documents excluded; report abstention")
    ap.add_argument("--ablate-limit", type=int, default=0, metavar="N",
                    help="with --ablate-gold: ablate only the first N questions of each set")
    ap.add_argument("--gate-folds", action="store_true",
                    help="answer each fold behind the evidence gate fitted on the other fold's labels")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads of the local generators")
    ap.add_argument("--errors", type=int, default=0, metavar="N", help="print N wrong answers per generator")
    ap.add_argument("--json", type=Path, help="write the figures (with per-question rows) here")
    args = ap.parse_args(argv)
    generators = make_generators(args.generators, args.threads)
    ablate = (args.ablate_limit or True) if args.ablate_gold else False
    report = {}
    for name in args.sets:
        folder = args.bench / name
        kb = open_graph(folder / "corpus.jsonl", args.graph_dir / name)
        gates = figures = None
        if args.gate_folds:
            questions, gates, figures = fold_gates(kb, load_questions(folder / "questions.jsonl"), args.limit)
        else:
            questions = load_questions(folder / "questions.jsonl", args.limit)
        report[name] = run_set(kb, questions, generators, args.k, ablate, gates)
        for gen, s in report[name].items():
            print_summary(name, gen, s, args.errors)
        if figures:
            report[name]["gate_folds"] = figures
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
