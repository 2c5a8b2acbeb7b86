"""Build progress counts passages, not documents, so one large file shows its progress too."""
from __future__ import annotations

from kg.model import Document, Passage
from extract.base import DocumentInput
from extract.spacy_extractor import SpacyExtractor
from kgreason.progress import accepts_progress


def test_spacy_extractor_reports_every_passage_of_one_large_document(nlp):
    doc = Document.from_text("Ada wrote notes. " * 30, source="big.txt")
    passages = tuple(Passage(f"{doc.id}:p{i}", doc.id, i, 17 * i, 17 * i + 16, "Ada wrote notes.") for i in range(30))
    steps: list[int] = []
    out = list(SpacyExtractor(nlp=nlp, workers=1).extract([DocumentInput(doc, passages)], progress=steps.append))
    assert len(out) == 1 and steps == [1] * 30


def test_progress_is_optional_for_plugin_extractors(regex_extractor):
    assert accepts_progress(SpacyExtractor().extract)
    assert not accepts_progress(regex_extractor.extract)
