"""Feedback that arrives in bulk: labelled questions a team already has, imported as human feedback
(``kg feedback DIR --import FILE``); questions generated from the graph (``--generate``); and answers
graded by a judge model (``--judge FILE``), AI feedback.

The file is a ``kg eval`` questions file: one JSON object a line with ``question``, ``answers`` and
optional ``supporting_ids`` (documents, named as ``kg eval`` names them: record id, or path inside the
documents folder). Each question becomes feedback with verdict "good" on its first gold answer, the
passages of its supporting documents marked relevant. Unanswerable questions (no answers) are
feedback too: the right answer is to abstain, so the answer is empty.

>>> n = import_labels(kgreason.open(".kg/samples"), "samples/questions.jsonl")   # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path

from kg import store
from kg.errors import InputError
from kg.model import Feedback

from .eval.datasets import load_questions
from .eval.scoring import DocKeys


def import_labels(kb, path: str | Path, roots: tuple[Path, ...] = ()) -> int:
    """Add the questions of ``path`` to ``kb``'s feedback store; returns how many were new.
    ``roots`` are the documents folders gold paths are relative to (default: every folder the graph's
    sources are in)."""
    questions = load_questions(Path(path))
    keys = DocKeys(kb.graph, roots or _source_folders(kb), kb.path)
    unknown = sorted({i for q in questions for i in keys.unresolved(q.supporting_ids)})
    if unknown:
        raise InputError(str(path), f"supporting_ids name documents not in the graph: {', '.join(unknown[:5])}; "
                                    "expected record ids or paths inside the documents folder")
    passages_of = _passages_by_key(kb, keys)
    # the file's time, not the import's: importing the same file again adds nothing
    version, when = store.saved_at(kb.path), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(Path(path).stat().st_mtime))
    records = [Feedback(q.question, q.answers[0] if q.answers else "", "good", "human",
                        relevant=tuple(p for key in keys.gold(q.supporting_ids) for p in passages_of.get(key, ())),
                        graph_version=version, created=when) for q in questions]
    return kb.feedback_store.add(records)


def _source_folders(kb) -> tuple[Path, ...]:
    root = kb.path.resolve().parent
    folders = {(root / d.source.split("#", 1)[0]).resolve().parent for d in kb.graph.documents.values()}
    return tuple(sorted(folders, key=lambda f: len(f.parts)))  # shallowest first: paths stay longest


def _passages_by_key(kb, keys: DocKeys) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in kb.graph.passages.values():
        out.setdefault(keys.key.get(p.doc_id, p.doc_id), []).append(p.id)
    return out


GENERATED_SOURCE = "ai:graph-questions"


def add_generated_questions(kb, limit: int | None = None) -> int:
    """Questions generated from the graph's facts (``feedback.questions``), stored as AI feedback on
    their gold answers with their gold passages marked relevant; returns how many were new."""
    from feedback.questions import generate_questions

    version = store.saved_at(kb.path)
    records = [Feedback(q.question, q.answer, "good", GENERATED_SOURCE, relevant=q.passages, graph_version=version,
                        created=version) for q in generate_questions(kb.graph, limit)]
    return kb.feedback_store.add(records)


REPHRASED_SOURCE = "ai:rephrased"


def add_rephrased_questions(kb, chat, limit: int | None = None, progress=lambda n: None):
    """The generated questions (the first ``limit``) rephrased by ``chat`` (``feedback.rephrase``),
    stored as AI feedback beside the template questions with the same answers and passages; returns
    the rephrasing counts plus ``added`` (new records)."""
    from feedback.questions import generate_questions
    from feedback.rephrase import rephrase_questions

    version = store.saved_at(kb.path)
    kept, counts = rephrase_questions(generate_questions(kb.graph, limit), kb.graph, chat, progress)
    source = f"{REPHRASED_SOURCE}:{getattr(chat, 'model_name', type(chat).__name__)}"
    records = [Feedback(text, q.answer, "good", source, relevant=q.passages, graph_version=version, created=version)
               for q, text in kept]
    counts["added"] = kb.feedback_store.add(records)
    return counts


JUDGE_VERDICTS = {"correct": "good", "incorrect": "bad"}  # "unsure" is no verdict: counted, not stored


def read_question_lines(path: str | Path) -> list[str]:
    """Questions to judge: a ``.jsonl`` file's ``question`` fields, or any other file's non-empty lines."""
    import json

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read the questions file: {exc}") from None
    if path.suffix != ".jsonl":
        return [x.strip() for x in lines if x.strip()]
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            question = json.loads(line).get("question")
        except (ValueError, AttributeError):
            question = None
        if not isinstance(question, str) or not question.strip():
            raise InputError(str(path), "expected a JSON object with a non-empty string field 'question'", line=n)
        out.append(question.strip())
    return out


def judge_questions(kb, questions: list[str], judge, progress=lambda n: None) -> dict[str, int]:
    """Ask each question (the graph's reader and settings), have ``judge`` grade the answer against
    the passages it cites, and store the verdict as AI feedback (``ai:<judge name>``): "correct" and
    supported becomes "good" with the cited passages marked relevant (training data for ``kg tune``),
    "correct" without support "partly", "incorrect" "bad". Abstentions and "unsure" are counted,
    not stored. Returns the counts, with ``added``: how many records were new."""
    from reason.judge import judge_answer

    counts = {"asked": 0, "not_found": 0, "good": 0, "partly": 0, "bad": 0, "unsure": 0}
    records, version = [], store.saved_at(kb.path)
    for question in questions:
        answer = kb.ask(question)
        counts["asked"] += 1
        progress(1)
        if not answer.found:
            counts["not_found"] += 1
            continue
        verdict = judge_answer(judge, answer)
        if verdict.label == "unsure":
            counts["unsure"] += 1
            continue
        good = verdict.label == "correct" and verdict.supported
        label = "good" if good else ("partly" if verdict.label == "correct" else "bad")
        counts[label] += 1
        cited = tuple(dict.fromkeys(c.passage_id for c in answer.citations)) if good else ()
        records.append(Feedback(question, answer.text, label, f"ai:{judge.name}",
                                evidence=tuple((e.passage_id, e.rank) for e in answer.evidence), relevant=cited,
                                graph_version=version,
                                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    counts["added"] = kb.feedback_store.add(records)
    return counts
