"""The generator interface: a ``Context`` in, a ``Generation`` out.

Backends (extractive, local transformers LM, OpenAI-compatible server) are registered in
``kg.registry`` under ``"generator"``; third parties add more through the ``kgreason.generator``
entry-point group by implementing ``Generator``.

>>> g = Generation.not_found()
>>> g.text, g.found, g.usage["llm_calls"]
('Not found in the documents.', False, 0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kg.model import Citation

if TYPE_CHECKING:
    from reason.context import Context

NOT_FOUND = "Not found in the documents."


def empty_usage() -> dict[str, int]:
    return {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}


@dataclass(frozen=True)
class Generation:
    """A generated answer: ``citations`` are the context sentences the answer rests on; ``note`` says,
    when the reader can, why it gave none ("" otherwise)."""

    text: str
    found: bool
    citations: tuple[Citation, ...] = ()
    usage: dict[str, int] = field(default_factory=empty_usage)
    note: str = ""

    @classmethod
    def not_found(cls, usage: dict[str, int] | None = None, note: str = "") -> "Generation":
        return cls(NOT_FOUND, False, (), dict(usage or empty_usage()), note)


@runtime_checkable
class Generator(Protocol):
    """Answers a question from a context, citing the sentences it used."""

    name: str

    def generate(self, context: "Context") -> Generation: ...
