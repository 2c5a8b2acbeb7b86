"""The evaluation runner: build (or reuse) the graph of a dataset, run every question through every
retrieval mode, score it, and write a report.

The engine is anything with ``build`` and ``open`` like ``kgreason.api`` (the default); tests inject a
deterministic fake. Results are appended question by question to ``results.jsonl`` in the report
folder, so Ctrl-C keeps what finished: the report is then written from those results and marked
partial, and ``resume=True`` continues where the last run stopped.

>>> report = evaluate("samples", "/tmp/eval-samples", modes=("bm25", "hybrid"))   # doctest: +SKIP
>>> report.modes["hybrid"].recall["5"]                                          # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, Sequence

from kg.cache import cache_root
from kg.config import RETRIEVAL_MODES, BuildConfig, Settings
from kg.errors import ConfigError, KgError
from kg.model import BuildReport
from .cost import Prices, load_prices
from .datasets import Dataset, EvalQuestion, load_dataset, sha256_file
from .records import BuildStats, EvalReport, RunState
from .report import make_report, write_report
from .metrics import QuestionResult
from .scoring import (RESULTS_FILE, DocKeys, KnowledgeBaseLike, cpu_seconds, in_plan_order, run_plan,
                      score_question)

DEFAULT_MODES = RETRIEVAL_MODES
DEFAULT_K = (1, 2, 5, 10)



class Engine(Protocol):
    """What the runner uses of the facade (``kgreason.api``): build a graph folder, open it."""

    def build(self, sources: Sequence[str | Path], out: str | Path, config: BuildConfig | None = None, *,
              strict: bool = False, progress: bool = True) -> BuildReport: ...

    def open(self, path: str | Path, **options) -> KnowledgeBaseLike: ...


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory (ru_maxrss), in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def default_graph_dir(dataset: Dataset, config: BuildConfig) -> Path:
    """Cache folder keyed by the corpus files' checksums and the graph settings, so an unchanged
    corpus with unchanged settings reuses its graph across report folders (``$KG_CACHE_DIR``)."""
    h = hashlib.sha256(json.dumps(config.graph_settings(), sort_keys=True).encode())
    for source in dataset.sources:
        for f in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if f.is_file():
                h.update(f"{f.relative_to(source) if source.is_dir() else f.name}\0{sha256_file(f)}".encode())
    return cache_root() / "eval-graphs" / f"{dataset.name}-{h.hexdigest()[:16]}"


def build_graph(engine: Engine, dataset: Dataset, graph_dir: Path, config: BuildConfig, progress: bool) -> BuildStats:
    """Build or update the graph, measuring wall time, CPU time (with child processes) and peak memory."""
    t, cpu = time.perf_counter(), cpu_seconds()
    rep = engine.build(list(dataset.sources), graph_dir, config, strict=False, progress=progress)
    seconds, cpu = time.perf_counter() - t, cpu_seconds() - cpu
    reused = rep.documents_added == 0 and rep.documents_removed == 0
    record = graph_dir.with_name(graph_dir.name + ".eval-build.json")
    measured = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(), "timings": dict(rep.timings)}
    original = json.loads(record.read_text(encoding="utf-8")) if reused and record.is_file() else None
    if not reused:
        record.write_text(json.dumps(measured, indent=1), encoding="utf-8")
    first = original or measured
    skipped = tuple(f"{s.source}{':' + str(s.line) if s.line is not None else ''}: {s.reason}" for s in rep.skipped)
    usage = {k: int(v) for k, v in (getattr(rep, "usage", None) or {}).items()}  # no LLM calls in this engine
    return BuildStats(str(graph_dir), reused, not reused or original is not None, first["seconds"],
                      first["cpu_seconds"], first["peak_rss_mb"], seconds, rep.documents_added + rep.documents_unchanged,
                      rep.passages, rep.entities, rep.relations, skipped, first["timings"],
                      {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, **usage})


def _fingerprint(dataset: Dataset, generator: str, k_values: Sequence[int], answer_k: int, settings: Settings,
                 arms: dict | None = None) -> str:
    data = {"checksums": dataset.checksums(), "generator": generator, "k": list(k_values), "answer_k": answer_k,
            "graph": settings.build.graph_settings(), "retrieve": settings.retrieve.to_dict(),
            "generate": settings.generate.to_dict(), **({"arms": arms} if arms else {})}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def read_results(out: Path) -> list[QuestionResult]:
    """The results appended to ``out/results.jsonl`` so far (a cut-off last line is ignored)."""
    path, results = out / RESULTS_FILE, []
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for line in lines:
        try:
            results.append(QuestionResult.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError, KeyError):
            continue  # a line half-written when the process was killed
    return results


def _previous_results(out: Path, fingerprint: str, resume: bool) -> dict[tuple[str, str], QuestionResult]:
    run_file, results_file = out / "run.json", out / RESULTS_FILE
    if resume and run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8")).get("fingerprint")
        if previous != fingerprint:
            raise ConfigError(f"{out}: cannot resume: the dataset, generator, k values or build settings differ "
                              f"from the interrupted run; expected the same settings (or run without --resume)")
        return {(r.question_id, r.mode): r for r in read_results(out)}
    run_file.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
    results_file.write_text("", encoding="utf-8")
    return {}


def run_questions(kb: KnowledgeBaseLike, questions: Sequence[EvalQuestion], modes: Sequence[str], out: Path,
                  done: dict[tuple[str, str], QuestionResult], *, k_values: Sequence[int], answer_k: int,
                  generator: str, progress: bool, warmup: bool, keys: DocKeys | None = None) -> RunState:
    """Score every (question, mode) not in ``done``, appending each result to results.jsonl at once.
    Ctrl-C stops the loop and returns what finished with ``partial=True``."""
    keys = keys or DocKeys(kb.graph)
    plan = [(q, m) for q in questions for m in modes if (q.id, m) not in done]
    warm = _warm_up(kb, plan, modes, answer_k, k_values, generator) if warmup and plan else 0.0
    return run_plan(questions, modes, out, done, lambda q, m: score_question(kb, q, m, keys, k_values, answer_k, generator),
                    progress=progress, warmup_seconds=warm)


def _warm_up(kb: KnowledgeBaseLike, plan: Sequence, modes: Sequence[str], answer_k: int,
             k_values: Sequence[int], generator: str) -> float:
    """One untimed retrieve + ask per mode, so model loading does not count as query latency."""
    t = time.perf_counter()
    question = plan[0][0].question
    for mode in modes:
        kb.retrieve(question, k=max(k_values), mode=mode)
        kb.ask(question, mode=mode, k=answer_k, generator=generator)
    return time.perf_counter() - t


def _check_options(modes: Sequence[str], k_values: Sequence[int], answer_k: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    modes = tuple(dict.fromkeys(m.strip() for m in modes if m.strip()))
    unknown = [m for m in modes if m not in RETRIEVAL_MODES]
    if not modes or unknown:
        raise ConfigError(f"modes: expected some of {', '.join(RETRIEVAL_MODES)}, got {', '.join(unknown) or 'none'}")
    if not k_values or any(not isinstance(k, int) or k < 1 for k in k_values):
        raise ConfigError(f"k_values: expected positive whole numbers, got {list(k_values)!r}")
    if answer_k < 1:
        raise ConfigError(f"answer_k: expected at least 1, got {answer_k}")
    return modes, tuple(sorted(set(k_values)))


def evaluate(dataset: str | Path, out: str | Path, *, modes: Sequence[str] = DEFAULT_MODES,
             generator: str | None = None, limit: int | None = None, k_values: Sequence[int] = DEFAULT_K,
             answer_k: int | None = None, questions: str | Path | None = None,
             config: BuildConfig | Settings | None = None,
             graph_dir: str | Path | None = None, prices: Prices | str | Path | None = None,
             engine: Engine | None = None, resume: bool = False, progress: bool = True, charts: bool = True,
             warmup: bool = True, command: str | None = None, arms: Sequence[str] | None = None,
             volume: float = 10_000, months: int = 12, label_fraction: float | None = None, folds: int | None = None,
             tune_options: dict | None = None, reader_model: str = "", label_curve: Sequence[int] = (),
             arm_readers: Sequence[str] = ("local", "extractive")) -> "EvalReport":
    """Evaluate every mode on ``dataset`` and write report.md, report.json and charts to ``out``.

    Returns the report; ``report.partial`` is True when Ctrl-C stopped the run early (the report then
    covers the finished questions). Any other error writes the partial report and is raised.
    ``config`` is the build settings or all ``Settings`` (``kg eval --config``); ``generator`` and
    ``answer_k`` default to its generate settings and ``retrieve.k``. Every setting is recorded in
    the report.

    >>> r = evaluate("samples", "/tmp/eval", modes=["bm25", "graph"], limit=10)   # doctest: +SKIP
    >>> r.roi[0].mode                                                              # doctest: +SKIP
    'bm25'

    With ``arms`` (``kgreason.eval.arms``: closed-book, ft, rag, rag+ft) every arm answers every
    question instead, the tuned models coming from the graph's active ``kg tune`` version or, with
    ``label_fraction`` and ``folds``, from training inside the run (``tune_options``: ``kg tune``'s
    keyword arguments plus ``generate``, the generated questions added); the report then opens with a
    recommendation for ``volume`` questions a month over ``months``. ``label_curve`` (label counts, with
    folds) adds the learning curve: the tuned arms trained again on the first N labels of each fold.
    ``arm_readers``: the readers the retrieval arms run (the LLM, ``local``, and ``extractive``).
    """
    settings = config if isinstance(config, Settings) else Settings.of(build=config)
    generator = generator or settings.generate.generator
    answer_k = settings.retrieve.k if answer_k is None else answer_k
    modes, k_values = _check_options(modes, k_values, answer_k)
    arm_list = None
    if arms:
        from .arms import fold_plan, needed_training, plan_arms

        arm_list = plan_arms(arms, modes, arm_readers)
        if (label_fraction is None) != (folds is None):
            raise ConfigError("--label-fraction and --folds go together: give both to train inside the run, or "
                              "neither to use the graph's active kg tune version")
        if folds and any(a.kind == "ft" for a in arm_list) and not (tune_options or {}).get("closed_book_steps"):
            raise ConfigError("arm ft with --folds: the closed-book reader needs training steps; expected "
                              "--closed-book-steps above 0")
        tune_options = needed_training(arm_list, tune_options or {})
        if volume <= 0 or months < 1:
            raise ConfigError(f"volume and months: expected a positive volume and at least 1 month, got {volume} and {months}")
        if label_curve and not (folds and any(a.tuned for a in arm_list)):
            raise ConfigError("--label-curve trains the tuned arms on fewer labels: give it with --folds and the "
                              "ft or rag+ft arm")
    elif label_fraction is not None or folds is not None or label_curve:
        raise ConfigError("--label-fraction, --folds and --label-curve train the tuned arms: give them with --arms")
    started = datetime.now(timezone.utc)
    out, config = Path(out), settings.build
    out.mkdir(parents=True, exist_ok=True)
    prices = prices if isinstance(prices, Prices) else load_prices(prices)
    prices.llm_for(generator)  # an unpriced generator fails now, not after the run
    if arm_list:
        for a in arm_list:
            prices.llm_for(a.reader)
    if engine is None:
        import kgreason as engine  # the front door's build and open are the default engine
    ds = load_dataset(dataset, out / "dataset", questions=questions, limit=limit)
    counts: list[int] = []
    if arm_list and folds:
        from .arms import curve_counts

        plan = fold_plan(ds.questions, label_fraction, folds)  # a bad split fails before the build
        counts = curve_counts(label_curve, len(plan[0][0])) if label_curve else []
    gdir = Path(graph_dir) if graph_dir else default_graph_dir(ds, config)
    gdir.parent.mkdir(parents=True, exist_ok=True)
    build = build_graph(engine, ds, gdir, config, progress)
    arm_settings = None
    if arm_list:
        arm_settings = {"arms": [a.name for a in arm_list], "arm_kinds": {a.name: a.kind for a in arm_list},
                        "arm_readers": {a.name: a.reader for a in arm_list}, "retrieval_modes": list(modes),
                        "volume": volume, "months": months, "label_fraction": label_fraction, "folds": folds,
                        "tune_options": dict(tune_options or {}), "reader_model": reader_model}
    done = _previous_results(out, _fingerprint(ds, generator, k_values, answer_k, settings, arm_settings), resume)
    kb = engine.open(gdir, retrieve_config=settings.retrieve, generate_config=settings.generate)
    run_settings = {"dataset": str(dataset), "questions_file": str(questions or ""),
                    "modes": arm_settings["arms"] if arm_settings else list(modes),
                    "generator": generator, "limit": limit, "k_values": list(k_values), "answer_k": answer_k,
                    "build_config": config.to_dict(), "settings": settings.to_dict(), "graph_dir": str(gdir),
                    "resumed": len(done), "warmup": warmup, "graph_settings": kb.settings}
    keys = DocKeys(kb.graph, ds.sources, gdir)
    unresolved = sorted({i for q in ds.questions for i in keys.unresolved(q.supporting_ids)})
    chunks = tuple(len(p.text) for p in kb.graph.passages.values())

    def finish(state: RunState) -> "EvalReport":
        report = make_report(ds, run_settings, build, state, prices, started, command or " ".join(sys.argv),
                             unresolved, chunks)
        write_report(report, out, charts=charts)
        return report

    names = run_settings["modes"]
    try:
        if arm_list:
            from .arms import run_arms

            kb.close()
            run_settings.update(arm_settings)
            state, run_settings["training"] = run_arms(
                arm_list, ds, gdir, out, done, settings, keys_for=lambda graph, g: DocKeys(graph, ds.sources, g),
                k_values=k_values, answer_k=answer_k, label_fraction=label_fraction, folds=folds,
                tune_options=tune_options or {}, model=reader_model, progress=progress, warmup=warmup, cpu=cpu_seconds)
            if counts and not state.partial:
                from .arms import read_curve, run_curve

                try:
                    run_settings["label_curve"] = run_curve(
                        arm_list, ds, gdir, out, settings, counts=counts,
                        keys_for=lambda graph, g: DocKeys(graph, ds.sources, g), k_values=k_values, answer_k=answer_k,
                        label_fraction=label_fraction, folds=folds, tune_options=tune_options or {}, model=reader_model,
                        progress=progress, cpu=cpu_seconds)
                except KeyboardInterrupt:  # the points finished so far are saved: report them, marked partial
                    run_settings["label_curve"] = read_curve(out)
                    state = replace(state, partial=True)
        else:
            state = run_questions(kb, ds.questions, modes, out, done, keys=keys, k_values=k_values, answer_k=answer_k,
                                  generator=generator, progress=progress, warmup=warmup)
    except KgError:
        finish(RunState(in_plan_order(read_results(out), ds.questions, names), True, 0.0, 0.0))
        raise
    finally:
        kb.close()
    return finish(state)
