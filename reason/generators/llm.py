"""What the LLM backends share: the chat prompt built from a context, and turning the model's reply
into a short answer with the sources it rests on.

>>> clean_answer("Answer: Paris.\\nBecause the sources say so.")
'Paris'
>>> clean_answer("The answer is not in the sources.")
''
"""
from __future__ import annotations

import re

from kg.model import Citation
from kg.text import name_key

from ..context import Context
from .base import NOT_FOUND, Generation
from ..text import contains_phrase

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources. Reply with the short answer only: a name, "
    "place, date, number, title, or yes/no, without explanation. If the sources do not contain the "
    f"answer, reply exactly: {NOT_FOUND}"
)
_REFUSALS = re.compile(
    r"not found in the documents|not (?:in|contained in|mentioned in|provided in|stated in|given in) the (?:sources|documents|text|context)"
    r"|(?:sources|documents|context) do(?:es)? not (?:contain|mention|say|provide|state)|cannot be determined|"
    r"^(?:i )?(?:do not|don't) know|no information",
    re.IGNORECASE,
)


def chat_messages(context: Context) -> list[dict[str, str]]:
    """System + user messages: the numbered sources, then the question."""
    user = f"Sources:\n{context.render()}\n\nQuestion: {context.question}\nShort answer:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def clean_answer(reply: str) -> str:
    """The short answer inside a model reply; '' when the model says the sources lack it."""
    if _REFUSALS.search(reply):
        return ""
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = re.sub(r"^(?:short answer|answer|a)\s*[:\-]\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^\[\d+\]\s*", "", text)
    text = re.sub(r"\s*\[\d+\](?:\s*,?\s*\[\d+\])*", "", text)  # inline source markers
    text = text.strip().strip("\"'“”*").strip()
    return text.rstrip(".").strip()


def to_generation(reply: str, context: Context, usage: dict[str, int]) -> Generation:
    """A Generation from a raw reply: not found on refusal or empty reply, else the answer with
    the context sentences that contain it (all kept sentences when none does)."""
    text = clean_answer(reply)
    if not text or not name_key(text):
        return Generation.not_found(usage)
    return Generation(text, True, cite_sentences(text, context), dict(usage))


def cite_sentences(answer: str, context: Context) -> tuple[Citation, ...]:
    hits = tuple(c for c in context.citations() if contains_phrase(c.quote, answer))
    return hits or context.citations()
