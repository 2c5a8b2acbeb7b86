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

``approximate_pagerank`` computes the same vector by local push, touching only the seeds'
neighbourhood; ``personalized_pagerank`` iterates over the whole matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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

    @cached_property  # once per loaded graph, so a local push never sums the whole matrix
    def out_weight(self) -> np.ndarray:
        """Total edge weight leaving each node (0 for a node without edges)."""
        return _out_weight(self.adjacency)

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
    p = np.zeros(n, dtype=np.float64)
    weights = _seed_weights(n, seeds, damping)
    if not weights:
        return p
    p[list(weights)] = list(weights.values())
    return _power_iteration(adjacency, p, damping, tol, max_iter)


def _seed_weights(n: int, seeds: dict[int, float], damping: float) -> dict[int, float]:
    """Checked seed weights scaled to sum to 1, positive ones only; ``{}`` when none is positive."""
    if not 0.0 <= damping < 1.0:
        raise ConfigError(f"PageRank damping must be in [0, 1), got {damping}")
    bad = [s for s in seeds if not 0 <= s < n]
    if bad:
        raise ConfigError(f"PageRank seed node(s) {bad[:5]} out of range; expected 0 <= node < {n}")
    positive = {int(node): float(w) for node, w in seeds.items() if w > 0}
    total = sum(positive.values())
    return {node: w / total for node, w in positive.items()} if total > 0 else {}


def _out_weight(adjacency: sp.csr_matrix) -> np.ndarray:
    return np.asarray(adjacency.sum(axis=1), dtype=np.float64).ravel()


def _power_iteration(adjacency, p, damping, tol, max_iter) -> np.ndarray:
    out_weight = _out_weight(adjacency)
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


