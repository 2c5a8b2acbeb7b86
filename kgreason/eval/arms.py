"""RAG, fine-tuning or both (``kg eval --arms``): the arms, the models each runs, and fold training.

Arms, all scored on the same questions:

- ``closed-book``: the base reader with no retrieval (what the model knows on its own);
- ``ft``: the same model with a closed-book LoRA adapter from ``kg tune`` (knowledge in the weights);
- ``rag``: base retrieval + the base reader, one arm per retrieval mode (``rag/hybrid``), plus the
  extractive reader on the same retrieval (``rag/hybrid/extractive``);
- ``rag+ft``: the tuned embedder / learned ranker / reranker (those kept) + the tuned reader (``rag+ft/hybrid``),
  plus the extractive reader on the same tuned retrieval (``rag+ft/hybrid/extractive``).

Every LLM arm runs the same base model (the one the adapters were trained on, by default the packaged
Qwen2.5 0.5B), so the arms differ only in retrieval and training. The tuned models are the graph's
active ``kg tune`` version, or, with ``label_fraction`` and ``folds``, trained inside the run: the
questions are cut into ``folds`` parts by position; for each part, ``label_fraction`` of all questions,
taken from the other parts, become human labels on a copy of the graph (plus questions generated from
the graph as AI feedback), ``kg tune`` trains on them, and that part is evaluated. No arm is scored on a
question it was trained on.

With ``counts`` (``kg eval --label-curve``), ``run_curve`` trains the tuned arms again per fold with only
the first N of those labels, for each N, and scores them on the same evaluated parts: quality against
the number of labelled questions, from which the report reads the value of a label.

>>> [a.name for a in plan_arms(["closed-book", "rag", "rag+ft"], ["hybrid"])]
['closed-book', 'rag/hybrid', 'rag/hybrid/extractive', 'rag+ft/hybrid', 'rag+ft/hybrid/extractive']
>>> [(len(l), len(e)) for l, e in fold_plan(list(range(10)), 0.5, 2)]
[(5, 5), (5, 5)]
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from kg.config import RETRIEVAL_MODES
from kg.errors import BackendError, ConfigError

from .datasets import EvalQuestion
from .metrics import QuestionResult, quality_k
from .records import RunState
from .scoring import answer_scores, in_plan_order, run_plan, score_question

ARM_KINDS = ("closed-book", "ft", "rag", "rag+ft")
TUNED_KINDS = ("ft", "rag+ft")
FOLDS_DIR = "folds"
CURVE_DIR = "curve"
CURVE_FILE = "curve.json"


@dataclass(frozen=True)
class Arm:
    """One arm: its report name, kind (``ARM_KINDS``), retrieval mode (None: no retrieval) and reader."""

    name: str
    kind: str
    mode: str | None
    reader: str  # "local" (the LLM) or "extractive"

    @property
    def tuned(self) -> bool:
        return self.kind in TUNED_KINDS


ARM_READERS = ("local", "extractive")


def plan_arms(kinds: Sequence[str], modes: Sequence[str], readers: Sequence[str] = ARM_READERS) -> list[Arm]:
    """The arms for the requested kinds, retrieval arms once per mode and reader (``readers``: the LLM,
    ``local``, and the ``extractive`` reader; the closed-book kinds need the LLM); ConfigError on an
    unknown kind or reader.

    >>> [a.name for a in plan_arms(["rag", "rag+ft"], ["hybrid"], readers=["extractive"])]
    ['rag/hybrid/extractive', 'rag+ft/hybrid/extractive']
    """
    kinds = list(dict.fromkeys(k.strip() for k in kinds if k.strip()))
    unknown = [k for k in kinds if k not in ARM_KINDS]
    if not kinds or unknown:
        raise ConfigError(f"arms: expected some of {', '.join(ARM_KINDS)}, got {', '.join(unknown) or 'none'}")
    bad = [m for m in modes if m not in RETRIEVAL_MODES]
    if bad or not modes:
        raise ConfigError(f"modes: expected some of {', '.join(RETRIEVAL_MODES)}, got {', '.join(bad) or 'none'}")
    bad = [r for r in readers if r not in ARM_READERS]
    if bad or not readers:
        raise ConfigError(f"arm readers: expected some of {', '.join(ARM_READERS)}, got {', '.join(bad) or 'none'}")
    closed = [k for k in kinds if k in ("closed-book", "ft")]
    if closed and "local" not in readers:
        raise ConfigError(f"arms {', '.join(closed)}: closed-book arms read with the LLM; expected the local reader "
                          "among the arm readers")
    out = []
    for kind in ARM_KINDS:
        if kind not in kinds:
            continue
        if kind in ("closed-book", "ft"):
            out.append(Arm(kind, kind, None, "local"))
        for mode in modes if kind in ("rag", "rag+ft") else ():
            out += [Arm(f"{kind}/{mode}" + ("" if reader == "local" else f"/{reader}"), kind, mode, reader)
                    for reader in ARM_READERS if reader in readers]
    return out


def untuned_arm(name: str) -> str | None:
    """The arm a tuned arm is measured against: ``rag+ft/X`` -> ``rag/X``, ``ft`` -> ``closed-book``; None
    for an untuned arm.

    >>> untuned_arm("rag+ft/hybrid/extractive"), untuned_arm("ft"), untuned_arm("rag/hybrid")
    ('rag/hybrid/extractive', 'closed-book', None)
    """
    if name.startswith("rag+ft/"):
        return "rag/" + name.removeprefix("rag+ft/")
    return "closed-book" if name == "ft" else None


def needed_training(arms: Sequence[Arm], tune_options: dict[str, Any]) -> dict[str, Any]:
    """``kg tune`` options with the parts no arm reads set to 0 steps: the closed-book reader without
    the ``ft`` arm, the RAG reader without an LLM ``rag+ft`` arm (the extractive one reads untrained).

    >>> needed_training(plan_arms(["rag+ft"], ["hybrid"], ["extractive"]), {"reader_steps": 120, "closed_book_steps": 300})
    {'reader_steps': 0, 'closed_book_steps': 0}
    """
    out = dict(tune_options)
    if not any(a.kind == "ft" for a in arms) and "closed_book_steps" in out:
        out["closed_book_steps"] = 0
    if not any(a.kind == "rag+ft" and a.reader == "local" for a in arms) and "reader_steps" in out:
        out["reader_steps"] = 0
    return out


def fold_plan(questions: Sequence, label_fraction: float, folds: int) -> list[tuple[list, list]]:
    """(labelled, evaluated) per fold: the evaluated parts are consecutive and cover every question once;
    the labelled ones are the first ``label_fraction`` x all questions among the other parts."""
    if folds < 2:
        raise ConfigError(f"folds: expected at least 2 (one part is evaluated while the others are labelled), got {folds}")
    if not 0 < label_fraction <= 1 - 1 / folds:
        raise ConfigError(f"label_fraction: expected more than 0 and at most {1 - 1 / folds:.3g} with {folds} folds "
                          f"(the labels come from the parts not evaluated), got {label_fraction}")
    n = len(questions)
    if n < folds:
        raise ConfigError(f"folds: {folds} folds need at least {folds} questions, got {n}")
    bounds = [round(i * n / folds) for i in range(folds + 1)]
    labelled_count = round(label_fraction * n)
    plan = []
    for i in range(folds):
        evaluated = list(questions[bounds[i]:bounds[i + 1]])
        others = list(questions[bounds[i + 1]:]) + list(questions[:bounds[i]])  # the parts after it first
        plan.append((others[:labelled_count], evaluated))
    return plan


@dataclass
class ArmModels:
    """What the arms run: the graph with its base models (``base``) and with the tuned version
    (``tuned``, None without one), the closed-book readers, and what the tuning cost (``training``)."""

    base: Any  # KnowledgeBase with the base embedder, no reranker, no tuned reader
    tuned: Any | None
    closed_book: Any  # ClosedBookReader on the base model
    ft: Any | None  # ClosedBookReader with the version's closed-book adapter
    model: str  # the base LLM every LLM arm runs
    training: dict[str, Any]

    def check(self, arms: Sequence[Arm]) -> None:
        if any(a.kind == "rag+ft" for a in arms) and self.tuned is None:
            raise ConfigError("arm rag+ft: the graph has no active kg tune version; run `kg tune DIR` first, or let "
                              "kg eval train one with --label-fraction F --folds K")
        if any(a.kind == "ft" for a in arms) and self.ft is None:
            raise ConfigError("arm ft: the active kg tune version has no closed-book reader; run `kg tune DIR "
                              "--closed-book-steps N`, or let kg eval train one with --label-fraction F --folds K")


def open_models(graph_dir: Path, settings, *, model: str = "", threads: int | None = None) -> ArmModels:
    """The base and tuned models of the graph in ``graph_dir`` (its active ``kg tune`` version)."""
    import kgreason
    from reason.generators.closed_book import ClosedBookReader

    from ..tune import versions
    from ..tune.reader import BASE_READER

    number = versions.active_version(graph_dir)
    folder = versions.version_dir(graph_dir, number) if number else None
    manifest = versions.read_manifest(folder) if folder else {}
    reader = versions.open_reader(folder) if folder else None
    closed = versions.open_closed_book(folder) if folder else None
    model = model or (reader.model if reader else closed.model if closed else settings.generate.model or BASE_READER)
    generate = settings.generate.with_(model=model)
    base = kgreason.open(graph_dir, embedder=None, retrieve_config=settings.retrieve, generate_config=generate)
    tuned = None
    if number:  # the same loaded graph with the version's vectors and models
        active = versions.load_active(graph_dir)
        graph = base.graph if active.tables is None else replace(base.graph, vectors=active.tables)
        tuned = kgreason.KnowledgeBase(graph_dir, graph, embedder=active.embedder or base.embedder,
                                       retrieve_config=settings.retrieve, reranker=active.reranker, reader=active.reader,
                                       ranker=active.ranker, gate=active.gate,
                                       generate_config=settings.generate.with_(model="" if reader else model))
    extra = {"threads": threads} if threads else {}
    return ArmModels(base, tuned, ClosedBookReader(model=model, **extra),
                     ClosedBookReader(model=closed.model, adapter=str(closed.adapter), **extra) if closed else None,
                     model, training_costs(manifest))


def training_costs(manifest: dict[str, Any]) -> dict[str, Any]:
    """Labels and training CPU seconds of a ``kg tune`` version, split by what each arm needs:
    ``rag+ft`` the embedder (with re-embedding), reranker and reader, ``ft`` the closed-book reader."""
    parts = (manifest.get("settings") or {}).get("cpu_seconds_per_part") or {}
    sources = manifest.get("sources") or {}
    return {"version": manifest.get("version", 0), "labels": int(sources.get("human", 0)),
            "generated": sum(int(v) for k, v in sources.items() if k != "human"),
            "cpu_seconds": {"rag+ft": sum(float(parts.get(p, 0.0)) for p in ("embedder", "ranker", "reranker", "reader")),
                            "ft": float(parts.get("closed_book", 0.0))}}


def score_arm(models: ArmModels, arm: Arm, q: EvalQuestion, keys, k_values: Sequence[int], answer_k: int,
              cpu: Callable[[], float]) -> QuestionResult:
    """One question through one arm, scored like ``scoring.score_question`` (which the retrieval arms use)."""
    if arm.mode is not None:
        kb = models.tuned if arm.tuned else models.base
        r = score_question(kb, q, arm.mode, keys, k_values, answer_k, arm.reader)
        return replace(r, mode=arm.name)
    reader = models.ft if arm.kind == "ft" else models.closed_book
    t, c = time.perf_counter(), cpu()
    try:
        g = reader.answer(q.question)
        text, found, usage = g.text, g.found, g.usage
    except BackendError:  # a reply cut off or off-schema is a wrong answer here, as in the gate
        text, found, usage = "", False, {"llm_calls": 1}
    seconds, cpu_seconds = time.perf_counter() - t, cpu() - c
    prediction = text if found else ""
    em, f1 = answer_scores(prediction, found, q.answers)
    return QuestionResult(
        question_id=q.id, mode=arm.name, question=q.question, answers=q.answers, gold=(), retrieved=(), recall={},
        reciprocal_rank=None, prediction=prediction, found=found, exact_match=em, f1=f1, answer_in_context=False,
        latency={"ask": seconds}, cpu_seconds=cpu_seconds,
        usage={k: int(usage.get(k, 0)) for k in ("llm_calls", "prompt_tokens", "completion_tokens")},
        groups=q.groups(), supported=not found,  # no citations: an answer is never supported by the documents
    )


def label_file(questions: Sequence[EvalQuestion], path: Path) -> Path:
    """The labelled questions as a JSONL file ``kgreason.labels.import_labels`` reads."""
    path.write_text("".join(json.dumps({"id": q.id, "question": q.question, "answers": list(q.answers),
                                        "supporting_ids": list(q.supporting_ids)}, ensure_ascii=False) + "\n"
                            for q in questions), encoding="utf-8")
    return path


def train_fold(graph_dir: Path, fold_dir: Path, labelled: Sequence[EvalQuestion], roots: Sequence[Path],
               tune_options: dict[str, Any], progress: bool, untrained_ok: bool = False) -> Path:
    """A copy of the graph in ``fold_dir/graph`` whose active version was trained on ``labelled`` (as
    human feedback) and ``tune_options["generate"]`` generated questions; reused when a previous,
    interrupted run already trained it with the same labels. With ``untrained_ok``, a ``kg tune`` that
    finds nothing it can judge (too few labels) leaves the copy on the base models instead of failing."""
    import kgreason
    from kgreason.labels import add_generated_questions, import_labels

    from ..tune import versions
    from ..tune.runner import tune

    g, done = fold_dir / "graph", fold_dir / "trained.json"
    ids = [q.id for q in labelled]
    if done.is_file() and json.loads(done.read_text(encoding="utf-8")).get("labelled") == ids and g.is_dir():
        return g
    shutil.rmtree(fold_dir, ignore_errors=True)
    fold_dir.mkdir(parents=True)
    shutil.copytree(graph_dir, g, ignore=shutil.ignore_patterns("feedback.sqlite*", "models", ".kgreason.lock"))
    kb = kgreason.open(g)
    if labelled:  # none: generated questions alone (the learning curve's first point)
        import_labels(kb, label_file(labelled, fold_dir / "labels.jsonl"), tuple(roots))
    add_generated_questions(kb, tune_options.get("generate"))
    options = {k: v for k, v in tune_options.items() if k != "generate"}
    try:
        report = tune(g, progress=progress, **options)
    except ConfigError as exc:
        if not untrained_ok:
            raise
        done.write_text(json.dumps({"labelled": ids, "version": 0, "refused": str(exc)}), encoding="utf-8")
        return g
    versions.activate(g, report.version)  # measured whether or not its own gate activated it (recorded)
    done.write_text(json.dumps({"labelled": ids, "version": report.version, "gate_activated": report.activated}),
                    encoding="utf-8")
    return g


def run_arms(arms: Sequence[Arm], ds, graph_dir: Path, out: Path, done: dict, settings, *, keys_for,
             k_values: Sequence[int], answer_k: int, label_fraction: float | None, folds: int | None,
             tune_options: dict[str, Any], model: str, progress: bool, warmup: bool, cpu: Callable[[], float]):
    """Score every arm on every question of ``ds`` (see the module docstring) into ``out/results.jsonl``;
    returns the run state and the training record of each fold (or of the graph's active version)."""
    names = [a.name for a in arms]
    by_name = {a.name: a for a in arms}
    needs_tuning = any(a.tuned for a in arms)
    if folds and needs_tuning:
        plan = [(i + 1, labelled, evaluated) for i, (labelled, evaluated) in enumerate(fold_plan(ds.questions, label_fraction, folds))]
    else:
        plan = [(0, [], list(ds.questions))]
    results, training, warm, seconds, partial = dict(done), [], 0.0, 0.0, False
    for fold, labelled, evaluated in plan:
        record_file = out / FOLDS_DIR / str(fold) / "training.json"
        if all((q.id, n) in results for q in evaluated for n in names):
            if record_file.is_file():
                training.append(json.loads(record_file.read_text(encoding="utf-8")))
            continue
        g = graph_dir
        if fold:
            g = train_fold(graph_dir, out / FOLDS_DIR / str(fold), labelled, ds.sources, tune_options, progress)
        models = open_models(g, settings, model=model)
        models.check(arms)
        record = {"fold": fold, "labelled": len(labelled), "evaluated": len(evaluated), "model": models.model,
                  **models.training}
        record_file.parent.mkdir(parents=True, exist_ok=True)
        record_file.write_text(json.dumps(record), encoding="utf-8")
        training.append(record)
        keys = keys_for(models.base.graph, g)

        def score(q, name, models=models, keys=keys):
            return score_arm(models, by_name[name], q, keys, k_values, answer_k, cpu)

        todo = [n for n in names if any((q.id, n) not in results for q in evaluated)]
        if warmup and todo:
            t = time.perf_counter()
            for name in todo:  # loads each arm's models untimed
                score(evaluated[0], name)
            warm += time.perf_counter() - t
        ids = {q.id for q in evaluated}
        state = run_plan(evaluated, names, out, {k: v for k, v in results.items() if k[0] in ids},
                         score, progress=progress, desc=f"eval fold {fold}" if fold else "eval")
        results.update({(r.question_id, r.mode): r for r in state.results})
        seconds += state.seconds
        for kb in (models.base, models.tuned):
            if kb is not None:
                kb.close()
        if state.partial:
            partial = True
            break
        if fold:  # the fold's graph copy is done with; its training record stays
            shutil.rmtree(out / FOLDS_DIR / str(fold) / "graph", ignore_errors=True)
    return RunState(in_plan_order(results.values(), ds.questions, names), partial, warm, seconds), training


def curve_counts(counts: Sequence[int], labelled: int) -> list[int]:
    """The learning curve's label counts: distinct, ascending, each below the ``labelled`` count the main
    run trains on (that point is the main run itself); ConfigError on a negative or too large one.

    >>> curve_counts([50, 0, 25, 25], 82)
    [0, 25, 50]
    """
    bad = [c for c in counts if c < 0 or c >= labelled]
    if bad:
        raise ConfigError(f"label curve: expected label counts from 0 to {labelled - 1} (the run labels {labelled} "
                          f"questions a fold), got {', '.join(map(str, bad))}")
    return sorted(set(counts))


def curve_point(labels: int, results: Sequence[QuestionResult], names: Sequence[str], k: int) -> dict[str, Any]:
    """One point of the learning curve: per arm, mean F1 and EM, the share answered and Recall@``k``
    (None for an arm without retrieval).

    >>> r = QuestionResult("q", "a", "Q?", ("x",), (), (), {"5": 1.0}, None, "x", True, 1.0, 1.0, True, {}, 0.0, {})
    >>> curve_point(10, [r], ["a"], 5)["arms"]["a"]
    {'questions': 1, 'f1': 1.0, 'em': 1.0, 'answered': 1.0, 'recall': 1.0}
    """
    arms = {}
    for name in names:
        rows = [r for r in results if r.mode == name]
        recalls = [r.recall[str(k)] for r in rows if str(k) in r.recall]
        arms[name] = {"questions": len(rows), "f1": _mean([r.f1 for r in rows]), "em": _mean([r.exact_match for r in rows]),
                      "answered": _mean([float(r.found) for r in rows]), "recall": _mean(recalls) if recalls else None}
    return {"labels": labels, "arms": arms}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def read_curve(out: Path) -> list[dict[str, Any]]:
    """The learning-curve points saved in ``out`` so far (none when there is no curve file)."""
    path = out / CURVE_FILE
    return json.loads(path.read_text(encoding="utf-8")).get("points", []) if path.is_file() else []


def run_curve(arms: Sequence[Arm], ds, graph_dir: Path, out: Path, settings, *, counts: Sequence[int], keys_for,
              k_values: Sequence[int], answer_k: int, label_fraction: float, folds: int, tune_options: dict[str, Any],
              model: str, progress: bool, cpu: Callable[[], float]) -> list[dict[str, Any]]:
    """The learning curve (see the module docstring): for each of ``counts``, every fold's tuned arms
    trained on the first N of its labels and scored on its evaluated part. Points are saved to
    ``out/curve.json`` as they finish, and a run with the same questions and settings reuses them."""
    tuned = [a for a in arms if a.tuned]
    plan = fold_plan(ds.questions, label_fraction, folds)
    key = {"questions": [q.id for q in ds.questions], "label_fraction": label_fraction, "folds": folds,
           "tune_options": tune_options, "arms": [a.name for a in tuned], "k_values": list(k_values), "model": model}
    path = out / CURVE_FILE
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    points = {p["labels"]: p for p in saved.get("points", [])} if saved.get("key") == key else {}
    for count in counts:
        if count in points:
            continue
        results, training = [], []
        for fold, (labelled, evaluated) in enumerate(plan, 1):
            fold_dir = out / CURVE_DIR / str(count) / str(fold)
            g = train_fold(graph_dir, fold_dir, labelled[:count], ds.sources, tune_options, progress, untrained_ok=True)
            models = open_models(g, settings, model=model)
            if models.tuned is None:  # kg tune had too few labels to judge anything by: the base models stay
                models = replace(models, tuned=models.base, ft=models.ft or models.closed_book)
            keys = keys_for(models.base.graph, g)
            results += [score_arm(models, a, q, keys, k_values, answer_k, cpu) for q in evaluated for a in tuned]
            training.append(models.training)
            for kb in (models.base, models.tuned):
                if kb is not None:
                    kb.close()
            shutil.rmtree(fold_dir / "graph", ignore_errors=True)
        points[count] = {**curve_point(count, results, [a.name for a in tuned], int(quality_k(k_values))), "training": training}
        path.write_text(json.dumps({"key": key, "points": [points[c] for c in sorted(points)]}, indent=1), encoding="utf-8")
    return [points[c] for c in counts]
