"""The answer pipeline: a ``Retrieval`` plus its graph -> context -> generation -> ``Answer``.

Questions with no evidence, or with no linked entity and evidence that states few of the question's
words, are answered "Not found in the documents." instead of letting a generator guess; so is a
generated answer that no sentence of the context states (a reader's invention), and, when a graph has an
evidence gate (``reason.sufficiency``, fitted by ``kg tune``), questions whose retrieval it judges too weak
to hold the answer. Every answer is then
checked against its own citations (``reason.support``): ``Answer.supported`` is False when it cites
nothing or nothing it cites states or justifies it.

>>> from kg.graph import KnowledgeGraph
>>> from kg.model import Retrieval
>>> from reason.generators.extractive import ExtractiveGenerator
>>> a = answer(Retrieval("Who wrote Notes?", "hybrid", ()), KnowledgeGraph(), ExtractiveGenerator())
>>> a.text, a.found, a.generator
('Not found in the documents.', False, 'extractive')
"""
from __future__ import annotations

import time

from kg.graph import KnowledgeGraph
from kg.model import Answer, Hop, Retrieval
from kg.text import content_words, name_key

from .context import Context, build_context
from .question import analyse_question
from .text import contains_phrase
from .generators.base import Generation, Generator
from .sufficiency import EvidenceGate
from .support import is_supported, is_yes_no, states_answer


MIN_COVERAGE = 0.5  # share of question words the context must state when no entity was linked


def answer(retrieval: Retrieval, graph: KnowledgeGraph, generator: Generator, token_budget: int = 1500,
           settings: dict | None = None, gate: EvidenceGate | None = None) -> Answer:
    """Assemble the context of ``retrieval``, generate, and return a cited ``Answer``.

    Timings hold the retrieval's stages plus ``context`` and ``generate`` (seconds). The answer
    records the retrieval's settings and ``settings`` (the generate settings), so it can be
    reproduced. With ``gate``, a retrieval it judges insufficient is answered "Not found" without asking the
    generator; the settings record the gate and its score."""
    t0 = time.perf_counter()
    count = getattr(generator, "count_tokens", None)
    context = build_context(retrieval, graph, token_budget, count)
    t1 = time.perf_counter()
    settings = dict(settings or {})
    passed = True
    if gate is not None and gate.applies(retrieval):
        score = gate.score(retrieval)
        passed = score > gate.threshold
        settings["gate"] = {"name": gate.name, "score": round(score, 4), "threshold": round(gate.threshold, 4),
                            "stopped": not passed}  # decided on the unrounded figures: readers use this
    answerable = passed and is_answerable(context)
    generation = generator.generate(context) if answerable else Generation.not_found()
    if generation.found and not in_context(generation.text, context):
        generation = Generation.not_found(generation.usage)
    if generation.note:
        settings["reader"] = {"note": generation.note}
    t2 = time.perf_counter()
    timings = {**retrieval.timings, "context": round(t1 - t0, 6), "generate": round(t2 - t1, 6)}
    return Answer(
        question=retrieval.question,
        text=generation.text,
        found=generation.found,
        citations=generation.citations,
        chain=relevant_chain(retrieval.chain, generation.text) if generation.found else (),
        evidence=retrieval.evidence,
        mode=retrieval.mode,
        generator=generator.name,
        timings=timings,
        usage=dict(generation.usage),
        settings={"retrieve": dict(retrieval.settings), **settings},
        supported=not generation.found or is_supported(retrieval.question, generation.text, generation.citations),
    )


def is_answerable(context: Context) -> bool:
    """Evidence exists, and either a question entity was linked or the kept sentences state at
    least half of the question's content words."""
    if not context.sources:
        return False
    if context.linked:
        return True
    wanted = set(content_words(context.question))
    stated = set(content_words(" ".join(s.text for s in context.sources)))
    return bool(wanted) and len(wanted & stated) / len(wanted) >= MIN_COVERAGE


def in_context(answer_text: str, context: Context) -> bool:
    """Whether some sentence or source title of the context states the answer; yes/no and the options
    of a comparison are not written out, so they always count as stated.

    >>> in_context("yes", Context("Is it?", (), (), (), (), (), 0))
    True
    """
    if is_yes_no(answer_text) or any(contains_phrase(o, answer_text) for o in analyse_question(context.question).options):
        return True
    texts = [c.quote for c in context.citations()] + [s.title for s in context.sources if s.title]
    return states_answer(answer_text, texts)


def relevant_chain(chain: tuple[Hop, ...], answer_text: str) -> tuple[Hop, ...]:
    """The hops leading to the answer: the last hop ending (or starting) at the answer, and the
    hops before it that connect to it; the whole chain when no hop names the answer."""
    target = name_key(answer_text)
    ends = [i for i, h in enumerate(chain) if name_key(h.object) == target]
    ends = ends or [i for i, h in enumerate(chain) if name_key(h.subject) == target]
    if not target or not ends:
        return chain
    i = ends[-1]
    path = [chain[i]]
    frontier = name_key(chain[i].subject) if name_key(chain[i].object) == target else name_key(chain[i].object)
    for hop in reversed(chain[:i]):
        if name_key(hop.object) == frontier:
            path.append(hop)
            frontier = name_key(hop.subject)
    return tuple(reversed(path))
