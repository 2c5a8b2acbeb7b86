"""The extractive reader and a local LLM together, each where it measured better.

Comparisons ("Which film came out first, A or B?") go to the extractive reader first: it parses the
compared dates and values and compares them, which a small LLM often gets backwards (on the first 100
2Wiki questions, comparison F1 .60 against the 1.5B's .36). Every other question goes to the LLM
first (non-comparison F1 .41 against .12 on 2Wiki, .25 against .14 on MuSiQue). Either falls back to
the other when it abstains. An LLM answer whose cited sentences do not state it is kept, and the
answer pipeline marks it unsupported: falling back to the extractive reader in that case was measured
and lost F1 on both sets (.254 -> .215, .535 -> .471) for little more abstention
(``benchmarks/answers.py``, README).

>>> class Fixed:
...     def __init__(self, name, text, found=True): self.name, self.text, self.found = name, text, found
...     def generate(self, context):
...         return Generation(self.text, self.found, (), {"llm_calls": int(self.name == "llm"), "prompt_tokens": 0, "completion_tokens": 0})
>>> from reason.context import Context
>>> g = CombinedGenerator(extractive=Fixed("extractive", "1958"), llm=Fixed("llm", "NOT SAID", found=False))
>>> out = g.generate(Context("When was Beta released?", (), (), (), (), (), 9))
>>> out.text, out.usage["llm_calls"]
('1958', 1)
"""
from __future__ import annotations

from ..context import Context
from ..question import analyse_question
from .base import Generation, Generator


class CombinedGenerator:
    """See the module docstring. ``model``/``threads``/``n_ctx`` configure the LLM (``LocalGenerator``,
    the packaged 1.5B by default, with a LoRA ``adapter`` when given); ``extractive`` and ``llm`` inject
    any two generators."""

    def __init__(self, model: str = "", base_url: str = "", api_key_env: str = "", max_new_tokens: int = 48,
                 context_tokens: int = 0, threads: int = 0, extractive: Generator | None = None,
                 llm: Generator | None = None, adapter: str = ""):
        if extractive is None:
            from .extractive import ExtractiveGenerator

            extractive = ExtractiveGenerator()
        if llm is None:
            from .local import LocalGenerator

            llm = LocalGenerator(model=model, max_new_tokens=max_new_tokens, adapter=adapter,
                                 **({"threads": threads} if threads else {}))
        self.extractive, self.llm = extractive, llm
        self.name = f"combined:{llm.name}"

    def generate(self, context: Context) -> Generation:
        comparison = analyse_question(context.question).kind == "comparison"
        order = (self.extractive, self.llm) if comparison else (self.llm, self.extractive)
        usage: dict[str, int] = {}
        for reader in order:
            g = reader.generate(context)
            for key, value in g.usage.items():
                usage[key] = usage.get(key, 0) + value
            if g.found:
                return Generation(g.text, True, g.citations, usage)
        return Generation.not_found(usage)
