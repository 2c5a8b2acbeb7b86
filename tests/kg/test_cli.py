"""The `kg` command on the shipped samples: real spaCy extraction, hashing embedder (fast)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib

from kg.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    cfg = folder / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    code = main(["build", str(SAMPLES / "corpus"), "--out", str(folder / "g"), "--config", str(cfg), "--no-progress"])
    assert code == 0
    return folder / "g"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_stats_shows_counts_and_settings(graph_dir, capsys):
    code, out, _ = run(capsys, "stats", graph_dir)
    assert code == 0
    assert "documents: 39" in out
    assert "[index] batch_size=256, embedder='hashing', entities='named', facts=False, model=''" in out
    code, out, _ = run(capsys, "stats", graph_dir, "--json")
    info = json.loads(out)
    assert info["documents"] == 39 and info["settings"]["ingest"]["chunk_size"] == 1200
    assert info["relations"] > 20 and info["entities"] > 100


def test_show_prints_relations_with_sentences(graph_dir, capsys):
    code, out, _ = run(capsys, "show", graph_dir, "Van Hook Township", "--json")
    assert code == 0
    view = json.loads(out)
    assert view["entity"]["name"] == "Van Hook Township"
    assert view["passages"], "the entity must know the passages that mention it"
    for rel in view["relations"]:
        for ev in rel["evidence"]:
            assert ev["sentence"]
    code, out, _ = run(capsys, "show", graph_dir, "Van Hook Township")
    assert out.startswith("Van Hook Township  (")


def test_export_turtle_parses_back(graph_dir, tmp_path, capsys):
    code, out, _ = run(capsys, "export", graph_dir, "--format", "turtle", "-o", tmp_path / "g.ttl")
    assert code == 0 and "wrote turtle" in out
    g = rdflib.Graph().parse(tmp_path / "g.ttl", format="turtle")
    assert len(g) > 500


def test_errors_are_clean_messages_with_exit_code_2(tmp_path, capsys):
    code, out, err = run(capsys, "stats", tmp_path / "nowhere")
    assert code == 2 and out == ""
    assert err.strip() == f"kg stats: error: {tmp_path / 'nowhere'}: no such graph directory; create one with `kg build SOURCES --out {tmp_path / 'nowhere'}`"
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nchunk_size = 'big'\n", encoding="utf-8")
    code, _, err = run(capsys, "build", SAMPLES / "corpus", "--out", tmp_path / "g", "--config", bad)
    assert code == 2 and "ingest.chunk_size: expected a number, got 'big'" in err
    bad.write_text('[index]\nentities = "some"\n', encoding="utf-8")  # a value check inside the section
    code, _, err = run(capsys, "build", SAMPLES / "corpus", "--out", tmp_path / "g", "--config", bad)
    assert (code, err.strip()) == (2, f"kg build: error: {bad}: index.entities: expected one of named, all, got 'some'")
    code, _, err = run(capsys, "build", tmp_path / "missing-folder", "--out", tmp_path / "g2", "--no-progress")
    assert code == 2 and "no documents to build a graph from" in err


def test_remove_by_external_id(graph_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(graph_dir, copy)
    code, out, _ = run(capsys, "remove", copy, "msq-000001", "--json")
    assert code == 0
    assert json.loads(out)["source"].endswith("passages.jsonl#msq-000001")
    code, out, _ = run(capsys, "stats", copy, "--json")
    assert json.loads(out)["documents"] == 38
