"""Metric functions of the evaluation runner: plain functions over ids and strings, no I/O.

Retrieval metrics work on *ranked document keys* (the corpus ids a retriever returned, best first).
A key that appears twice (two passages of one document) counts once, at its first rank, so that a
chunked document cannot fill several of the top-k slots. Ties in score keep the order the retriever
returned them in: the ranking is the list, not the scores.

Answer metrics follow the SQuAD v1.1 evaluation script (lower case, drop punctuation, drop the
articles a/an/the, collapse white space), with punctuation widened to every Unicode punctuation
character so that curly quotes and dashes count like their ASCII forms.

>>> recall_at_k(["d3", "d1", "d1", "d2"], {"d1", "d2"}, k=2)
0.5
>>> round(f1_score("The Eiffel Tower!", ["Eiffel tower in Paris"]), 3)
0.667
"""
from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Collection, Iterable, Sequence

from kg.errors import KgError

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _is_punctuation(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("  The  “Big”   Apple—NYC. ")
    'big applenyc'
    """
    text = text.lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer, else 0.0.

    >>> exact_match("the Beatles", ["Beatles", "The Fab Four"])
    1.0
    """
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def _token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)  # SQuAD: both empty is a match, one empty scores 0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, answers: Iterable[str]) -> float:
    """Best token-overlap F1 of ``prediction`` against any gold answer (0.0 with no answers).

    >>> f1_score("Paris, France", ["Paris"])
    0.6666666666666666
    """
    return max((_token_f1(prediction, a) for a in answers), default=0.0)


def answer_in_context(answers: Iterable[str], contexts: Iterable[str]) -> bool:
    """True when some gold answer occurs, as whole normalised tokens, in the joined contexts.

    >>> answer_in_context(["New York"], ["He moved to new-york? No: to New York City."])
    True
    >>> answer_in_context(["York"], ["Yorkshire pudding"])
    False
    """
    haystack = " " + " ".join(normalize_answer(c) for c in contexts) + " "
    return any(f" {n} " in haystack for n in (normalize_answer(a) for a in answers) if n)


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Keys in first-seen order, each once.

    >>> dedupe(["b", "a", "b", "c", "a"])
    ['b', 'a', 'c']
    """
    return list(dict.fromkeys(ranked))


def _check_gold(gold: Collection[str], name: str) -> None:
    if not gold:
        raise KgError(f"{name}: gold set is empty; expected at least one gold id (skip questions without gold)")


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of the gold keys found among the first ``k`` distinct ranked keys.

    >>> recall_at_k([], {"d1"}, k=5)
    0.0
    """
    _check_gold(gold, "recall_at_k")
    if k < 1:
        raise KgError(f"recall_at_k: k must be at least 1, got {k}")
    top = set(dedupe(ranked)[:k])
    gold = set(gold)
    return len(top & gold) / len(gold)


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float:
    """1 / rank of the first gold key among the distinct ranked keys; 0.0 when none is found.

    >>> reciprocal_rank(["x", "x", "g"], {"g"})
    0.5
    """
    _check_gold(gold, "reciprocal_rank")
    for rank, key in enumerate(dedupe(ranked), start=1):
        if key in gold:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default); nan if empty.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise KgError(f"percentile: q must be within 0..100, got {q}")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; nan for no values (a metric that does not apply, not a zero)."""
    return sum(values) / len(values) if values else math.nan


# ---- per-question scores and their aggregation per mode ----------------------------------------------


def quality_k(k_values: Sequence[int]) -> str:
    """The k used for headline recall: 5 when measured, else the largest k below it, else the smallest.

    >>> quality_k([2, 5, 10]), quality_k([10, 20])
    ('5', '10')
    """
    below = [k for k in k_values if k <= 5]
    return str(max(below) if below else min(k_values))


@dataclass(frozen=True)
class QuestionResult:
    """Scores of one question under one retrieval mode (one line of results.jsonl)."""

    question_id: str
    mode: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]  # gold document keys; empty when the dataset has none for this question
    retrieved: tuple[str, ...]  # distinct document keys, best first
    recall: dict[str, float]  # str(k) -> Recall@k; empty without gold
    reciprocal_rank: float | None
    prediction: str  # "" when the engine found no answer
    found: bool
    exact_match: float
    f1: float
    answer_in_context: bool
    latency: dict[str, float]  # seconds: "retrieve", "ask" and their stages ("ask.generate", ...)
    cpu_seconds: float  # CPU time of answering (ask), all threads
    usage: dict[str, int]  # llm_calls, prompt_tokens, completion_tokens of answering
    groups: dict[str, str] = field(default_factory=dict)  # breakdown groups, e.g. {"hops": "3"}
    supported: bool = True  # Answer.supported: the answer's citations state or justify it (True when not found)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuestionResult":
        data = dict(data)
        for name in ("answers", "gold", "retrieved"):
            data[name] = tuple(data[name])
        return cls(**data)


@dataclass(frozen=True)
class ModeSummary:
    """Averages of one mode over its questions (nan where a metric does not apply)."""

    questions: int
    questions_with_gold: int
    recall: dict[str, float]  # str(k) -> mean Recall@k over questions with gold
    mrr: float
    exact_match: float
    f1: float
    answer_in_context: float
    found: float
    latency: dict[str, dict[str, float]]  # stage -> {"median": s, "p95": s}
    cpu_seconds: float  # mean per question
    usage: dict[str, float]  # mean per question
    usage_total: dict[str, int]
    supported: float = math.nan  # share of answered (found) questions whose citations support the answer


USAGE_KEYS = ("llm_calls", "prompt_tokens", "completion_tokens")


def summarise(results: Sequence[QuestionResult], k_values: Sequence[int]) -> ModeSummary:
    """Aggregate the results of one mode.

    >>> s = summarise([], (1, 5))
    >>> s.questions, s.recall
    (0, {'1': nan, '5': nan})
    """
    gold = [r for r in results if r.gold]
    stages = sorted({s for r in results for s in r.latency})
    latency = {s: {"median": percentile(v, 50), "p95": percentile(v, 95)}
               for s in stages for v in [[r.latency[s] for r in results if s in r.latency]]}
    totals = {key: sum(int(r.usage.get(key, 0)) for r in results) for key in USAGE_KEYS}
    return ModeSummary(
        questions=len(results), questions_with_gold=len(gold),
        recall={str(k): mean([r.recall[str(k)] for r in gold]) for k in k_values},
        mrr=mean([r.reciprocal_rank for r in gold if r.reciprocal_rank is not None]),
        exact_match=mean([r.exact_match for r in results]), f1=mean([r.f1 for r in results]),
        answer_in_context=mean([float(r.answer_in_context) for r in results]),
        found=mean([float(r.found) for r in results]), latency=latency,
        cpu_seconds=mean([r.cpu_seconds for r in results]),
        usage={key: (totals[key] / len(results) if results else math.nan) for key in USAGE_KEYS},
        usage_total=totals,
        supported=mean([float(r.supported) for r in results if r.found]),
    )
