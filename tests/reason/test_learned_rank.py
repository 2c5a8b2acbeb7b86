"""The learned ranker: its fit on hand-made pools, its file, and its features and reordering in the
Retriever on the tiny hand-made graph of test_retrieve."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kg.embedding import HashingEmbedder
from kg.errors import StoreError
from reason.learned_rank import FEATURES, RANKER_FILE, BoostedRanker, LinearRanker, Pool, fit, fit_boosted, load_ranker
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


DENSE = FEATURES.index("dense")


def _middle_pools(n: int, seed: int) -> list[Pool]:
    """Pools of 8 candidates whose relevant one has a middling dense score (0.4-0.6) while the others
    score low (below 0.3) or high (above 0.7): no weight on the score finds it, two splits on it can."""
    rng = np.random.default_rng(seed)
    pools = []
    for _ in range(n):
        x = rng.normal(scale=0.1, size=(8, len(FEATURES)))
        x[:, DENSE] = np.where(rng.integers(0, 2, 8) == 1, rng.uniform(0.7, 1.0, 8), rng.uniform(0.0, 0.3, 8))
        at = int(rng.integers(0, 8))
        x[at, DENSE] = rng.uniform(0.4, 0.6)
        pools.append(Pool(x, np.arange(8) == at))
    return pools


def test_boosted_trees_learn_what_no_linear_weighing_can_and_are_deterministic():
    train, test = _middle_pools(150, 5), _middle_pools(60, 6)
    boosted = fit_boosted(train)
    assert _top1(boosted, test) == 1.0 and _top1(fit(train), test) < 0.5
    again = fit_boosted(train)
    assert again.base == boosted.base and all(np.array_equal(a[k], b[k]) for a, b in zip(again.trees, boosted.trees)
                                              for k in a)
    assert len(boosted.trees) == 100 and all(len(t["feature"]) <= 7 for t in boosted.trees)  # two levels at most


def test_a_leaf_never_holds_fewer_candidates_than_asked_and_scores_are_the_leaves_summed():
    train = _middle_pools(150, 5)
    rows = np.vstack([p.features for p in train])
    ranker = fit_boosted(train, rounds=5, min_leaf=300)
    total = np.full(len(rows), ranker.base)
    for tree in ranker.trees:
        counts = {}
        for i, row in enumerate(rows):
            node = 0
            while tree["feature"][node] >= 0:
                node = tree["left"][node] if row[tree["feature"][node]] <= tree["threshold"][node] else tree["right"][node]
            counts[node] = counts.get(node, 0) + 1
            total[i] += tree["value"][node]
        assert min(counts.values()) >= 300 and len(counts) > 1
    assert np.allclose(ranker.score(rows), total)


def test_a_boosted_ranker_is_saved_loaded_by_its_format_and_a_broken_tree_is_named(tmp_path):
    ranker = fit_boosted(_middle_pools(60, 7), rounds=10)
    ranker.save(tmp_path)
    loaded = load_ranker(tmp_path)
    x = _middle_pools(3, 8)[0].features
    assert isinstance(loaded, BoostedRanker) and loaded.name == f"boosted:{tmp_path.name}"
    assert np.array_equal(loaded.score(x), ranker.score(x))
    linear = tmp_path / "linear"
    linear.mkdir()
    fit(_pools(20, 3)).save(linear)
    assert isinstance(load_ranker(linear), LinearRanker)
    data = json.loads((tmp_path / RANKER_FILE).read_text())
    data["trees"][0]["left"][0] = 0  # a child pointing back at its node would loop for ever
    (tmp_path / RANKER_FILE).write_text(json.dumps(data))
    with pytest.raises(StoreError, match=rf"{RANKER_FILE}: expected 'base' and 'trees' of feature, threshold"):
        load_ranker(tmp_path)
    (tmp_path / RANKER_FILE).write_text(json.dumps({**data, "format_version": 3}))
    with pytest.raises(StoreError, match="format 'kgreason-boosted-ranker' version 3, expected"):
        load_ranker(tmp_path)


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
