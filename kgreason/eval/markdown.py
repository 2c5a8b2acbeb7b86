"""Markdown pieces of the evaluation reports: numbers as the tables show them, and the tables.

>>> pct(0.4567), usd(0.00012), num(1234.5, 0)
('45.7', '$0.00012', '1,234')
>>> table(["mode", "F1"], [["hybrid", "45.7"]])
['| mode | F1 |', '|---|---:|', '| hybrid | 45.7 |', '']
"""
from __future__ import annotations

import math
from typing import Sequence


def pct(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.1f}"


def sec(v: float | None) -> str:
    if v is None or math.isnan(v):
        return "–"
    return f"{1000 * v:.1f} ms" if v < 1 else f"{v:.2f} s"


def usd(v: float | None) -> str:
    """Dollars with enough digits for the tiny per-question costs of CPU-only modes."""
    if v is None or math.isnan(v):
        return "–"
    return "$0" if v == 0 else f"${v:.3g}" if abs(v) < 1 else f"${v:,.2f}"


def num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows] + [""]
