"""A learned ranker: hybrid's own signals, and what links a passage to the question's names, weighed
by a linear model trained on a graph's feedback (``kg tune``).

Hybrid adds its signals with fixed weights (``retrieve.hybrid``), chosen once on one bench set. A team's
documents and questions reward them differently: on one corpus the page whose title the question names
matters most, on another the second hop a well-scored passage links to. ``kg tune`` learns, from the
questions people marked with the passages that answer them, how much each signal is worth *here*, and
hybrid then orders its best candidates by that score. The features
describe a candidate relative to the question and to the other candidates, never its words, so a few
hundred questions are enough to fit them and the weights carry to questions never seen.

Each candidate of a question's pool (hybrid's best passages, near-duplicates removed) gets the
``FEATURES`` below; a ``LinearRanker`` scores them as ``weights . standardised features``. Training
(``fit``) minimises a listwise softmax loss over each question's pool (the passages that answer it
against the rest), with an L2 pull toward the hybrid order it starts from, so a few questions move it
a little and many move it more. A ``BoostedRanker`` (``fit_boosted``) sums shallow trees fitted to each
candidate's relevance instead, so that features can count in combination or only within a range; both
are saved as ``ranker.json`` and ``load_ranker`` reads either.

>>> import numpy as np
>>> ranker = LinearRanker(("a", "b"), np.zeros(2), np.ones(2), np.array([0.0, 1.0]))
>>> ranker.score(np.array([[5.0, 1.0], [0.0, 2.0]])).tolist()
[1.0, 2.0]
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kg.errors import StoreError
from kg.files import load_model_file, save_model_file
from kg.text import name_key

from .fusion import pool_standardize

# The candidate features, in the order of a feature row (``candidate_features``).
FEATURES = (
    "hybrid",          # hybrid's score, standardised over the pool
    "first_hop",       # the first-hop part (dense + BM25 of the question and its sub-queries), standardised over the pool
    "bridge",          # the bridge part: best first-hop gain of a passage it links with
    "pagerank",        # the PageRank part (log mass, standardised over the graph's best passages)
    "dense",           # cosine of the question and the passage
    "bm25",            # BM25 of the question, standardised over its best passages
    "subquery",        # best sub-query score (comparison questions; 0 otherwise)
    "reciprocal_rank",  # 1 / hybrid rank in the pool
    "title_words",     # share of the passage title's words that the question contains
    "title_named",     # the passage's title is written in the question
    "about_linked",    # the passage is about an entity the question names (best link score)
    "mentions_linked",  # share of the question's linked entities the passage mentions
    "linked_from_top",  # one of hybrid's 3 best passages links to this one (the second hop)
    "links_to_top",    # this passage links to one of hybrid's 3 best
    "comparison_title",  # title_words on a comparison question (0 on others)
    "comparison_hybrid",  # hybrid on a comparison question (0 on others)
)
FORMAT_NAME = "kgreason-learned-ranker"
FORMAT_VERSION = 1
RANKER_FILE = "ranker.json"
TOP = 3  # "hybrid's best passages" for the link features


@dataclass(frozen=True)
class LinearRanker:
    """Scores feature rows: ``weights . (features - mean) / scale``. ``features`` names the columns;
    a saved ranker whose names differ from ``FEATURES`` is refused on loading."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    name: str = "learned"

    def score(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        return ((rows - self.mean) / self.scale) @ self.weights if len(rows) else np.zeros(0)

    def to_dict(self) -> dict:
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "features": list(self.features),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist()}

    def save(self, folder: str | Path) -> Path:
        """Write ``ranker.json`` into ``folder`` (atomically: a temporary file renamed)."""
        return save_model_file(Path(folder) / RANKER_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path) -> "LinearRanker":
        path = Path(folder) / RANKER_FILE
        data = load_model_file(path, "learned ranker", FORMAT_NAME, FORMAT_VERSION, FEATURES)
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
        if any(a.shape != (len(FEATURES),) for a in arrays):
            raise StoreError(f"{path}: expected {len(FEATURES)} values in mean, scale and weights")
        return cls(FEATURES, *arrays, name=f"learned:{Path(folder).name}")


@dataclass(frozen=True)
class Pool:
    """One training question's candidates: their feature rows and which of them answer it."""

    features: np.ndarray  # candidates x FEATURES
    relevant: np.ndarray  # bool per candidate


