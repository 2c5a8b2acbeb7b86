"""The records of an evaluation run: what building the graph cost, what the question loop
produced, and the whole report. The runner fills them, the report module writes them, the
charts draw them; none of those imports another to know these shapes.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .cost import ModeCost, RoiRow
from .metrics import ModeSummary, QuestionResult

REPORT_FORMAT = "kgreason-eval-report"
REPORT_VERSION = 1


@dataclass(frozen=True)
class BuildStats:
    """Cost of building the graph. When the graph was reused, the figures are those of the run that
    built it (``original_known``) and ``check_seconds`` is what this run spent confirming it."""

    graph_dir: str
    reused: bool
    original_known: bool
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    check_seconds: float
    documents: int
    passages: int
    entities: int
    relations: int
    skipped: tuple[str, ...]
    timings: dict[str, float]
    usage: dict[str, int]


@dataclass(frozen=True)
class RunState:
    """What the loop produced: results in plan order, whether it stopped early, and its timing."""

    results: tuple[QuestionResult, ...]
    partial: bool
    warmup_seconds: float
    seconds: float


@dataclass(frozen=True)
class EvalReport:
    """Everything one ``kg eval`` run measured, and how to reproduce it."""

    partial: bool
    dataset: dict[str, Any]
    settings: dict[str, Any]
    reproducibility: dict[str, Any]
    build: BuildStats
    modes: dict[str, ModeSummary]
    breakdowns: dict[str, dict[str, dict[str, dict[str, Any]]]]  # group -> value -> mode -> metrics
    costs: dict[str, ModeCost]
    index_cost: dict[str, Any]  # measured build cost and the LLM-per-chunk indexer estimate
    roi: tuple[RoiRow, ...]
    run: dict[str, Any]
    results: tuple[QuestionResult, ...]
    decision: dict[str, Any] | None = None  # kg eval --arms: RAG, fine-tuning or both (decision.decide)
    format: str = REPORT_FORMAT
    version: int = REPORT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    """NaN (a metric that does not apply) becomes null, so report.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


