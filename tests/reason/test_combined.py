"""The combined reader: which reader answers which question, fallbacks, and the support check."""
from __future__ import annotations

from kg.model import Citation
from reason.context import Context
from reason.generators.base import Generation
from reason.generators.combined import CombinedGenerator

CITE = Citation("d1", "d1:p0", 0, 27, "Its county seat is Stanley.", "", "Mountrail County")


class Reader:
    """Answers ``text`` (citing ``cites``), or abstains when ``text`` is empty; records its calls."""

    def __init__(self, name, text="", cites=(CITE,)):
        self.name, self.text, self.cites, self.calls = name, text, cites, 0

    def generate(self, context):
        self.calls += 1
        if not self.text:
            return Generation.not_found({"llm_calls": int(self.name == "llm"), "prompt_tokens": 5, "completion_tokens": 1})
        return Generation(self.text, True, self.cites, {"llm_calls": int(self.name == "llm"), "prompt_tokens": 5, "completion_tokens": 1})


def ctx(question):
    return Context(question, (), (), (), (), (), 100)


def test_factoids_go_to_the_llm_first_and_comparisons_to_the_extractive_reader():
    ext, llm = Reader("extractive", "Lyon"), Reader("llm", "Stanley")
    g = CombinedGenerator(extractive=ext, llm=llm)
    assert g.generate(ctx("What is the seat of Mountrail County?")).text == "Stanley"
    assert (ext.calls, llm.calls) == (0, 1)
    assert g.generate(ctx("Which film came out first, Alpha or Beta?")).text == "Lyon"
    assert (ext.calls, llm.calls) == (1, 1)


def test_an_abstaining_reader_falls_back_to_the_other_and_usage_adds_up():
    ext = Reader("extractive", "Stanley")
    g = CombinedGenerator(extractive=ext, llm=Reader("llm", ""))
    out = g.generate(ctx("What is the seat of Mountrail County?"))
    assert (out.text, out.found, out.usage) == ("Stanley", True, {"llm_calls": 1, "prompt_tokens": 10, "completion_tokens": 2})
    llm = Reader("llm", "Lyon")
    assert CombinedGenerator(extractive=Reader("extractive"), llm=llm).generate(ctx("Which came first, A or B?")).text == "Lyon"
    assert llm.calls == 1


def test_an_unsupported_llm_answer_is_kept_for_the_pipeline_to_mark():
    g = CombinedGenerator(extractive=Reader("extractive", "Stanley"), llm=Reader("llm", "Minot"))
    out = g.generate(ctx("What is the seat of Mountrail County?"))
    assert (out.text, out.citations) == ("Minot", (CITE,))


def test_both_abstaining_is_not_found():
    g = CombinedGenerator(extractive=Reader("extractive"), llm=Reader("llm"))
    out = g.generate(ctx("Who is the mayor?"))
    assert (out.found, out.usage["llm_calls"]) == (False, 1)


def test_it_is_built_by_name_with_the_llm_settings_and_loads_nothing():
    from kg.registry import create

    g = create("generator", "combined", model="qwen2.5-0.5b", base_url="", api_key_env="", max_new_tokens=16)
    assert g.name == "combined:local:qwen2.5-0.5b" and g.llm.max_new_tokens == 16
