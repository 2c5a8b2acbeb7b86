"""kg publish: the samples graph served from a real PostgreSQL with pgvector ranks exactly as the
graph directory does (real spaCy extraction, hashing embedder for speed)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import kgreason
from kg.errors import ConfigError
from kgreason.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MODES = ("hybrid", "dense", "bm25", "graph")


@pytest.fixture(scope="module")
def published(tmp_path_factory, postgres):
    folder = tmp_path_factory.mktemp("publish")
    cfg = folder / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    assert main(["build", str(SAMPLES / "corpus"), "--out", str(folder / "docs"), "--config", str(cfg), "--no-progress"]) == 0
    entry = kgreason.publish(folder / "docs", postgres)
    assert entry.name == "docs"  # the directory's name
    return folder / "docs", f"{postgres}#docs"


def questions() -> list[str]:
    return [json.loads(x)["question"] for x in (SAMPLES / "questions.jsonl").read_text().splitlines() if x.strip()]


def _ranked(kb, question: str, mode: str) -> tuple[list[str], list]:
    """Passage ids in rank order, and their scores (pgvector sums a dot product in another order:
    the last digits of a cosine may differ, never the ranking)."""
    evidence = kb.retrieve(question, mode=mode).evidence
    return [e.passage_id for e in evidence], [pytest.approx(e.score, abs=1e-4) for e in evidence]


def test_the_published_graph_ranks_as_the_directory_does(published):
    folder, location = published
    local, served = kgreason.open(folder), kgreason.open(location)
    assert served.path is None and served.location.endswith("#docs")
    compared = 0
    for question in questions():
        for mode in MODES:
            assert _ranked(served, question, mode) == _ranked(local, question, mode), (question, mode)
            compared += 1
    assert compared == 4 * len(questions()) >= 32


def test_passages_searched_in_postgresql_rank_as_in_memory(published):
    """Below ``floor_sample`` passages a graph is scored whole from one fetch of its vectors; above,
    first-hop candidates come from pgvector's search and the working set's vectors are fetched by row."""
    folder, location = published
    config = kgreason.open(folder).retrieve_config
    sampled = dataclasses.replace(config, hybrid=dataclasses.replace(config.hybrid, floor_sample=8, candidates=10))
    local = kgreason.open(folder, retrieve_config=sampled)
    served = kgreason.open(location, retrieve_config=sampled)
    assert not served.retriever.scored_whole and served.retriever.passage_index._all is None
    for question in questions()[:8]:
        for mode in ("hybrid", "dense"):
            assert _ranked(served, question, mode) == _ranked(local, question, mode), (question, mode)
    assert served.retriever.passage_index._all is None  # never fetched whole


def test_answers_and_stats_come_from_the_published_graph(published):
    folder, location = published
    local, served = kgreason.open(folder), kgreason.open(location)
    for question in questions()[:5]:
        a, b = local.ask(question), served.ask(question)
        assert (b.text, b.found, b.citations) == (a.text, a.found, a.citations)
    assert served.stats()["passages"] == local.stats()["passages"] == 39
    with pytest.raises(ConfigError, match="a published graph is read-only; record feedback in the graph directory"):
        served.feedback(served.ask(questions()[0]), "good")


def test_cli_publishes_and_answers_from_postgresql(published, postgres, capsys):
    folder, _ = published
    assert main(["publish", str(folder), postgres, "--name", "cli", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert (entry["name"], entry["version"], entry["schema"]) == ("cli", 1, "kg_cli_v1")
    question = questions()[0]
    assert main(["ask", f"{postgres}#cli", question, "--json"]) == 0
    served = json.loads(capsys.readouterr().out)
    assert main(["ask", str(folder), question, "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert [e["passage_id"] for e in served["evidence"]] == [e["passage_id"] for e in local["evidence"]]
    assert main(["stats", f"{postgres}#cli"]) == 0
    assert f"graph: {postgres}#cli" in capsys.readouterr().out
    assert main(["ask", f"{postgres}#absent", question]) == 2
    assert "no published graph 'absent' (published: " in capsys.readouterr().err


def test_kg_serve_opens_a_published_graph(published):
    from kgreason.serve.app import Service

    _, location = published
    service = Service(location)
    assert service.stats()["documents"] == 39
    assert service.recent_feedback() == []  # read-only: no feedback store to list


def test_opening_with_another_embedder_than_the_vectors_is_refused(published):
    from kg.embedding import HashingEmbedder

    _, location = published
    with pytest.raises(ConfigError, match="its vectors were made by 'hashing-256', but questions would be embedded "
                                          "by 'hashing-64'; open it with that embedder"):
        kgreason.open(location, embedder=HashingEmbedder(dim=64))


def test_tables_from_the_hnsw_size_are_searched_through_an_index_and_rank_the_same(published, postgres, monkeypatch):
    """PostgreSQL scans a table without an index row by row; from ``PG_HNSW_THRESHOLD`` rows publishing
    builds an HNSW index, which the opened graph then searches through (made small here to cover it)."""
    from kg import pgstore

    folder, location = published
    monkeypatch.setattr(pgstore, "PG_HNSW_THRESHOLD", 8)
    kgreason.publish(folder, postgres, name="indexed")
    config = kgreason.open(folder).retrieve_config
    sampled = dataclasses.replace(config, hybrid=dataclasses.replace(config.hybrid, floor_sample=8, candidates=10))
    local = kgreason.open(folder, retrieve_config=sampled)
    served = kgreason.open(f"{postgres}#indexed", retrieve_config=sampled)
    indexes = served._indexes
    assert len(indexes["passage"]) > 8 and len(indexes["entity"]) > 8 and len(indexes["fact"]) == 0  # no fact vectors
    assert {name: index.exact for name, index in indexes.items()} == {"entity": False, "fact": True, "passage": False}
    assert kgreason.open(location)._indexes["passage"].exact  # published at the default size: no index, exact
    for question in questions()[:8]:
        for mode in ("hybrid", "dense"):
            assert _ranked(served, question, mode) == _ranked(local, question, mode), (question, mode)
