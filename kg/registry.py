"""Pluggable backends chosen by name, imported lazily.

``import kg`` must not load torch or spaCy, so the registry maps names to ``"module:attribute"``
strings and imports only on first use. Third parties add backends through the entry-point group
``kgreason.<kind>`` (e.g. ``kgreason.extractor``), like rdflib's plugin module.

>>> register("embedder", "demo", "kg.embedding:HashingEmbedder")
>>> get("embedder", "demo").__name__
'HashingEmbedder'
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigError

_REGISTRY: dict[str, dict[str, str]] = {
    "extractor": {"spacy": "extract.spacy_extractor:SpacyExtractor"},
    "embedder": {
        "onnx-minilm": "kg.onnx_embedding:OnnxMiniLMEmbedder",
        "onnx-minilm-float": "kg.onnx_embedding:OnnxMiniLMFloatEmbedder",
        "sentence-transformers": "kg.embedding:SentenceTransformerEmbedder",
        "hashing": "kg.embedding:HashingEmbedder",
    },
    "generator": {
        "extractive": "reason.generate:ExtractiveGenerator",
        "transformers": "reason.generate:TransformersGenerator",
        "openai": "reason.generate:OpenAIGenerator",
    },
}


def register(kind: str, name: str, target: str) -> None:
    """Register ``target`` (``"module:attribute"``) as backend ``name`` of ``kind``."""
    if ":" not in target:
        raise ConfigError(f"backend target {target!r} must look like 'module:attribute'")
    _REGISTRY.setdefault(kind, {})[name] = target


def names(kind: str) -> list[str]:
    """All backend names known for ``kind``, including entry-point plugins."""
    found = set(_REGISTRY.get(kind, {}))
    found.update(ep.name for ep in entry_points(group=f"kgreason.{kind}"))
    return sorted(found)


def get(kind: str, name: str) -> Any:
    """The class (or factory) registered as ``name`` for ``kind``."""
    target = _REGISTRY.get(kind, {}).get(name)
    if target is None:
        for ep in entry_points(group=f"kgreason.{kind}"):
            if ep.name == name:
                return ep.load()
        raise ConfigError(f"unknown {kind} {name!r}; expected one of: {', '.join(names(kind)) or 'none'}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(kind: str, name: str, **settings: Any) -> Any:
    """Instantiate backend ``name`` of ``kind`` with ``settings``."""
    return get(kind, name)(**settings)
