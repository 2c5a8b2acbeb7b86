"""RAG, fine-tuning or both: the figures a decision rests on, and the decision written from them.

- **Paired bootstrap** of the difference between two arms scored on the same questions: resample the
  questions with replacement, take the mean difference each time; the 2.5th and 97.5th percentiles are
  the 95% interval. A gain whose interval includes 0 is not shown to be real.
- **Total cost of ownership** over a horizon: one-off costs (indexing, labelling, training) plus the
  per-question cost times the questions asked (``volume`` a month x ``months``).
- **Break-even volume** between two arms: the monthly volume at which their totals are equal,
  ``(one_off_b - one_off_a) / ((per_question_a - per_question_b) x months)``; none when one arm is
  cheaper at every volume.
- **Cost per correct answer**: the total over the horizon divided by the answers expected to be right.
- **Recommendation**: the arm with the best F1, unless a cheaper arm is not significantly worse (its
  interval against the best includes 0), then the cheapest such arm; two or three sentences built
  from these numbers.

>>> a, b = ArmCost("rag", 10.0, 0.002, 0.40, 0.45), ArmCost("rag+ft", 60.0, 0.001, 0.45, 0.50)
>>> round(break_even(a, b, months=12), 1)
4166.7
>>> round(total_cost(a, 1000, months=12), 2), round(cost_per_correct(a, 1000, months=12), 5)
(34.0, 0.00708)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class ArmCost:
    """One arm's costs and quality: ``one_off_usd`` (indexing, labelling, training), ``per_question_usd``,
    ``accuracy`` (share of answers right) and mean ``f1``."""

    arm: str
    one_off_usd: float
    per_question_usd: float
    accuracy: float
    f1: float


@dataclass(frozen=True)
class Difference:
    """Mean of ``b - a`` over paired questions with its bootstrap interval, and the share of resamples
    in which ``b`` came out ahead."""

    mean: float
    low: float
    high: float
    b_ahead: float
    questions: int

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> Difference:
    """The difference ``b - a`` of per-question scores on the same questions (see the module docstring).

    >>> d = paired_bootstrap([0, 0, 1, 0], [1, 1, 1, 1])
    >>> d.mean, d.low > 0, d.b_ahead > 0.99
    (0.75, True, True)
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired_bootstrap: expected two score lists over the same questions, got {len(x)} and {len(y)}")
    if not len(x):
        return Difference(math.nan, math.nan, math.nan, math.nan, 0)
    diff = y - x
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Difference(float(diff.mean()), float(low), float(high), float((means > 0).mean()), len(diff))


def total_cost(arm: ArmCost, volume: float, *, months: int = 12) -> float:
    """Dollars over ``months`` at ``volume`` questions a month."""
    return arm.one_off_usd + arm.per_question_usd * volume * months


def cost_per_correct(arm: ArmCost, volume: float, *, months: int = 12) -> float | None:
    """Dollars per right answer over the horizon; None when the arm answers nothing right."""
    right = arm.accuracy * volume * months
    return total_cost(arm, volume, months=months) / right if right > 0 else None


def break_even(a: ArmCost, b: ArmCost, *, months: int = 12) -> float | None:
    """Monthly volume at which ``a`` and ``b`` cost the same over the horizon; None when they never do."""
    slope = (a.per_question_usd - b.per_question_usd) * months
    if slope == 0:
        return None
    volume = (b.one_off_usd - a.one_off_usd) / slope
    return volume if volume > 0 else None


def recommend(arms: Sequence[ArmCost], differences: dict[tuple[str, str], Difference], volume: float, *,
              months: int = 12) -> str:
    """Which arm to pick at ``volume`` questions a month and why (module docstring). ``differences``
    holds the paired F1 difference for (a, b) arm pairs, in either order."""
    if not arms:
        return "No arm was evaluated, so there is nothing to recommend."
    best = max(arms, key=lambda a: (a.f1, -total_cost(a, volume, months=months)))

    def against_best(arm: ArmCost) -> Difference | None:  # the best arm's F1 minus ``arm``'s
        d = differences.get((arm.arm, best.arm))
        if d is None and (best.arm, arm.arm) in differences:
            r = differences[(best.arm, arm.arm)]
            d = Difference(-r.mean, -r.high, -r.low, 1 - r.b_ahead, r.questions)
        return d

    cost = {a.arm: total_cost(a, volume, months=months) for a in arms}
    close = [a for a in arms if a is not best and cost[a.arm] < cost[best.arm]
             and (d := against_best(a)) is not None and not d.significant]
    pick = min(close, key=lambda a: cost[a.arm]) if close else best
    per_1000 = {a.arm: 1000 * a.per_question_usd for a in arms}
    lines = [f"At {volume:,.0f} questions a month over {months} months, pick {pick.arm}: "
             f"F1 {pick.f1:.3f}, ${cost[pick.arm]:,.2f} in all (${per_1000[pick.arm]:.3f} per 1,000 questions "
             f"after ${pick.one_off_usd:,.2f} up front)."]
    if pick is not best:
        d = against_best(pick)
        lines.append(f"{best.arm} scores F1 {best.f1:.3f}, but its gain of {d.mean:+.3f} is within the noise "
                     f"(95% interval {d.low:+.3f} to {d.high:+.3f} on {d.questions} questions) and it costs "
                     f"${cost[best.arm]:,.2f}.")
    else:
        runner = max((a for a in arms if a is not best), key=lambda a: a.f1, default=None)
        d = against_best(runner) if runner is not None else None
        if runner is not None and d is not None:
            verdict = "a real gain" if d.significant else "not shown to be real"
            lines.append(f"Against {runner.arm} (F1 {runner.f1:.3f}) its gain of {d.mean:+.3f} is {verdict} "
                         f"(95% interval {d.low:+.3f} to {d.high:+.3f} on {d.questions} questions).")
    cheaper = [a for a in arms if a is not pick and (v := break_even(pick, a, months=months)) is not None]
    if cheaper:
        other = min(cheaper, key=lambda a: break_even(pick, a, months=months))
        v = break_even(pick, other, months=months)
        side = "cheaper" if total_cost(other, v * 2, months=months) < total_cost(pick, v * 2, months=months) else "dearer"
        lines.append(f"{other.arm} becomes {side} than {pick.arm} above {v:,.0f} questions a month.")
    return " ".join(lines)
