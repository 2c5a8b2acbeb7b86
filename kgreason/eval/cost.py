"""The evaluation cost model: CPU seconds and LLM tokens turned into dollars, and quality per dollar.

- Query cost of a mode = CPU seconds per question x the vCPU-hour price + LLM tokens x the per-million
  token prices of the generator's price class (``local`` models are paid through CPU time), scaled to
  1,000 questions.
- Index cost = build CPU seconds x the vCPU-hour price + build LLM tokens (none for this engine).
- For comparison, an *estimate* of what an indexer calling an LLM on every chunk (GraphRAG, LightRAG)
  would spend on the same corpus, with the assumptions of ``prices.toml`` written next to it.
- ROI: quality points gained (Recall@5, F1, in percentage points) per extra dollar per 1,000 questions,
  relative to the cheapest mode.

Default prices and their sources are in ``kgreason/eval/prices.toml``; ``--prices FILE`` overrides any part.

>>> p = load_prices()
>>> round(query_usd(cpu_seconds=3.6, prompt_tokens=0, completion_tokens=0, prices=p, generator="extractive"), 6)
4.8e-05
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from kg.config import load_toml
from kg.errors import ConfigError

PRICES_FORMAT = "kgreason-prices"


@dataclass(frozen=True)
class LlmPrice:
    input_per_million_usd: float
    output_per_million_usd: float
    source: str = ""


@dataclass(frozen=True)
class IndexerAssumptions:
    """Assumptions of the LLM-per-chunk indexer estimate (see prices.toml for their origin)."""

    calls_per_chunk: float
    prompt_overhead_tokens: float
    completion_tokens_per_call: float
    chars_per_token: float


@dataclass(frozen=True)
class Labelling:
    """What a person's label costs: minutes to check an answer and mark its passages, at an hourly rate."""

    minutes_per_label: float = 2.0
    hourly_usd: float = 40.0
    source: str = ""

    def usd(self, labels: float) -> float:
        return labels * self.minutes_per_label / 60 * self.hourly_usd


