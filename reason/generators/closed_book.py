"""A closed-book reader: the LLM answers from what it learnt, with no sources at all.

It is the other side of retrieval in the "RAG or fine-tuning?" comparison (``kg eval --arms``): the
base model closed-book shows what the model knows of the documents' subject on its own, and the same
model with a closed-book ``kg tune`` adapter shows what fine-tuning taught it. The reply is held to
``{"answer": str, "found": bool}`` by the JSON schema and parsed, never scraped; a closed-book answer
cites nothing, so it is never counted as supported by the documents.

>>> class Canned:
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"answer": "Stanley", "found": true}', 40, 9, 0.2)
>>> g = ClosedBookReader(chat_model=Canned()).answer("What is the county seat of Mountrail County?")
>>> g.text, g.found, g.citations, g.usage["prompt_tokens"]
('Stanley', True, (), 40)
"""
from __future__ import annotations

import json
from typing import Any

from kg.errors import BackendError
from kg.llamacpp import DEFAULT_N_CTX, DEFAULT_THREADS, LlamaCppChat
from kg.llm import ChatModel, ChatReply, reply_json

from .base import Generation
from .local import JSON_TOKENS, MAX_ANSWER_CHARS, _is_not_found

SYSTEM_PROMPT = (
    "You answer questions from your own knowledge. Reply with a JSON object: \"answer\" is the short answer "
    "only (a name, place, date, number, title, or yes/no, without explanation), and \"found\" is false, with "
    "an empty answer, when you do not know."
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS}, "found": {"type": "boolean"}},
    "required": ["answer", "found"],
    "additionalProperties": False,
}


def closed_book_messages(question: str) -> list[dict[str, str]]:
    """System + user messages of a closed-book question: the question alone."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"Question: {question}"}]


def closed_book_reply(answer: str) -> str:
    """The JSON reply the reader parses: found exactly when there is an answer (a training target)."""
    return json.dumps({"answer": answer, "found": bool(answer)})


class ClosedBookReader:
    """Answers questions with a ``ChatModel`` and no context: by default ``kg.llamacpp.LlamaCppChat`` with
    ``model`` and a LoRA ``adapter`` GGUF (a ``kg tune`` closed-book reader) when given."""

    def __init__(self, model: str = "", adapter: str = "", max_new_tokens: int = 48, threads: int = DEFAULT_THREADS,
                 n_ctx: int = DEFAULT_N_CTX, chat_model: ChatModel | None = None):
        self.chat_model = chat_model or LlamaCppChat(model, threads, n_ctx, adapter)
        self.max_new_tokens = max_new_tokens
        self.name = f"closed-book:{getattr(self.chat_model, 'model_name', type(self.chat_model).__name__)}"

    def answer(self, question: str) -> Generation:
        reply = self.chat_model.chat(closed_book_messages(question), max_tokens=self.max_new_tokens + JSON_TOKENS,
                                     json_schema=SCHEMA)
        usage = {"llm_calls": 1, "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        text, found = parse_closed_book(reply)
        if not found or not text or _is_not_found(text):
            return Generation.not_found(usage)
        return Generation(text, True, (), usage)


def parse_closed_book(reply: ChatReply) -> tuple[str, bool]:
    """(answer, found) from a reply; BackendError when it does not follow ``SCHEMA``.

    >>> parse_closed_book(ChatReply('{"answer": " 1912 ", "found": true}', 1, 1, 0.0))
    ('1912', True)
    """
    data = reply_json(reply)
    answer, found = data.get("answer"), data.get("found")
    if not (isinstance(answer, str) and isinstance(found, bool)):
        raise BackendError(f"the model's reply does not follow the closed-book schema "
                           f"{{answer: string, found: boolean}}: {reply.text[:200]!r}")
    return answer.strip(), found
