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
- **Value of labels** (with a learning curve): the F1 a tuned arm gained per labelled question between
  the curve's fewest and most labels, and the labelling dollars each F1 point cost.
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
    """Mean of ``b - a`` over paired questions with its bootstrap interval, and the shares of resamples
    in which ``b`` came out ahead and behind."""

    mean: float
    low: float
    high: float
    b_ahead: float
    questions: int
    b_behind: float = math.nan  # share of resamples in which ``a`` came out ahead (ties count for neither)

    def reversed(self) -> "Difference":
        """The same difference seen from the other arm (``a - b``)."""
        return Difference(0.0 - self.mean, 0.0 - self.high, 0.0 - self.low, self.b_behind, self.questions, self.b_ahead)

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
        return Difference(math.nan, math.nan, math.nan, math.nan, 0, math.nan)
    diff = y - x
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Difference(float(diff.mean()) + 0.0, float(low) + 0.0, float(high) + 0.0, float((means > 0).mean()), len(diff),
                      float((means < 0).mean()))  # + 0.0: no "-0.0" when the arms tie


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


def money(v: float) -> str:
    """Dollars readable at any size: cents from $1 up, three significant digits below.

    >>> money(1234.5), money(0.0123456), money(0)
    ('$1,234.50', '$0.0123', '$0')
    """
    return "$0" if v == 0 else f"${v:,.2f}" if abs(v) >= 1 else f"${v:.3g}"


def volume_text(v: float) -> str:
    """Questions a month: whole numbers from 10 up, two significant digits below (a break-even can be
    a fraction of a question a month when one-off costs are tiny).

    >>> volume_text(4166.67), volume_text(0.543)
    ('4,167', '0.54')
    """
    return f"{v:,.0f}" if v >= 10 else f"{v:.2g}"


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
            d = r.reversed()
        return d

    cost = {a.arm: total_cost(a, volume, months=months) for a in arms}
    close = [a for a in arms if a is not best and cost[a.arm] < cost[best.arm]
             and (d := against_best(a)) is not None and not d.significant]
    pick = min(close, key=lambda a: cost[a.arm]) if close else best
    per_1000 = {a.arm: 1000 * a.per_question_usd for a in arms}
    lines = [f"At {volume:,.0f} questions a month over {months} months, pick {pick.arm}: "
             f"F1 {pick.f1:.3f}, {money(cost[pick.arm])} in all ({money(per_1000[pick.arm])} per 1,000 questions "
             f"after {money(pick.one_off_usd)} up front)."]
    if pick is not best:
        d = against_best(pick)
        lines.append(f"{best.arm} scores F1 {best.f1:.3f}, but its gain of {d.mean:+.3f} is within the noise "
                     f"(95% interval {d.low:+.3f} to {d.high:+.3f} on {d.questions} questions) and it costs "
                     f"{money(cost[best.arm])}.")
    else:
        runner = max((a for a in arms if a is not best), key=lambda a: a.f1, default=None)
        d = against_best(runner) if runner is not None else None
        if runner is not None and d is not None:
            verdict = "a real gain" if d.significant else "not shown to be real"
            lines.append(f"Against {runner.arm} (F1 {runner.f1:.3f}) its gain of {d.mean:+.3f} is {verdict} "
                         f"(95% interval {d.low:+.3f} to {d.high:+.3f} on {d.questions} questions).")
    cheaper = [a for a in arms if a is not pick and (v := break_even(pick, a, months=months)) is not None
               and v <= 1000 * volume]  # a break-even a thousand times the volume is no part of this decision
    if cheaper:
        other = min(cheaper, key=lambda a: break_even(pick, a, months=months))
        v = break_even(pick, other, months=months)
        side = "cheaper" if total_cost(other, v * 2, months=months) < total_cost(pick, v * 2, months=months) else "dearer"
        lines.append(f"{other.arm} becomes {side} than {pick.arm} above {volume_text(v)} questions a month.")
    return " ".join(lines)


