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
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from kg.cache import cache_root
from kg.config import RETRIEVAL_MODES, BuildConfig, Settings
from kg.errors import ConfigError, KgError
from kg.graph import KnowledgeGraph
from kg.model import Answer, BuildReport, Evidence, Retrieval
from .cost import Prices, load_prices
from .datasets import Dataset, EvalQuestion, load_dataset, sha256_file
from .records import BuildStats, EvalReport, RunState
from .report import make_report, write_report
from .metrics import QuestionResult, answer_in_context, dedupe, exact_match, f1_score, reciprocal_rank, recall_at_k

DEFAULT_MODES = RETRIEVAL_MODES
DEFAULT_K = (1, 2, 5, 10)
RESULTS_FILE = "results.jsonl"



class KnowledgeBaseLike(Protocol):
    """What the runner uses of an opened graph (``kgreason.api.KnowledgeBase``)."""

    graph: KnowledgeGraph
    settings: dict

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> Retrieval: ...

    def ask(self, question: str, *, mode: str | None = None, k: int | None = None, generator: str | None = None) -> Answer: ...

    def close(self) -> None: ...


class Engine(Protocol):
    """What the runner uses of the facade (``kgreason.api``): build a graph folder, open it."""

    def build(self, sources: Sequence[str | Path], out: str | Path, config: BuildConfig | None = None, *,
              strict: bool = False, progress: bool = True) -> BuildReport: ...

    def open(self, path: str | Path, **options) -> KnowledgeBaseLike: ...


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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
    t, cpu = time.perf_counter(), _cpu_seconds()
    rep = engine.build(list(dataset.sources), graph_dir, config, strict=False, progress=progress)
    seconds, cpu = time.perf_counter() - t, _cpu_seconds() - cpu
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


class DocKeys:
    """Maps graph documents to the ids gold data uses: the corpus record id, else the document's path
    relative to the dataset's documents folder ("plugins/index.md"). A file name or stem is accepted
    for a gold id only when one document has it: three files named index.md are told apart by path.
    """

    def __init__(self, graph: KnowledgeGraph, roots: Sequence[Path] = (), graph_dir: Path | None = None):
        self.key: dict[str, str] = {}
        self.alias: dict[str, str] = {}
        short: dict[str, set[str]] = {}
        for doc in sorted(graph.documents.values(), key=lambda d: d.id):
            path = _relative_path(doc.source.split("#", 1)[0], roots, graph_dir)
            key = doc.external_id or path
            self.key[doc.id] = key
            for name in (doc.external_id, doc.id) if doc.external_id else (path, doc.id):
                self.alias.setdefault(name, key)
            if not doc.external_id:
                for name in {Path(path).name, Path(path).stem}:
                    short.setdefault(name, set()).add(key)
        for name, keys in short.items():
            if len(keys) == 1:
                self.alias.setdefault(name, next(iter(keys)))

    def gold(self, ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.alias.get(i, i) for i in ids))

    def unresolved(self, ids: Iterable[str]) -> list[str]:
        return [i for i in ids if i not in self.alias]

    def ranked(self, evidence: Sequence[Evidence]) -> tuple[str, ...]:
        return tuple(dedupe(self.key.get(e.doc_id, e.doc_id) for e in evidence))


def _relative_path(source: str, roots: Sequence[Path], graph_dir: Path | None) -> str:
    """A document's source path relative to the dataset folder that holds it (as stored: relative to
    the graph directory's parent, or absolute)."""
    path = Path(source)
    if not path.is_absolute() and graph_dir is not None:
        path = graph_dir.resolve().parent / path
    for root in roots:
        folder = root.resolve() if root.is_dir() else root.resolve().parent
        try:
            return path.resolve().relative_to(folder).as_posix()
        except ValueError:
            continue
    return Path(source).as_posix()


def score_question(kb: KnowledgeBaseLike, q: EvalQuestion, mode: str, keys: DocKeys, k_values: Sequence[int],
                   answer_k: int, generator: str) -> QuestionResult:
    """Retrieve (at the largest k) and answer (at ``answer_k``) one question in one mode, and score both."""
    t0 = time.perf_counter()  # cpu_seconds counts the ask, which retrieves again
    retrieval = kb.retrieve(q.question, k=max(k_values), mode=mode)
    t1, c1 = time.perf_counter(), _cpu_seconds()
    answer = kb.ask(q.question, mode=mode, k=answer_k, generator=generator)
    t2, c2 = time.perf_counter(), _cpu_seconds()
    latency = {"retrieve": t1 - t0, "ask": t2 - t1}
    latency.update({f"retrieve.{s}": float(v) for s, v in retrieval.timings.items()})
    latency.update({f"ask.{s}": float(v) for s, v in answer.timings.items()})
    ranked, gold = keys.ranked(retrieval.evidence), keys.gold(q.supporting_ids)
    prediction = answer.text if answer.found else ""
    em, f1 = _answer_scores(prediction, answer.found, q.answers)
    return QuestionResult(
        question_id=q.id, mode=mode, question=q.question, answers=q.answers, gold=gold,
        retrieved=ranked[: max(k_values)],
        recall={str(k): recall_at_k(ranked, gold, k) for k in k_values} if gold else {},
        reciprocal_rank=reciprocal_rank(ranked, gold) if gold else None,
        prediction=prediction, found=answer.found, exact_match=em,
        f1=f1, answer_in_context=answer_in_context(q.answers, [e.text for e in answer.evidence]),
        latency=latency, cpu_seconds=c2 - c1,
        usage={k: int(answer.usage.get(k, 0)) for k in ("llm_calls", "prompt_tokens", "completion_tokens")},
        groups=q.groups(), supported=answer.supported,
    )


