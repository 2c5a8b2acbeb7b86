"""Graph walks at query time: a frozen CSR adjacency, personalised PageRank, shortest fact paths.

``freeze_graph`` turns a ``KnowledgeGraph`` into one scipy.sparse CSR matrix over entity and passage
nodes (entities first, then passages), once per loaded graph:

- entity <-> passage: one edge per passage that mentions the entity (weight 1);
- entity <-> entity: relation edges weighted by the relation's confidence (both directions);
- entity <-> entity: synonym edges weighted by their score.

A second CSR holds the relation edges only, for shortest supporting paths (reasoning chains).

>>> import numpy as np, scipy.sparse as sp
>>> adj = sp.csr_matrix(np.array([[0, 1.0], [1.0, 0]]))
>>> personalized_pagerank(adj, {0: 1.0}, damping=0.5).round(4).tolist()
[0.6667, 0.3333]
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kg.errors import ConfigError, ConvergenceError
from kg.graph import KnowledgeGraph


@dataclass(frozen=True)
class FrozenGraph:
    """Node numbering and CSR matrices of one graph. Entity ``i`` is node ``i``; passage ``j`` is
    node ``n_entities + j``. ``relation_at[(a, b)]`` is the id of the most confident relation
    between entity nodes ``a`` and ``b`` (either direction)."""

    entity_ids: tuple[str, ...]
    passage_ids: tuple[str, ...]
    node_of: dict[str, int]
    adjacency: sp.csr_matrix
    relations: sp.csr_matrix
    relation_at: dict[tuple[int, int], str]

    @property
    def n_entities(self) -> int:
        return len(self.entity_ids)

    def node_id(self, node: int) -> str:
        """The entity or passage id of a node number."""
        n = self.n_entities
        return self.entity_ids[node] if node < n else self.passage_ids[node - n]


def freeze_graph(graph: KnowledgeGraph, synonym_weight: float = 1.0) -> FrozenGraph:
    """Build the walk structures of ``graph`` (a plain function; the graph is not changed).

    >>> fg = freeze_graph(KnowledgeGraph())
    >>> fg.adjacency.shape
    (0, 0)
    """
    eids = tuple(graph.entities)
    pids = tuple(graph.passages)
    node_of = {e: i for i, e in enumerate(eids)}
    node_of.update({p: len(eids) + j for j, p in enumerate(pids)})
    n = len(node_of)
    mentions = _mention_edges(graph, node_of)
    rel_edges, relation_at = _relation_edges(graph, node_of)
    syn = [(node_of[s.a], node_of[s.b], s.score * synonym_weight) for s in graph.synonyms
           if s.a in node_of and s.b in node_of and s.a != s.b]
    adjacency = _symmetric_csr(mentions + rel_edges + syn, n)
    relations = _symmetric_csr(rel_edges, n)
    return FrozenGraph(eids, pids, node_of, adjacency, relations, relation_at)


def _mention_edges(graph: KnowledgeGraph, node_of: dict[str, int]) -> list[tuple[int, int, float]]:
    pairs = set()
    for mid, eid in graph.assignments.items():
        m = graph.mentions.get(mid)
        if m is not None and eid in node_of and m.passage_id in node_of:
            pairs.add((node_of[eid], node_of[m.passage_id]))
    return [(a, b, 1.0) for a, b in sorted(pairs)]


def _relation_edges(graph, node_of) -> tuple[list[tuple[int, int, float]], dict[tuple[int, int], str]]:
    best: dict[tuple[int, int], tuple[float, str]] = {}
    for r in graph.relations.values():
        if r.subject not in node_of or r.object not in node_of or r.subject == r.object:
            continue
        a, b = node_of[r.subject], node_of[r.object]
        key = (min(a, b), max(a, b))
        if key not in best or (r.confidence, r.id) > best[key]:
            best[key] = (r.confidence, r.id)
    edges = [(a, b, max(c, 1e-3)) for (a, b), (c, _) in sorted(best.items())]
    at = {}
    for (a, b), (_, rid) in best.items():
        at[(a, b)] = at[(b, a)] = rid
    return edges, at


def _symmetric_csr(edges: list[tuple[int, int, float]], n: int) -> sp.csr_matrix:
    if not edges:
        return sp.csr_matrix((n, n), dtype=np.float64)
    a, b, w = (np.asarray(x) for x in zip(*edges))
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    weights = np.concatenate([w, w]).astype(np.float64)
    m = sp.coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    return m


def personalized_pagerank(
    adjacency: sp.csr_matrix,
    seeds: dict[int, float],
    damping: float = 0.5,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> np.ndarray:
    """Personalised PageRank by power iteration: the walker follows an out-edge (proportionally to
    its weight) with probability ``damping`` and jumps back to a seed (proportionally to the seed
    weights) otherwise; dangling nodes jump to the seeds. Same definition and convergence test as
    ``networkx.pagerank(G, alpha=damping, personalization=seeds, weight="weight")``.

    Returns one probability per node (summing to 1); no seeds with positive weight give zeros.
    Raises ``ConvergenceError`` (as networkx raises ``PowerIterationFailedConvergence``) when the
    total change is still above ``n * tol`` after ``max_iter`` iterations: an unconverged vector is
    never returned as if it were the answer. With the default damping of 0.5 the change shrinks
    at least twofold per iteration, so 100 iterations always suffice.

    >>> import scipy.sparse as sp
    >>> chain = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))
    >>> personalized_pagerank(chain, {0: 1.0}, damping=0.5).round(4).tolist()
    [0.5714, 0.2857, 0.1429]
    """
    n = adjacency.shape[0]
    if not 0.0 <= damping < 1.0:
        raise ConfigError(f"PageRank damping must be in [0, 1), got {damping}")
    bad = [s for s in seeds if not 0 <= s < n]
    if bad:
        raise ConfigError(f"PageRank seed node(s) {bad[:5]} out of range; expected 0 <= node < {n}")
    p = np.zeros(n, dtype=np.float64)
    for node, w in seeds.items():
        p[node] += max(float(w), 0.0)
    if p.sum() <= 0:
        return p
    return _power_iteration(adjacency, p / p.sum(), damping, tol, max_iter)


def _power_iteration(adjacency, p, damping, tol, max_iter) -> np.ndarray:
    out_weight = np.asarray(adjacency.sum(axis=1)).ravel()
    dangling = out_weight == 0
    inv = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out_weight))
    transition_t = (sp.diags(inv) @ adjacency).T.tocsr()
    n = len(p)
    x = p.copy()
    for _ in range(max_iter):
        last = x
        x = damping * (transition_t @ last + last[dangling].sum() * p) + (1.0 - damping) * p
        change = np.abs(x - last).sum()
        if change < n * tol:
            return x
    raise ConvergenceError(f"personalised PageRank did not converge in {max_iter} iterations "
                           f"(change {change:.3g}, expected below {n * tol:.3g}); raise max_iter or lower damping")


def shortest_path(relations: sp.csr_matrix, source: int, target: int, max_hops: int = 3) -> list[int]:
    """Nodes of a shortest path from ``source`` to ``target`` over relation edges (BFS, at most
    ``max_hops`` edges, neighbours visited in node order); ``[]`` when there is none.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(4, 4))
    >>> shortest_path(m, 0, 2), shortest_path(m, 0, 3)
    ([0, 1, 2], [])
    """
    if source == target:
        return [source]
    parent = {source: -1}
    frontier = deque([(source, 0)])
    while frontier:
        node, depth = frontier.popleft()
        if depth >= max_hops:
            continue
        row = relations.indices[relations.indptr[node] : relations.indptr[node + 1]]
        for nb in sorted(row.tolist()):
            if nb in parent:
                continue
            parent[nb] = node
            if nb == target:
                return _unwind(parent, nb)
            frontier.append((nb, depth + 1))
    return []


def _unwind(parent: dict[int, int], node: int) -> list[int]:
    path = []
    while node != -1:
        path.append(node)
        node = parent[node]
    return path[::-1]
