"""Scoring one question: the document keys gold data uses, one question through one retrieval mode
(retrieve, answer, score), and the loop that scores a plan of (question, mode or arm) pairs into
``results.jsonl`` so that Ctrl-C keeps what finished. The mode runner (``runner``) and the arms
(``arms``) both stand on it.
"""
from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from kg.graph import KnowledgeGraph
from kg.model import Answer, Evidence, Retrieval
from .datasets import EvalQuestion
from .metrics import QuestionResult, answer_in_context, dedupe, exact_match, f1_score, reciprocal_rank, recall_at_k
from .records import RunState

RESULTS_FILE = "results.jsonl"


class KnowledgeBaseLike(Protocol):
    """What the runner uses of an opened graph (``kgreason.api.KnowledgeBase``)."""

    graph: KnowledgeGraph
    settings: dict

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> Retrieval: ...

    def ask(self, question: str, *, mode: str | None = None, k: int | None = None, generator: str | None = None) -> Answer: ...

    def close(self) -> None: ...


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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
    t1, c1 = time.perf_counter(), cpu_seconds()
    answer = kb.ask(q.question, mode=mode, k=answer_k, generator=generator)
    t2, c2 = time.perf_counter(), cpu_seconds()
    latency = {"retrieve": t1 - t0, "ask": t2 - t1}
    latency.update({f"retrieve.{s}": float(v) for s, v in retrieval.timings.items()})
    latency.update({f"ask.{s}": float(v) for s, v in answer.timings.items()})
    ranked, gold = keys.ranked(retrieval.evidence), keys.gold(q.supporting_ids)
    prediction = answer.text if answer.found else ""
    em, f1 = answer_scores(prediction, answer.found, q.answers)
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


def answer_scores(prediction: str, found: bool, answers: Sequence[str]) -> tuple[float, float]:
    """EM and F1; on an unanswerable question (no gold answers) abstaining scores 1, answering 0."""
    if not answers:
        return (0.0, 0.0) if found else (1.0, 1.0)
    return exact_match(prediction, answers), f1_score(prediction, answers)


def in_plan_order(results: Iterable[QuestionResult], questions: Sequence[EvalQuestion],
                   modes: Sequence[str]) -> tuple[QuestionResult, ...]:
    by_key = {(r.question_id, r.mode): r for r in results}
    return tuple(by_key[(q.id, m)] for q in questions for m in modes if (q.id, m) in by_key)


def run_plan(questions: Sequence[EvalQuestion], names: Sequence[str], out: Path,
             done: dict[tuple[str, str], QuestionResult], score, *, progress: bool, warmup_seconds: float = 0.0,
             desc: str = "eval") -> RunState:
    """``score(question, name)`` for every (question, name) not in ``done`` (names: modes or arms),
    appending each result to results.jsonl at once; Ctrl-C returns what finished with ``partial=True``."""
    from tqdm import tqdm

    started = time.perf_counter()
    plan = [(q, m) for q in questions for m in names if (q.id, m) not in done]
    results, partial = dict(done), False
    initial = sum(1 for q in questions for m in names if (q.id, m) in done)
    bar = tqdm(total=len(questions) * len(names), initial=initial, desc=desc, unit="run", disable=not progress)
    try:
        with open(out / RESULTS_FILE, "a", encoding="utf-8") as fh:
            for q, name in plan:
                bar.set_postfix_str(name, refresh=False)
                r = score(q, name)
                fh.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
                fh.flush()
                results[(q.id, name)] = r
                bar.update()
    except KeyboardInterrupt:
        partial = True
    finally:
        bar.close()
    return RunState(in_plan_order(results.values(), questions, names), partial, warmup_seconds,
                    time.perf_counter() - started)
