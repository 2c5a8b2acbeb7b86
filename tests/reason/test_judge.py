"""The judge: a fake ChatModel with canned JSON replies (what it is asked, how replies become verdicts,
malformed replies), and one e2e run of the packaged 0.5B through llama.cpp."""
from __future__ import annotations

import pytest

from kg.errors import BackendError
from kg.llm import ChatReply
from kg.model import Answer, Citation, Evidence
from reason.judge import VERDICT_SCHEMA, Judge, LLMJudge, Verdict, cited_passages, judge_answer

STANLEY = "Mountrail County is a county in North Dakota. Its county seat is Stanley."
QUESTION = "What is the seat of Mountrail County?"


class CannedChat:
    """A deterministic ChatModel: replies ``text`` and records every call."""

    model_name = "canned"

    def __init__(self, text: str):
        self.text, self.calls = text, []

    def chat(self, messages, *, max_tokens, json_schema=None):
        self.calls.append({"messages": messages, "max_tokens": max_tokens, "json_schema": json_schema})
        return ChatReply(self.text, 150, 20, 0.3)


def reply(label: str = "correct", supported: bool = True, reason: str = "Passage 1 names Stanley as the seat.") -> str:
    return '{"reason": "%s", "supported": %s, "label": "%s"}' % (reason, str(supported).lower(), label)


def test_asks_for_schema_constrained_json_with_numbered_passages():
    chat = CannedChat(reply())
    judge = LLMJudge(chat, max_tokens=90)
    assert isinstance(judge, Judge) and judge.name == "llm:canned"
    assert judge.judge(QUESTION, "Stanley", [STANLEY, "Stanley  lies on\nRoute 2."]) == Verdict(
        "correct", True, "Passage 1 names Stanley as the seat.")
    (call,) = chat.calls
    assert (call["json_schema"], call["max_tokens"]) == (VERDICT_SCHEMA, 90)
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert call["messages"][1]["content"] == (
        f"Passages:\n[1] {STANLEY}\n[2] Stanley lies on Route 2.\n\nQuestion: {QUESTION}\nAnswer: Stanley")


@pytest.mark.parametrize("label, supported", [("incorrect", True), ("unsure", False), ("incorrect", False)])
def test_every_label_comes_back_as_given(label, supported):
    assert LLMJudge(CannedChat(reply(label, supported, "Says Minot."))).judge(QUESTION, "Minot", [STANLEY]) == \
        Verdict(label, supported, "Says Minot.")


def test_an_answer_citing_nothing_is_never_supported():
    chat = CannedChat(reply("correct", True))
    verdict = LLMJudge(chat).judge(QUESTION, "Stanley", [])
    assert (verdict.label, verdict.supported) == ("correct", False)
    assert chat.calls[0]["messages"][1]["content"].startswith("Passages:\n(none)\n")


@pytest.mark.parametrize("text", [
    '{"reason": "x", "supported": true, "label": "right"}',
    '{"reason": "x", "supported": "yes", "label": "correct"}',
    '{"supported": true, "label": "correct"}',
])
def test_reply_breaking_the_schema_is_a_backend_error_naming_it(text):
    with pytest.raises(BackendError) as err:
        LLMJudge(CannedChat(text)).judge(QUESTION, "Stanley", [STANLEY])
    assert str(err.value) == ("the judge's reply does not follow the verdict schema "
                              f"{{reason: string, supported: boolean, label: correct|incorrect|unsure}}: {text!r}")


def test_reply_cut_off_is_a_backend_error():
    with pytest.raises(BackendError, match=r"not a complete JSON object \(cut off after 20 tokens\? raise max_tokens\)"):
        LLMJudge(CannedChat('{"reason": "Passage 1 na')).judge(QUESTION, "Stanley", [STANLEY])


def test_judging_an_answer_sends_the_passages_it_cites_once_each():
    ev = (Evidence("d1:p0", "d1", "Mountrail County", STANLEY, 1.0, "hybrid", 1),
          Evidence("d2:p0", "d2", "Ohio", "Ohio is a state.", 0.5, "hybrid", 2))
    cites = (Citation("d1", "d1:p0", 46, 73, "Its county seat is Stanley."),
             Citation("d1", "d1:p0", 0, 45, "Mountrail County is a county in North Dakota."),
             Citation("d9", "d9:p3", 0, 10, "Not retrieved."))
    a = Answer(QUESTION, "Stanley", True, cites, (), ev, "hybrid", "extractive")
    assert cited_passages(a) == (STANLEY, "Not retrieved.")
    chat = CannedChat(reply())
    assert judge_answer(LLMJudge(chat), a).label == "correct"
    assert "[1] " + STANLEY + "\n[2] Not retrieved." in chat.calls[0]["messages"][1]["content"]


# ---- end to end ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qwen_judge() -> LLMJudge:
    from kg.llamacpp import LlamaCppChat

    chat = LlamaCppChat(model="qwen2.5-0.5b")
    chat.loaded()  # a missing model package fails here, naming the package to install
    return LLMJudge(chat)


@pytest.mark.e2e
def test_packaged_model_returns_a_verdict_held_to_the_schema(qwen_judge):
    # A smoke test, not a quality claim (benchmarks/judge_agreement.py measures agreement with gold)
    verdict = qwen_judge.judge(QUESTION, "Stanley", [STANLEY])
    assert verdict.label in ("correct", "incorrect", "unsure") and isinstance(verdict.supported, bool)
    assert 0 < len(verdict.reason) <= 200
    assert qwen_judge.judge(QUESTION, "Stanley", []).supported is False