def fit(pools: Sequence[Pool], l2: float = 1.0) -> LinearRanker:
    """Weights minimising the mean listwise softmax loss over ``pools`` (the relevant candidates share
    the target) plus ``l2`` / the number of pools times the squared distance from hybrid's own order
    (weight 1 on the standardised hybrid score), the starting point. Pools with no relevant candidate,
    or nothing but relevant ones, teach nothing and are skipped. Deterministic. (``kg tune`` fits it
    anew on all people's questions each run: the questions accumulate, the loop continues.)

    >>> x = np.eye(len(FEATURES))[[FEATURES.index("hybrid"), FEATURES.index("title_named")]]
    >>> ranker = fit([Pool(x, np.array([False, True]))] * 5)      # the named page answered, not hybrid's first
    >>> bool(ranker.score(x)[1] > ranker.score(x)[0])
    True
    """
    from scipy.optimize import minimize

    used = [p for p in pools if p.relevant.any() and not p.relevant.all()]
    if not used:
        raise ValueError("fit: no question has both a relevant and an irrelevant candidate")
    stacked = np.vstack([p.features for p in used])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    prior = np.zeros(len(FEATURES))
    prior[FEATURES.index("hybrid")] = scale[FEATURES.index("hybrid")]  # the hybrid order, in standardised units
    xs = [(p.features - mean) / scale for p in used]
    targets = [p.relevant / p.relevant.sum() for p in used]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, t in zip(xs, targets):
            s = x @ w
            s = s - s.max()
            p = np.exp(s)
            p /= p.sum()
            total -= float(t @ np.log(p + 1e-300))
            grad += x.T @ (p - t)
        n = len(xs)
        d = w - prior
        return total / n + l2 * float(d @ d) / n, grad / n + 2 * l2 * d / n

    result = minimize(loss, prior.copy(), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return LinearRanker(FEATURES, mean, scale, result.x)


BOOSTED_FORMAT = "kgreason-boosted-ranker"
BOOSTED_VERSION = 1


@dataclass(frozen=True)
class BoostedRanker:
    """Scores feature rows as ``base`` plus the leaf each tree sends a row to: shallow trees, each split
    a ``feature <= threshold`` test, so signals can count in combination (a title named in the question
    matters more when hybrid also ranks the passage high). ``trees`` holds per tree the arrays
    ``feature`` (-1 at a leaf), ``threshold``, ``left``, ``right`` and ``value``, node 0 the root."""

    features: tuple[str, ...]
    base: float
    trees: tuple[dict[str, np.ndarray], ...]
    name: str = "boosted"

    def __post_init__(self):
        # every tree's nodes side by side (trees x nodes, leaves pointing at themselves), so that scoring
        # walks all trees at once, one level a step
        width = max((len(t["feature"]) for t in self.trees), default=1)
        stacked = {k: np.zeros((len(self.trees), width), dtype=np.int64 if k in ("feature", "left", "right") else np.float64)
                   for k in _TREE_KEYS}
        for i, tree in enumerate(self.trees):
            n = len(tree["feature"])
            leaf = tree["feature"] < 0
            stacked["feature"][i, :n] = np.where(leaf, 0, tree["feature"])
            stacked["threshold"][i, :n] = np.where(leaf, np.inf, tree["threshold"])  # a leaf "goes left" to itself
            stacked["left"][i, :n] = np.where(leaf, np.arange(n), tree["left"])
            stacked["right"][i, :n] = np.where(leaf, np.arange(n), tree["right"])
            stacked["value"][i, :n] = tree["value"]
        depth = 0
        for tree in self.trees:
            levels = np.zeros(len(tree["feature"]), dtype=np.int64)
            for node in range(len(tree["feature"])):  # children come after their node
                if tree["feature"][node] >= 0:
                    levels[tree["left"][node]] = levels[tree["right"][node]] = levels[node] + 1
            depth = max(depth, int(levels.max(initial=0)))
        object.__setattr__(self, "_stacked", (stacked, depth))

    def score(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if not len(rows) or not self.trees:
            return np.full(len(rows), self.base)
        stacked, depth = self._stacked
        trees = np.arange(len(self.trees))[None, :]
        node = np.zeros((len(rows), len(self.trees)), dtype=np.int64)
        for _ in range(depth):
            feature = stacked["feature"][trees, node]
            go_left = np.take_along_axis(rows, feature, axis=1) <= stacked["threshold"][trees, node]
            node = np.where(go_left, stacked["left"][trees, node], stacked["right"][trees, node])
        return self.base + stacked["value"][trees, node].sum(axis=1)

    def to_dict(self) -> dict:
        return {"format": BOOSTED_FORMAT, "format_version": BOOSTED_VERSION, "features": list(self.features),
                "base": self.base, "trees": [{k: v.tolist() for k, v in t.items()} for t in self.trees]}

    def save(self, folder: str | Path) -> Path:
        """Write ``ranker.json`` into ``folder`` (atomically: a temporary file renamed)."""
        return save_model_file(Path(folder) / RANKER_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path) -> "BoostedRanker":
        path = Path(folder) / RANKER_FILE
        data = load_model_file(path, "learned ranker", BOOSTED_FORMAT, BOOSTED_VERSION, FEATURES)
        trees = []
        try:
            for t in data["trees"]:
                tree = {k: np.asarray(t[k], dtype=np.int64 if k in ("feature", "left", "right") else np.float64)
                        for k in _TREE_KEYS}
                n = len(tree["feature"])
                inner = tree["feature"] >= 0
                if (any(len(v) != n for v in tree.values()) or (tree["feature"] >= len(FEATURES)).any()
                        or (inner & ((tree["left"] <= np.arange(n)) | (tree["right"] <= np.arange(n))
                                     | (tree["right"] >= n) | (tree["left"] >= n))).any()):
                    raise ValueError
                trees.append(tree)
            base = float(data["base"])
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"{path}: expected 'base' and 'trees' of {', '.join(_TREE_KEYS)} (children after "
                             "their node, features among the ranker's)") from None
        return cls(FEATURES, base, tuple(trees), name=f"boosted:{Path(folder).name}")


_TREE_KEYS = ("feature", "threshold", "left", "right", "value")


def load_ranker(folder: str | Path) -> "LinearRanker | BoostedRanker":
    """The ranker saved in ``folder``'s ``ranker.json``, linear or boosted, as its ``format`` says."""
    path = Path(folder) / RANKER_FILE
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError):
        kind = None
    return BoostedRanker.load(folder) if kind == BOOSTED_FORMAT else LinearRanker.load(folder)


