"""Answer generation behind one protocol: ``Generator.generate(context) -> Generation``.

Three backends, chosen by name through ``kg.registry`` (``"generator"``):

- ``extractive`` (``ExtractiveGenerator``): picks the answer span from the evidence, no LLM;
- ``transformers`` (``TransformersGenerator``): a local causal LM, the packaged SmolLM2 by default;
- ``openai`` (``OpenAIGenerator``): any OpenAI-compatible chat server.

Each is built from the generate settings: ``Cls(model=..., base_url=..., api_key_env=...,
max_new_tokens=...)``; a backend ignores the settings it has no use for.

>>> from kg.registry import get
>>> get("generator", "extractive") is ExtractiveGenerator
True
"""
from __future__ import annotations

from .generators.base import NOT_FOUND, Generation, Generator
from .generators.extractive import ExtractiveGenerator
from .generators.local_lm import TransformersGenerator
from .generators.openai_compat import OpenAIGenerator

__all__ = ["NOT_FOUND", "Generation", "Generator", "ExtractiveGenerator", "TransformersGenerator", "OpenAIGenerator"]
