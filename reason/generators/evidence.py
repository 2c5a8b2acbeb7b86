"""Read-only views of a ``Context`` used by the extractive answerer: sentences with their source
numbers, the mentions inside each sentence, and the sentences about a named subject.

>>> strip_parenthetical("Excalibur (Film)")
'Excalibur'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kg.model import Citation
from kg.text import name_key

from ..context import Context, ContextMention
from ..text import contains_phrase


@dataclass(frozen=True)
class Sentence:
    """A kept context sentence with its source number, position in the context and mentions."""

    citation: Citation
    source: int
    order: int  # 0-based position among all kept sentences
    first: bool  # the first kept sentence of its source
    title: str
    mentions: tuple[ContextMention, ...]
    section: str = ""  # the heading it is written under (see ``ContextSentence``)

    @property
    def text(self) -> str:
        return self.citation.quote


def sentences_of(ctx: Context) -> list[Sentence]:
    """All kept sentences in context order, each with the mentions inside it."""
    out: list[Sentence] = []
    for src in ctx.sources:
        for i, s in enumerate(src.sentences):
            c = s.citation
            ms = tuple(
                m for m in ctx.mentions
                if m.source == src.number and c.start <= m.start and m.end <= c.end and m.end > m.start
            )
            out.append(Sentence(c, src.number, len(out), i == 0, src.title, ms, s.section))
    return out


def strip_parenthetical(name: str) -> str:
    """'Excalibur (Film)' -> 'Excalibur': Wikipedia-style disambiguators are not part of the name."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", name).strip() or name


def same_name(a: str, b: str) -> bool:
    return name_key(strip_parenthetical(a)) == name_key(strip_parenthetical(b))


def about(subject: str, sentences: list[Sentence]) -> list[Sentence]:
    """Sentences about ``subject``: its own source (title equal to the name) first, then other
    sentences naming it."""
    core = strip_parenthetical(subject)
    own = [s for s in sentences if s.title and same_name(s.title, subject)]
    others = [s for s in sentences if s not in own and contains_phrase(s.text, core)]
    return own + others


def question_entities(ctx: Context) -> tuple[set[str], list[str]]:
    """Entity ids and names of the question's linked entities."""
    ids = {x.entity_id for x in ctx.linked}
    names = [n for x in ctx.linked for n in (x.name, x.mention) if name_key(n)]
    return ids, names


def in_question(mention_text: str, entity_id: str, ctx: Context, linked_ids: set[str]) -> bool:
    """Whether a mention names an entity of the question (so cannot be its answer)."""
    return entity_id in linked_ids and bool(entity_id) or contains_phrase(ctx.question, mention_text)
