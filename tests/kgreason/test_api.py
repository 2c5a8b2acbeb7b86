"""kg.build / kg.open / kg.remove with a deterministic extractor and the hashing embedder."""
from __future__ import annotations

import sqlite3

import pytest

import kg
from kg.errors import ConfigError, InputError, NotFoundError, StoreError


def triples(graph):
    name = {e.id: e.name for e in graph.entities.values()}
    return sorted((name[r.subject], r.predicate, name[r.object]) for r in graph.relations.values())


def table_dump(folder):
    con = sqlite3.connect(folder / "graph.sqlite")
    try:
        return [l for l in con.iterdump() if "saved_at" not in l]
    finally:
        con.close()


def test_build_makes_a_graph_with_provenance(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    report = kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    assert (report.documents_added, report.documents_unchanged, report.documents_removed) == (3, 0, 0)
    graph = kg.open(tmp_path / "g").graph
    assert triples(graph) == [
        ("Ada Lovelace", "met", "Charles Babbage"),
        ("Ada Lovelace", "wrote", "Notes"),
        ("Analytical Engine", "inspired", "Notes"),
        ("Charles Babbage", "designed", "Analytical Engine"),
    ]
    met = next(r for r in graph.relations.values() if r.predicate == "met")
    (ev,) = met.evidence
    doc = graph.documents[ev.doc_id]
    assert doc.source.endswith("ada.txt")
    assert doc.text[ev.start:ev.end] == ev.sentence == " Ada Lovelace met Charles Babbage."
    assert set(graph.vectors) >= {"passage", "entity"}
    assert len(graph.vectors["passage"].ids) == len(graph.passages)


def test_rebuild_is_incremental_and_deterministic(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    first = table_dump(tmp_path / "g")
    again = kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    assert (again.documents_added, again.documents_unchanged) == (0, 3)
    assert regex_extractor.calls == 3  # nothing extracted the second time
    assert table_dump(tmp_path / "g") == first
    files = sorted(tiny_corpus.iterdir(), reverse=True)
    kg.build(files, tmp_path / "h", hashing_config, extractor=regex_extractor, progress=False)
    assert table_dump(tmp_path / "h") == first


def test_changed_document_replaces_its_facts(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    (tiny_corpus / "engine.txt").write_text("Analytical Engine puzzled Grace Hopper.\n", encoding="utf-8")
    report = kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    assert (report.documents_added, report.documents_unchanged, report.documents_removed) == (1, 2, 1)
    got = triples(kg.open(tmp_path / "g").graph)
    assert ("Analytical Engine", "inspired", "Notes") not in got
    assert ("Analytical Engine", "puzzled", "Grace Hopper") in got


def test_remove_deletes_document_and_facts_only_it_supported(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    graph = kg.open(tmp_path / "g").graph
    engine_doc = next(d for d in graph.documents.values() if d.source.endswith("engine.txt"))
    removed = kg.remove(tmp_path / "g", str(tiny_corpus / "engine.txt"))
    assert removed.id == engine_doc.id
    graph = kg.open(tmp_path / "g").graph
    assert engine_doc.id not in graph.documents
    assert ("Analytical Engine", "inspired", "Notes") not in triples(graph)
    assert ("Charles Babbage", "designed", "Analytical Engine") in triples(graph)
    assert all(m.doc_id != engine_doc.id for m in graph.mentions.values())
    with pytest.raises(NotFoundError, match=r"no document with id, external id or source 'nope'"):
        kg.remove(tmp_path / "g", "nope")


def test_bad_inputs_are_reported_and_strict_fails(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    (tiny_corpus / "empty.txt").write_text("", encoding="utf-8")
    report = kg.build([tiny_corpus, tmp_path / "missing.txt"], tmp_path / "g", hashing_config,
                      extractor=regex_extractor, progress=False)
    assert report.documents_added == 3
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "missing.txt"}
    with pytest.raises(InputError, match=r"empty.txt"):
        kg.build([tiny_corpus], tmp_path / "strict", hashing_config, extractor=regex_extractor, strict=True, progress=False)
    assert not (tmp_path / "strict" / "graph.sqlite").exists()


def test_no_documents_at_all_is_an_error(tmp_path, hashing_config):
    with pytest.raises(InputError, match=r"no documents to build a graph from"):
        kg.build([tmp_path / "missing"], tmp_path / "g", hashing_config, progress=False)


def test_interrupted_build_leaves_previous_graph_intact(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    kg.build([tiny_corpus / "ada.txt"], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    before = table_dump(tmp_path / "g")
    with pytest.raises(KeyboardInterrupt):
        kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=type(regex_extractor)(fail_after=1), progress=False)
    assert table_dump(tmp_path / "g") == before
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [".kgreason.lock", "graph.sqlite"]


def test_changed_settings_rebuild_everything(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    smaller = hashing_config.with_(ingest=hashing_config.ingest.with_(chunk_size=60, chunk_overlap=0))
    report = kg.build([tiny_corpus], tmp_path / "g", smaller, extractor=regex_extractor, progress=False)
    assert (report.documents_added, report.documents_unchanged) == (3, 0)
    assert kg.open(tmp_path / "g").settings["build"]["ingest"]["chunk_size"] == 60


class CountingEmbedder:
    """HashingEmbedder that records every text it is asked to embed."""

    def __init__(self):
        from kg.embedding import HashingEmbedder

        self.inner = HashingEmbedder(dim=32)
        self.name = self.inner.name
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen.extend(texts)
        return self.inner.embed(texts)


def test_incremental_build_embeds_only_new_texts(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    config = hashing_config.with_(resolve=hashing_config.resolve.with_(use_embeddings=True))
    kg.build([tiny_corpus], tmp_path / "g", config, extractor=regex_extractor, progress=False, embedder=CountingEmbedder())
    mtime = (tmp_path / "g" / "graph.sqlite").stat().st_mtime_ns
    idle = CountingEmbedder()
    report = kg.build([tiny_corpus], tmp_path / "g", config, extractor=regex_extractor, progress=False, embedder=idle)
    assert (report.documents_unchanged, report.entities, idle.seen) == (3, 4, [])
    assert (tmp_path / "g" / "graph.sqlite").stat().st_mtime_ns == mtime  # nothing changed, nothing rewritten
    (tiny_corpus / "more.txt").write_text("Grace Hopper admired Charles Babbage.\n", encoding="utf-8")
    more = CountingEmbedder()
    kg.build([tiny_corpus], tmp_path / "g", config, extractor=regex_extractor, progress=False, embedder=more)
    new_texts = set(more.seen)
    assert "Grace Hopper" in new_texts
    assert not new_texts & {"Ada Lovelace", "Notes", "Analytical Engine"}  # known names come from the saved vectors


def test_questions_need_no_spacy_unless_the_settings_ask_for_it(tiny_corpus, tmp_path, hashing_config, regex_extractor):
    import subprocess
    import sys

    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    code = ("import sys, kgreason; kb = kgreason.open(sys.argv[1]); kb.retrieve('Who wrote Notes?'); "
            "print('spacy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "g")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_overlong_question_is_refused_with_its_length(tiny_corpus, tmp_path, hashing_config, regex_extractor):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    with pytest.raises(ConfigError, match="question: expected at most 2,000 characters, got 100,000"):
        kg.open(tmp_path / "g").retrieve("x" * 100_000)


def test_retrieve_many_answers_in_order_and_names_a_bad_question_by_position(tiny_corpus, tmp_path, hashing_config,
                                                                              regex_extractor):
    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    kb = kg.open(tmp_path / "g")
    questions = ["Who wrote Notes?", "Who was Ada Lovelace?"]
    many = kb.retrieve_many(questions, k=2)
    assert [r.question for r in many] == questions
    assert [[e.passage_id for e in r.evidence] for r in many] == [[e.passage_id for e in kb.retrieve(q, k=2).evidence]
                                                                   for q in questions]
    with pytest.raises(ConfigError, match="question 2: expected a non-empty question"):
        kb.retrieve_many(["Who wrote Notes?", "  "])


def test_a_second_writer_fails_at_once_naming_the_first(tiny_corpus, tmp_path, hashing_config, regex_extractor):
    from kg.lock import writer_lock

    kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor, progress=False)
    with writer_lock(tmp_path / "g", "kg build"):
        for write in (lambda: kg.build([tiny_corpus], tmp_path / "g", hashing_config, extractor=regex_extractor,
                                       progress=False),
                      lambda: kg.remove(tmp_path / "g", "ada.txt")):
            with pytest.raises(StoreError, match=r"another kgreason process is writing this graph \(pid \d+, kg build, "
                                                 r"since .*\); wait for it to finish, or stop it"):
                write()
        assert kg.open(tmp_path / "g").stats()["documents"] == 3  # readers are never blocked


def test_writers_in_two_processes_never_lose_documents(tiny_corpus, tmp_path):
    """Two `kg build` of different documents at once: one of them is refused, never silently lost."""
    import subprocess
    import sys

    cfg = tmp_path / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    runs = [subprocess.Popen([sys.executable, "-m", "kgreason.cli", "build", str(tiny_corpus / name), "--out",
                              str(tmp_path / "g"), "--config", str(cfg), "--no-progress", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("ada.txt", "babbage.md")]
    results = [(r.wait(), r.stderr.read()) for r in runs]
    built = {name for name, (code, _) in zip(("ada.txt", "babbage.md"), results) if code == 0}
    sources = {d.source.rsplit("/", 1)[-1] for d in kg.open(tmp_path / "g").graph.documents.values()}
    assert sources == built  # every build that said it succeeded kept its document
    assert all(code == 0 or "another kgreason process is writing this graph" in err for code, err in results)


def test_sources_are_one_file_whatever_the_path_or_working_directory(tiny_corpus, tmp_path, hashing_config,
                                                                      regex_extractor, monkeypatch):
    out = tmp_path / "g"
    kg.build([tiny_corpus / "ada.txt"], out, hashing_config, extractor=regex_extractor, progress=False)
    (tiny_corpus / "ada.txt").write_text("Ada Lovelace wrote Sketch Notes.", encoding="utf-8")
    monkeypatch.chdir(tiny_corpus)
    report = kg.build(["ada.txt"], out, hashing_config, extractor=regex_extractor, progress=False)
    assert (report.documents_added, report.documents_removed) == (1, 1)
    docs = list(kg.open(out).graph.documents.values())
    assert [d.text for d in docs] == ["Ada Lovelace wrote Sketch Notes."]
    assert docs[0].source == (tiny_corpus / "ada.txt").relative_to(tmp_path).as_posix()
    kg.remove(out, str(tiny_corpus / "ada.txt"))  # removable by any path to the file
    assert kg.open(out).graph.documents == {}


def test_incremental_and_fresh_builds_agree_table_by_table(tiny_corpus, tmp_path, regex_extractor, hashing_config):
    """With a batch-independent embedder every table matches; the README says what the int8 one changes."""
    kg.build([tiny_corpus], tmp_path / "fresh", hashing_config, extractor=regex_extractor, progress=False)
    kg.build([tiny_corpus / "ada.txt"], tmp_path / "inc", hashing_config, extractor=regex_extractor, progress=False)
    kg.build([tiny_corpus], tmp_path / "inc", hashing_config, extractor=regex_extractor, progress=False)
    assert table_dump(tmp_path / "inc") == table_dump(tmp_path / "fresh")
