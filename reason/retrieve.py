"""Multi-hop retrieval over a knowledge graph: dense, BM25, graph (personalised PageRank) and hybrid.

Everything computed per graph (vector and BM25 indexes, the CSR walk matrix, name tables, passage
link matrices) is built once in ``Retriever.__init__``; a question costs one embedding call, two
sparse/dense scorings, one PageRank and a few sparse products.

``hybrid`` (the default) scores passages in three ways and adds them up:

1. first hop: standardised dense + BM25 scores of the question (and, for comparison questions, of
   one sub-query per compared item);
2. bridges: a passage gains when a passage it links to (it mentions the entity the other passage
   is about, i.e. that passage's title entity), or a passage linking to it, scores well on the first
   hop; multi-hop questions are answered by such pairs;
3. graph: personalised PageRank over the entity-passage graph seeded from linked question entities,
   the entities of the facts closest to the question and the best first-hop passages (HippoRAG 2).

>>> from kg.embedding import HashingEmbedder
>>> from kg.graph import KnowledgeGraph
>>> Retriever(KnowledgeGraph(), HashingEmbedder(dim=16)).retrieve("anything").evidence
()
"""
from __future__ import annotations

import time
from typing import Collection

import numpy as np
import scipy.sparse as sp

from kg.config import RetrieveConfig
from kg.embedding import Embedder
from kg.graph import KnowledgeGraph, VectorTable
from kg.model import Citation, Evidence, Hop, LinkedEntity, Retrieval, ScoredEntity
from kg.text import name_key
from kg.vectors import VectorIndex, build_vectors, passage_text, vectors_usable

from .exclude import Hidden, hide_documents
from .fusion import dedup_near_duplicates, diversify, top_standardize
from .index import BM25Index, top_k
from .link import MentionFinder, NameTable, link_entities
from .question import analyse_question
from .rerank import Reranker, rerank
from .walk import approximate_pagerank, freeze_graph, personalized_pagerank, shortest_path