@dataclass(frozen=True)
class Prices:
    vcpu_hour_usd: float
    cpu_source: str
    llm: dict[str, LlmPrice]
    generators: dict[str, str]  # generator name -> key of ``llm``
    indexer: IndexerAssumptions
    path: str = ""
    labelling: Labelling = Labelling()

    def llm_for(self, generator: str) -> LlmPrice:
        """The token price that applies to ``generator``; unknown generators are a config error."""
        klass = self.generators.get(generator)
        if klass is None:
            raise ConfigError(f"prices: no price class for generator {generator!r}; add it under [generators] "
                              f"with one of: {', '.join(sorted(self.llm))}")
        if klass not in self.llm:
            raise ConfigError(f"prices: generator {generator!r} uses price class {klass!r}; expected one of: "
                              f"{', '.join(sorted(self.llm))}")
        return self.llm[klass]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _number(table: dict, key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
        raise ConfigError(f"{where}.{key}: expected a non-negative number, got {value!r}")
    return float(value)


def load_prices(path: str | Path | None = None) -> Prices:
    """The packaged default prices, with any tables of the TOML file at ``path`` laid over them."""
    data = tomllib.loads(resources.files("kgreason.eval").joinpath("prices.toml").read_text(encoding="utf-8"))
    where = "prices.toml"
    if path is not None:
        user = load_toml(path)
        if user.get("format", PRICES_FORMAT) != PRICES_FORMAT:
            raise ConfigError(f"{path}: format {user.get('format')!r}; expected {PRICES_FORMAT!r}")
        data, where = _merge(data, user), str(path)
    llm = {name: LlmPrice(_number(t, "input_per_million_usd", f"{where}: llm.{name}"),
                          _number(t, "output_per_million_usd", f"{where}: llm.{name}"), str(t.get("source", "")))
           for name, t in data.get("llm", {}).items()}
    est = data.get("llm_indexer_estimate", {})
    indexer = IndexerAssumptions(*(_number(est, k, f"{where}: llm_indexer_estimate") for k in (
        "calls_per_chunk", "prompt_overhead_tokens", "completion_tokens_per_call", "chars_per_token")))
    if indexer.chars_per_token == 0:
        raise ConfigError(f"{where}: llm_indexer_estimate.chars_per_token: expected a positive number, got 0")
    cpu = data.get("cpu", {})
    generators = {str(k): str(v) for k, v in data.get("generators", {}).items()}
    lab = data.get("labelling", {})
    labelling = Labelling(_number(lab, "minutes_per_label", f"{where}: labelling"),
                          _number(lab, "hourly_usd", f"{where}: labelling"), str(lab.get("source", "")))
    return Prices(_number(cpu, "vcpu_hour_usd", f"{where}: cpu"), str(cpu.get("source", "")), llm, generators,
                  indexer, str(path or ""), labelling)


def query_usd(*, cpu_seconds: float, prompt_tokens: float, completion_tokens: float, prices: Prices,
              generator: str) -> float:
    """Dollars for one question's CPU time and LLM tokens."""
    llm = prices.llm_for(generator)
    return (cpu_seconds * prices.vcpu_hour_usd / 3600 + prompt_tokens * llm.input_per_million_usd / 1e6
            + completion_tokens * llm.output_per_million_usd / 1e6)


@dataclass(frozen=True)
class IndexCost:
    cpu_seconds: float
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float


def index_cost(cpu_seconds: float, usage: dict[str, int], prices: Prices) -> IndexCost:
    """One-off cost of building the graph; build tokens are priced as a hosted model's."""
    hosted = prices.llm.get("hosted", LlmPrice(0.0, 0.0))
    p, c = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    usd = cpu_seconds * prices.vcpu_hour_usd / 3600 + p * hosted.input_per_million_usd / 1e6 \
        + c * hosted.output_per_million_usd / 1e6
    return IndexCost(cpu_seconds, int(usage.get("llm_calls", 0)), p, c, usd)


@dataclass(frozen=True)
class IndexerEstimate:
    """Estimated LLM bill of an LLM-per-chunk indexer on the same chunks (see ``assumptions``)."""

    chunks: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float
    assumptions: dict[str, Any]


def llm_indexer_estimate(chunk_chars: Sequence[int], prices: Prices) -> IndexerEstimate:
    """Estimate for chunks of the given character lengths, priced at the ``hosted`` LLM price.

    >>> e = llm_indexer_estimate([4000, 400], load_prices())
    >>> e.llm_calls, e.prompt_tokens, e.completion_tokens
    (4, 9000, 1600)
    """
    a = prices.indexer
    hosted = prices.llm.get("hosted", LlmPrice(0.0, 0.0))
    calls = round(len(chunk_chars) * a.calls_per_chunk)
    chunk_tokens = sum(chars / a.chars_per_token for chars in chunk_chars)
    prompt = round(a.calls_per_chunk * (chunk_tokens + len(chunk_chars) * a.prompt_overhead_tokens))
    completion = round(calls * a.completion_tokens_per_call)
    usd = prompt * hosted.input_per_million_usd / 1e6 + completion * hosted.output_per_million_usd / 1e6
    assumptions = {**asdict(a), "price": asdict(hosted)}
    return IndexerEstimate(len(chunk_chars), calls, prompt, completion, usd, assumptions)


@dataclass(frozen=True)
class RoiRow:
    """Quality and cost of one mode relative to the cheapest mode (``None``: does not apply)."""

    mode: str
    usd_per_1000: float
    extra_usd_per_1000: float
    recall_at_5: float | None
    f1: float | None
    recall_points_gained: float | None
    f1_points_gained: float | None
    recall_points_per_usd: float | None  # per extra dollar per 1,000 questions
    f1_points_per_usd: float | None


def _gain(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or math.isnan(value) or math.isnan(base):
        return None
    return 100 * (value - base)


def roi_table(rows: Sequence[tuple[str, float, float | None, float | None]]) -> list[RoiRow]:
    """ROI rows for ``(mode, usd_per_1000, recall_at_5, f1)``; the cheapest mode is the baseline.

    >>> [r.recall_points_per_usd for r in roi_table([("a", 1.0, 0.5, 0.2), ("b", 3.0, 0.75, 0.2)])]
    [None, 12.5]
    """
    if not rows:
        return []
    base = min(rows, key=lambda r: r[1])
    out = []
    for mode, usd, recall, f1 in rows:
        extra = usd - base[1]
        dr, df = _gain(recall, base[2]), _gain(f1, base[3])
        per = (lambda d: None if d is None or extra <= 0 else d / extra)
        out.append(RoiRow(mode, usd, extra, recall, f1, dr, df, per(dr), per(df)))
    return out


@dataclass(frozen=True)
class ModeCost:
    """Per-question resources of one mode and what 1,000 such questions cost."""

    mode: str
    cpu_seconds_per_question: float
    llm_calls_per_question: float
    prompt_tokens_per_question: float
    completion_tokens_per_question: float
    cpu_usd_per_1000: float
    llm_usd_per_1000: float
    usd_per_1000: float


def mode_cost(mode: str, cpu_seconds: float, usage: dict[str, float], prices: Prices, generator: str) -> ModeCost:
    """Cost of a mode from its mean CPU seconds and mean token usage per question.

    >>> c = mode_cost("graph", 0.5, {"llm_calls": 1, "prompt_tokens": 1000, "completion_tokens": 100},
    ...               load_prices(), "openai")
    >>> round(c.cpu_usd_per_1000, 5), round(c.llm_usd_per_1000, 5)
    (0.00667, 0.21)
    """
    calls, p, c = (float(usage.get(k, 0.0)) for k in ("llm_calls", "prompt_tokens", "completion_tokens"))
    cpu_usd = 1000 * query_usd(cpu_seconds=cpu_seconds, prompt_tokens=0, completion_tokens=0, prices=prices,
                                generator=generator)
    total = 1000 * query_usd(cpu_seconds=cpu_seconds, prompt_tokens=p, completion_tokens=c, prices=prices,
                             generator=generator)
    return ModeCost(mode, cpu_seconds, calls, p, c, cpu_usd, total - cpu_usd, total)
