"""The learned ranker: its fit on hand-made pools, its file, and its features and reordering in the
Retriever on the tiny hand-made graph of test_retrieve."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kg.embedding import HashingEmbedder
from kg.errors import StoreError
from reason.learned_rank import FEATURES, RANKER_FILE, LinearRanker, Pool, fit
from reason.retrieve import Retriever

from .test_retrieve import QUESTION, FixedFinder, graph  # noqa: F401 - the module's graph fixture

HYBRID, TITLE = FEATURES.index("hybrid"), FEATURES.index("title_named")


def _pools(n: int, seed: int) -> list[Pool]:
    """Pools of 6 candidates where the relevant one is named by its title and sits at hybrid rank 2-6:
    hybrid alone always misses it, the title feature always finds it."""
    rng = np.random.default_rng(seed)
    pools = []
    for _ in range(n):
        x = rng.normal(size=(6, len(FEATURES)))
        x[:, HYBRID] = np.sort(rng.normal(size=6))[::-1]
        x[:, TITLE] = 0.0
        at = int(rng.integers(1, 6))
        x[at, TITLE] = 1.0
        pools.append(Pool(x, np.arange(6) == at))
    return pools


def _top1(ranker: LinearRanker, pools: list[Pool]) -> float:
    return float(np.mean([p.relevant[int(np.argmax(ranker.score(p.features)))] for p in pools]))


def test_fit_learns_the_signal_that_finds_the_relevant_passage_and_is_deterministic():
    train, test = _pools(60, 1), _pools(40, 2)
    ranker = fit(train)
    assert _top1(ranker, test) == 1.0
    hybrid_only = LinearRanker(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.eye(len(FEATURES))[HYBRID])
    assert _top1(hybrid_only, test) == 0.0
    assert ranker.weights[TITLE] > 0 and np.array_equal(fit(train).weights, ranker.weights)


def test_a_few_questions_move_it_less_than_many_from_the_hybrid_order():
    few, many = fit(_pools(3, 1)), fit(_pools(200, 1))
    assert 0 < few.weights[TITLE] < many.weights[TITLE]


def test_fit_needs_a_question_with_a_relevant_and_an_irrelevant_candidate():
    x = np.ones((3, len(FEATURES)))
    with pytest.raises(ValueError, match="no question has both a relevant and an irrelevant candidate"):
        fit([Pool(x, np.zeros(3, dtype=bool)), Pool(x, np.ones(3, dtype=bool))])


def test_it_is_saved_and_loaded_whole_and_a_wrong_file_is_named(tmp_path):
    ranker = fit(_pools(20, 3))
    path = ranker.save(tmp_path)
    assert path == tmp_path / RANKER_FILE and not list(tmp_path.glob("*.tmp"))
    loaded = LinearRanker.load(tmp_path)
    x = _pools(1, 4)[0].features
    assert np.allclose(loaded.score(x), ranker.score(x)) and loaded.name == f"learned:{tmp_path.name}"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "features": data["features"][:-1]}))
    with pytest.raises(StoreError, match=rf"{RANKER_FILE}: trained on features .* run kg tune again"):
        LinearRanker.load(tmp_path)
    path.write_text(json.dumps({**data, "format_version": 9}))
    with pytest.raises(StoreError, match="format 'kgreason-learned-ranker' version 9, expected"):
        LinearRanker.load(tmp_path)
    path.write_text("{")
    with pytest.raises(StoreError, match="unreadable learned ranker"):
        LinearRanker.load(tmp_path)


def _retriever(graph, ranker=None):  # noqa: F811
    return Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]), ranker=ranker)


def test_candidates_describe_each_passage_against_the_question(graph):  # noqa: F811
    ids, x = _retriever(graph).candidates(QUESTION)
    titles = [graph.documents[graph.passages[p].doc_id].title for p in ids]
    column = {name: x[:, i] for i, name in enumerate(FEATURES)}
    at = {t: i for i, t in enumerate(titles)}
    assert x.shape == (len(ids), len(FEATURES)) and not {"Tea", "Tea (copy)"} <= set(titles)  # near-duplicates dropped
    assert column["hybrid"].tolist() == sorted(column["hybrid"], reverse=True)  # hybrid's order
    assert column["reciprocal_rank"][:3].tolist() == [1.0, 0.5, pytest.approx(1 / 3)]
    assert column["title_named"][at["Blind Shaft"]] == 1.0 and column["title_named"][at["Paris"]] == 0.0
    assert column["title_words"][at["Blind Shaft"]] == 1.0 and column["title_words"][at["Li Yang"]] == 0.0
    assert column["about_linked"][at["Blind Shaft"]] > 0 and column["about_linked"][at["Li Yang"]] == 0.0
    assert column["mentions_linked"][at["Blind Shaft"]] == 1.0 and column["mentions_linked"][at["Paris"]] == 0.0
    assert column["linked_from_top"][at["Li Yang"]] == 1.0  # Blind Shaft's page names its director
    assert column["subquery"].tolist() == [0.0] * len(ids) and not column["comparison_title"].any()


def test_a_learned_ranker_reorders_hybrid_evidence_and_is_recorded(graph):  # noqa: F811
    plain = _retriever(graph).retrieve(QUESTION, k=3)
    weights = -np.eye(len(FEATURES))[FEATURES.index("reciprocal_rank")]  # reverses hybrid's order
    ranked = _retriever(graph, LinearRanker(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights))
    got = ranked.retrieve(QUESTION, k=3)
    assert got.settings["ranker"] == "learned"
    assert got.evidence[0].passage_id != plain.evidence[0].passage_id
    assert "ranker" not in ranked.retrieve(QUESTION, k=3, mode="dense").settings
    assert [e.passage_id for e in ranked.retrieve(QUESTION, k=3, mode="dense").evidence] == \
        [e.passage_id for e in _retriever(graph).retrieve(QUESTION, k=3, mode="dense").evidence]