CORRECT_F1 = 0.5  # an answer counts as right at token F1 >= 0.5 (cost per correct answer, accuracy)


def decide(arms: Sequence[ArmCost], scores: dict[str, dict[str, float]], volume: float, *, months: int = 12,
           baseline: str | None = None, seed: int = 0) -> dict:
    """The decision figures of ``kg eval --arms``: F1 differences (paired bootstrap on the questions every
    arm answered) of each arm against ``baseline`` and of every pair, the break-even volume of every
    pair, each arm's total and cost per correct answer at ``volume``, and the recommendation.
    ``scores`` maps arm -> question id -> F1.

    >>> a, b = ArmCost("rag", 1.0, 0.001, 0.5, 0.5), ArmCost("rag+ft", 5.0, 0.001, 0.5, 0.5)
    >>> d = decide([a, b], {"rag": {"q1": 0.5, "q2": 0.5}, "rag+ft": {"q1": 0.5, "q2": 0.5}}, 100)
    >>> d["recommendation"].split(":")[0], d["break_even"]
    ('At 100 questions a month over 12 months, pick rag', [])
    """
    names = [a.arm for a in arms]
    common = sorted(set.intersection(*(set(scores.get(n, {})) for n in names))) if names else []
    pairs: dict[tuple[str, str], Difference] = {}
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            pairs[(x, y)] = paired_bootstrap([scores[x][q] for q in common], [scores[y][q] for q in common], seed=seed)
    base = baseline if baseline in names else (names[0] if names else None)

    def row(x: str, y: str) -> dict:  # y's F1 minus x's
        d = pairs.get((x, y))
        if d is None:
            r = pairs[(y, x)]
            d = r.reversed()
        return {"a": x, "b": y, "mean": d.mean, "low": d.low, "high": d.high, "b_ahead": d.b_ahead,
                "questions": d.questions, "significant": d.significant}

    return {
        "volume": volume, "months": months, "baseline": base, "questions": len(common), "correct_f1": CORRECT_F1,
        "arms": [{"arm": a.arm, "f1": a.f1, "accuracy": a.accuracy, "one_off_usd": a.one_off_usd,
                  "per_question_usd": a.per_question_usd, "total_usd": total_cost(a, volume, months=months),
                  "cost_per_correct_usd": cost_per_correct(a, volume, months=months)} for a in arms],
        "against_baseline": [row(base, n) for n in names if n != base] if base else [],
        "pairs": [row(x, y) for (x, y) in pairs],
        "break_even": [{"a": x.arm, "b": y.arm, "volume": v} for i, x in enumerate(arms) for y in arms[i + 1:]
                       if (v := break_even(x, y, months=months)) is not None],
        "recommendation": recommend(arms, pairs, volume, months=months),
    }


def label_value(points: Sequence[tuple[float, float]], usd_per_label: float) -> dict:
    """What labels bought one arm, from its learning curve ``points`` ((labels, F1), any order): F1
    points (0-100) gained per labelled question between the fewest and the most labels, and the
    labelling dollars per F1 point gained (None when labels gained nothing).

    >>> label_value([(0, 0.30), (80, 0.38), (40, 0.36)], usd_per_label=1.5)
    {'from_labels': 0, 'from_f1': 0.3, 'to_labels': 80, 'to_f1': 0.38, 'points_per_label': 0.1, 'usd_per_point': 15.0}
    """
    ordered = sorted(points)
    (n0, f0), (n1, f1) = ordered[0], ordered[-1]
    gain = 100 * (f1 - f0)
    per_label = gain / (n1 - n0) if n1 > n0 else 0.0
    return {"from_labels": n0, "from_f1": f0, "to_labels": n1, "to_f1": f1, "points_per_label": round(per_label, 6),
            "usd_per_point": round((n1 - n0) * usd_per_label / gain, 6) if gain > 0 else None}
