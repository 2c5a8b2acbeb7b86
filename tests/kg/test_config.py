"""Settings: one loader for every stage, checks that name the file, section and key, round trips."""
from __future__ import annotations

import pytest

from kg.config import (BuildConfig, GenerateConfig, HybridConfig, LinkConfig, RetrieveConfig, Settings,
                       load_settings)
from kg.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "kg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_stage_loads_from_one_file(tmp_path):
    s = load_settings(write(tmp_path, """
[ingest]
chunk_size = 900
[retrieve]
mode = "bm25"
k = 8
[retrieve.hybrid]
ppr = 1.0
[retrieve.link]
fuzzy_threshold = 95
[generate]
generator = "openai"
max_new_tokens = 64
"""))
    assert s.build.ingest.chunk_size == 900 and s.build == BuildConfig.from_dict({"ingest": {"chunk_size": 900}})
    assert s.retrieve == RetrieveConfig(mode="bm25", k=8, link=LinkConfig(fuzzy_threshold=95.0), hybrid=HybridConfig(ppr=1.0))
    assert s.generate == GenerateConfig(generator="openai", max_new_tokens=64)
    assert Settings.from_dict(s.to_dict()) == s
    assert load_settings(None) == Settings()


@pytest.mark.parametrize("text, message", [
    ("[retreive]\nk = 3\n", "kg.toml: unknown setting(s) retreive; expected some of ingest, extract, resolve, index, retrieve, generate"),
    ("[retrieve]\nkk = 3\n", "kg.toml: retrieve: unknown setting(s) kk; expected some of mode, k, hops, damping, pagerank, "
                              "pagerank_epsilon, rerank_candidates, rerank_weight, link, hybrid"),
    ("[retrieve]\npagerank = \"fast\"\n", "kg.toml: retrieve.pagerank: expected one of exact, push, got 'fast'"),
    ("[retrieve]\npagerank_epsilon = 0\n", "kg.toml: retrieve.pagerank_epsilon: expected a residual threshold between 0 "
                                          "and 1, got 0.0"),
    ("[retrieve.hybrid]\nppr = \"high\"\n", "kg.toml: retrieve.hybrid.ppr: expected a number, got 'high'"),
    ("[retrieve]\nk = 2.5\n", "kg.toml: retrieve.k: expected a whole number, got 2.5"),
    ("[retrieve]\nk = 0\n", "kg.toml: retrieve.k: expected at least 1 passage, got 0"),
    ("[retrieve]\nmode = \"fast\"\n", "kg.toml: retrieve.mode: expected one of bm25, dense, graph, hybrid, got 'fast'"),
    ("[retrieve.link]\nembedding_threshold = 2\n", "kg.toml: retrieve.link.embedding_threshold: expected a cosine from -1 to 1, got 2.0"),
    ("[ingest]\nchunk_size = 10\n", "kg.toml: ingest.chunk_size: expected at least 50 characters, got 10"),
    ("[generate]\ngenerator = \"\"\n", "kg.toml: generate.generator: expected a generator name, got an empty string"),
    ("retrieve = 3\n", "kg.toml: retrieve: expected a table of settings, got int"),
])
def test_bad_settings_name_the_file_the_setting_and_what_was_expected(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    assert str(err.value) == str(tmp_path / message)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"kg.toml: not valid TOML"):
        load_settings(write(tmp_path, "[retrieve\n"))


def test_settings_are_assembled_from_stage_configs():
    s = Settings.of(build=BuildConfig.from_dict({"extract": {"workers": 1}}), retrieve=RetrieveConfig(k=3))
    assert (s.extract.workers, s.retrieve.k, s.generate) == (1, 3, GenerateConfig())
