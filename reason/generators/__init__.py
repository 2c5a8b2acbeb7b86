"""Answer generators behind one protocol (``reason.generators.base.Generator``): ``extractive``
(no LLM), ``transformers`` (a local causal LM), ``openai`` (any OpenAI-compatible server). Each is
an entry point of the ``kgreason.generator`` group, chosen by name through ``kg.registry``."""
