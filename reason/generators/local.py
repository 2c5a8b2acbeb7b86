"""A local instruct LLM (llama.cpp, in-process) as answer generator, replying in schema-constrained JSON.

The model gets the numbered sources and the question and must reply with
``{"answer": str, "sources": [int], "found": bool}``; decoding is held to that schema, so the reply is
parsed as JSON, never scraped from free text. Source numbers become the citations of those sources'
sentences (narrowed to the sentences that contain the answer, when some do); an answer citing no valid
source number gets no citations, and the answer pipeline marks it unsupported.

Replies that are not the promised JSON (only possible when ``max_new_tokens`` cuts one off, or a
backend ignores the schema) raise ``BackendError`` instead of becoming "not found": a silent
not-found would hide a setting that is too small behind lower scores.

>>> class Canned:
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"answer": "Stanley", "sources": [1], "found": true}', 90, 12, 0.5)
>>> from kg.model import Citation, Evidence
>>> from reason.context import Context, ContextSentence, ContextSource
>>> cite = Citation("d1", "d1:p0", 0, 28, "Its county seat is Stanley.")
>>> src = ContextSource(1, "Mountrail County", Evidence("d1:p0", "d1", "", "", 1.0, "dense"), (ContextSentence(cite, 1.0),))
>>> g = LocalGenerator(chat_model=Canned()).generate(Context("Seat?", (src,), (), (), (), (), 9))
>>> g.text, g.found, g.citations[0].quote, g.usage
('Stanley', True, 'Its county seat is Stanley.', {'llm_calls': 1, 'prompt_tokens': 90, 'completion_tokens': 12})
"""
from __future__ import annotations

from typing import Any

from kg.errors import BackendError
from kg.llamacpp import DEFAULT_N_CTX, DEFAULT_THREADS, LlamaCppChat
from kg.llm import ChatModel, ChatReply, reply_json
from kg.model import Citation

from ..context import Context
from ..text import contains_phrase
from .base import NOT_FOUND, Generation

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources. Reply with a JSON object: \"answer\" is the short "
    "answer only (a name, place, date, number, title, or yes/no, without explanation), \"sources\" lists the "
    "numbers of the sources the answer comes from, and \"found\" is false, with an empty answer, when the "
    "sources do not contain the answer."
)
# A short answer never needs more; the bound keeps a rambling model's reply inside max_new_tokens, so it
# stays complete JSON instead of being cut off mid-string.
MAX_ANSWER_CHARS = 100
# Key order is generation order: answering before judging "found" worked better for the 1.5B (on a few
# hand-made questions, "found" first made it claim answers the sources lack).
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS},
        "sources": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 8},
        "found": {"type": "boolean"},
    },
    "required": ["answer", "sources", "found"],
    "additionalProperties": False,
}
# Tokens the JSON keys, punctuation and the model's pretty-printing whitespace take (34 measured for a
# one-word answer citing one source): max_new_tokens bounds the answer, this covers the wrapper.
JSON_TOKENS = 40


class LocalGenerator:
    """Answers with a ``ChatModel``: by default ``kg.llamacpp.LlamaCppChat`` with ``model``, ``threads`` and
    ``n_ctx`` (which loads its model on the first question, not here), plus a LoRA ``adapter`` GGUF (a
    ``kg tune`` reader) when given; ``chat_model`` injects any other
    (tests, other backends). ``base_url``, ``api_key_env`` and ``context_tokens`` are accepted and ignored,
    as every generator ignores the settings it has no use for."""

    def __init__(self, model: str = "", base_url: str = "", api_key_env: str = "", max_new_tokens: int = 48,
                 context_tokens: int = 0, threads: int = DEFAULT_THREADS, n_ctx: int = DEFAULT_N_CTX,
                 chat_model: ChatModel | None = None, adapter: str = ""):
        self.chat_model = chat_model or LlamaCppChat(model, threads, n_ctx, adapter)
        self.max_new_tokens = max_new_tokens
        self.name = f"local:{getattr(self.chat_model, 'model_name', type(self.chat_model).__name__)}"

    def generate(self, context: Context) -> Generation:
        if not context.sources:
            return Generation.not_found()
        reply = self.chat_model.chat(answer_messages(context), max_tokens=self.max_new_tokens + JSON_TOKENS,
                                     json_schema=ANSWER_SCHEMA)
        usage = {"llm_calls": 1, "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        answer, numbers, found = parse_answer(reply)
        if not found or not answer or _is_not_found(answer):
            return Generation.not_found(usage)
        return Generation(answer, True, cited(numbers, answer, context), usage)


def answer_messages(context: Context) -> list[dict[str, str]]:
    """System + user messages: the numbered sources, then the question."""
    user = f"Sources:\n{context.render()}\n\nQuestion: {context.question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_answer(reply: ChatReply) -> tuple[str, tuple[int, ...], bool]:
    """(answer, source numbers, found) from a reply; BackendError when it does not follow ANSWER_SCHEMA.

    >>> parse_answer(ChatReply('{"answer": " Paris ", "sources": [2, 1], "found": true}', 1, 1, 0.0))
    ('Paris', (2, 1), True)
    """
    data = reply_json(reply)
    answer, numbers, found = data.get("answer"), data.get("sources"), data.get("found")
    if not (isinstance(answer, str) and isinstance(found, bool) and isinstance(numbers, list)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)):
        raise BackendError(
            f"the model's reply does not follow the answer schema "
            f"{{answer: string, sources: [integer], found: boolean}}: {reply.text[:200]!r}"
        )
    return answer.strip(), tuple(numbers), found


def cited(numbers: tuple[int, ...], answer: str, context: Context) -> tuple[Citation, ...]:
    """The sentences of the cited sources (numbers outside the context are dropped), narrowed to those
    containing the answer when any do; none when the model cited no valid number, so that the answer
    pipeline marks the answer unsupported rather than crediting citations the model never made."""
    by_number = {s.number: s for s in context.sources}
    picked = [by_number[n] for n in dict.fromkeys(numbers) if n in by_number]
    cites = tuple(s.citation for src in picked for s in src.sentences)
    return tuple(c for c in cites if contains_phrase(c.quote, answer)) or cites


def _is_not_found(answer: str) -> bool:
    # The system prompts of the other generators teach this sentence; a model may echo it with found=true.
    return answer.rstrip(".").casefold() == NOT_FOUND.rstrip(".").casefold()