class Retriever:
    """Ranks the passages of one graph for questions; see the module docstring for the modes."""

    def __init__(self, graph: KnowledgeGraph, embedder: Embedder, finder: MentionFinder | None = None,
                 config: RetrieveConfig = RetrieveConfig(), reranker: Reranker | None = None):
        self.graph, self.embedder, self.finder, self.config = graph, embedder, finder, config
        self.reranker = reranker  # rescoring hybrid's best passages (reason/rerank.py), when one is trained
        self.weights = config.hybrid
        tables = _tables_for(graph, embedder)
        self.passage_ids = tuple(graph.passages)
        self.passage_index = VectorIndex(_aligned(tables["passage"], self.passage_ids))
        self.entity_index = VectorIndex(tables["entity"])
        self.fact_index = VectorIndex(tables["fact"])
        self.bm25 = BM25Index.from_graph(graph)
        self.frozen = freeze_graph(graph)
        self.names = NameTable.from_graph(graph)
        self.mentions = _mention_matrix(graph, self.frozen)  # passages x entities
        self.links = _link_matrix(graph, self.frozen, self.mentions)  # passage -> passage about a mentioned entity
        self.links_in = self.links.T.tocsr()
        self._texts = [graph.passages[p].text for p in self.passage_ids]  # duplicates: same text, any title
        self._titles = [_title_key(graph, p) for p in self.passage_ids]

    # ---- public -------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, mode: str | None = None,
                 exclude: Collection[str] = ()) -> Retrieval:
        """Rank passages for ``question``; ``k`` and ``mode`` default to the configured ones.

        Returns evidence (best first), the linked question entities, answer-candidate entities
        (PageRank mass, question entities excluded), a reasoning chain over relation edges, and
        the settings used. ``exclude`` holds document ids retrieval treats as absent: their passages,
        the entities only they mention and the facts only they state are never seen (ablations);
        the settings then record them as ``exclude``.

        >>> from kg.embedding import HashingEmbedder
        >>> Retriever(KnowledgeGraph(), HashingEmbedder(dim=8)).retrieve("Who?", exclude={"d1"}).settings["exclude"]
        ['d1']
        """
        config = self.config.with_(mode=mode or self.config.mode, k=self.config.k if k is None else k)
        mode, k = config.mode, config.k
        timings: dict[str, float] = {}
        hidden = hide_documents(self.graph, self.frozen, self.mentions, exclude) if exclude else None
        scores, linked, node_mass = self._score(question, mode, timings, hidden)
        t = time.perf_counter()
        evidence = self._evidence(scores, k, mode, question)
        entities = self._candidates(node_mass, scores, linked)
        chain = self._chain(linked, entities, evidence, hidden)
        timings["rank"] = time.perf_counter() - t
        timings["total"] = sum(timings.values())
        settings = config.to_dict() | ({"exclude": sorted(hidden.documents)} if hidden else {})
        if self.reranker is not None and mode == "hybrid":
            settings["reranker"] = self.reranker.name
        return Retrieval(question, mode, evidence, chain, tuple(linked), entities, timings, settings)

    def components(self, question: str, timings: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """Every per-passage signal the hybrid mode mixes (for tuning and explanation)."""
        timings = {} if timings is None else timings
        t = time.perf_counter()
        subs = analyse_question(question).subqueries
        qv = self.embedder.embed([question, *subs]) if len(self.passage_ids) else np.zeros((1 + len(subs), 1))
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        dense = self.passage_index.scores(qv[0]) if len(self.passage_ids) else np.zeros(0)
        bm25 = self.bm25.scores(question)
        first = top_standardize(dense) + self.weights.bm25 * top_standardize(bm25)
        sub = np.zeros_like(first)
        for query, vec in zip(subs, qv[1:]):
            s = top_standardize(self.passage_index.scores(vec)) + self.weights.bm25 * top_standardize(self.bm25.scores(query))
            sub = np.maximum(sub, s)
        timings["first_hop"] = time.perf_counter() - t
        return {"dense": dense, "bm25": bm25, "first": first, "sub": sub, "qv": qv[0]}

    # ---- scoring ------------------------------------------------------------------------------
    def _score(self, question, mode, timings, hidden: Hidden | None = None):
        """(passage scores, linked entities, node mass); hidden passages score -inf, hidden entities
        are not linked and the walk runs without them."""
        if mode in ("dense", "bm25"):
            return _mask(self._single(question, mode, timings), hidden), [], np.zeros(0)
        c = self.components(question, timings)
        t = time.perf_counter()
        linked = link_entities(question, self.graph, self.finder, self.embedder, self.names, self.entity_index,
                               self.config.link)
        if hidden is not None:
            linked = [x for x in linked if not hidden.entities[self.frozen.node_of[x.entity_id]]]
        timings["link"] = time.perf_counter() - t
        first = c["first"] + self.weights.subquery * c["sub"] if mode == "hybrid" else top_standardize(c["dense"])
        first = _mask(first, hidden)
        t = time.perf_counter()
        mass = self._pagerank(c["qv"], first, linked, hidden)
        timings["graph"] = time.perf_counter() - t
        ppr = mass[self.frozen.n_entities:]
        if mode == "graph":
            return _mask(ppr, hidden), linked, mass
        t = time.perf_counter()
        scores = first + self.weights.bridge * self._bridge(first) + self.weights.ppr * _log_standardize(ppr)
        timings["bridge"] = time.perf_counter() - t
        return scores, linked, mass

    def _single(self, question: str, mode: str, timings: dict[str, float]) -> np.ndarray:
        t = time.perf_counter()
        if mode == "bm25":
            scores = self.bm25.scores(question)
        elif len(self.passage_ids):
            scores = self.passage_index.scores(self.embedder.embed([question])[0])
        else:
            scores = np.zeros(0)
        timings[mode] = time.perf_counter() - t
        return scores

    def _pagerank(self, qv: np.ndarray, first: np.ndarray, linked: list[LinkedEntity],
                  hidden: Hidden | None = None) -> np.ndarray:
        n_e = self.frozen.n_entities
        seeds: dict[int, float] = {}
        for link in linked:
            node = self.frozen.node_of[link.entity_id]
            seeds[node] = seeds.get(node, 0.0) + link.score * self.names.specificity.get(link.entity_id, 1.0)
        facts = self.fact_index.search(qv, self.weights.facts) if len(self.fact_index) else []
        facts = [(rid, score) for rid, score in facts if hidden is None or rid not in hidden.relations]
        for rid, score in facts:
            r = self.graph.relations[rid]
            weight = float(np.exp((score - facts[0][1]) * self.weights.fact_sharpness))
            for eid in (r.subject, r.object):
                node = self.frozen.node_of[eid]
                seeds[node] = seeds.get(node, 0.0) + weight * self.names.specificity.get(eid, 1.0)
        top = top_k(first, self.weights.seed_passages)
        if top:
            best = first[top[0]]
            for row in top:
                seeds[n_e + row] = seeds.get(n_e + row, 0.0) + self.weights.passage_seed * float(np.exp(first[row] - best))
        if not seeds:
            return np.zeros(self.frozen.adjacency.shape[0])
        adjacency = self.frozen.adjacency if hidden is None else hidden.adjacency
        if self.config.pagerank == "push":  # out-weights: cached per graph, summed per call when nodes are hidden
            out_weight = self.frozen.out_weight if hidden is None else None
            return approximate_pagerank(adjacency, seeds, self.config.damping, self.config.pagerank_epsilon, out_weight)
        return personalized_pagerank(adjacency, seeds, damping=self.config.damping)

    def _bridge(self, first: np.ndarray) -> np.ndarray:
        """Per passage: the best first-hop score among passages it links to or is linked from,
        counted above the first-hop median only (weak links add nothing)."""
        if not len(first):
            return first
        floor = np.median(first)
        gain = np.maximum(first - floor, 0.0)
        return np.maximum(_row_max(self.links, gain), _row_max(self.links_in, gain))

    # ---- outputs ------------------------------------------------------------------------------
    def _evidence(self, scores: np.ndarray, k: int, mode: str, question: str = "") -> tuple[Evidence, ...]:
        if not len(scores):
            return ()
        reranking = self.reranker is not None and mode == "hybrid"
        pool = max(k * 3 + 5, self.config.rerank_candidates) if reranking else k * 3 + 5
        order = [row for row in top_k(scores, pool) if np.isfinite(scores[row])]  # -inf: excluded
        order = dedup_near_duplicates(order, self.passage_index.vectors, self._texts, self.weights.dedup)
        if reranking:
            n = self.config.rerank_candidates
            top = order[:n]
            scores = scores.copy()
            scores[top] = rerank(question, scores[top], [passage_text(self.graph, self.passage_ids[r]) for r in top],
                                 self.reranker, self.config.rerank_weight)
            order = sorted(top, key=lambda r: -scores[r]) + order[n:]
        if mode == "hybrid":
            order = diversify(order, scores, self._titles, self.weights.same_title, k)
        order = order[:k]
        out = []
        for rank, row in enumerate(order, 1):
            p = self.graph.passages[self.passage_ids[row]]
            doc = self.graph.documents.get(p.doc_id)
            out.append(Evidence(p.id, p.doc_id, doc.title if doc else "", p.text, round(float(scores[row]), 6), mode, rank))
        return tuple(out)

    def _candidates(self, mass: np.ndarray, scores: np.ndarray, linked: list[LinkedEntity], n: int = 10):
        n_e = self.frozen.n_entities
        if not len(mass):  # dense / bm25: entities of the best passages, weighted by passage score
            top = top_k(scores, 10)
            mass = np.zeros(n_e)
            if top and n_e:
                w = np.zeros(len(scores))
                w[top] = np.exp(scores[top] - scores[top[0]])
                mass = self.mentions.T @ w
        own = {self.frozen.node_of[l.entity_id] for l in linked}
        ent = mass[:n_e]
        out = []
        for node in top_k(ent, n + len(own)):
            if node not in own and ent[node] > 0:
                e = self.graph.entities[self.frozen.entity_ids[node]]
                out.append(ScoredEntity(e.id, e.name, e.type, round(float(ent[node]), 6)))
        return tuple(out[:n])

    def _chain(self, linked, candidates, evidence, hidden: Hidden | None = None) -> tuple[Hop, ...]:
        """Shortest relation path from a question entity to an answer candidate, preferring paths
        whose facts are stated in the retrieved passages."""
        if not linked or not candidates or not self.graph.relations:
            return ()
        retrieved = {e.passage_id for e in evidence}
        relations = self.frozen.relations if hidden is None else hidden.relation_edges
        best: tuple[tuple[int, int], list[int]] | None = None
        for link in linked[:3]:
            src = self.frozen.node_of[link.entity_id]
            for cand in candidates[:5]:
                path = shortest_path(relations, src, self.frozen.node_of[cand.entity_id], self.config.hops)
                if len(path) < 2:
                    continue
                support = sum(self._supported(a, b, retrieved) for a, b in zip(path, path[1:]))
                key = ((support, support + 1 - len(path)), path)  # most supported hops, fewest unsupported
                if best is None or key[0] > best[0]:
                    best = key
        return tuple(self._hop(a, b, retrieved) for a, b in zip(best[1], best[1][1:])) if best else ()

    def _supported(self, a: int, b: int, retrieved: set[str]) -> bool:
        r = self.graph.relations[self.frozen.relation_at[(a, b)]]
        return any(p.passage_id in retrieved for p in r.evidence)

    def _hop(self, a: int, b: int, retrieved: set[str]) -> Hop:
        r = self.graph.relations[self.frozen.relation_at[(a, b)]]
        prov = next((p for p in r.evidence if p.passage_id in retrieved), r.evidence[0] if r.evidence else None)
        cite = None
        if prov is not None:
            doc = self.graph.documents.get(prov.doc_id)
            cite = Citation(prov.doc_id, prov.passage_id, prov.start, prov.end, prov.sentence,
                            doc.source if doc else "", doc.title if doc else "")
        subj, obj = self.graph.entities[r.subject].name, self.graph.entities[r.object].name
        return Hop(subj, r.predicate, obj, cite)


# ---- per-graph structures -------------------------------------------------------------------------


def _title_key(graph: KnowledgeGraph, passage_id: str) -> str:
    doc = graph.documents.get(graph.passages[passage_id].doc_id)
    return name_key(doc.title) if doc and doc.title else passage_id


def _tables_for(graph: KnowledgeGraph, embedder: Embedder) -> dict[str, VectorTable]:
    """The graph's stored vectors when they fit the graph and embedder, else freshly computed
    (with the same entity and fact selection as the graph was built with)."""
    stored = graph.vectors
    if vectors_usable(graph, stored, embedder.name):
        return stored
    index = graph.settings.get("build", {}).get("index", {})
    return build_vectors(graph, embedder, stored or None, entities=index.get("entities", "named"),
                         facts=bool(index.get("facts", False)))


def _aligned(table: VectorTable, ids: tuple[str, ...]) -> VectorTable:
    if table.ids == ids:
        return table
    row = {i: n for n, i in enumerate(table.ids)}
    return VectorTable(ids, table.vectors[[row[i] for i in ids]], table.model)


def _mention_matrix(graph: KnowledgeGraph, frozen) -> sp.csr_matrix:
    n_e, n_p = frozen.n_entities, len(frozen.passage_ids)
    pairs = set()
    for mid, eid in graph.assignments.items():
        m = graph.mentions.get(mid)
        if m is not None and m.passage_id in frozen.node_of and eid in frozen.node_of:
            pairs.add((frozen.node_of[m.passage_id] - n_e, frozen.node_of[eid]))
    if not pairs:
        return sp.csr_matrix((n_p, n_e))
    rows, cols = zip(*sorted(pairs))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_p, n_e))


