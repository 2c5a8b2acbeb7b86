"""An evidence gate: whether a retrieval holds enough to answer its question, learnt from a graph's feedback.

A reader asked a question its documents cannot answer still reads the best passages retrieval found, and
a language model nearly always answers from them: on the bench sets, with the gold documents removed, the
packaged 1.5B abstained on 0% (MuSiQue) and 17% (2Wiki) of questions. How the retrieval went tells more
than the reader does: when the documents that answer are absent, the best passage scores lower against
the rest, fewer of the question's words and names are stated by the best passages, no passage is about an
entity the question names, and the graph walk finds no chain.

``EvidenceGate`` weighs those signals of a ``Retrieval`` (``FEATURES``) with a logistic model and answers
"Not found" below a threshold. ``kg tune`` fits it on people's questions that have the passages that answer
them: each such question retrieved as it is (answerable, when all its passages were retrieved) and again
with its documents excluded (unanswerable: the documents no longer hold the answer). The threshold is
placed so that at least ``answer`` of the answerable training questions still pass, and, within that,
``abstain`` of the unanswerable ones are stopped. The features describe the retrieval, never its words,
so the gate carries to questions never seen; the scores are those of the retrieval mode it was fitted
on, and other modes pass ungated.

>>> import numpy as np
>>> gate = EvidenceGate(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
...                     np.eye(len(FEATURES))[0], 0.0, 2.0, "hybrid")
>>> gate.score_row(np.eye(len(FEATURES))[0] * 3), gate.threshold
(3.0, 2.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kg.errors import StoreError
from kg.files import load_model_file, save_model_file
from kg.model import Retrieval
from kg.text import content_words, name_key

GATE_FILE = "gate.json"
FORMAT_NAME = "kgreason-evidence-gate"
FORMAT_VERSION = 1
TOP = 5  # "the best passages"

FEATURES = (
    "top_score",      # the best passage's score
    "score_gap",      # the best passage's score above the fifth's
    "stated_top5",    # share of the question's content words the best 5 passages state (titles included)
    "stated_top2",    # the same for the best 2
    "titled_top5",    # one of the best 5 passages has a title written in the question
    "titled_top1",    # the best passage has
    "about_linked",   # share of the question's linked entities that one of the best 5 passages is about
    "linked_stated",  # share of the question's linked entities the best 5 passages name
    "linked",         # how many question entities were linked
    "chain",          # hops of the reasoning chain found
)


def evidence_features(retrieval: Retrieval) -> np.ndarray:
    """The ``FEATURES`` row of ``retrieval``.

    >>> from kg.model import Evidence, LinkedEntity
    >>> ev = (Evidence("p1", "d1", "Ada Lovelace", "Ada Lovelace wrote the Notes.", 4.0, "hybrid"),
    ...       Evidence("p2", "d2", "Notes", "The Notes were published in 1843.", 1.0, "hybrid"))
    >>> r = Retrieval("Who wrote the Notes that Ada Lovelace published?", "hybrid", ev,
    ...               linked=(LinkedEntity("Ada Lovelace", "e1", "Ada Lovelace", "PERSON", 1.0, "exact"),))
    >>> dict(zip(FEATURES, evidence_features(r).tolist()))["about_linked"], evidence_features(r)[:2].tolist()
    (1.0, [4.0, 3.0])
    """
    ev = retrieval.evidence[:TOP]
    scores = [e.score for e in ev]
    wanted = set(content_words(retrieval.question))

    def stated(evidence) -> float:
        said = set(content_words(" ".join(f"{e.title} {e.text}" for e in evidence)))
        return len(wanted & said) / len(wanted) if wanted else 0.0

    question = f" {name_key(retrieval.question)} "
    titled = [bool(name_key(e.title)) and f" {name_key(e.title)} " in question for e in ev]
    names = [name_key(l.name) for l in retrieval.linked if name_key(l.name)]
    titles = {name_key(e.title) for e in ev}
    text = f" {' '.join(name_key(f'{e.title} {e.text}') for e in ev)} "
    return np.array([
        scores[0] if scores else 0.0,
        scores[0] - scores[-1] if scores else 0.0,
        stated(ev),
        stated(ev[:2]),
        float(any(titled)),
        float(titled[0]) if titled else 0.0,
        sum(n in titles for n in names) / len(names) if names else 0.0,
        sum(f" {n} " in text for n in names) / len(names) if names else 0.0,
        float(len(retrieval.linked)),
        float(len(retrieval.chain)),
    ])


@dataclass(frozen=True)
class EvidenceGate:
    """The log-odds ``weights . (features - mean) / scale + bias`` that a retrieval can be answered;
    retrievals in ``mode`` scoring at or below ``threshold`` are answered "Not found"."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    mode: str
    name: str = "gate"

    def score_row(self, row: np.ndarray) -> float:
        return float(((np.asarray(row, dtype=np.float64) - self.mean) / self.scale) @ self.weights + self.bias)

    def score(self, retrieval: Retrieval) -> float:
        return self.score_row(evidence_features(retrieval))

    def applies(self, retrieval: Retrieval) -> bool:
        """Whether this gate judges ``retrieval``: one of the mode it was fitted on, with evidence."""
        return retrieval.mode == self.mode and bool(retrieval.evidence)

    def sufficient(self, retrieval: Retrieval) -> bool:
        """False when the gate judges ``retrieval`` and its score is at or below the threshold."""
        return not self.applies(retrieval) or self.score(retrieval) > self.threshold

    def to_dict(self) -> dict:
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "features": list(self.features),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias, "threshold": self.threshold, "mode": self.mode}

    def save(self, folder: str | Path) -> Path:
        """Write ``gate.json`` into ``folder`` (atomically: a temporary file renamed)."""
        return save_model_file(Path(folder) / GATE_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path) -> "EvidenceGate":
        path = Path(folder) / GATE_FILE
        data = load_model_file(path, "evidence gate", FORMAT_NAME, FORMAT_VERSION, FEATURES)
        try:
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            bias, threshold, mode = float(data["bias"]), float(data["threshold"]), str(data["mode"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{path}: expected numbers in mean, scale, weights, bias and threshold, and a "
                             f"mode ({exc})") from None
        if any(a.shape != (len(FEATURES),) for a in arrays):
            raise StoreError(f"{path}: expected {len(FEATURES)} values in mean, scale and weights")
        return cls(FEATURES, *arrays, bias, threshold, mode, name=f"gate:{Path(folder).name}")


def fit_gate(answerable: Sequence[np.ndarray], unanswerable: Sequence[np.ndarray], mode: str = "hybrid",
             answer: float = 0.9, abstain: float = 0.9, l2: float = 1.0) -> EvidenceGate:
    """A logistic gate separating ``answerable`` feature rows from ``unanswerable`` ones (L2-regularised
    by ``l2``, deterministic), with its threshold where at least ``answer`` of the answerable rows pass
    and, within that, as close to ``abstain`` of the unanswerable rows as it can be stopped.

    >>> rows = [np.eye(len(FEATURES))[0] * v for v in (5, 6, 7, 8)]
    >>> gate = fit_gate(rows[2:], rows[:2], answer=1.0)
    >>> [gate.score_row(r) > gate.threshold for r in rows]
    [False, False, True, True]
    """
    from scipy.optimize import minimize

    if not len(answerable) or not len(unanswerable):
        raise ValueError("fit_gate: needs answerable and unanswerable retrievals")
    x = np.vstack([np.asarray(answerable, dtype=np.float64), np.asarray(unanswerable, dtype=np.float64)])
    y = np.r_[np.ones(len(answerable)), np.zeros(len(unanswerable))]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / len(answerable), 0.5 / len(unanswerable))  # both classes count alike

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        s = z @ w + b
        p = 1.0 / (1.0 + np.exp(-s))
        total = float(weight @ (np.logaddexp(0.0, s) - y * s)) + l2 * float(w @ w) / len(y)
        g = weight * (p - y)
        return total, np.r_[z.T @ g + 2 * l2 * w / len(y), g.sum()]

    params = minimize(loss, np.zeros(len(FEATURES) + 1), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000}).x
    w, b = params[:-1], float(params[-1])
    scores_yes, scores_no = np.sort(z[y == 1] @ w + b), np.sort(z[y == 0] @ w + b)
    # just below the answerable score that leaves ceil(answer * n) of them passing (score > threshold) ...
    keep = float(scores_yes[len(scores_yes) - _at_least(answer, len(scores_yes))]) - 1e-9
    # ... unless ceil(abstain * n) unanswerable ones are stopped (score <= threshold) lower than that
    stop = float(scores_no[_at_least(abstain, len(scores_no)) - 1])
    return EvidenceGate(FEATURES, mean, scale, w, b, min(keep, stop), mode)


def _at_least(share: float, n: int) -> int:
    """How many of ``n`` make at least ``share`` of them (one at least, ``n`` at most)."""
    return min(n, max(1, math.ceil(share * n - 1e-9)))
