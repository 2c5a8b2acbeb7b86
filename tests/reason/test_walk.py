"""Walk structures and algorithms: CSR freezing, personalised PageRank, shortest fact paths."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from kg.errors import ConfigError
from kg.graph import KnowledgeGraph
from kg.model import Document, Entity, Mention, Passage, Provenance, Relation, SynonymLink
from kg.errors import ConvergenceError
from reason.walk import approximate_pagerank, freeze_graph, personalized_pagerank, shortest_path, shortest_paths


def _graph() -> KnowledgeGraph:
    d = Document.from_text("Ada met Bob. Bob met Cy.", source="a.txt", title="A")
    p0 = Passage(f"{d.id}:p0", d.id, 0, 0, 12, "Ada met Bob.")
    p1 = Passage(f"{d.id}:p1", d.id, 1, 13, 24, "Bob met Cy.")
    ents = {e.id: e for e in (Entity("e1", "Ada", "PERSON"), Entity("e2", "Bob", "PERSON"),
                              Entity("e3", "Cy", "PERSON"), Entity("e4", "Dee", "PERSON"))}
    ms = [Mention("m1", d.id, p0.id, 0, 3, "Ada", "PERSON", "ner"), Mention("m2", d.id, p0.id, 8, 11, "Bob", "PERSON", "ner"),
          Mention("m3", d.id, p1.id, 13, 16, "Bob", "PERSON", "ner"), Mention("m4", d.id, p1.id, 21, 23, "Cy", "PERSON", "ner")]
    prov = Provenance(d.id, p0.id, 0, 12, "Ada met Bob.", 0.8)
    rels = {"r1": Relation("r1", "e1", "meet", "e2", 0.8, (prov,)),
            "r2": Relation("r2", "e2", "meet", "e3", 0.5, (Provenance(d.id, p1.id, 13, 24, "Bob met Cy.", 0.5),))}
    return KnowledgeGraph(
        documents={d.id: d}, passages={p0.id: p0, p1.id: p1}, entities=ents, relations=rels,
        mentions={m.id: m for m in ms}, assignments={"m1": "e1", "m2": "e2", "m3": "e2", "m4": "e3"},
        synonyms=(SynonymLink("e3", "e4", 0.9, "embedding"),),
    )


def test_freeze_numbers_entities_then_passages_and_weights_edges():
    fg = freeze_graph(_graph())
    assert fg.entity_ids == ("e1", "e2", "e3", "e4")
    assert fg.n_entities == 4 and fg.node_id(4).endswith(":p0") and fg.node_id(5).endswith(":p1")
    a = fg.adjacency.toarray()
    assert a.shape == (6, 6)
    assert (a == a.T).all()
    assert a[0, 1] == pytest.approx(0.8) and a[1, 2] == pytest.approx(0.5)  # relations by confidence
    assert a[2, 3] == pytest.approx(0.9)  # synonym edge
    assert a[0, 4] == 1.0 and a[1, 4] == 1.0 and a[1, 5] == 1.0 and a[2, 5] == 1.0 and a[0, 5] == 0.0
    assert fg.relations.nnz == 4  # two relations, both directions
    assert fg.relation_at[(1, 0)] == "r1" and fg.relation_at[(2, 1)] == "r2"


def test_pagerank_two_node_cycle_by_hand():
    # x0 = 0.5 + 0.5*x1, x1 = 0.5*x0  ->  x0 = 2/3, x1 = 1/3
    adj = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    x = personalized_pagerank(adj, {0: 1.0}, damping=0.5, tol=1e-12, max_iter=200)
    assert x.tolist() == pytest.approx([2 / 3, 1 / 3], abs=1e-9)


def test_pagerank_dangling_node_returns_to_seeds():
    # 0 -> 1 -> 2, node 2 dangling: x0 = .5 + .5*x2, x1 = .5*x0, x2 = .5*x1  ->  x0 = 4/7
    adj = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))
    x = personalized_pagerank(adj, {0: 1.0}, damping=0.5, tol=1e-12, max_iter=200)
    assert x.tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-9)
    assert x.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("damping", [0.5, 0.85])
def test_pagerank_agrees_with_networkx(damping):
    edges = [(0, 1, 1.0), (1, 2, 2.0), (2, 0, 0.5), (2, 3, 1.0), (3, 4, 3.0), (4, 2, 1.0), (1, 4, 0.2), (5, 0, 1.0)]
    g = nx.DiGraph()
    g.add_nodes_from(range(7))  # node 6 is isolated (dangling)
    g.add_weighted_edges_from(edges)
    seeds = {0: 2.0, 3: 1.0}
    expected = nx.pagerank(g, alpha=damping, personalization=seeds, weight="weight", tol=1e-13, max_iter=1000)
    adj = nx.to_scipy_sparse_array(g, nodelist=range(7), weight="weight", format="csr")
    x = personalized_pagerank(sp.csr_matrix(adj), seeds, damping=damping, tol=1e-13, max_iter=1000)
    assert np.abs(x - np.array([expected[i] for i in range(7)])).max() < 1e-6


def test_pagerank_without_positive_seeds_is_zero_and_bad_input_raises():
    adj = sp.csr_matrix((3, 3))
    assert personalized_pagerank(adj, {}).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match=r"seed node\(s\) \[7\] out of range; expected 0 <= node < 3"):
        personalized_pagerank(adj, {7: 1.0})
    with pytest.raises(ConfigError, match=r"damping must be in \[0, 1\), got 1.5"):
        personalized_pagerank(adj, {0: 1.0}, damping=1.5)


def test_shortest_path_over_relation_edges_only():
    fg = freeze_graph(_graph())
    assert shortest_path(fg.relations, 0, 2) == [0, 1, 2]
    assert shortest_path(fg.relations, 2, 0) == [2, 1, 0]
    assert shortest_path(fg.relations, 0, 3) == []  # only a synonym edge reaches e4
    assert shortest_path(fg.relations, 0, 2, max_hops=1) == []
    assert shortest_path(fg.relations, 1, 1) == [1]


def _bfs_one_node_at_a_time(m: sp.csr_matrix, source: int, target: int, max_hops: int) -> list[int]:
    """The textbook breadth-first search (neighbours in node order) the numpy version must match."""
    from collections import deque

    if source == target:
        return [source]
    parent, queue = {source: -1}, deque([(source, 0)])
    while queue:
        node, depth = queue.popleft()
        if depth >= max_hops:
            continue
        for nb in sorted(m.indices[m.indptr[node]:m.indptr[node + 1]].tolist()):
            if nb in parent:
                continue
            parent[nb] = node
            if nb == target:
                path = [nb]
                while parent[path[-1]] != -1:
                    path.append(parent[path[-1]])
                return path[::-1]
            queue.append((nb, depth + 1))
    return []


@pytest.mark.parametrize("seed", range(6))
def test_shortest_path_matches_the_textbook_search_on_random_graphs(seed):
    # random symmetric graphs dense enough for several shortest paths: the same one must win
    rng = np.random.default_rng(seed)
    n = 40
    a, b = rng.integers(0, n, 120), rng.integers(0, n, 120)
    keep = a != b
    m = sp.coo_matrix((np.ones(2 * keep.sum()), (np.r_[a[keep], b[keep]], np.r_[b[keep], a[keep]])), shape=(n, n)).tocsr()
    m.sum_duplicates()
    found = 0
    for source, target in rng.integers(0, n, (60, 2)).tolist():
        for hops in (1, 2, 3, 4):
            want = _bfs_one_node_at_a_time(m, source, target, hops)
            assert shortest_path(m, source, target, hops) == want, (source, target, hops)
            found += len(want) > 2
    assert found > 50  # the comparison covered many multi-hop paths
    for source in range(0, n, 7):  # one search for many targets gives each target's path
        assert shortest_paths(m, source, list(range(n)), 3) == [_bfs_one_node_at_a_time(m, source, t, 3) for t in range(n)]


def test_pagerank_that_does_not_converge_raises_instead_of_returning_a_guess():
    # a 2-cycle with damping near 1 shrinks the change very slowly: 3 iterations cannot reach tol
    adj = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 0])), shape=(2, 2))
    with pytest.raises(ConvergenceError, match=r"did not converge in 3 iterations \(change .*, expected below 2e-12\)"):
        personalized_pagerank(adj, {0: 1.0}, damping=0.99, tol=1e-12, max_iter=3)
    assert personalized_pagerank(adj, {0: 1.0}, damping=0.5, max_iter=100).sum() == pytest.approx(1.0)


# ---- local push (approximate_pagerank) against power iteration to tol 1e-12 ---------------------


def _undirected(edges: list[tuple[int, int, float]], n: int) -> sp.csr_matrix:
    a, b, w = zip(*edges)
    return sp.csr_matrix((w + w, (a + b, b + a)), shape=(n, n))


def _reference(adj, seeds, damping=0.5) -> np.ndarray:
    return personalized_pagerank(adj, seeds, damping=damping, tol=1e-12, max_iter=1000)


CHAIN = _undirected([(i, i + 1, 1.0) for i in range(7)], 8)
STAR = _undirected([(0, leaf, 0.5 + 0.25 * leaf) for leaf in range(1, 7)], 7)  # distinct weights: no ties
CYCLE = _undirected([(i, (i + 1) % 6, 1.0 + 0.1 * i) for i in range(6)], 6)
ISOLATED_SEED = _undirected([(0, 1, 1.0), (1, 2, 2.0), (2, 3, 1.0), (1, 3, 0.5)], 5)  # node 4: no edges
UNDIRECTED = {  # graph, seeds
    "chain": (CHAIN, {0: 1.0}),
    "star": (STAR, {3: 1.0}),
    "cycle": (CYCLE, {0: 2.0, 2: 1.0}),
    "isolated seed": (ISOLATED_SEED, {0: 1.0, 4: 1.0}),
}


@pytest.mark.parametrize("name", UNDIRECTED)
@pytest.mark.parametrize("epsilon", [0.05, 1e-2, 1e-4])
def test_push_is_below_exact_by_at_most_epsilon_times_degree(name, epsilon):
    adj, seeds = UNDIRECTED[name]
    exact, push = _reference(adj, seeds), approximate_pagerank(adj, seeds, damping=0.5, epsilon=epsilon)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    # a walk reaching the isolated seed 4 restarts at the seeds: the bound widens by 1 / (1 - damping)
    slack = 0.5 if name == "isolated seed" else 1.0
    err = exact - push
    assert err.min() >= -1e-12
    assert (err <= epsilon * degree / slack + 1e-12).all(), (err / (epsilon * degree)).round(3).tolist()
    assert err.sum() > 0  # a real approximation: the bound is what was tested
    assert push[4 if name == "isolated seed" else 0] > 0


@pytest.mark.parametrize("name", UNDIRECTED)
def test_push_with_small_epsilon_ranks_the_top_nodes_like_exact(name):
    adj, seeds = UNDIRECTED[name]
    exact, push = _reference(adj, seeds), approximate_pagerank(adj, seeds, damping=0.5, epsilon=1e-8)
    top = np.argsort(-exact)[:4].tolist()
    assert np.diff(exact[top]).max() < -1e-6  # no near ties among them: the order is well defined
    assert np.argsort(-push)[:4].tolist() == top
    assert np.abs(exact - push).max() < 1e-7


def test_push_on_a_chain_by_hand():
    # path 0 - 1 - 2 seeded at 0, epsilon 0.1: pushes 0, 1, 0, 2 leave residual .0625 on node 1 (< .1 * 2)
    path = _undirected([(0, 1, 1.0), (1, 2, 1.0)], 3)
    assert approximate_pagerank(path, {0: 1.0}, damping=0.5, epsilon=0.1).tolist() == [0.5625, 0.25, 0.0625]


def test_push_follows_dangling_nodes_back_to_the_seeds_like_power_iteration():
    # 0 -> 1 -> 2, node 2 dangling (the hand-solved case above): exact [4/7, 2/7, 1/7]
    adj = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))
    x = approximate_pagerank(adj, {0: 1.0}, damping=0.5, epsilon=1e-12)
    assert x.tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-9)


@pytest.mark.parametrize("damping", [0.5, 0.85])
@pytest.mark.parametrize("epsilon", [1e-2, 1e-3])
def test_push_l1_error_on_a_directed_graph_is_bounded_by_the_touched_nodes(damping, epsilon):
    # directed, weighted; node 6 is isolated and node 4 becomes dangling once 4 -> 2 is dropped
    edges = [(0, 1, 1.0), (1, 2, 2.0), (2, 0, 0.5), (2, 3, 1.0), (3, 4, 3.0), (1, 4, 0.2), (5, 0, 1.0)]
    a, b, w = zip(*edges)
    adj = sp.csr_matrix((w, (a, b)), shape=(7, 7))
    seeds = {0: 2.0, 3: 1.0}
    exact, push = _reference(adj, seeds, damping), approximate_pagerank(adj, seeds, damping, epsilon)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    touched = set(seeds) | set(adj[np.flatnonzero(push)].indices.tolist())
    assert (exact - push).min() >= -1e-12
    assert 0 < (exact - push).sum() <= epsilon * degree[sorted(touched)].sum() / (1 - damping)
    assert approximate_pagerank(adj, seeds, damping, 1e-12) == pytest.approx(exact, abs=1e-9)


def test_push_stays_near_the_seeds_on_a_long_chain():
    n = 100_000
    chain = _undirected([(i, i + 1, 1.0) for i in range(n - 1)], n)
    x = approximate_pagerank(chain, {0: 1.0}, damping=0.5, epsilon=1e-4)
    # PageRank falls 3.7-fold per step (by 2 - sqrt(3)): from node 7 on no residual reaches 1e-4 * 2
    assert np.flatnonzero(x).tolist() == list(range(7))
    assert (_reference(chain, {0: 1.0}) - x).max() <= 2e-4


def test_push_adds_repeated_entries_of_a_non_canonical_matrix():
    twice = sp.csr_matrix((np.array([0.5, 0.5, 1.0]), np.array([1, 1, 0]), np.array([0, 2, 3])), shape=(2, 2))
    assert not twice.has_canonical_format
    once = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert approximate_pagerank(twice, {0: 1.0}, epsilon=1e-9).tolist() == pytest.approx(
        approximate_pagerank(once, {0: 1.0}, epsilon=1e-9).tolist(), abs=1e-12)


def test_push_checks_its_input_like_the_exact_walk():
    adj = sp.csr_matrix((3, 3))
    assert approximate_pagerank(adj, {}).tolist() == [0.0, 0.0, 0.0]
    assert approximate_pagerank(adj, {1: -2.0}).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match=r"seed node\(s\) \[7\] out of range; expected 0 <= node < 3"):
        approximate_pagerank(adj, {7: 1.0})
    with pytest.raises(ConfigError, match=r"damping must be in \[0, 1\), got 1.5"):
        approximate_pagerank(adj, {0: 1.0}, damping=1.5)
    with pytest.raises(ConfigError, match=r"push epsilon must be positive, got 0.0"):
        approximate_pagerank(adj, {0: 1.0}, epsilon=0.0)


def test_frozen_out_weight_is_the_row_sums_of_the_adjacency():
    fg = freeze_graph(_graph())
    assert fg.out_weight.tolist() == pytest.approx(np.asarray(fg.adjacency.sum(axis=1)).ravel().tolist())
    assert fg.out_weight is fg.out_weight  # computed once per graph
