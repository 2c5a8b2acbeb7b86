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
from reason.walk import freeze_graph, personalized_pagerank, shortest_path


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


def test_pagerank_that_does_not_converge_raises_instead_of_returning_a_guess():
    # a 2-cycle with damping near 1 shrinks the change very slowly: 3 iterations cannot reach tol
    adj = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 0])), shape=(2, 2))
    with pytest.raises(ConvergenceError, match=r"did not converge in 3 iterations \(change .*, expected below 2e-12\)"):
        personalized_pagerank(adj, {0: 1.0}, damping=0.99, tol=1e-12, max_iter=3)
    assert personalized_pagerank(adj, {0: 1.0}, damping=0.5, max_iter=100).sum() == pytest.approx(1.0)
