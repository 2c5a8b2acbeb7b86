"""Model versions of a graph: ``<graph>/models/<N>/`` each with ``manifest.json``, and the active one
named in ``<graph>/models/ACTIVE`` (absent or "0": the packaged base models).

A version directory is written under a temporary name and renamed into place when complete, so an
interrupted ``kg tune`` never leaves a half version, and the active one is switched with an atomic
rename of its pointer file: Ctrl-C never changes what is active.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> active_version(d), [v["version"] for v in list_versions(d)]
(0, [])
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import ConfigError, StoreError

MODELS_DIR = "models"
ACTIVE_FILE = "ACTIVE"
MANIFEST = "manifest.json"
FORMAT_NAME = "kgreason-model-version"
FORMAT_VERSION = 1


def models_dir(graph_dir: str | Path) -> Path:
    return Path(graph_dir) / MODELS_DIR


def list_versions(graph_dir: str | Path) -> list[dict[str, Any]]:
    """The manifests of every finished version, oldest first."""
    folder = models_dir(graph_dir)
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] if folder.is_dir() else []
    return [read_manifest(p) for p in sorted(found, key=lambda p: int(p.name))]


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{folder / MANIFEST}: unreadable model manifest ({exc})") from None
    if data.get("format") != FORMAT_NAME or data.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{folder / MANIFEST}: format {data.get('format')!r} version {data.get('format_version')!r}, "
                         f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}")
    return data


def active_version(graph_dir: str | Path) -> int:
    """The active version number; 0 means the base models."""
    path = models_dir(graph_dir) / ACTIVE_FILE
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else "0"
    if not text.isdigit():
        raise StoreError(f"{path}: expected a version number, got {text!r}")
    return int(text)


def version_dir(graph_dir: str | Path, number: int) -> Path:
    folder = models_dir(graph_dir) / str(number)
    if number and not (folder / MANIFEST).is_file():
        known = ", ".join(str(v["version"]) for v in list_versions(graph_dir)) or "none"
        raise ConfigError(f"model version {number}: no such version in {models_dir(graph_dir)}; expected one of: {known}")
    return folder


def activate(graph_dir: str | Path, number: int) -> None:
    """Make version ``number`` (0: the base models) the one ``kgreason.open`` uses."""
    version_dir(graph_dir, number)  # checks it exists
    folder = models_dir(graph_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".active.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{number}\n")
    os.replace(tmp, folder / ACTIVE_FILE)


def rollback(graph_dir: str | Path) -> int:
    """Activate the version the active one was trained from; returns its number."""
    current = active_version(graph_dir)
    if current == 0:
        raise ConfigError("kg tune --rollback: the base models are active; there is nothing to roll back")
    previous = int(read_manifest(version_dir(graph_dir, current)).get("parent", 0))
    activate(graph_dir, previous)
    return previous


def next_number(graph_dir: str | Path) -> int:
    return max((v["version"] for v in list_versions(graph_dir)), default=0) + 1


def staging_dir(graph_dir: str | Path) -> Path:
    """A fresh temporary folder inside ``models/`` for a version being written."""
    folder = models_dir(graph_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".staging-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))


def commit(graph_dir: str | Path, staging: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest and move the staged version into place as its number."""
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **manifest}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    target = models_dir(graph_dir) / str(manifest["version"])
    os.replace(staging, target)
    return target


def open_embedder(folder: Path):
    """The int8 ONNX embedder of a version folder (its ``onnx/model.onnx``, quantised once on first use)."""
    from kg.onnx_embedding import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(model=str(folder / "onnx" / "model.onnx"))


def save_vectors(folder: Path, tables: dict) -> None:
    """The graph's vector tables as embedded by this version: ``vectors.npz``."""
    import numpy as np

    arrays = {}
    for name, table in tables.items():
        arrays[f"{name}.vectors"] = table.vectors
        arrays[f"{name}.ids"] = np.asarray(table.ids, dtype=str)
        arrays[f"{name}.model"] = np.asarray(table.model)
    tmp = folder / ".vectors.npz.tmp"
    with open(tmp, "wb") as f:  # then renamed: an interrupted save leaves the previous vectors whole
        np.savez(f, **arrays)
    os.replace(tmp, folder / "vectors.npz")


@dataclass(frozen=True)
class TunedReader:
    """A version's reader: the llama.cpp ``model`` setting it was trained on and its LoRA ``adapter`` GGUF."""

    model: str
    adapter: Path


@dataclass(frozen=True)
class ActiveModels:
    """The models of the active version (its ``number``): its embedder and the graph's vectors as that
    embedder made them (both None when no version up its line kept a tuned embedder: the build's own
    are used), its reranker, learned ranker, reader and evidence gate (None when the version has none)."""

    number: int
    embedder: Any
    tables: dict[str, Any] | None
    reranker: Any = None
    reader: TunedReader | None = None
    ranker: Any = None
    gate: Any = None


def load_active(graph_dir: str | Path) -> ActiveModels | None:
    """The active version's models, or None when the base models are active. The tables are
    re-labelled with the embedder's name as it is computed here, so a graph directory that was moved
    keeps using them."""
    number = active_version(graph_dir)
    if not number:
        return None
    import numpy as np

    from kg.graph import VectorTable

    folder = version_dir(graph_dir, number)
    embedder = tables = None
    if has_embedder(folder):
        embedder = open_embedder(folder)
        with np.load(folder / "vectors.npz", allow_pickle=False) as data:
            names = {key.split(".")[0] for key in data.files}
            tables = {n: VectorTable(tuple(str(i) for i in data[f"{n}.ids"].tolist()), data[f"{n}.vectors"], embedder.name)
                      for n in names}
    return ActiveModels(number, embedder, tables, open_reranker(folder), open_reader(folder), open_ranker(folder),
                        open_gate(folder))


def has_embedder(folder: Path) -> bool:
    """Whether a version folder holds a tuned embedder (a version whose embedder did not measure better
    keeps the build's, and holds none)."""
    return (folder / "onnx" / "model.onnx").is_file()


def open_ranker(folder: Path):
    """The learned ranker of a version folder (``ranker.json``), or None when it has none."""
    from reason.learned_rank import RANKER_FILE, load_ranker

    return load_ranker(folder) if (folder / RANKER_FILE).is_file() else None


def open_gate(folder: Path):
    """The evidence gate of a version folder (``gate.json``), or None when it has none."""
    from reason.sufficiency import GATE_FILE, EvidenceGate

    return EvidenceGate.load(folder) if (folder / GATE_FILE).is_file() else None


def open_reader(folder: Path) -> TunedReader | None:
    """The tuned reader of a version folder (manifest ``reader``), or None when it has none."""
    reader = read_manifest(folder).get("reader") if (folder / "reader").is_dir() else None
    if not reader:
        return None
    return TunedReader(str(reader["model"]), folder / "reader" / str(reader["adapter"]))


def open_closed_book(folder: Path) -> TunedReader | None:
    """The closed-book reader of a version folder (manifest ``closed_book``; ``kg tune --closed-book-steps``),
    or None when it has none."""
    meta = read_manifest(folder).get("closed_book") if (folder / "closed_book").is_dir() else None
    if not meta:
        return None
    return TunedReader(str(meta["model"]), folder / "closed_book" / str(meta["adapter"]))


def open_reranker(folder: Path):
    """The cross-encoder of a version folder (its ``reranker/``), or None when it has none."""
    if not (folder / "reranker").is_dir():
        return None
    from reason.rerank import CrossEncoderReranker

    return CrossEncoderReranker(folder / "reranker")
