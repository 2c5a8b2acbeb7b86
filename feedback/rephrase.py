"""Natural rephrasings of the questions generated from the graph, written by an LLM: AI feedback that
reads like the questions people ask ("Li Yang was born in which place?" -> "Where was Li Yang born?").

The model gets the template question and replies in schema-constrained JSON. A rephrasing is kept only
when it still names every entity the original names (the names that make it answerable from the
documents), does not write the answer (unless the original did: a comparison's options), asks one
question (no more interrogative words than the original, or one), is a question, and differs from the original; otherwise the
template question stands alone. The gold answer and passages carry over unchanged.

>>> class Canned:
...     model_name = "fake"
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"question": "Where was Li Yang born?"}', 40, 9, 0.1)
>>> rephrase("Li Yang was born in which place?", "Xian", ["Li Yang"], Canned())
'Where was Li Yang born?'
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence

from kg.errors import BackendError
from kg.graph import KnowledgeGraph
from kg.llm import ChatModel, ChatReply, reply_json
from kg.text import name_key

from .questions import GeneratedQuestion

SYSTEM_PROMPT = (
    "You rewrite machine-made questions into the natural, fluent question a person would ask. Ask exactly one "
    "short question, for the same missing piece the original asks for (its \"which ...\"), and nothing else. "
    "Keep every name, title and date exactly as written, do not add facts, and do not answer the question. "
    'Reply with a JSON object: {"question": "..."}.'
)
# "Who wrote the screenplay, and who wrote the story?": the 1.5B likes to add a second question, which the
# gold answer does not answer
_ASKS = re.compile(r"\b(?:who|whom|whose|what|when|where|which|how|why)\b", re.IGNORECASE)
SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "maxLength": 300}},
    "required": ["question"],
    "additionalProperties": False,
}
MAX_TOKENS = 120


def _contains(text: str, phrase: str) -> bool:
    key = name_key(phrase)
    return bool(key) and f" {key} " in f" {name_key(text)} "


def required_names(question: GeneratedQuestion, graph: KnowledgeGraph) -> list[str]:
    """The names of the question's fact entities that the question writes out (a comparison's options
    included: both must stay)."""
    names = []
    for fact in question.facts:
        r = graph.relations.get(fact)
        for entity_id in (r.subject, r.object) if r is not None else ():
            name = graph.entities[entity_id].name if entity_id in graph.entities else ""
            if name and _contains(question.question, name):
                names.append(name)
    return list(dict.fromkeys(names))


def rephrase(question: str, answer: str, names: Sequence[str], chat: ChatModel) -> str | None:
    """The model's rephrasing of ``question``, or None when it fails a check (module docstring)."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"Question: {question}"}]
    text = str(reply_json(chat.chat(messages, max_tokens=MAX_TOKENS, json_schema=SCHEMA)).get("question", "")).strip()
    if not text.endswith("?") or name_key(text) == name_key(question) or len(_ASKS.findall(text)) > max(1, len(_ASKS.findall(question))):
        return None
    if _contains(text, answer) and not _contains(question, answer):  # a comparison names its answer already
        return None
    if any(not _contains(text, n) for n in names):
        return None
    return text


def rephrase_questions(questions: Sequence[GeneratedQuestion], graph: KnowledgeGraph, chat: ChatModel,
                       progress: Callable[[int], None] = lambda n: None) -> tuple[list[tuple[GeneratedQuestion, str]], Counter]:
    """(question, rephrasing) for each question the model rephrased acceptably, and counts of
    ``asked``, ``kept``, ``rejected`` (a check failed) and ``failed`` (a reply that was not the JSON asked for)."""
    kept, counts = [], Counter()
    for q in questions:
        counts["asked"] += 1
        try:
            text = rephrase(q.question, q.answer, required_names(q, graph), chat)
        except BackendError:
            counts["failed"] += 1
            text = None
        else:
            counts["kept" if text else "rejected"] += 1
        if text:
            kept.append((q, text))
        progress(1)
    for key in ("kept", "rejected", "failed"):
        counts.setdefault(key, 0)
    return kept, counts