def fit_boosted(pools: Sequence[Pool], rounds: int = 100, rate: float = 0.05, depth: int = 2,
                min_leaf: int = 20, l2: float = 1.0, bins: int = 64) -> BoostedRanker:
    """Gradient-boosted trees on the candidates of ``pools``, each labelled relevant or not (logistic
    loss; ``rounds`` trees of ``depth`` levels, each leaf holding ``min_leaf`` candidates or more, its
    value a Newton step shrunk by ``rate``; splits at up to ``bins`` quantiles of each feature).
    Pools with no relevant candidate, or nothing but relevant ones, teach nothing and are skipped.
    Deterministic.

    >>> x = np.eye(len(FEATURES))[[FEATURES.index("hybrid"), FEATURES.index("title_named")]]
    >>> ranker = fit_boosted([Pool(x, np.array([False, True]))] * 20, min_leaf=5)
    >>> bool(ranker.score(x)[1] > ranker.score(x)[0])
    True
    """
    used = [p for p in pools if p.relevant.any() and not p.relevant.all()]
    if not used:
        raise ValueError("fit: no question has both a relevant and an irrelevant candidate")
    x = np.vstack([p.features for p in used]).astype(np.float64)
    y = np.concatenate([p.relevant for p in used]).astype(np.float64)
    cuts = [np.unique(np.quantile(x[:, j], np.linspace(0, 1, bins + 1)[1:-1])) for j in range(x.shape[1])]
    binned = np.column_stack([np.searchsorted(cuts[j], x[:, j], side="left") for j in range(x.shape[1])])
    rate_ = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    base = float(np.log(rate_ / (1 - rate_)))
    score = np.full(len(y), base)
    trees = []
    for _ in range(rounds):
        p = 1.0 / (1.0 + np.exp(-score))
        g, h = p - y, np.maximum(p * (1 - p), 1e-12)
        tree = _grow(binned, cuts, g, h, depth, min_leaf, l2, rate)
        trees.append(tree)
        score += BoostedRanker(FEATURES, 0.0, (tree,)).score(x)
    return BoostedRanker(FEATURES, base, tuple(trees))


def _grow(binned, cuts, g, h, depth, min_leaf, l2, rate) -> dict[str, np.ndarray]:
    """One tree, level by level: each node takes the split of best gain in the second-order
    approximation of the loss, if any leaves ``min_leaf`` rows on both sides and gains at all."""
    feature, threshold, left, right, value = [], [], [], [], []

    def node(rows: np.ndarray, level: int) -> int:
        at = len(feature)
        feature.append(-1), threshold.append(0.0), left.append(-1), right.append(-1)
        value.append(-rate * g[rows].sum() / (h[rows].sum() + l2))
        best = _split(binned[rows], g[rows], h[rows], min_leaf, l2) if level < depth else None
        if best is not None:
            j, b = best
            feature[at], threshold[at] = j, float(cuts[j][b])
            goes_left = binned[rows, j] <= b
            left[at] = node(rows[goes_left], level + 1)
            right[at] = node(rows[~goes_left], level + 1)
        return at

    node(np.arange(len(g)), 0)
    return {"feature": np.array(feature, dtype=np.int64), "threshold": np.array(threshold),
            "left": np.array(left, dtype=np.int64), "right": np.array(right, dtype=np.int64), "value": np.array(value)}


