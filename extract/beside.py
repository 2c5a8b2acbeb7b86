"""Two extractors on one corpus: the main one reads every document, a second one (an LLM, slow and
costly) reads the documents a user chose as well, and their findings are merged per document.

Mentions are merged by id (the same span of the same document is one mention, the main extractor's
reading kept); relations from both are kept, each with the pattern that produced it, so a fact found
by both is supported twice.

>>> from kg.model import Document, DocumentExtraction, Mention, Passage
>>> from extract.base import DocumentInput
>>> class Fixed:
...     def __init__(self, name, label): self.name, self.label = name, label
...     def extract(self, inputs):
...         for i in inputs:
...             yield DocumentExtraction(i.document.id, (Mention("m0", i.document.id, "p", 0, 3, "Ada", self.label, "ner"),), ())
>>> docs = [Document.from_text("Ada.", source=s) for s in ("notes/a.md", "api/b.md")]
>>> inputs = [DocumentInput(d, (Passage(d.id + ":p0", d.id, 0, 0, 4, d.text),)) for d in docs]
>>> out = list(Beside(Fixed("spacy", "PERSON"), Fixed("llm", "ORG"), ("api/*.md",)).extract(inputs))
>>> [[m.label for m in ex.mentions] for ex in out]
[['PERSON'], ['PERSON']]
>>> Beside(Fixed("spacy", "PERSON"), Fixed("llm", "ORG"), ("api/*.md",)).chosen(docs[1])
True
"""
from __future__ import annotations

import inspect
from pathlib import PurePosixPath
from typing import Any, Callable, Iterator, Sequence

from kg.model import Document, DocumentExtraction

from .base import DocumentInput, Extractor


def source_matches(source: str, patterns: Sequence[str]) -> bool:
    """Whether a document source matches one of the glob patterns, compared from the path's end
    ("api/*.md" matches "docs/api/x.md"; "*.pdf" any PDF).

    >>> source_matches("docs/api/x.md", ["api/*.md"]), source_matches("docs/guide/x.md", ["api/*.md"])
    (True, False)
    """
    path = PurePosixPath(source.replace("\\", "/"))
    return any(path.match(p) for p in patterns)


class Beside:
    """``Extractor``: ``main`` on every document, ``extra`` also on the documents whose source matches
    one of ``patterns``. Progress counts the main pass per document and the extra pass per passage
    (the slow part)."""

    def __init__(self, main: Extractor, extra: Extractor, patterns: Sequence[str]):
        self.main, self.extra, self.patterns = main, extra, tuple(patterns)
        self.name = f"{main.name}+{extra.name}"

    def chosen(self, doc: Document) -> bool:
        return source_matches(doc.source, self.patterns)

    def extract(self, inputs: Sequence[DocumentInput],
                progress: Callable[[int], None] | None = None) -> Iterator[DocumentExtraction]:
        step = progress or (lambda n: None)
        for item, ex in zip(inputs, self.main.extract(inputs)):
            if not self.chosen(item.document):
                step(len(item.passages))
                yield ex
                continue
            extra = next(iter(_call(self.extra, [item], step)))
            yield merge(ex, extra)


def merge(a: DocumentExtraction, b: DocumentExtraction) -> DocumentExtraction:
    """One document's findings from two extractors: mentions by id (``a``'s first), all relations."""
    mentions = {m.id: m for m in a.mentions}
    for m in b.mentions:
        mentions.setdefault(m.id, m)
    return DocumentExtraction(a.doc_id, tuple(mentions.values()), a.relations + b.relations)


def _call(extractor: Any, inputs: list[DocumentInput], step: Callable[[int], None]):
    if "progress" in inspect.signature(extractor.extract).parameters:
        return extractor.extract(inputs, progress=step)
    step(sum(len(i.passages) for i in inputs))  # an extractor without progress: count the document at once
    return extractor.extract(inputs)
