"""One ``kg tune`` run: training data from the feedback store, then five parts, each kept only when it
measures better, on questions it never trained on, than what came before it:

1. a fine-tuned embedder, with the graph's vectors re-embedded into the new model version (kept if it
   raises held-out Recall@5; else the version keeps the active one's, or the build's);
2. a learned ranker (``reason.learned_rank``): hybrid's signals weighed by a linear model, seconds of
   CPU, judged by cross-validation over all people's questions (``tune.ranker``; kept if it beats
   hybrid there);
3. a cross-encoder reranker trained behind them (kept if it raises held-out Recall@5 further);
4. an evidence gate (``reason.sufficiency``) behind that retrieval: when to answer "Not found", judged
   by cross-validation over people's questions each also retrieved with its documents excluded
   (``tune.gate``; kept if it stops more of those than it loses of the answerable ones);
5. a LoRA reader (kept if it answers the held-out questions better than the active reader, on the
   same retrieval);

and the version is activated when it kept a part. The held-out gate judges on questions people asked
(``gate_questions``), never on generated ones alone: without them the embedder, reranker and reader are
not trained. With ``closed_book_steps`` it also trains a closed-book reader (question -> answer, no
sources) for ``kg eval --arms ft``; ``kg ask`` never uses it, so it is kept whatever it scores, with its
validation figures in the manifest.

>>> report = tune(".kg/samples", steps=50)                # doctest: +SKIP
>>> report.activated, report.recall_before, report.recall_after   # doctest: +SKIP
"""
from __future__ import annotations

import collections
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kg.embedding import CachedEmbedder
from kg.errors import ConfigError
from kg.graph import VectorTable
from kg.vectors import build_vectors, item_texts
from reason.rerank import CrossEncoderReranker

from ..labels import GENERATED_SOURCE, REPHRASED_SOURCE
from ..progress import stage
from . import versions
from .data import TrainingQuestion, split, training_questions
from .embedder import base_model_folder, export_onnx, train_embedder
from .reader import (ADAPTER_FILE, BASE_READER, CLOSED_BOOK_DIR, LORA_DIR, READER_STEPS, READER_VALIDATION,
                     base_reader_folder, closed_book_examples, closed_book_scores, reader_examples, reader_scores,
                     train_reader)
from .gate import cross_validate_gate, gate_rows
from .ranker import MIN_PEOPLE, CrossValidation, cross_validate, recalls
from .reranker import RerankGroup, train_reranker

MIN_QUESTIONS = 10  # fewer training questions than this cannot move an embedder, only overfit it
# With at least this many people's questions held out, the gate judges on those alone: on the bench sets,
# a gate on mostly generated questions saw Recall@5 gains (.960 -> .963) where people's questions lost
# (.648 -> .638 on MuSiQue, .869 -> .794 on 2Wiki; benchmarks/tune_folds.py, kg eval --arms).
MIN_HUMAN_VALIDATION = 10  # and with fewer, the questions people asked when there are as many (see gate_questions)
VALIDATION_K = 5
RERANK_NEGATIVES = 3  # hard negatives per training group: the passages hybrid ranks above the answer
READER_CONTEXT_TOKENS = 800  # training contexts: shorter than the reader's 1,500 at answer time, for speed


