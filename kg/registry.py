"""Pluggable backends chosen by name, imported lazily.

Every backend, built-in or third-party, is an entry point in the group ``kgreason.<kind>``
(``kgreason.extractor``, ``kgreason.embedder``, ``kgreason.generator``): kgreason's own are
declared in its ``pyproject.toml`` exactly as a plugin declares its own, so this module names no
module of the project. Nothing is imported until a backend is asked for, so ``import kg`` loads
neither torch nor spaCy. ``register`` adds a backend at run time (tests, notebooks).

>>> register("embedder", "demo", "kg.embedding:HashingEmbedder")
>>> get("embedder", "demo").__name__
'HashingEmbedder'
>>> "onnx-minilm" in names("embedder")
True
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigError

_REGISTERED: dict[str, dict[str, str]] = {}


@lru_cache(maxsize=None)
def _entry_points(kind: str) -> dict[str, str]:
    """Name -> ``module:attribute`` of the installed entry points of ``kind`` (read once: scanning
    the installed distributions costs tens of milliseconds)."""
    return {ep.name: ep.value for ep in entry_points(group=f"kgreason.{kind}")}


def register(kind: str, name: str, target: str) -> None:
    """Register ``target`` (``"module:attribute"``) as backend ``name`` of ``kind``."""
    if ":" not in target:
        raise ConfigError(f"backend target {target!r} must look like 'module:attribute'")
    _REGISTERED.setdefault(kind, {})[name] = target


def names(kind: str) -> list[str]:
    """All backend names known for ``kind``: installed entry points and run-time registrations."""
    return sorted(set(_entry_points(kind)) | set(_REGISTERED.get(kind, {})))


def get(kind: str, name: str) -> Any:
    """The class (or factory) registered as ``name`` for ``kind``."""
    target = _REGISTERED.get(kind, {}).get(name) or _entry_points(kind).get(name)
    if target is None:
        known = ", ".join(names(kind))
        hint = "" if known else " (no backends installed: install kgreason with `pip install -e .`)"
        raise ConfigError(f"unknown {kind} {name!r}; expected one of: {known or 'none'}{hint}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(kind: str, name: str, **settings: Any) -> Any:
    """Instantiate backend ``name`` of ``kind`` with ``settings``."""
    return get(kind, name)(**settings)
