"""Ranking helpers: score normalisation, near-duplicate removal, diversity across documents.

All are plain functions over numpy arrays aligned with one list of items (e.g. every passage).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def top_standardize(scores: np.ndarray, depth: int = 100) -> np.ndarray:
    """Z-scores using the mean and spread of the ``depth`` best scores only, so that how a query
    scores against the long tail of unrelated items does not decide the scale.

    >>> top_standardize(np.array([0.0, 1.0, 2.0, 3.0]), depth=2).round(3).tolist()
    [-5.0, -3.0, -1.0, 1.0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    return standardize(scores, top_scale(scores, depth)) if scores.size else scores


def top_scale(values: np.ndarray, depth: int = 100, total: int | None = None, fill: float = 0.0) -> tuple[float, float]:
    """``(mean, spread)`` of the ``depth`` best of ``total`` scores, of which ``values`` are the
    ones known and the other ``total - len(values)`` all equal ``fill`` (no higher than any known
    one): the scale ``top_standardize`` uses, read from the head of a ranking instead of a pass over
    every item. ``total`` defaults to ``len(values)``.

    >>> top_scale(np.array([3.0, 1.0]), depth=4, total=10)
    (1.0, 1.224744871391589)
    >>> standardize(np.array([3.0]), top_scale(np.array([0.0, 1.0, 2.0, 3.0]), depth=2)).tolist()
    [1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    total = len(values) if total is None else total
    depth = min(depth, total)
    if depth <= 0:
        return 0.0, 0.0
    head = np.partition(values, len(values) - depth)[len(values) - depth:] if len(values) > depth else values
    if len(head) < depth:
        head = np.concatenate([head, np.full(depth - len(head), fill)])
    return float(head.mean()), float(head.std())


def standardize(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """``(values - mean) / spread`` for a ``top_scale`` result (only the shift when the spread is 0)."""
    mean, std = scale
    return (values - mean) / std if std > 0 else values - mean


def pool_standardize(values: np.ndarray) -> np.ndarray:
    """Z-scores over the values themselves (all 0 when they are all equal).

    >>> pool_standardize(np.array([1.0, 3.0])).tolist(), pool_standardize(np.array([2.0, 2.0])).tolist()
    ([-1.0, 1.0], [0.0, 0.0])
    """
    values = np.asarray(values, dtype=np.float64)
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros(len(values))


def on_scale(base: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``new`` scores standardised and put on ``base``'s scale (its mean and spread), so later stages
    that add penalties in the base scores' units (hybrid's same-title penalty) still mean the same.

    >>> on_scale(np.array([1.0, 3.0]), np.array([10.0, 0.0])).tolist()
    [3.0, 1.0]
    """
    return base.mean() + (base.std() or 1.0) * pool_standardize(new)


def dedup_near_duplicates(order: Sequence[int], vectors: np.ndarray, texts: Sequence[str],
                          threshold: float = 0.98) -> list[int]:
    """Drop items (in ranked ``order``) whose text equals, or whose vector has cosine >= threshold
    with, an item kept before them.

    >>> v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> dedup_near_duplicates([0, 1, 2], v, ["a", "b", "c"])
    [0, 2]
    """
    kept: list[int] = []
    seen_text: set[str] = set()
    for i in order:
        key = " ".join(texts[i].split()).casefold()
        if key in seen_text:
            continue
        if kept and len(vectors) and float(np.max(vectors[kept] @ vectors[i])) >= threshold:
            continue
        kept.append(i)
        seen_text.add(key)
    return kept


def diversify(order: Sequence[int], scores: np.ndarray, keys: Sequence[str], penalty: float, k: int) -> list[int]:
    """Greedy re-ranking of ``order``: each item loses ``penalty`` per item already chosen with the
    same key (e.g. passages about the same title), so one topic does not fill the whole list.

    >>> diversify([0, 1, 2], np.array([3.0, 2.9, 2.0]), ["a", "a", "b"], penalty=1.0, k=2)
    [0, 2]
    """
    left = list(order)
    chosen: list[int] = []
    seen: dict[str, int] = {}
    while left and len(chosen) < k:
        best = max(left, key=lambda i: (scores[i] - penalty * seen.get(keys[i], 0), -left.index(i)))
        chosen.append(best)
        left.remove(best)
        seen[keys[best]] = seen.get(keys[best], 0) + 1
    return chosen