@dataclass(frozen=True)
class TuneReport:
    """What a ``kg tune`` run did and measured."""

    version: int
    activated: bool
    recall_before: float
    recall_after: float
    train_questions: int
    validation_questions: int
    sources: dict[str, int]
    seconds: float
    cpu_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def tune(graph_dir: str | Path, *, steps: int = 200, batch_size: int = 16, lr: float = 2e-5, seed: int = 0,
         validation: float = 0.2, reranker_steps: int = 0, reader_steps: int = READER_STEPS,
         reader_validation: int = READER_VALIDATION, closed_book_steps: int = 0, rank: bool = True,
         trust_generated: bool = False, evidence_gate: bool = True, progress: bool = True) -> TuneReport:
    """Fine-tune the embedder, the learned ranker, the reranker and the reader of the graph in
    ``graph_dir`` on its feedback (see the module docstring); ``steps=0`` / ``rank=False`` /
    ``reranker_steps=0`` / ``reader_steps=0`` / ``evidence_gate=False`` train no embedder / ranker / reranker /
    reader / evidence gate.
    The reader is validated on at most ``reader_validation`` held-out questions (each read twice).
    Without enough held-out questions people asked (``gate_questions``), the parts the held-out gate
    judges (embedder, reranker, reader) are not trained, unless ``trust_generated``."""
    import kgreason

    started, cpu = time.perf_counter(), _cpu()
    kb = kgreason.open(graph_dir)
    questions = training_questions(kb.feedback_store.effective() if kb.feedback_store.path.is_file() else [],
                                   set(kb.graph.passages))
    train, held_out = split(questions, validation)
    if len(train) < MIN_QUESTIONS or not held_out:
        raise ConfigError(f"kg tune: {len(train)} training and {len(held_out)} validation questions with relevant "
                          f"passages; expected at least {MIN_QUESTIONS} and 1: add feedback (kg feedback --import, "
                          "--generate, or kg ask --rate)")
    gate = gate_questions(held_out, trust_generated)
    people = [q for q in questions if q.source == "human"]  # training and held-out: the ranker cross-validates
    skipped = {}
    if not gate:  # nothing real to judge the embedder, reranker and reader by: they are not trained
        reason = (f"needs at least {MIN_HUMAN_VALIDATION} held-out questions people asked (labels, ratings or judged "
                  f"answers), has {sum(not synthetic(q.source) for q in held_out)}: gains on questions generated "
                  "from the graph do not show that real questions gain (--trust-generated to judge on them)")
        skipped = {part: reason for part, n in (("embedder", steps), ("reranker", reranker_steps),
                                                ("reader", reader_steps)) if n}
        steps = reranker_steps = reader_steps = 0
        if not ((rank or evidence_gate) and len(people) >= MIN_PEOPLE) and not closed_book_steps:
            raise ConfigError(f"kg tune: nothing can be judged: the embedder, reranker and reader each {reason}; the "
                              f"learned ranker and the evidence gate need {MIN_PEOPLE} people's questions, has {len(people)}. Add people's "
                              "feedback (kg feedback --import, kg ask --rate) or judged answers (kg feedback --judge)")
    held_out = gate or held_out
    # a training question answered by a passage that answers a validation question would let the
    # embedder learn that passage and the gate reward it: on MuSiQue such a gate saw .649 -> .659 while
    # the other fold's questions fell from .646 to .583. Training keeps away from the gate's passages.
    train, shared = unshared(train, held_out)
    before = _recall(kb, held_out)
    parent = versions.active_version(graph_dir)
    staging = versions.staging_dir(graph_dir)
    parts, timings = {}, {}
    after, tuned, tables = before, kb, None
    if steps:
        t = _cpu()
        with stage("tune embedder", steps, "step", progress) as step:
            st_folder = train_embedder(_parent_part(graph_dir, parent, "embedder") or base_model_folder(), _triplets(kb, train), staging / "embedder",
                                       steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=step)
        export_onnx(st_folder, staging / "onnx")
        candidate = versions.open_embedder(staging)
        index = kb.build_config.index
        texts = item_texts(kb.graph, index.entities, index.facts)
        with stage("re-embed", sum(len(ids) for ids, _ in texts.values()), "text", progress) as step:
            tables = _reembed(kb, candidate, step)
        trial = kgreason.KnowledgeBase(graph_dir, _with_vectors(kb.graph, tables), embedder=candidate,
                                       reranker=kb.reranker, ranker=kb.ranker)
        parts["embedder"] = _recall(trial, held_out)
        timings["embedder"] = round(_cpu() - t, 1)
        if parts["embedder"] > after:  # kept only when it retrieves the held-out questions better
            after, tuned = parts["embedder"], trial
        else:
            tables = None
            for folder in ("embedder", "onnx"):
                shutil.rmtree(staging / folder)
    if tables is None and parent and versions.has_embedder(versions.version_dir(graph_dir, parent)):
        for folder in ("embedder", "onnx"):  # carried over: the version keeps the active one's
            shutil.copytree(versions.version_dir(graph_dir, parent) / folder, staging / folder)
        shutil.copy2(versions.version_dir(graph_dir, parent) / "vectors.npz", staging / "vectors.npz")
    ranker, ranker_figures = kb.ranker, None
    if rank and len(people) >= MIN_PEOPLE:
        t = _cpu()
        plain = kgreason.KnowledgeBase(graph_dir, tuned.graph, embedder=tuned.embedder)
        with stage("tune ranker", len(people), "question", progress) as step:
            cv = cross_validate(plain, people, progress=step)
        ranker_figures = {**cv.summary(), "kept": cv.ranker is not None and cv.gain > 0}
        if ranker_figures["kept"]:  # kept when it ranks people's questions better than hybrid, unseen
            tuned = kgreason.KnowledgeBase(graph_dir, tuned.graph, embedder=tuned.embedder, reranker=kb.reranker,
                                           ranker=cv.ranker)
            parts["ranker"] = _gate_recall(tuned, held_out, cv)
            ranker, after = cv.ranker, parts["ranker"]
        timings["ranker"] = round(_cpu() - t, 1)
    elif rank:
        ranker_figures = {"questions": len(people), "kept": False,
                          "reason": f"needs at least {MIN_PEOPLE} people's questions"}
    if ranker is not None:  # new, or carried over
        ranker.save(staging)
    reranker = kb.reranker
    if reranker_steps:
        t = _cpu()
        with stage("tune reranker", reranker_steps, "step", progress) as step:
            folder = train_reranker(_parent_part(graph_dir, parent, "reranker") or base_model_folder(), _groups(tuned, train), staging / "reranker",
                                    steps=reranker_steps, seed=seed, progress=step)
        tuned = kgreason.KnowledgeBase(graph_dir, tuned.graph, embedder=tuned.embedder,
                                       reranker=CrossEncoderReranker(folder), ranker=ranker)
        parts["reranker"] = _recall(tuned, held_out)
        timings["reranker"] = round(_cpu() - t, 1)
        if parts["reranker"] > after:  # kept only when it adds to the parts before it
            after, reranker = parts["reranker"], tuned.reranker
        else:
            shutil.rmtree(folder)
    if reranker is not None and reranker is kb.reranker and parent:  # carried over: the version keeps it
        shutil.copytree(versions.version_dir(graph_dir, parent) / "reranker", staging / "reranker")
    stopper, stopper_figures = kb.gate, None
    if evidence_gate and len(people) >= MIN_PEOPLE:
        t = _cpu()
        final = kgreason.KnowledgeBase(graph_dir, tuned.graph, embedder=tuned.embedder, reranker=reranker, ranker=ranker)
        with stage("tune evidence gate", len(people), "question", progress) as step:
            rows = gate_rows(final, people, step)
        try:
            validated = cross_validate_gate(rows)
            stopper, stopper_figures = validated.gate, validated.summary()
        except ValueError as exc:
            stopper, stopper_figures = None, {"questions": len(people), "kept": False, "reason": str(exc)}
        timings["evidence_gate"] = round(_cpu() - t, 1)
    else:
        if evidence_gate:
            stopper_figures = {"questions": len(people), "kept": False,
                               "reason": f"needs at least {MIN_PEOPLE} people's questions"}
        if tables is not None or ranker is not kb.ranker or reranker is not kb.reranker:
            stopper = None  # the active evidence gate was fitted to the scores of a retriever this version replaces
    if stopper is not None:  # new, or carried over
        stopper.save(staging)
    reader_gain, reader_meta, reader_figures = 0.0, None, None
    if reader_steps:
        t = _cpu()
        reader_meta = _tune_reader(kb.reader, tuned, train, held_out, staging / "reader", steps=reader_steps, seed=seed,
                                   validation=reader_validation, start=_parent_part(graph_dir, parent, "reader", LORA_DIR), progress=progress)
        timings["reader"] = round(_cpu() - t, 1)
        reader_gain = reader_meta["validation"]["after"]["f1"] - reader_meta["validation"]["before"]["f1"]
        reader_figures = reader_meta["validation"]
        if reader_gain <= 0:
            shutil.rmtree(staging / "reader")
            reader_meta = None
    if reader_meta is None and kb.reader is not None and parent:  # carried over, as the reranker is
        shutil.copytree(versions.version_dir(graph_dir, parent) / "reader", staging / "reader")
        reader_meta = versions.read_manifest(versions.version_dir(graph_dir, parent)).get("reader")
    closed_meta = None
    if closed_book_steps:
        t = _cpu()
        closed_meta = _tune_closed_book(kb.reader.model if kb.reader else BASE_READER, train, held_out,
                                        staging / CLOSED_BOOK_DIR, steps=closed_book_steps, seed=seed,
                                        validation=reader_validation, start=_parent_part(graph_dir, parent, CLOSED_BOOK_DIR, LORA_DIR),
                                        progress=progress)
        timings["closed_book"] = round(_cpu() - t, 1)
    elif parent and (versions.version_dir(graph_dir, parent) / CLOSED_BOOK_DIR).is_dir():  # carried over
        shutil.copytree(versions.version_dir(graph_dir, parent) / CLOSED_BOOK_DIR, staging / CLOSED_BOOK_DIR)
        closed_meta = versions.read_manifest(versions.version_dir(graph_dir, parent)).get("closed_book")
    number = versions.next_number(graph_dir)
    settings = {"steps": steps, "ranker": rank, "held_back_sharing_validation_passages": shared, "ranker_validation": ranker_figures,
                "evidence_gate_validation": stopper_figures, "not_trained": skipped,
                "batch_size": batch_size, "lr": lr, "seed": seed, "validation": validation,
                "max_length": 128, "loss": "multiple negatives ranking, 1 hard negative",
                "reranker_steps": reranker_steps, "reranker_loss": f"listwise softmax, {RERANK_NEGATIVES} hard negatives",
                "validation_recall_per_part": {k: round(v, 4) for k, v in parts.items()}, "cpu_seconds_per_part": timings,
                "reader_steps": reader_steps, "reader_f1_gain": round(reader_gain, 4), "reader_validation": reader_figures,
                "closed_book_steps": closed_book_steps,
                "validation_on": ("human" if all(q.source == "human" for q in held_out) else
                                  "asked" if not any(synthetic(q.source) for q in held_out) else "all"),
                "closed_book_validation": closed_meta["validation"] if closed_book_steps else None}
    # each part was kept only if it measured better on questions it never trained on (the ranker's test
    # is cross-validation over all people's questions, larger than the held-out split)
    cross_validated = bool(ranker_figures and ranker_figures["kept"]) or bool(stopper_figures and stopper_figures["kept"])
    better = (after >= before or cross_validated) and (after > before or cross_validated or reader_gain > 0)
    report = TuneReport(number, better, round(before, 4), round(after, 4), len(train), len(held_out),
                        dict(collections.Counter(q.source for q in questions)),
                        round(time.perf_counter() - started, 1), round(_cpu() - cpu, 1), settings)
    if tables is not None:
        versions.save_vectors(staging, tables)
    kept = [part for part in ("embedder", "reranker", "reader", CLOSED_BOOK_DIR) if (staging / part).is_dir()]
    kept += ["ranker"] if ranker is not None else []
    kept += ["gate"] if stopper is not None else []
    versions.commit(graph_dir, staging, {"version": number, "parent": parent, "parts": kept,
                                         **({"reader": reader_meta} if reader_meta else {}),
                                         **({"closed_book": closed_meta} if closed_meta else {}),
                                         "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                         "base": str(base_model_folder()), **asdict(report)})
    if report.activated:
        versions.activate(graph_dir, number)
    return report


def unshared(train: list[TrainingQuestion], held_out: list[TrainingQuestion]) -> tuple[list[TrainingQuestion], int]:
    """(the training questions none of whose passages answers a held-out question, how many were held
    back), so that the held-out questions test passages the models never trained on.

    >>> q = lambda text, *p: TrainingQuestion(text, p, "human")
    >>> unshared([q("a", "p1"), q("b", "p2", "p3")], [q("c", "p3")])
    ([TrainingQuestion(question='a', positives=('p1',), source='human', answer='')], 1)
    """
    taken = {p for q in held_out for p in q.positives}
    kept = [q for q in train if not taken.intersection(q.positives)]
    return kept, len(train) - len(kept)


def synthetic(source: str) -> bool:
    """Whether feedback of ``source`` is a question the graph made up (generated, or a rephrasing of
    one), not one a person asked.

    >>> synthetic("ai:graph-questions"), synthetic("ai:rephrased:qwen2.5-0.5b"), synthetic("ai:judge-1.5b")
    (True, True, False)
    """
    return source == GENERATED_SOURCE or source.startswith(REPHRASED_SOURCE)


def gate_questions(held_out: list[TrainingQuestion], trust_generated: bool = False) -> list[TrainingQuestion]:
    """The held-out questions the gate judges on: people's alone when there are ``MIN_HUMAN_VALIDATION``
    of them; else the questions people asked, a judge's verdicts included, when there are as many; else
    none (empty), or all of them with ``trust_generated``. Generated questions are easy to gain on and
    say little of real ones: an embedder a gate on them kept lowered 2Wiki's real questions' Recall@5
    from .896 to .805 (``benchmarks/tune_folds.py --curve 0``)."""
    human = [q for q in held_out if q.source == "human"]
    if len(human) >= MIN_HUMAN_VALIDATION:
        return human
    asked = [q for q in held_out if not synthetic(q.source)]
    if len(asked) >= MIN_HUMAN_VALIDATION:
        return asked
    return list(held_out) if trust_generated else []


def _parent_part(graph_dir, parent: int, *path: str) -> Path | None:
    """The continuous loop: the active version's folder ``path`` (its embedder, reranker, a reader's LoRA
    adapter) when it has one, which a run starts from; None when it has none (then the embedder and the
    reranker start from the packaged MiniLM weights, a reader from a fresh adapter)."""
    folder = versions.version_dir(graph_dir, parent).joinpath(*path) if parent else None
    return folder if folder is not None and folder.is_dir() else None


def _tune_reader(current, kb, train: list[TrainingQuestion], held_out: list[TrainingQuestion], out: Path, *,
                 steps: int, seed: int, validation: int, start: Path | None, progress: bool) -> dict[str, Any]:
    """Train a LoRA reader on ``train`` as ``kb`` retrieves it and read ``validation`` held-out questions
    with the active reader (``current``, or the base model) and the new one, on the same retrieval."""
    from reason.generators.local import LocalGenerator

    model = current.model if current is not None else BASE_READER
    _, base = base_reader_folder(model)
    examples = reader_examples(kb, _reader_questions(train, 3 * steps), token_budget=READER_CONTEXT_TOKENS)
    with stage("tune reader", steps, "step", progress) as step:
        train_reader(base, examples, out, steps=steps, seed=seed, start=start, progress=step)
    questions = [q for q in held_out if q.answer][:validation]
    before = reader_scores(kb, LocalGenerator(model=model, adapter=str(current.adapter) if current else ""), questions)
    after = reader_scores(kb, LocalGenerator(model=model, adapter=str(out / ADAPTER_FILE)), questions)
    return {"model": model, "adapter": ADAPTER_FILE, "steps": steps, "continued_from": str(start or ""),
            "examples": {"answer": sum(e.answerable for e in examples), "abstain": sum(not e.answerable for e in examples)},
            "context_tokens": READER_CONTEXT_TOKENS, "validation": {"before": before, "after": after}}


def _tune_closed_book(model: str, train: list[TrainingQuestion], held_out: list[TrainingQuestion], out: Path, *,
                      steps: int, seed: int, validation: int, start: Path | None, progress: bool) -> dict[str, Any]:
    """Train a closed-book LoRA reader on ``train``'s answers and read ``validation`` held-out questions
    closed-book with the base model and the new adapter."""
    from reason.generators.closed_book import ClosedBookReader

    _, base = base_reader_folder(model)
    examples = closed_book_examples(_reader_questions(train, steps))
    with stage("tune closed-book reader", steps, "step", progress) as step:
        train_reader(base, examples, out, steps=steps, seed=seed, start=start, progress=step)
    questions = [q for q in held_out if q.answer][:validation]
    before = closed_book_scores(ClosedBookReader(model=model), questions)
    after = closed_book_scores(ClosedBookReader(model=model, adapter=str(out / ADAPTER_FILE)), questions)
    return {"model": model, "adapter": ADAPTER_FILE, "steps": steps, "continued_from": str(start or ""),
            "examples": len(examples), "validation": {"before": before, "after": after}}


def _reader_questions(train: list[TrainingQuestion], limit: int) -> list[TrainingQuestion]:
    """At most ``limit`` questions with answers, people's first (a steps-long run sees only so many),
    then the others in a stable order that does not depend on how the store sorted them."""
    import hashlib

    def order(q: TrainingQuestion):
        return (q.source != "human", hashlib.sha1(q.question.encode("utf-8")).hexdigest())

    return sorted((q for q in train if q.answer), key=order)[:limit]


def _groups(kb, questions: list[TrainingQuestion]) -> list[RerankGroup]:
    """(question, relevant passage, the best-ranked passages not marked relevant) per positive: the
    candidates the reranker will meet, ranked by the retriever it will sit behind."""
    out = []
    for q, retrieval in zip(questions, _ranked(kb, questions, lambda q: RERANK_NEGATIVES + len(q.positives))):
        ranked = [e.passage_id for e in retrieval.evidence]
        negatives = [p for p in ranked if p not in q.positives][:RERANK_NEGATIVES]
        if negatives:
            out += [RerankGroup(q.question, _text(kb, p), tuple(_text(kb, n) for n in negatives)) for p in q.positives]
    return out


def _triplets(kb, questions: list[TrainingQuestion]) -> list[tuple[str, str, str]]:
    """(question, a relevant passage, the best-ranked passage not marked relevant) per positive."""
    out = []
    for q, retrieval in zip(questions, _ranked(kb, questions, lambda q: 10)):
        ranked = [e.passage_id for e in retrieval.evidence]
        negatives = [p for p in ranked if p not in q.positives] or [p for p in kb.graph.passages if p not in q.positives][:1]
        for positive in q.positives:
            out.append((q.question, _text(kb, positive), _text(kb, negatives[0])))
    return out


def _ranked(kb, questions: list[TrainingQuestion], k) -> list:
    """Hybrid retrievals of ``questions`` at ``k(question)`` passages each, in order."""
    by_k: dict[int, list[int]] = {}
    for n, q in enumerate(questions):
        by_k.setdefault(k(q), []).append(n)
    out: list = [None] * len(questions)
    for size, rows in by_k.items():
        for n, r in zip(rows, kb.retrieve_many([questions[n].question for n in rows], k=size, mode="hybrid")):
            out[n] = r
    return out


def _text(kb, passage_id: str) -> str:
    from kg.vectors import passage_text

    return passage_text(kb.graph, passage_id)


def _recall(kb, questions: list[TrainingQuestion]) -> float:
    scores = recalls(kb, questions, VALIDATION_K)
    return float(np.mean([scores[q.question] for q in questions])) if questions else 0.0


def _gate_recall(kb, questions: list[TrainingQuestion], cv: CrossValidation) -> float:
    """Held-out Recall@5 with the learned ranker: people's questions as cross-validation scored them (by
    a ranker fitted without them), the others (judged or generated: never trained on) by ``kb``'s ranker."""
    scores = recalls(kb, [q for q in questions if q.question not in cv.with_ranker], VALIDATION_K) | cv.with_ranker
    return float(np.mean([scores[q.question] for q in questions])) if questions else 0.0


def _reembed(kb, embedder, step) -> dict[str, VectorTable]:
    index = kb.build_config.index
    return build_vectors(kb.graph, CachedEmbedder(embedder), None, entities=index.entities, facts=index.facts,
                         progress=step)


def _with_vectors(graph, tables):
    from dataclasses import replace

    return replace(graph, vectors=tables)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