def approximate_pagerank(
    adjacency: sp.csr_matrix,
    seeds: dict[int, float],
    damping: float = 0.5,
    epsilon: float = 1e-6,
    out_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Personalised PageRank by local push (Andersen, Chung and Lang 2006), for the same walk as
    ``personalized_pagerank`` (dangling nodes included), at a cost set by the seeds' neighbourhood.

    Every seed starts with its share of residual mass; a node whose residual exceeds ``epsilon``
    times its out-weight ``deg(v)`` (total weight of its edges) keeps ``1 - damping`` of it and
    pushes the rest along its edges. At most ``1 / ((1 - damping) * epsilon)`` units of degree are
    ever pushed, whatever the graph's size. Pass ``out_weight`` (e.g. ``FrozenGraph.out_weight``)
    so the one full pass that computes it is done once per graph, not per call.

    Error bound, with ``x`` the exact vector and ``L`` the mass a walk brings back to the seeds from
    a dangling node (0 when none is reached; at most ``damping``):

    - every estimate is a lower bound: ``0 <= x[v] - estimate[v]``;
    - on a symmetric matrix (an undirected graph, as ``freeze_graph`` builds):
      ``x[v] - estimate[v] <= epsilon * deg(v) / (1 - L)``: ``epsilon * deg(v)`` when no dangling
      node is reached, ``epsilon * deg(v) / (1 - damping)`` at worst;
    - on any matrix, the L1 error is at most ``epsilon * (total out-weight of the touched nodes:
      seeds and out-neighbours of nodes with an estimate) / (1 - L)``.

    >>> import scipy.sparse as sp
    >>> path = sp.csr_matrix(([1.0, 1.0, 1.0, 1.0], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    >>> approximate_pagerank(path, {0: 1.0}, damping=0.5, epsilon=1e-6).round(4).tolist()
    [0.5833, 0.3333, 0.0833]
    >>> approximate_pagerank(path, {0: 1.0}, damping=0.5, epsilon=0.1).round(4).tolist()
    [0.5625, 0.25, 0.0625]
    """
    return _local(adjacency, seeds, damping, epsilon, out_weight)[0]


def pagerank_support(
    adjacency: sp.csr_matrix,
    seeds: dict[int, float],
    damping: float = 0.5,
    epsilon: float = 1e-6,
    out_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``approximate_pagerank`` as ``(nodes, mass)``: the nodes the push reached (ascending) and their
    estimates; every other node's estimate is 0. Reading the result costs what the push cost, not
    a pass over every node of the graph.

    >>> import scipy.sparse as sp
    >>> path = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 0])), shape=(4, 4))
    >>> nodes, mass = pagerank_support(path, {0: 1.0}, damping=0.5, epsilon=1e-6)
    >>> nodes.tolist(), mass.round(4).tolist()
    ([0, 1], [0.6667, 0.3333])
    """
    estimate, touched = _local(adjacency, seeds, damping, epsilon, out_weight)
    return touched, estimate[touched]


def _local(adjacency, seeds, damping, epsilon, out_weight) -> tuple[np.ndarray, np.ndarray]:
    """(estimate over all nodes, nodes with an estimate, ascending)."""
    n = adjacency.shape[0]
    if not epsilon > 0:
        raise ConfigError(f"PageRank push epsilon must be positive, got {epsilon}")
    weights = _seed_weights(n, seeds, damping)
    if not weights:
        return np.zeros(n), np.zeros(0, dtype=np.int64)
    if out_weight is None:
        out_weight = _out_weight(adjacency)
    if not adjacency.has_canonical_format:  # the push adds to a slice of neighbours: no repeated columns
        adjacency = adjacency.copy()
        adjacency.sum_duplicates()
    estimate, returned, touched = _push(adjacency, weights, out_weight, damping, epsilon)
    # a walk at a dangling node restarts at the seeds: the returned share L is one more walk from
    # the seeds, x = estimate + L * x, solved here rather than pushed round after round
    return (estimate / (1.0 - returned) if returned > 0 else estimate), touched


def _push(adjacency, weights, out_weight, damping, epsilon) -> tuple[np.ndarray, float, np.ndarray]:
    """Push the seeds' mass until no residual exceeds ``epsilon * out_weight``; returns the
    estimate, the mass that reached dangling nodes (to restart at the seeds) and the nodes that
    were pushed (those with an estimate), ascending.

    The worklist is pushed a frontier at a time (every node above its threshold at once): each
    push is still a valid one, so the bound holds, and a few numpy calls per frontier cost far
    less than a few per node (one node per step was about 7x slower on a 100k-node graph)."""
    n = adjacency.shape[0]
    estimate, residual = np.zeros(n), np.zeros(n)  # calloc: pages are only touched where mass goes
    slot = np.empty(n, dtype=np.int64)  # scratch for _distinct; read only where just written
    active = np.fromiter(weights, dtype=np.int64, count=len(weights))
    residual[active] = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
    active = active[residual[active] > epsilon * out_weight[active]]
    returned = 0.0
    pushed = []
    while active.size:
        pushed.append(active)
        mass = residual[active]
        residual[active] = 0.0
        estimate[active] += (1.0 - damping) * mass
        dangling = out_weight[active] <= 0  # the walker's next step is a restart at the seeds
        returned += damping * mass[dangling].sum()
        active, mass = active[~dangling], mass[~dangling]
        cols, flow = _spread(adjacency, active, damping * mass / out_weight[active])
        np.add.at(residual, cols, flow)
        active = _distinct(cols[residual[cols] > epsilon * out_weight[cols]], slot)
    pushed = np.concatenate(pushed) if pushed else np.zeros(0, dtype=np.int64)
    # the pushed nodes in order: sorted when few, else read off the estimate (a pass over all nodes
    # then costs less than the sort)
    touched = np.sort(_distinct(pushed, slot)) if 32 * len(pushed) < n else np.flatnonzero(estimate)
    return estimate, returned, touched


def _distinct(nodes: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """``nodes`` without repeats, in linear time: of the positions holding one node, exactly one
    wins the scatter into ``slot`` (np.unique sorted or hashed and took most of a push's time).

    >>> _distinct(np.array([4, 2, 4, 4]), np.empty(5, dtype=np.int64)).tolist()
    [2, 4]
    """
    at = np.arange(len(nodes))
    slot[nodes] = at
    return nodes[slot[nodes] == at]


def row_entries(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``rows`` of a CSR matrix are stored: positions in ``indices`` / ``data`` (row after
    row), each row's length, and where each row starts among those positions. Read straight from
    the CSR arrays (``matrix[rows]`` would build a new matrix).

    >>> m = sp.csr_matrix(np.array([[0, 5, 6], [0, 0, 0], [7, 0, 0]], dtype=float))
    >>> [x.tolist() for x in row_entries(m, np.array([2, 0]))]
    [[2, 0, 1], [1, 2], [0, 1]]
    """
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    offsets = np.cumsum(lengths) - lengths
    return np.arange(lengths.sum()) + np.repeat(starts - offsets, lengths), lengths, offsets


def _spread(adjacency, rows: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of the edges leaving ``rows`` and ``share[row] * weight`` along each."""
    pos, lengths, _ = row_entries(adjacency, rows)
    return adjacency.indices[pos], np.repeat(share, lengths) * adjacency.data[pos]


def shortest_path(relations: sp.csr_matrix, source: int, target: int, max_hops: int = 3) -> list[int]:
    """Nodes of a shortest path from ``source`` to ``target`` over relation edges (at most
    ``max_hops`` edges); ``[]`` when there is none. ``relations`` is symmetric, as ``freeze_graph``
    builds it. See ``shortest_paths``, which this asks for one target.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(4, 4))
    >>> shortest_path(m, 0, 2), shortest_path(m, 0, 3)
    ([0, 1, 2], [])
    """
    return shortest_paths(relations, source, [target], max_hops)[0]


def shortest_paths(relations: sp.csr_matrix, source: int, targets: list[int], max_hops: int = 3) -> list[list[int]]:
    """``shortest_path`` from ``source`` to each of ``targets``, sharing one search.

    Breadth-first, a layer at a time in numpy: neighbours are visited in node order, so of several
    shortest paths the one whose first hop, then second hop, ... is the lowest node wins. The last
    layer is never expanded: whether a node reaches a target is read from the target's own row, so
    two hops cost the two end nodes' neighbourhoods, not every neighbour's neighbours (a hub's
    neighbourhood grows with the graph).

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(4, 4))
    >>> shortest_paths(m, 0, [2, 0, 3], max_hops=2)
    [[0, 1, 2], [0], []]
    """
    if not relations.has_sorted_indices:
        relations = relations.sorted_indices()
    layers: list[tuple[np.ndarray, np.ndarray]] = [(np.array([source]), np.array([-1]))]
    visited = np.array([source])
    for _ in range(max_hops - 1):  # layers 1 .. max_hops - 1; a target may sit one hop past the last
        cols, owner = _neighbours(relations, layers[-1][0])
        fresh = ~np.isin(cols, visited)
        cols, owner = cols[fresh], owner[fresh]
        if not cols.size:
            break
        _, first = np.unique(cols, return_index=True)
        first.sort()  # discovery order: by the first frontier node that reaches each new node
        layers.append((cols[first], owner[first]))
        visited = np.concatenate([visited, cols[first]])
    out = []
    for target in targets:
        path: list[int] = [source] if target == source else []
        into_target = _row(relations, target)
        for depth, (nodes, _) in enumerate(layers if not path else ()):
            hit = np.flatnonzero(np.isin(nodes, into_target))
            if hit.size:
                path = _unwind_layers(layers[:depth + 1], int(hit[0])) + [target]
                break
        out.append(path)
    return out


def _row(matrix: sp.csr_matrix, node: int) -> np.ndarray:
    return matrix.indices[matrix.indptr[node]:matrix.indptr[node + 1]]


def _neighbours(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of ``rows`` in order (each row's ascending) and the position in ``rows`` of each."""
    pos, lengths, _ = row_entries(matrix, rows)
    return matrix.indices[pos], np.repeat(np.arange(len(rows)), lengths)


def _unwind_layers(layers: list[tuple[np.ndarray, np.ndarray]], at: int) -> list[int]:
    path = []
    for nodes, parent in reversed(layers):
        path.append(int(nodes[at]))
        at = int(parent[at])
    return path[::-1]
