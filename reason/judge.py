"""Judging answers: (question, answer, cited passages) -> a ``Verdict`` with a short reason.

``Judge`` is the narrow interface (one method) the feedback side uses for AI feedback; ``LLMJudge`` is
the implementation on any ``kg.llm.ChatModel`` (llama.cpp in-process, ``kg.openai_chat.OpenAIChat`` for
an OpenAI-compatible server). The model replies in JSON held to ``VERDICT_SCHEMA`` by constrained
decoding, so the verdict is parsed, never scraped from free text.

>>> from kg.llm import ChatReply
>>> class Canned:
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"reason": "Source 1 says so.", "supported": true, "label": "correct"}', 80, 12, 0.1)
>>> LLMJudge(Canned()).judge("Who wrote Notes?", "Ada", ["Ada wrote Notes."])
Verdict(label='correct', supported=True, reason='Source 1 says so.')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from kg.errors import BackendError
from kg.llm import ChatModel, ChatReply, reply_json
from kg.model import Answer

LABELS = ("correct", "incorrect", "unsure")
MAX_REASON_CHARS = 200

SYSTEM_PROMPT = (
    "You grade an answer to a question using only the numbered passages the answer cites. Reply with a JSON "
    "object: \"reason\" is one short sentence saying what the passages state about the answer; \"supported\" is "
    "true when the passages state the answer; \"label\" is \"correct\" when the passages show the answer answers "
    "the question, \"incorrect\" when they show it does not or it answers something else, and \"unsure\" when "
    "the passages do not tell."
)
# Key order is generation order: the reason first, so that the labels follow from what was read.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
        "supported": {"type": "boolean"},
        "label": {"type": "string", "enum": list(LABELS)},
    },
    "required": ["reason", "supported", "label"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Verdict:
    """A judge's grade: ``label`` correct | incorrect | unsure; ``supported``: the cited passages state
    the answer; ``reason``: one short sentence."""

    label: str
    supported: bool
    reason: str


@runtime_checkable
class Judge(Protocol):
    """Grades an answer against the passages it cites."""

    def judge(self, question: str, answer_text: str, cited_passages: Sequence[str]) -> Verdict: ...


class LLMJudge:
    """A ``Judge`` on a ``ChatModel``. ``max_tokens`` bounds the reply (the reason is at most
    ``MAX_REASON_CHARS`` characters, so the default leaves room for the JSON around it)."""

    def __init__(self, chat_model: ChatModel, max_tokens: int = 120):
        self.chat_model, self.max_tokens = chat_model, max_tokens
        self.name = f"llm:{getattr(chat_model, 'model_name', type(chat_model).__name__)}"

    def judge(self, question: str, answer_text: str, cited_passages: Sequence[str]) -> Verdict:
        """The verdict on ``answer_text``; an answer citing no passage is never ``supported``."""
        reply = self.chat_model.chat(judge_messages(question, answer_text, cited_passages),
                                     max_tokens=self.max_tokens, json_schema=VERDICT_SCHEMA)
        verdict = parse_verdict(reply)
        return verdict if cited_passages else Verdict(verdict.label, False, verdict.reason)


def judge_messages(question: str, answer_text: str, cited_passages: Sequence[str]) -> list[dict[str, str]]:
    """System + user messages: the numbered passages, the question and the answer.

    >>> judge_messages("Who?", "Ada", ["Ada wrote it."])[1]["content"]
    'Passages:\\n[1] Ada wrote it.\\n\\nQuestion: Who?\\nAnswer: Ada'
    """
    passages = "\n".join(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(cited_passages, 1)) or "(none)"
    user = f"Passages:\n{passages}\n\nQuestion: {question}\nAnswer: {answer_text}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_verdict(reply: ChatReply) -> Verdict:
    """The ``Verdict`` in a reply; BackendError naming the reply when it does not follow VERDICT_SCHEMA.

    >>> parse_verdict(ChatReply('{"reason": "x", "supported": false, "label": "maybe"}', 1, 1, 0.0))
    Traceback (most recent call last):
    ...
    kg.errors.BackendError: the judge's reply does not follow the verdict schema {reason: string, supported: boolean, label: correct|incorrect|unsure}: '{"reason": "x", "supported": false, "label": "maybe"}'
    """
    data = reply_json(reply)
    label, supported, reason = data.get("label"), data.get("supported"), data.get("reason")
    if label not in LABELS or not isinstance(supported, bool) or not isinstance(reason, str):
        raise BackendError(
            "the judge's reply does not follow the verdict schema "
            f"{{reason: string, supported: boolean, label: {'|'.join(LABELS)}}}: {reply.text[:200]!r}"
        )
    return Verdict(label, supported, reason.strip())


def cited_passages(answer: Answer) -> tuple[str, ...]:
    """The texts of the passages an answer cites, in citing order, each once (the retrieved passage's
    text when it is among the evidence, else the quoted sentence)."""
    texts = {e.passage_id: e.text for e in answer.evidence}
    out = (texts.get(c.passage_id, c.quote) for c in answer.citations)
    return tuple(dict.fromkeys(out))


def judge_answer(judge: Judge, answer: Answer) -> Verdict:
    """``judge`` on an ``Answer`` and the passages it cites."""
    return judge.judge(answer.question, answer.text, cited_passages(answer))