def _title_matrix(graph: KnowledgeGraph, frozen) -> sp.csr_matrix:
    """Entities x passages: the passages of the document that is about the entity (its title
    mention, or a title equal to the entity's name)."""
    n_e, n_p = frozen.n_entities, len(frozen.passage_ids)
    doc_passages: dict[str, list[int]] = {}
    for j, pid in enumerate(frozen.passage_ids):
        doc_passages.setdefault(graph.passages[pid].doc_id, []).append(j)
    about: set[tuple[int, str]] = set()
    for mid, eid in graph.assignments.items():
        m = graph.mentions.get(mid)
        if m is not None and m.kind == "title" and eid in frozen.node_of:
            about.add((frozen.node_of[eid], m.doc_id))
    by_key = {}
    for eid, e in graph.entities.items():
        by_key.setdefault(name_key(e.name), frozen.node_of[eid])
    for d in graph.documents.values():
        if (node := by_key.get(name_key(d.title))) is not None:
            about.add((node, d.id))
    pairs = sorted({(e, j) for e, doc in about for j in doc_passages.get(doc, ())})
    if not pairs:
        return sp.csr_matrix((n_e, n_p))
    rows, cols = zip(*pairs)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_e, n_p))


def _link_matrix(graph: KnowledgeGraph, frozen, mentions: sp.csr_matrix) -> sp.csr_matrix:
    """Passages x passages: ``p -> q`` when ``p`` mentions an entity that ``q``'s document is about."""
    links = (mentions @ _title_matrix(graph, frozen)).tocsr()
    links.setdiag(0)
    links.eliminate_zeros()
    links.data[:] = 1.0
    return links


def _row_max(matrix: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Per row, the largest ``values[col]`` over the row's non-zero columns (0 for empty rows)."""
    out = np.zeros(matrix.shape[0])
    if matrix.nnz == 0:
        return out
    gathered = values[matrix.indices]
    nonempty = np.diff(matrix.indptr) > 0
    out[nonempty] = np.maximum.reduceat(gathered, matrix.indptr[:-1][nonempty])
    return out


def _mask(scores: np.ndarray, hidden: Hidden | None) -> np.ndarray:
    """``scores`` with the rows of hidden passages at -inf (never ranked, never a seed)."""
    return scores if hidden is None or not len(scores) else np.where(hidden.passages, -np.inf, scores)


def _log_standardize(mass: np.ndarray) -> np.ndarray:
    """PageRank mass on a log scale, standardised over the best passages."""
    if not len(mass) or mass.max() <= 0:
        return np.zeros(len(mass))
    return top_standardize(np.log(mass + 1e-12), depth=100)
