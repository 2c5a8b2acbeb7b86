"""Retrieval as if some documents were not in the graph: which passages, entities and relation edges
a question must not see when documents are excluded (ablations: "is the answer still found without
its gold passages?", or a user hiding documents from one question).

A relation edge is dropped when every fact behind it is stated only in excluded documents; an entity
is hidden when no passage left mentions it. The walk matrices are rebuilt without them, so PageRank
and reasoning chains cannot pass through what was excluded. Nothing is changed in place.

>>> import numpy as np, scipy.sparse as sp
>>> walk = sp.csr_matrix(np.array([[0, 1.0, 1.0], [1.0, 0, 0], [1.0, 0, 0]]))
>>> without_nodes(walk, np.array([False, True, False])).toarray().tolist()
[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

import numpy as np
import scipy.sparse as sp

from kg.graph import KnowledgeGraph

from .walk import FrozenGraph


@dataclass(frozen=True)
class Hidden:
    """What excluding ``documents`` hides: ``passages`` (bool per passage row), ``entities`` (bool per
    entity node), ``relations`` (ids of facts stated only in them), and the walk matrices without them."""

    documents: frozenset[str]
    passages: np.ndarray
    entities: np.ndarray
    relations: frozenset[str]
    adjacency: sp.csr_matrix
    relation_edges: sp.csr_matrix


def hide_documents(graph: KnowledgeGraph, frozen: FrozenGraph, mentions: sp.csr_matrix,
                   documents: Collection[str]) -> Hidden:
    """The parts of ``graph`` that excluding ``documents`` (document ids) hides from retrieval.

    ``mentions`` is the passages x entities matrix of the retriever (row ``j`` is ``frozen.passage_ids[j]``)."""
    docs = frozenset(documents)
    passages = np.fromiter((graph.passages[p].doc_id in docs for p in frozen.passage_ids), bool,
                           len(frozen.passage_ids))
    seen = mentions.T @ (~passages).astype(np.float64) if mentions.shape[0] else np.zeros(frozen.n_entities)
    entities = np.asarray(seen).ravel() <= 0
    relations = _hidden_relations(graph, docs)
    dropped = _dropped_edges(graph, frozen, relations)
    nodes = np.concatenate([entities, passages])
    adjacency = without_nodes(frozen.adjacency - dropped, nodes)
    return Hidden(docs, passages, entities, relations, adjacency, without_nodes(frozen.relations - dropped, nodes))


def without_nodes(matrix: sp.csr_matrix, hidden: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with the rows and columns of ``hidden`` nodes emptied (the node count stays)."""
    keep = sp.diags((~hidden).astype(np.float64))
    out = (keep @ matrix @ keep).tocsr()
    out.eliminate_zeros()
    return out


def _hidden_relations(graph: KnowledgeGraph, docs: frozenset[str]) -> frozenset[str]:
    """Facts whose every piece of evidence is in an excluded document."""
    return frozenset(r.id for r in graph.relations.values()
                     if r.evidence and all(p.doc_id in docs for p in r.evidence))


def _dropped_edges(graph: KnowledgeGraph, frozen: FrozenGraph, hidden: frozenset[str]) -> sp.csr_matrix:
    """The relation edges (with their walk weight) all of whose facts are hidden; an edge that a visible
    fact also supports stays."""
    gone, kept = set(), set()
    for r in graph.relations.values():
        a, b = frozen.node_of.get(r.subject), frozen.node_of.get(r.object)
        if a is None or b is None or a == b:
            continue
        (gone if r.id in hidden else kept).add((min(a, b), max(a, b)))
    pairs = sorted(gone - kept)
    n = frozen.relations.shape[0]
    if not pairs:
        return sp.csr_matrix((n, n))
    rows, cols = (np.array(x) for x in zip(*pairs))
    weights = np.asarray(frozen.relations[rows, cols]).ravel()
    both = (np.concatenate([weights, weights]), (np.concatenate([rows, cols]), np.concatenate([cols, rows])))
    return sp.csr_matrix(both, shape=(n, n))