def _answer_scores(prediction: str, found: bool, answers: Sequence[str]) -> tuple[float, float]:
    """EM and F1; on an unanswerable question (no gold answers) abstaining scores 1, answering 0."""
    if not answers:
        return (0.0, 0.0) if found else (1.0, 1.0)
    return exact_match(prediction, answers), f1_score(prediction, answers)


def _fingerprint(dataset: Dataset, generator: str, k_values: Sequence[int], answer_k: int, settings: Settings) -> str:
    data = {"checksums": dataset.checksums(), "generator": generator, "k": list(k_values), "answer_k": answer_k,
            "graph": settings.build.graph_settings(), "retrieve": settings.retrieve.to_dict(),
            "generate": settings.generate.to_dict()}
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


def _in_plan_order(results: Iterable[QuestionResult], questions: Sequence[EvalQuestion],
                   modes: Sequence[str]) -> tuple[QuestionResult, ...]:
    by_key = {(r.question_id, r.mode): r for r in results}
    return tuple(by_key[(q.id, m)] for q in questions for m in modes if (q.id, m) in by_key)


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
    from tqdm import tqdm

    keys, started = keys or DocKeys(kb.graph), time.perf_counter()
    plan = [(q, m) for q in questions for m in modes if (q.id, m) not in done]
    warm = _warm_up(kb, plan, modes, answer_k, k_values, generator) if warmup and plan else 0.0
    results, partial = dict(done), False
    bar = tqdm(total=len(questions) * len(modes), initial=len(done), desc="eval", unit="run", disable=not progress)
    try:
        with open(out / RESULTS_FILE, "a", encoding="utf-8") as fh:
            for q, mode in plan:
                bar.set_postfix_str(mode, refresh=False)
                r = score_question(kb, q, mode, keys, k_values, answer_k, generator)
                fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
                fh.flush()
                results[(q.id, mode)] = r
                bar.update()
    except KeyboardInterrupt:
        partial = True
    finally:
        bar.close()
    return RunState(_in_plan_order(results.values(), questions, modes), partial, warm, time.perf_counter() - started)


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
             warmup: bool = True, command: str | None = None) -> "EvalReport":
    """Evaluate every mode on ``dataset`` and write report.md, report.json and charts to ``out``.

    Returns the report; ``report.partial`` is True when Ctrl-C stopped the run early (the report then
    covers the finished questions). Any other error writes the partial report and is raised.
    ``config`` is the build settings or all ``Settings`` (``kg eval --config``); ``generator`` and
    ``answer_k`` default to its generate settings and ``retrieve.k``. Every setting is recorded in
    the report.

    >>> r = evaluate("samples", "/tmp/eval", modes=["bm25", "graph"], limit=10)   # doctest: +SKIP
    >>> r.roi[0].mode                                                              # doctest: +SKIP
    'bm25'
    """
    settings = config if isinstance(config, Settings) else Settings.of(build=config)
    generator = generator or settings.generate.generator
    answer_k = settings.retrieve.k if answer_k is None else answer_k
    modes, k_values = _check_options(modes, k_values, answer_k)
    started = datetime.now(timezone.utc)
    out, config = Path(out), settings.build
    out.mkdir(parents=True, exist_ok=True)
    prices = prices if isinstance(prices, Prices) else load_prices(prices)
    prices.llm_for(generator)  # an unpriced generator fails now, not after the run
    if engine is None:
        import kgreason as engine  # the front door's build and open are the default engine
    ds = load_dataset(dataset, out / "dataset", questions=questions, limit=limit)
    gdir = Path(graph_dir) if graph_dir else default_graph_dir(ds, config)
    gdir.parent.mkdir(parents=True, exist_ok=True)
    build = build_graph(engine, ds, gdir, config, progress)
    done = _previous_results(out, _fingerprint(ds, generator, k_values, answer_k, settings), resume)
    kb = engine.open(gdir, retrieve_config=settings.retrieve, generate_config=settings.generate)
    run_settings = {"dataset": str(dataset), "questions_file": str(questions or ""), "modes": list(modes),
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

    try:
        state = run_questions(kb, ds.questions, modes, out, done, keys=keys, k_values=k_values, answer_k=answer_k,
                              generator=generator, progress=progress, warmup=warmup)
    except KgError:
        finish(RunState(_in_plan_order(read_results(out), ds.questions, modes), True, 0.0, 0.0))
        raise
    finally:
        kb.close()
    return finish(state)
