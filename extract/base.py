"""The extractor interface: documents (with their passages) in, per-document extractions out.

spaCy is the default backend (``extract.spacy_extractor.SpacyExtractor``); an LLM-based extractor
plugs in by implementing this protocol and registering under the ``kgreason.extractor`` entry-point
group. Extractors return only kgreason records (``kg.model``); library objects never leave ``extract/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, runtime_checkable

from kg.model import Document, DocumentExtraction, Passage


@dataclass(frozen=True)
class DocumentInput:
    """A document and its passages, as handed to an extractor."""

    document: Document
    passages: tuple[Passage, ...]


@runtime_checkable
class Extractor(Protocol):
    """Finds entity mentions and relations. ``extract`` yields one ``DocumentExtraction`` per input,
    in input order, so callers can show progress and save results as they come. An extractor may
    also take ``progress=`` (a callable): it is then called with 1 for each passage done, so a
    progress bar moves inside one large document too."""

    name: str

    def extract(self, inputs: Sequence[DocumentInput]) -> Iterator[DocumentExtraction]: ...
