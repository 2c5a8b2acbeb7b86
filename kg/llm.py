"""The chat-model interface: messages in, a ``ChatReply`` out, optionally held to a JSON schema.

A backend (llama.cpp in-process, later others) implements the one method ``chat``; conveniences such as
``reply_json`` are built on top, so every backend gets them for free.

>>> class Echo:
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"said": "%s"}' % messages[-1]["content"], 3, 4, 0.01)
>>> isinstance(Echo(), ChatModel)
True
>>> reply_json(Echo().chat([{"role": "user", "content": "hi"}], max_tokens=8))
{'said': 'hi'}
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import BackendError


@dataclass(frozen=True)
class ChatReply:
    """What one chat call gave back: the assistant's text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


@runtime_checkable
class ChatModel(Protocol):
    """A chat LLM. ``messages`` are OpenAI-style ``{"role", "content"}`` dicts; with ``json_schema`` the
    reply text must be JSON matching it (backends constrain decoding to it where they can)."""

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int,
             json_schema: dict[str, Any] | None = None) -> ChatReply: ...


def reply_json(reply: ChatReply) -> dict[str, Any]:
    """The JSON object in ``reply.text``; BackendError naming the text when it is not one.

    With schema-constrained decoding a malformed reply means it was cut off by ``max_tokens``, so the
    message says so rather than guessing at the missing part.

    >>> reply_json(ChatReply('{"a": 1', 5, 8, 0.1))
    Traceback (most recent call last):
    ...
    kg.errors.BackendError: the model's reply is not a complete JSON object (cut off after 8 tokens? raise max_tokens): '{"a": 1'
    """
    try:
        data = json.loads(reply.text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BackendError(
            f"the model's reply is not a complete JSON object (cut off after {reply.completion_tokens} tokens? "
            f"raise max_tokens): {reply.text[:200]!r}"
        )
    return data
