"""samples/docs (a README-style Markdown file and a Sphinx-style reStructuredText page, see their
licence notes) build into a graph whose records hold no markup and whose offsets point into the files.

An end-to-end check of what extract/ reads, through the whole build and the store, with the real
spaCy pipeline (loaded once per session) and the hashing embedder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from extract.loaders import load_documents
from extract.spacy_extractor import SpacyExtractor
from kg import store

DOCS = Path(__file__).resolve().parents[2] / "samples" / "docs"
MARKUP = set("`{}|\n\r\t")


@pytest.fixture(scope="module")
def built(nlp, tmp_path_factory):
    import kgreason
    from kg.config import BuildConfig

    out = tmp_path_factory.mktemp("docs-graph") / "graph"
    config = BuildConfig.from_dict({"index": {"embedder": "hashing"}, "resolve": {"use_embeddings": False}})
    report = kgreason.build([DOCS], out, config, progress=False, extractor=SpacyExtractor(nlp=nlp, workers=1))
    return report, store.load_graph(out)


@pytest.mark.e2e
def test_sample_docs_build_and_keep_the_files_text(built):
    report, graph = built
    assert (report.documents_added, report.skipped) == (2, ())
    loaded = {d.id: d for d in load_documents([DOCS]).documents}
    for doc in graph.documents.values():
        fresh = loaded[doc.id]
        assert (doc.text, doc.prose, doc.sections, doc.code) == (fresh.text, fresh.prose, fresh.sections, fresh.code)
        assert doc.text == Path(fresh.source).read_text(encoding="utf-8")
    assert {d.title for d in graph.documents.values()} == {"kgreason — questions over your own documents", "Configuration"}


@pytest.mark.e2e
def test_sample_docs_passages_know_their_sections(built):
    _, graph = built
    for p in graph.passages.values():
        assert p.text == graph.documents[p.doc_id].text[p.start : p.end]
    assert {p.section for p in graph.passages.values()} == {
        "", "Installation", "Installation > Using pip", "Installation > From source", "Quick start",
        "Supported inputs", "How it works", "Architecture", "Architecture > Configuration", "Contributing",
        "Licence", "Ingest", "Ingest > Extraction",
    }
    assert any("$ pip install kgreason" in p.text for p in graph.passages.values())  # code stays searchable


@pytest.mark.e2e
def test_sample_docs_names_predicates_and_quotes_are_clean(built):
    _, graph = built
    names = {e.name for e in graph.entities.values()}
    assert {"Ada Lovelace", "Grace Hopper", "Alan Turing"} <= names
    assert "Charles Babbage Institute" not in names  # only in a code block
    for e in graph.entities.values():
        for name in (e.name, *e.aliases):
            assert not MARKUP & set(name) and name[0] not in ">$-*#|" and name == name.strip(), name
    for r in graph.relations.values():
        assert r.predicate and not MARKUP & set(r.predicate) and " " not in r.predicate, r.predicate
        for ev in r.evidence:
            assert ev.sentence == graph.documents[ev.doc_id].text[ev.start : ev.end]
            assert "```" not in ev.sentence and "pip install" not in ev.sentence, ev.sentence
