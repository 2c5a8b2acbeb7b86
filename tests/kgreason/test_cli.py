"""The `kg` command on the shipped samples: real spaCy extraction, hashing embedder (fast)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib

from kgreason.cli import main

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


def test_settings_file_sets_query_defaults_saved_with_the_graph(tmp_path, capsys):
    cfg = tmp_path / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n'
                   '[retrieve]\nk = 2\nmode = "bm25"\n[retrieve.hybrid]\nppr = 1.25\n', encoding="utf-8")
    out = tmp_path / "g"
    assert main(["build", str(SAMPLES / "corpus"), "--out", str(out), "--config", str(cfg), "--no-progress"]) == 0
    capsys.readouterr()
    code, text, _ = run(capsys, "ask", out, "Where is Van Hook Township?", "--json")
    answer = json.loads(text)
    assert code == 0 and len(answer["evidence"]) == 2 and answer["mode"] == "bm25"
    assert answer["settings"]["retrieve"]["hybrid"]["ppr"] == 1.25
    assert answer["settings"]["generate"]["generator"] == "extractive"
    code, text, _ = run(capsys, "ask", out, "Where is Van Hook Township?", "--json", "-k", "3", "--mode", "dense")
    assert [json.loads(text)[key] for key in ("mode",)] == ["dense"] and len(json.loads(text)["evidence"]) == 3
    code, text, _ = run(capsys, "stats", out)
    assert "[retrieve] mode='bm25', k=2" in text and "[retrieve.hybrid] bm25=0.8, subquery=0.6, bridge=0.3, ppr=1.25" in text


def test_a_plugin_generator_works_in_kg_ask(graph_dir, capsys):
    from kg import registry

    registry.register("generator", "plugin-extractive", "reason.generators.extractive:ExtractiveGenerator")
    code, text, err = run(capsys, "ask", graph_dir, "Where is Van Hook Township?", "--generator", "plugin-extractive", "--json")
    assert (code, err) == (0, "")
    assert json.loads(text)["settings"]["generate"]["generator"] == "plugin-extractive"


def test_a_typo_in_a_settings_section_fails_build_ask_and_eval_alike(tmp_path, graph_dir, capsys):
    cfg = tmp_path / "kg.toml"
    cfg.write_text("[retreive]\nk = 3\n", encoding="utf-8")
    expected = f"{cfg}: unknown setting(s) retreive; expected some of ingest, extract, resolve, index, retrieve, generate\n"
    for argv in (["build", SAMPLES / "corpus", "--out", tmp_path / "g"], ["ask", graph_dir, "Who?"],
                 ["eval", SAMPLES, "--out", tmp_path / "r"]):
        code, _, err = run(capsys, *argv, "--config", cfg)
        assert code == 2 and err.endswith(expected), argv


def test_rebuild_replaces_a_damaged_graph(tmp_path, capsys):
    import sqlite3

    cfg = tmp_path / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    out = tmp_path / "g"
    build = ["build", SAMPLES / "corpus" / "Sigmund Selberg.md", "--out", out, "--config", cfg, "--no-progress"]
    assert run(capsys, *build)[0] == 0
    con = sqlite3.connect(out / "graph.sqlite")
    con.execute("DROP TABLE raw_relations")
    con.commit()
    con.close()
    for argv in (build, ["remove", out, "x"], ["stats", out]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "damaged graph file: table raw_relations is missing; rebuild it" in err, argv
    code, _, err = run(capsys, *build, "--rebuild")
    assert (code, err) == (0, "")
    assert "documents: 1" in run(capsys, "stats", out)[1]


@pytest.mark.e2e
def test_ctrl_c_during_parallel_extraction_ends_fast_and_keeps_the_graph(tmp_path):
    """One SIGINT during a 2-process extraction: exit 130 within seconds, no worker tracebacks."""
    import signal
    import subprocess
    import sys
    import time

    records = [json.loads(line) for line in (SAMPLES / "corpus" / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n in range(400):  # distinct documents, enough for tens of seconds of parsing
        rec = records[n % len(records)]
        (corpus / f"doc{n:03}.txt").write_text(f"Copy {n} of {rec['title']}.\n\n{rec['text']}\n", encoding="utf-8")
    cfg = tmp_path / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n[extract]\nworkers = 2\n', encoding="utf-8")
    out = tmp_path / "g"
    assert main(["build", str(corpus / "doc000.txt"), "--out", str(out), "--config", str(cfg), "--no-progress"]) == 0
    before = (out / "graph.sqlite").read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "kgreason.cli", "build", str(corpus), "--out", str(out), "--config",
                             str(cfg)], stderr=subprocess.PIPE, text=True)
    seen = ""
    while "extract" not in seen:  # the progress bar: extraction is under way
        seen += proc.stderr.read(1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    started = time.perf_counter()
    code = proc.wait(timeout=30)
    waited = time.perf_counter() - started
    err = seen + proc.stderr.read()
    assert code == 130 and waited < 10, (code, waited)
    assert "Traceback" not in err and err.count("interrupted") == 1
    assert (out / "graph.sqlite").read_bytes() == before


def test_control_characters_in_documents_are_escaped_on_the_terminal(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil.txt").write_text("Ada Lovelace wrote \x1b[31mNotes\x1b[0m in London.\r\n", encoding="utf-8")
    cfg = tmp_path / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    assert run(capsys, "build", docs, "--out", tmp_path / "g", "--config", cfg, "--no-progress")[0] == 0
    code, out, _ = run(capsys, "ask", tmp_path / "g", "What did Ada Lovelace write?", "--retrieve-only")
    assert code == 0 and "\x1b" not in out and "\r" not in out
    assert "\\x1b[31mNotes\\x1b[0m" in out


def test_output_piped_into_a_reader_that_stops_early_is_not_an_error(graph_dir):
    import subprocess
    import sys

    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = subprocess.run([sys.executable, "-m", "kgreason.cli", "show", str(graph_dir), "Van Hook Township",
                             "--limit", "500"], stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=120)
    reader.stdin.close()
    reader.wait()
    assert writer.returncode == 0 and "Traceback" not in writer.stderr


def test_a_broken_pipe_that_is_not_standard_output_is_a_failure_and_output_goes_on(graph_dir, monkeypatch, capsys):
    """Only a closed standard output means `| head`: a pipe to a worker or a server that breaks is a real
    failure, and a program (or a test) calling main in process keeps its standard output."""
    import kgreason.cli as cli

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli._parser

    def patched():
        p = parser()
        p._subparsers._group_actions[0].choices["stats"].set_defaults(func=broken)
        return p

    monkeypatch.setattr(cli, "_parser", patched)
    with pytest.raises(BrokenPipeError):
        main(["stats", str(graph_dir)])
    print("still here")
    assert capsys.readouterr().out == "still here\n"
    assert not cli.stdout_closed()


@pytest.mark.parametrize("generator, found, shown", [
    ("extractive", False, "why: the reader cannot tell; --generator combined reads with a local LLM"),
    ("combined", False, "why: the reader cannot tell"),
    ("extractive", True, None),  # an answer needs no excuse
])
def test_kg_ask_says_why_a_reader_gave_no_answer_and_what_else_can(generator, found, shown):
    from kg.model import Answer
    from kgreason import render

    a = Answer("What does X do?", "X" if found else "Not found in the documents.", found, (), (), (), "hybrid",
               generator, settings={"reader": {"note": "the reader cannot tell"}})
    lines = [line for line in render.answer(a).splitlines() if line.startswith("why:")]
    assert lines == ([shown] if shown else [])
