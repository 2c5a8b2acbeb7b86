"""Cost model: prices file, per-question and index cost, LLM-indexer estimate, ROI table."""
from __future__ import annotations

import pytest

from kg.errors import ConfigError
from kgreason.eval.cost import index_cost, llm_indexer_estimate, load_prices, mode_cost, query_usd, roi_table


def test_default_prices_have_sources():
    p = load_prices()
    assert p.vcpu_hour_usd == 0.048
    assert "AWS EC2" in p.cpu_source
    assert p.llm["hosted"].input_per_million_usd == 0.15 and p.llm["hosted"].output_per_million_usd == 0.60
    assert "gpt-4o-mini" in p.llm["hosted"].source
    assert p.llm_for("transformers") == p.llm["local"] and p.llm_for("openai") == p.llm["hosted"]


def test_user_prices_override_only_what_they_set(tmp_path):
    f = tmp_path / "prices.toml"
    f.write_text("[cpu]\nvcpu_hour_usd = 0.1\n[llm.hosted]\ninput_per_million_usd = 1.0\n[generators]\nmine = \"hosted\"\n")
    p = load_prices(f)
    assert p.vcpu_hour_usd == 0.1
    assert (p.llm["hosted"].input_per_million_usd, p.llm["hosted"].output_per_million_usd) == (1.0, 0.60)
    assert p.llm_for("mine") == p.llm["hosted"]
    assert p.path == str(f)


def test_bad_prices(tmp_path):
    f = tmp_path / "prices.toml"
    f.write_text("[cpu]\nvcpu_hour_usd = -1\n")
    with pytest.raises(ConfigError, match=rf"^{f}: cpu.vcpu_hour_usd: expected a non-negative number, got -1$"):
        load_prices(f)
    f.write_text("[generators]\nodd = \"gold\"\n")
    with pytest.raises(ConfigError, match=r"generator 'odd' uses price class 'gold'; expected one of: hosted, local"):
        load_prices(f).llm_for("odd")
    with pytest.raises(ConfigError, match=r"no price class for generator 'new'; add it under \[generators\]"):
        load_prices().llm_for("new")
    with pytest.raises(ConfigError, match=r"config file not found"):
        load_prices(tmp_path / "missing.toml")


def test_query_and_mode_cost_hand_computed():
    p = load_prices()
    # 36 CPU seconds = 0.01 vCPU-hour = $0.00048; 1M prompt + 1M completion tokens hosted = $0.75
    assert query_usd(cpu_seconds=36, prompt_tokens=1e6, completion_tokens=1e6, prices=p, generator="openai") == pytest.approx(0.75048)
    assert query_usd(cpu_seconds=36, prompt_tokens=1e6, completion_tokens=1e6, prices=p, generator="transformers") == pytest.approx(0.00048)
    c = mode_cost("hybrid", 0.2, {"llm_calls": 1, "prompt_tokens": 500, "completion_tokens": 20}, p, "openai")
    assert c.cpu_usd_per_1000 == pytest.approx(1000 * 0.2 * 0.048 / 3600)
    assert c.llm_usd_per_1000 == pytest.approx(1000 * (500 * 0.15 + 20 * 0.60) / 1e6)
    assert c.usd_per_1000 == pytest.approx(c.cpu_usd_per_1000 + c.llm_usd_per_1000)


def test_index_cost_and_llm_indexer_estimate():
    p = load_prices()
    idx = index_cost(360.0, {"llm_calls": 0}, p)
    assert (idx.llm_calls, idx.prompt_tokens, idx.usd) == (0, 0, pytest.approx(0.0048))
    e = llm_indexer_estimate([800, 1200, 400], p)
    # 2 calls per chunk; prompt = 2 x (600 chunk tokens + 3 x 1700) ; completion = 6 x 400
    assert (e.chunks, e.llm_calls, e.prompt_tokens, e.completion_tokens) == (3, 6, 11400, 2400)
    assert e.usd == pytest.approx(11400 * 0.15e-6 + 2400 * 0.6e-6)
    assert e.assumptions["calls_per_chunk"] == 2 and e.assumptions["price"]["input_per_million_usd"] == 0.15


def test_roi_relative_to_cheapest_mode():
    rows = roi_table([("dense", 2.0, 0.60, 0.30), ("bm25", 1.0, 0.50, 0.25), ("graph", 1.0, 0.55, 0.20),
                      ("hybrid", 5.0, 0.70, None)])
    by = {r.mode: r for r in rows}
    assert [r.mode for r in rows] == ["dense", "bm25", "graph", "hybrid"]
    assert by["bm25"].extra_usd_per_1000 == 0.0 and by["bm25"].recall_points_per_usd is None  # baseline (first cheapest)
    assert by["dense"].recall_points_gained == pytest.approx(10.0)
    assert by["dense"].recall_points_per_usd == pytest.approx(10.0)
    assert by["dense"].f1_points_per_usd == pytest.approx(5.0)
    assert by["graph"].recall_points_gained == pytest.approx(5.0) and by["graph"].recall_points_per_usd is None  # no extra cost
    assert by["hybrid"].recall_points_per_usd == pytest.approx(5.0)
    assert by["hybrid"].f1_points_gained is None and by["hybrid"].f1_points_per_usd is None
    assert roi_table([]) == []


def test_every_registered_generator_has_a_price_class():
    from kg import registry

    p = load_prices()
    for name in registry.names("generator"):  # kg eval --generator NAME fails before the run otherwise
        assert p.llm_for(name) in p.llm.values(), name
    assert p.llm_for("local") == p.llm["local"] and p.llm_for("combined") == p.llm["local"]