def _split(binned, g, h, min_leaf, l2) -> tuple[int, int] | None:
    """(feature, bin) of the best split of these rows (rows in bins <= bin go left), or None."""
    G, H, n = g.sum(), h.sum(), len(g)
    whole = G * G / (H + l2)
    best, best_gain = None, 1e-12
    for j in range(binned.shape[1]):
        nb = int(binned[:, j].max()) + 1
        if nb < 2:
            continue
        gl = np.cumsum(np.bincount(binned[:, j], g, nb))[:-1]
        hl = np.cumsum(np.bincount(binned[:, j], h, nb))[:-1]
        cl = np.cumsum(np.bincount(binned[:, j], None, nb))[:-1]
        ok = (cl >= min_leaf) & (n - cl >= min_leaf)
        if not ok.any():
            continue
        gain = np.where(ok, gl * gl / (hl + l2) + (G - gl) ** 2 / (H - hl + l2) - whole, -np.inf)
        b = int(np.argmax(gain))
        if gain[b] > best_gain:
            best, best_gain = (j, b), float(gain[b])
    return best


def word_overlap(title: str, question_words: set[str]) -> float:
    """Share of ``title``'s words (a name key) found among ``question_words``.

    >>> word_overlap("ada lovelace", {"who", "was", "ada", "lovelace"}), word_overlap("x y", set())
    (1.0, 0.0)
    """
    words = title.split()
    return sum(w in question_words for w in words) / len(words) if words else 0.0


def candidate_features(retriever, ranked, top: Sequence[int]) -> np.ndarray:
    """The ``FEATURES`` rows of passage rows ``top`` (hybrid's best, best first) of a hybrid ranking
    (``reason.retrieve.Ranked`` with its ``parts``) by ``retriever`` (its graph matrices and titles)."""
    parts, rows = ranked.parts, np.asarray(top, dtype=np.int64)
    out = np.zeros((len(rows), len(FEATURES)))
    if not len(rows) or parts is None:
        return out
    at = np.searchsorted(ranked.rows, rows)
    column = {name: i for i, name in enumerate(FEATURES)}
    hop = parts.hop
    question_words = set(name_key(parts.question).split())
    question_key = f" {name_key(parts.question)} "
    cos = hop.cosines[:, rows].T if hop.cosines is not None else retriever.passage_index.rows(rows) @ hop.qv.T
    question_score, sub = hop.parts_at(rows, cos)
    linked = {retriever.frozen.node_of[x.entity_id]: x.score for x in parts.linked}
    best = rows[:TOP]
    out[:, column["hybrid"]] = pool_standardize(ranked.values[at])
    out[:, column["first_hop"]] = pool_standardize(parts.first[at])
    out[:, column["bridge"]] = parts.bridge[at]
    out[:, column["pagerank"]] = parts.ppr[at]
    out[:, column["dense"]] = cos[:, 0]
    out[:, column["bm25"]] = question_score
    out[:, column["subquery"]] = sub
    out[:, column["reciprocal_rank"]] = 1.0 / np.arange(1, len(rows) + 1)
    out[:, column["linked_from_top"]] = np.asarray(retriever.links[best][:, rows].max(axis=0).todense()).ravel()
    out[:, column["links_to_top"]] = np.asarray(retriever.links[rows][:, best].max(axis=1).todense()).ravel()
    for i, r in enumerate(rows):
        title = retriever.titles[r] if retriever.titles[r] != retriever.passage_ids[r] else ""  # untitled
        out[i, column["title_words"]] = word_overlap(title, question_words)
        out[i, column["title_named"]] = float(bool(title) and f" {title} " in question_key)
        about = retriever.about.indices[retriever.about.indptr[r]:retriever.about.indptr[r + 1]]
        out[i, column["about_linked"]] = max((linked.get(int(e), 0.0) for e in about), default=0.0)
        if linked:
            mentions = retriever.mentions
            mentioned = mentions.indices[mentions.indptr[r]:mentions.indptr[r + 1]]
            out[i, column["mentions_linked"]] = sum(int(e) in linked for e in mentioned) / len(linked)
    if len(hop.qv) > 1:  # a comparison question (sub-queries, one per compared item)
        out[:, column["comparison_title"]] = out[:, column["title_words"]]
        out[:, column["comparison_hybrid"]] = out[:, column["hybrid"]]
    return out
