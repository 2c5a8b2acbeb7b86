"""The extractive answerer: picks the answer span from the evidence, no language model.

Factoid questions get the best-scoring mention of the expected answer type (from the question's
wording) that is not an entity of the question, scored by type fit, the end of the reasoning chain,
graph rank of the candidate, evidence rank, and closeness to the question's words. Comparisons go to
``compare``; yes/no questions check how much of the question the evidence about its subject states.

>>> ExtractiveGenerator().name
'extractive'
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..context import Context
from .base import Generation, empty_usage
from .compare import answer_choice, answer_same
from .evidence import Sentence, in_question, question_entities, sentences_of
from .question import DATE, NAMED, QuestionAnalysis, analyse_question
from .text import content_words, contains_phrase, find_numbers, normalise, parse_dates

YES_COVERAGE = 0.6  # share of the question's words a yes/no answer's evidence must state


@dataclass
class _Candidate:
    text: Counter = field(default_factory=Counter)
    score: float = 0.0
    sentence: Sentence | None = None
    count: int = 0


class ExtractiveGenerator:
    """Answers with a span of the evidence; never invents one.

    Accepts (and ignores) the LLM settings so it can be built from any ``GenerateConfig``.
    """

    name = "extractive"

    def __init__(self, model: str = "", base_url: str = "", api_key_env: str = "", max_new_tokens: int = 0,
                 context_tokens: int = 0):
        pass

    def generate(self, context: Context) -> Generation:
        sentences = sentences_of(context)
        if not sentences:
            return Generation.not_found()
        q = analyse_question(context.question)
        if q.form == "choice":
            found = answer_choice(q, context, sentences)
        elif q.form == "same" and q.attribute:
            found = answer_same(q, context, sentences)
        elif q.form in ("yesno", "same"):
            found = _answer_yes_no(context, sentences)
        else:
            found = _answer_factoid(q, context, sentences)
        if found is None:
            return Generation.not_found()
        text, cites = found
        return Generation(text, True, tuple(dict.fromkeys(cites)), empty_usage())


def _answer_factoid(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence]):
    cands = _collect(q, ctx, sentences)
    if not cands:
        return None
    best = max(cands.values(), key=lambda c: (c.score, c.count, -c.sentence.order))
    text = best.text.most_common(1)[0][0]
    return text, _support(best.sentence, ctx, sentences)


def _collect(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence]) -> dict[str, _Candidate]:
    linked_ids, linked_names = question_entities(ctx)
    words = set(content_words(ctx.question))
    bridges = _bridge_entities(sentences, linked_ids, linked_names)
    rank = {c.entity_id: i for i, c in enumerate(ctx.candidates)}
    chain_end = normalise(ctx.chain[-1].object) if ctx.chain else ""
    chain_inner = {normalise(h.object) for h in ctx.chain[:-1]}
    cands: dict[str, _Candidate] = {}
    for s in sentences:
        for text, label, eid in _spans(q, s):
            fit = _type_fit(q, label)
            if fit <= 0 or in_question(text, eid, ctx, linked_ids):
                continue
            key = eid or normalise(text)
            score = 2.0 * fit + 0.5 / s.source
            score += _closeness(s, text, words) + _context_bonus(s, linked_ids, linked_names, bridges, eid)
            score += 0.8 / (1 + rank[eid]) if eid in rank else 0.0
            score += 1.5 if normalise(text) == chain_end else 0.3 if normalise(text) in chain_inner else 0.0
            c = cands.setdefault(key, _Candidate())
            c.text[text] += 1
            c.count += 1
            if score > c.score:
                c.score, c.sentence = score, s
    for c in cands.values():
        c.score += 0.1 * min(3, c.count - 1)
    return cands


def _spans(q: QuestionAnalysis, s: Sentence):
    """(text, label, entity id) of every possible answer span of a sentence: its mentions, plus
    dates and numbers found by pattern when the question wants one, plus the title for works."""
    covered = []
    for m in s.mentions:
        if m.kind != "pronoun":
            covered.append((m.start, m.end))
            yield m.text, m.label, m.entity_id
    base = s.citation.start
    primary = q.types[0]
    if primary & DATE:
        for d in parse_dates(s.text):
            if not any(a <= base + d.start < b for a, b in covered):
                yield d.text, "DATE", ""
    if primary & {"CARDINAL"}:
        dates = [(base + d.start, base + d.end) for d in parse_dates(s.text)]
        for text, start, _ in find_numbers(s.text):
            if not any(a <= base + start < b for a, b in covered + dates):
                yield text, "CARDINAL", ""
    if primary & {"WORK_OF_ART"} and s.first and s.title:
        yield s.title, "TITLE", ""


def _type_fit(q: QuestionAnalysis, label: str) -> float:
    primary, secondary = q.types
    if not primary:
        return 1.0 if label in NAMED else 0.3 if label == "CONCEPT" else 0.0
    return 1.0 if label in primary else 0.5 if label in secondary else 0.0


def _closeness(s: Sentence, text: str, qwords: set[str]) -> float:
    """Share of the question's words in the sentence, not counting the candidate's own words."""
    own = set(content_words(text))
    wanted = qwords - own
    return len(wanted & set(content_words(s.text))) / max(1, len(wanted))


def _mentions_linked(s: Sentence, linked_ids: set[str], linked_names: list[str]) -> bool:
    return any(m.entity_id in linked_ids for m in s.mentions if m.entity_id) or any(
        contains_phrase(s.text, n) for n in linked_names
    )


def _bridge_entities(sentences: list[Sentence], linked_ids: set[str], linked_names: list[str]) -> set[str]:
    """Entities named next to a question entity: the likely middle of a two-hop chain."""
    out = set()
    for s in sentences:
        if _mentions_linked(s, linked_ids, linked_names):
            out.update(m.entity_id or normalise(m.text) for m in s.mentions if m.entity_id not in linked_ids)
    return out


def _context_bonus(s: Sentence, linked_ids, linked_names, bridges: set[str], eid: str) -> float:
    if _mentions_linked(s, linked_ids, linked_names):
        return 0.3
    others = {m.entity_id or normalise(m.text) for m in s.mentions} - {eid}
    return 0.3 if others & bridges else 0.0


def _support(s: Sentence, ctx: Context, sentences: list[Sentence]) -> list:
    """The answer's sentence, plus the sentence linking the question entity to it (bridge)."""
    cites = [s.citation]
    linked_ids, linked_names = question_entities(ctx)
    if not _mentions_linked(s, linked_ids, linked_names):
        here = {m.entity_id or normalise(m.text) for m in s.mentions}
        for other in sentences:
            there = {m.entity_id or normalise(m.text) for m in other.mentions}
            if other is not s and _mentions_linked(other, linked_ids, linked_names) and here & there:
                cites.append(other.citation)
                break
    return cites


def _answer_yes_no(ctx: Context, sentences: list[Sentence]):
    """'yes' when the sentences about the question's subject state most of its words."""
    linked_ids, linked_names = question_entities(ctx)
    about = [s for s in sentences if _mentions_linked(s, linked_ids, linked_names)] or sentences
    qwords = set(content_words(ctx.question)) - {w for n in linked_names for w in content_words(n)}
    if not qwords:
        return None
    best = max(about, key=lambda s: (len(qwords & set(content_words(s.text))), -s.order))
    stated = qwords & {w for s in about for w in content_words(s.text)}
    return ("yes" if len(stated) / len(qwords) >= YES_COVERAGE else "no"), [best.citation]
