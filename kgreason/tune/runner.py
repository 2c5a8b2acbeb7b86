"""One ``kg tune`` run: training data from the feedback store, a fine-tuned embedder, the graph's
vectors re-embedded with it into a new model version, and activation only if it retrieves the
held-out questions better than the active version.

>>> report = tune(".kg/samples", steps=50)                # doctest: +SKIP
>>> report.activated, report.recall_before, report.recall_after   # doctest: +SKIP
"""
from __future__ import annotations

import collections
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kg.embedding import CachedEmbedder
from kg.errors import ConfigError
from kg.graph import VectorTable
from kg.vectors import build_vectors, item_texts

from ..progress import stage
from . import versions
from .data import TrainingQuestion, passage_recall, split, training_questions
from .embedder import base_model_folder, export_onnx, train_embedder

MIN_QUESTIONS = 10  # fewer training questions than this cannot move an embedder, only overfit it
VALIDATION_K = 5


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
         validation: float = 0.2, progress: bool = True) -> TuneReport:
    """Fine-tune the embedder of the graph in ``graph_dir`` on its feedback (see the module docstring)."""
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
    before = _recall(kb, held_out)
    parent = versions.active_version(graph_dir)
    staging = versions.staging_dir(graph_dir)
    triplets = _triplets(kb, train)
    with stage("tune embedder", steps, "step", progress) as step:
        st_folder = train_embedder(_start_from(graph_dir, parent), triplets, staging / "embedder", steps=steps,
                                   batch_size=batch_size, lr=lr, seed=seed, progress=step)
    export_onnx(st_folder, staging / "onnx")
    candidate = versions.open_embedder(staging)
    index = kb.build_config.index
    texts = item_texts(kb.graph, index.entities, index.facts)
    with stage("re-embed", sum(len(ids) for ids, _ in texts.values()), "text", progress) as step:
        tables = _reembed(kb, candidate, step)
    after = _recall(kgreason.KnowledgeBase(graph_dir, _with_vectors(kb.graph, tables), embedder=candidate), held_out)
    number = versions.next_number(graph_dir)
    settings = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "validation": validation,
                "max_length": 128, "loss": "multiple negatives ranking, 1 hard negative"}
    report = TuneReport(number, after > before, round(before, 4), round(after, 4), len(train), len(held_out),
                        dict(collections.Counter(q.source for q in questions)),
                        round(time.perf_counter() - started, 1), round(_cpu() - cpu, 1), settings)
    versions.save_vectors(staging, tables)
    versions.commit(graph_dir, staging, {"version": number, "parent": parent, "parts": ["embedder"],
                                         "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                         "base": str(base_model_folder()), **asdict(report)})
    if report.activated:
        versions.activate(graph_dir, number)
    return report


def _start_from(graph_dir, parent: int) -> Path:
    """The continuous loop: a run starts from the active version's embedder."""
    return versions.version_dir(graph_dir, parent) / "embedder" if parent else base_model_folder()


def _triplets(kb, questions: list[TrainingQuestion]) -> list[tuple[str, str, str]]:
    """(question, a relevant passage, the best-ranked passage not marked relevant) per positive."""
    out = []
    for q in questions:
        ranked = [e.passage_id for e in kb.retrieve(q.question, k=10, mode="hybrid").evidence]
        negatives = [p for p in ranked if p not in q.positives] or [p for p in kb.graph.passages if p not in q.positives][:1]
        for positive in q.positives:
            out.append((q.question, _text(kb, positive), _text(kb, negatives[0])))
    return out


def _text(kb, passage_id: str) -> str:
    from kg.vectors import passage_text

    return passage_text(kb.graph, passage_id)


def _recall(kb, questions: list[TrainingQuestion]) -> float:
    scores = [passage_recall([e.passage_id for e in kb.retrieve(q.question, k=VALIDATION_K, mode="hybrid").evidence],
                             q.positives, VALIDATION_K) for q in questions]
    return float(np.mean(scores)) if scores else 0.0


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
