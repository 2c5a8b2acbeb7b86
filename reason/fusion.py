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
    if scores.size == 0:
        return scores
    depth = min(depth, scores.size)
    head = np.partition(scores, scores.size - depth)[scores.size - depth :]
    std = head.std()
    return (scores - head.mean()) / std if std > 0 else scores - head.mean()


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
