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
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from kg.config import RetrieveConfig
from kg.errors import ConfigError
from kg.embedding import Embedder
from kg.graph import KnowledgeGraph, VectorTable
from kg.model import Citation, Evidence, Hop, LinkedEntity, Retrieval, ScoredEntity
from kg.text import name_key
from kg.vectors import VectorIndex, VectorSearch, aligned, build_vectors, passage_text, top_rows, vectors_usable

from .exclude import Hidden, hide_documents
from .fusion import dedup_near_duplicates, diversify, on_scale, standardize, top_scale
from .index import BM25Index, top_k
from .learned_rank import BoostedRanker, LinearRanker, candidate_features
from .link import MentionFinder, NameTable, link_entities
from .question import analyse_question
from .rerank import Reranker, rerank
from .walk import freeze_graph, pagerank_support, personalized_pagerank, row_entries, shortest_paths

class Retriever:
    """Ranks the passages of one graph for questions; see the module docstring for the modes."""

    def __init__(self, graph: KnowledgeGraph, embedder: Embedder, finder: MentionFinder | None = None,
                 config: RetrieveConfig = RetrieveConfig(), reranker: Reranker | None = None,
                 index_dir: Path | None = None, indexes: Mapping[str, VectorSearch] | None = None,
                 ranker: LinearRanker | BoostedRanker | None = None):
        self.graph, self.embedder, self.finder, self.config = graph, embedder, finder, config
        self.reranker = reranker  # rescoring hybrid's best passages (reason/rerank.py), when one is trained
        self.ranker = ranker  # reordering them by hybrid's signals as kg tune weighed them (reason/learned_rank.py)
        self.weights = config.hybrid
        self.passage_ids = tuple(graph.passages)
        # indexes: the passage / entity / fact tables searched elsewhere (a published graph's PostgreSQL);
        # else the graph's own vectors, held here, with HNSW indexes of large tables kept in index_dir
        indexes = indexes or _indexes_for(graph, embedder, self.passage_ids, index_dir)
        if tuple(indexes["passage"].ids) != self.passage_ids:
            raise ConfigError("passage vectors: their ids are not the graph's passages in the graph's order")
        self.passage_index, self.entity_index, self.fact_index = indexes["passage"], indexes["entity"], indexes["fact"]
        self.bm25 = BM25Index.from_graph(graph)
        self.frozen = freeze_graph(graph)
        self.names = NameTable.from_graph(graph)
        self.mentions = _mention_matrix(graph, self.frozen)  # passages x entities
        about = _title_matrix(graph, self.frozen)  # entity -> the passages of the document about it
        self.about = about.T.tocsr()  # passage -> the entities its document is about
        self.links = _link_matrix(about, self.mentions)  # passage -> passage about a mentioned entity
        self.links_in = self.links.T.tocsr()
        self._texts = [graph.passages[p].text for p in self.passage_ids]  # duplicates: same text, any title
        self.titles = [_title_key(graph, p) for p in self.passage_ids]  # name keys (a passage id when untitled)
        # passages whose first-hop scores give the bridge floor (their median): all of a small graph,
        # an even spread of a large one, with their vectors side by side (no per-question gather)
        self._sample = _spread_rows(len(self.passage_ids), self.weights.floor_sample)
        self.scored_whole = 0 < len(self.passage_ids) <= self.weights.floor_sample  # every passage scored, once
        self._sample_vectors = None if self.scored_whole else np.ascontiguousarray(self.passage_index.rows(self._sample))

    # ---- public -------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, mode: str | None = None,
                 exclude: Collection[str] = (), vectors: np.ndarray | None = None) -> Retrieval:
        """Rank passages for ``question``; ``k`` and ``mode`` default to the configured ones.

        Returns evidence (best first), the linked question entities, answer-candidate entities
        (PageRank mass, question entities excluded), a reasoning chain over relation edges, and
        the settings used. ``exclude`` holds document ids retrieval treats as absent: their passages,
        the entities only they mention and the facts only they state are never seen (ablations);
        the settings then record them as ``exclude``. ``vectors``: the embeddings of ``queries(question)``
        when the caller has them, made in one embedder call as ``retrieve`` makes them.

        >>> from kg.embedding import HashingEmbedder
        >>> Retriever(KnowledgeGraph(), HashingEmbedder(dim=8)).retrieve("Who?", exclude={"d1"}).settings["exclude"]
        ['d1']
        """
        config = self.config.with_(mode=mode or self.config.mode, k=self.config.k if k is None else k)
        mode, k = config.mode, config.k
        timings: dict[str, float] = {}
        hidden = hide_documents(self.graph, self.frozen, self.mentions, exclude) if exclude else None
        ranked, linked, reached = self._score(question, mode, timings, hidden, vectors)
        t = time.perf_counter()
        evidence = self._evidence(ranked, k, mode, question)
        entities = self._candidates(reached, ranked, linked)
        chain = self._chain(linked, entities, evidence, hidden)
        timings["rank"] = time.perf_counter() - t
        timings["total"] = sum(timings.values())
        settings = config.to_dict() | ({"exclude": sorted(hidden.documents)} if hidden else {})
        if self.reranker is not None and mode == "hybrid":
            settings["reranker"] = self.reranker.name
        if self.ranker is not None and mode == "hybrid":
            settings["ranker"] = self.ranker.name
        return Retrieval(question, mode, evidence, chain, tuple(linked), entities, timings, settings)

    def retrieve_many(self, questions: Sequence[str], k: int | None = None, mode: str | None = None) -> list[Retrieval]:
        """``retrieve`` for each question, in order: exactly what ``retrieve`` gives for it.

        Each question's texts (it and its sub-queries) are embedded in one embedder call of their own,
        as ``retrieve`` embeds them, never batched with other questions: the int8 embedder scales a
        call's activations together, so a vector made in a batch depends on its neighbours (cosine
        down to .99), and rankings trained or validated on batched vectors were not the ones served.

        >>> from kg.embedding import HashingEmbedder
        >>> [r.question for r in Retriever(KnowledgeGraph(), HashingEmbedder(dim=8)).retrieve_many(["A?", "B?"])]
        ['A?', 'B?']
        """
        return [self.retrieve(q, k, mode) for q in questions]

    def first_hop(self, question: str, timings: dict[str, float] | None = None,
                  vectors: np.ndarray | None = None) -> "FirstHop":
        """The question's first-hop scoring (dense + BM25, and one sub-query per compared item),
        with its candidate passages; ``FirstHop.at`` scores any passages (for tuning and
        explanation). ``vectors``: the embeddings of ``queries(question)``, when already made."""
        timings = {} if timings is None else timings
        t = time.perf_counter()
        texts, keyword = _query_texts(question)
        if vectors is not None:
            qv = vectors
        else:
            qv = self.embedder.embed(texts) if len(self.passage_ids) else np.zeros((len(texts), 1))
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        hop = FirstHop(self, keyword, qv)
        timings["first_hop"] = time.perf_counter() - t
        return hop

    # ---- scoring ------------------------------------------------------------------------------
    def _score(self, question, mode, timings, hidden: Hidden | None = None, vectors: np.ndarray | None = None):
        """(ranked passages, linked entities, (entity nodes, PageRank mass)); hidden passages score
        -inf, hidden entities are not linked and the walk runs without them.

        Only passages that can reach the top are scored: the first-hop candidates and the passages
        PageRank reaches (any other passage has no PageRank mass, which puts it far below them), so
        a question's cost follows its neighbourhood, not the graph's size."""
        none = (np.zeros(0, dtype=np.int64), np.zeros(0))
        if mode in ("dense", "bm25"):
            return self._single(question, mode, timings, vectors).masked(hidden), [], none
        hop = self.first_hop(question, timings, vectors)
        t = time.perf_counter()
        linked = link_entities(question, self.graph, self.finder, self.embedder, self.names, self.entity_index,
                               self.config.link)
        if hidden is not None:
            linked = [x for x in linked if not hidden.entities[self.frozen.node_of[x.entity_id]]]
        timings["link"] = time.perf_counter() - t
        # a graph no larger than the floor sample is scored whole, once; a larger one where needed
        t = time.perf_counter()
        whole = hop.at(self._sample, mode, hidden) if self.scored_whole else None
        score_at = (lambda rows: whole[rows]) if whole is not None else (lambda rows: hop.at(rows, mode, hidden))
        first = score_at(hop.rows)
        timings["first_hop"] += time.perf_counter() - t
        t = time.perf_counter()
        nodes, mass = self._pagerank(hop.qv[0], hop.rows, first, linked, hidden)
        timings["graph"] = time.perf_counter() - t
        n_e = self.frozen.n_entities
        in_passages = nodes >= n_e
        reached, reached_mass = nodes[in_passages] - n_e, mass[in_passages]
        entities = (nodes[~in_passages], mass[~in_passages])
        if mode == "graph":
            return Ranked(reached, reached_mass).masked(hidden), linked, entities
        t = time.perf_counter()
        rows = np.union1d(hop.rows, reached)
        first = score_at(rows)
        sample = whole if whole is not None else hop.at(self._sample, mode, hidden, self._sample_vectors)
        floor = float(np.median(sample)) if len(sample) else 0.0
        ppr = np.zeros(len(rows))
        ppr[np.searchsorted(rows, reached)] = reached_mass
        bridge = self._bridge(rows, first, floor)
        ppr = _log_standardize(ppr, reached_mass, len(self.passage_ids))
        scores = first + self.weights.bridge * bridge + self.weights.ppr * ppr
        timings["bridge"] = time.perf_counter() - t
        parts = _Parts(first, bridge, ppr, hop, tuple(linked), question)
        return Ranked(rows, scores, parts), linked, entities

    def _single(self, question: str, mode: str, timings: dict[str, float], vectors: np.ndarray | None = None) -> "Ranked":
        t = time.perf_counter()
        if mode == "bm25":
            scores = self.bm25.scores(question)
            rows = np.flatnonzero(scores)
            ranked = Ranked(rows, scores[rows].astype(np.float64))
        elif len(self.passage_ids):
            pool = max(self.weights.candidates, self.config.k * 3 + 5)
            qv = self.embedder.embed([question]) if vectors is None else vectors[:1]
            rows, cosines = self.passage_index.search_rows(qv, pool)[0]
            ranked = Ranked.of(rows, cosines)
        else:
            ranked = Ranked.of(np.zeros(0, dtype=np.int64), np.zeros(0))
        timings[mode] = time.perf_counter() - t
        return ranked

    def _pagerank(self, qv: np.ndarray, rows: np.ndarray, first: np.ndarray, linked: list[LinkedEntity],
                  hidden: Hidden | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, mass) of personalised PageRank seeded from the linked entities, the facts closest
        to the question and the best first-hop passages (``first`` scores the passage ``rows``)."""
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
            for at in top:
                node = n_e + int(rows[at])
                seeds[node] = seeds.get(node, 0.0) + self.weights.passage_seed * float(np.exp(first[at] - best))
        if not seeds:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        adjacency = self.frozen.adjacency if hidden is None else hidden.adjacency
        if self.config.pagerank == "push":  # out-weights: cached per graph, summed per call when nodes are hidden
            out_weight = self.frozen.out_weight if hidden is None else None
            return pagerank_support(adjacency, seeds, self.config.damping, self.config.pagerank_epsilon, out_weight)
        mass = personalized_pagerank(adjacency, seeds, damping=self.config.damping)
        nodes = np.flatnonzero(mass)
        return nodes, mass[nodes]

    def _bridge(self, rows: np.ndarray, first: np.ndarray, floor: float) -> np.ndarray:
        """Per passage of ``rows`` (ascending): the best first-hop score among the passages of
        ``rows`` it links to or is linked from, counted above ``floor`` (the first-hop median) only,
        so weak links add nothing."""
        gain = np.maximum(first - floor, 0.0)
        out = np.zeros(len(rows))
        for matrix in (self.links, self.links_in):
            out = np.maximum(out, _row_max_within(matrix, rows, gain))
        return out

    # ---- outputs ------------------------------------------------------------------------------
    def _evidence(self, ranked: "Ranked", k: int, mode: str, question: str = "") -> tuple[Evidence, ...]:
        if not len(ranked.rows):
            return ()
        reranking = self.reranker is not None and mode == "hybrid"
        learned = self.ranker is not None and ranked.parts is not None
        pool = max(k * 3 + 5, self.config.rerank_candidates) if reranking or learned else k * 3 + 5
        order, scores = self._pool(ranked, pool)
        if learned:
            top = order[:self.config.rerank_candidates]
            new = on_scale(np.array([scores[r] for r in top]), self.ranker.score(candidate_features(self, ranked, top)))
            scores.update(zip(top, map(float, new)))
            order = sorted(top, key=lambda r: -scores[r]) + order[len(top):]
        if reranking:
            n = self.config.rerank_candidates
            top = order[:n]
            new = rerank(question, np.array([scores[r] for r in top]),
                         [passage_text(self.graph, self.passage_ids[r]) for r in top], self.reranker,
                         self.config.rerank_weight)
            scores.update(zip(top, map(float, new)))
            order = sorted(top, key=lambda r: -scores[r]) + order[n:]
        if mode == "hybrid":
            order = diversify(order, scores, self.titles, self.weights.same_title, k)
        order = order[:k]
        out = []
        for rank, row in enumerate(order, 1):
            p = self.graph.passages[self.passage_ids[row]]
            doc = self.graph.documents.get(p.doc_id)
            out.append(Evidence(p.id, p.doc_id, doc.title if doc else "", p.text, round(scores[row], 6), mode, rank))
        return tuple(out)

    def _pool(self, ranked: "Ranked", size: int) -> tuple[list[int], dict[int, float]]:
        """The ``size`` best rows of ``ranked`` (excluded ones never), near-duplicates dropped, best
        first, with their scores."""
        best = [at for at in top_k(ranked.values, size) if np.isfinite(ranked.values[at])]  # -inf: excluded
        scores = {int(ranked.rows[at]): float(ranked.values[at]) for at in best}
        rows = list(scores)
        kept = dedup_near_duplicates(range(len(rows)), self.passage_index.rows(np.array(rows, dtype=np.int64)),
                                     [self._texts[r] for r in rows], self.weights.dedup)
        return [rows[at] for at in kept], scores

    def candidates(self, question: str, vectors: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
        """Hybrid's best passages for ``question`` (``retrieve.rerank_candidates`` of them, in hybrid's
        order, near-duplicates dropped) and their ``learned_rank.FEATURES`` rows: what a learned ranker
        reorders, and what ``kg tune`` trains it on. ``vectors``: as in ``retrieve``."""
        ranked, _, _ = self._score(question, "hybrid", {}, None, vectors)
        order, _ = self._pool(ranked, max(self.config.k * 3 + 5, self.config.rerank_candidates))
        top = order[:self.config.rerank_candidates]
        return [self.passage_ids[r] for r in top], candidate_features(self, ranked, top)

    def _candidates(self, entities: tuple[np.ndarray, np.ndarray], ranked: "Ranked", linked: list[LinkedEntity],
                    n: int = 10):
        nodes, mass = entities
        if not len(nodes) and len(ranked.rows):  # dense / bm25: entities of the best passages, weighted by passage score
            top = top_k(ranked.values, 10)
            weight = np.exp(ranked.values[top] - ranked.values[top[0]])
            part = self.mentions[ranked.rows[top]].tocoo()
            nodes, at = np.unique(part.col, return_inverse=True)
            mass = np.bincount(at, weights=part.data * weight[part.row], minlength=len(nodes))
        own = {self.frozen.node_of[l.entity_id] for l in linked}
        out = []
        for at in top_k(mass, n + len(own)):  # nodes ascend, so ties still go to the lower node
            node = int(nodes[at])
            if node not in own and mass[at] > 0:
                e = self.graph.entities[self.frozen.entity_ids[node]]
                out.append(ScoredEntity(e.id, e.name, e.type, round(float(mass[at]), 6)))
        return tuple(out[:n])

    def _chain(self, linked, candidates, evidence, hidden: Hidden | None = None) -> tuple[Hop, ...]:
        """Shortest relation path from a question entity to an answer candidate, preferring paths
        whose facts are stated in the retrieved passages."""
        if not linked or not candidates or not self.graph.relations:
            return ()
        retrieved = {e.passage_id for e in evidence}
        relations = self.frozen.relations if hidden is None else hidden.relation_edges
        best: tuple[tuple[int, int], list[int]] | None = None
        targets = [self.frozen.node_of[cand.entity_id] for cand in candidates[:5]]
        for link in linked[:3]:
            for path in shortest_paths(relations, self.frozen.node_of[link.entity_id], targets, self.config.hops):
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


def queries(question: str) -> list[str]:
    """The texts hybrid retrieval embeds for a question: the question, then the name of each item a
    comparison question compares (a name finds its own page; keyword search reads the whole
    sub-query, ``keyword_queries``). Names are a third of a question's tokens, and the embedder's
    time goes by tokens.

    >>> queries("Who was born first, Ada Lovelace or Charles Babbage?")
    ['Who was born first, Ada Lovelace or Charles Babbage?', 'Ada Lovelace', 'Charles Babbage']
    """
    return _query_texts(question)[0]


def keyword_queries(question: str) -> list[str]:
    """The texts hybrid retrieval runs BM25 for: the question, then one sub-query per compared item
    (its name and the question's stem), aligned with ``queries``.

    >>> keyword_queries("Who was born first, Ada Lovelace or Charles Babbage?")[1]
    'Ada Lovelace: who was born first'
    """
    return _query_texts(question)[1]


def _query_texts(question: str) -> tuple[list[str], list[str]]:
    """(``queries``, ``keyword_queries``) of ``question``, from one question analysis."""
    analysis = analyse_question(question)
    return ([question, *analysis.options] if analysis.subqueries else [question]), [question, *analysis.subqueries]


def _title_key(graph: KnowledgeGraph, passage_id: str) -> str:
    doc = graph.documents.get(graph.passages[passage_id].doc_id)
    return name_key(doc.title) if doc and doc.title else passage_id


def _indexes_for(graph: KnowledgeGraph, embedder: Embedder, passage_ids: tuple[str, ...],
                 index_dir: Path | None) -> dict[str, VectorIndex]:
    tables = _tables_for(graph, embedder)
    return {"passage": VectorIndex(aligned(tables["passage"], passage_ids), cache=index_dir, name="passage"),
            "entity": VectorIndex(tables["entity"], cache=index_dir, name="entity"),
            "fact": VectorIndex(tables["fact"], cache=index_dir, name="fact")}


def _tables_for(graph: KnowledgeGraph, embedder: Embedder) -> dict[str, VectorTable]:
    """The graph's stored vectors when they fit the graph and embedder, else freshly computed
    (with the same entity and fact selection as the graph was built with)."""
    stored = graph.vectors
    if vectors_usable(graph, stored, embedder.name):
        return stored
    index = graph.settings.get("build", {}).get("index", {})
    return build_vectors(graph, embedder, stored or None, entities=index.get("entities", "named"),
                         facts=bool(index.get("facts", False)))


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


def _link_matrix(about: sp.csr_matrix, mentions: sp.csr_matrix) -> sp.csr_matrix:
    """Passages x passages: ``p -> q`` when ``p`` mentions an entity that ``q``'s document is about
    (``about``: entities x passages, ``_title_matrix``)."""
    links = (mentions @ about).tocsr()
    links.setdiag(0)
    links.eliminate_zeros()
    links.data[:] = 1.0
    return links


def _row_max_within(matrix: sp.csr_matrix, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each of ``rows`` (ascending), the largest ``values[j]`` over its non-zero columns that are
    themselves among ``rows`` (``values`` is aligned with ``rows``; 0 when there is none). Reads only
    those rows of the CSR arrays.

    >>> m = sp.csr_matrix(np.array([[0, 1, 1], [0, 0, 0], [1, 0, 0]], dtype=float))
    >>> _row_max_within(m, np.array([0, 2]), np.array([5.0, 7.0])).tolist()
    [7.0, 5.0]
    """
    out = np.zeros(len(rows))
    if matrix.nnz == 0 or not len(rows):
        return out
    pos, lengths, offsets = row_entries(matrix, rows)
    if not len(pos):
        return out
    cols = matrix.indices[pos]
    at = np.minimum(np.searchsorted(rows, cols), len(rows) - 1)
    gathered = np.where(rows[at] == cols, values[at], 0.0)
    nonempty = lengths > 0
    out[nonempty] = np.maximum(np.maximum.reduceat(gathered, offsets[nonempty]), 0.0)
    return out


def _spread_rows(n: int, size: int) -> np.ndarray:
    """All of ``range(n)`` when ``n <= size``, else ``size`` rows spread evenly over it.

    >>> _spread_rows(3, 5).tolist(), _spread_rows(10, 4).tolist()
    ([0, 1, 2], [0, 3, 6, 9])
    """
    if n <= size:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, size).round().astype(np.int64))


def _log_standardize(mass: np.ndarray, reached: np.ndarray, total: int) -> np.ndarray:
    """PageRank ``mass`` on a log scale, standardised over the best passages of all ``total``:
    ``reached`` holds every non-zero mass (the rest are 0)."""
    if not len(reached) or reached.max() <= 0:
        return np.zeros(len(mass))
    tiny = 1e-12
    return standardize(np.log(mass + tiny), top_scale(np.log(reached + tiny), 100, total, float(np.log(tiny))))


@dataclass(frozen=True)
class _Parts:
    """What a hybrid ranking was added up from, per row of its ``Ranked`` (first hop, bridge and
    PageRank parts), and the question's first hop and linked entities: a learned ranker's inputs."""

    first: np.ndarray
    bridge: np.ndarray
    ppr: np.ndarray
    hop: "FirstHop"
    linked: tuple[LinkedEntity, ...]
    question: str


@dataclass(frozen=True)
class Ranked:
    """Scores of some passages (``rows``, ascending, and ``values``); every other passage is out of
    the running."""

    rows: np.ndarray
    values: np.ndarray
    parts: "_Parts | None" = None  # hybrid's: its signals per row, for a learned ranker

    @classmethod
    def of(cls, rows: np.ndarray, values: np.ndarray) -> "Ranked":
        order = np.argsort(rows, kind="stable")
        return cls(np.asarray(rows, dtype=np.int64)[order], np.asarray(values, dtype=np.float64)[order])

    def masked(self, hidden: Hidden | None) -> "Ranked":
        """The same, with hidden passages at -inf (never ranked)."""
        if hidden is None or not len(self.rows):
            return self
        return Ranked(self.rows, np.where(hidden.passages[self.rows], -np.inf, self.values), self.parts)


class FirstHop:
    """A question's first hop: dense and BM25 scores of the question and of each comparison
    sub-query, each standardised over its best ``DEPTH`` passages, and the candidate passages (the
    ``HybridConfig.candidates`` best of each signal). ``at`` scores any passages."""

    DEPTH = 100

    def __init__(self, retriever: Retriever, queries: list[str], qv: np.ndarray):
        self.retriever, self.qv = retriever, np.asarray(qv, dtype=np.float32)
        n, keep = len(retriever.passage_ids), retriever.weights.candidates
        # a graph the floor sample covers is scored whole: every cosine once, searched and reused
        self.cosines = self.qv @ retriever.passage_index.matrix().T if retriever.scored_whole else None
        if self.cosines is not None:  # (queries x passages)
            hits = top_rows(self.cosines, max(keep, self.DEPTH))
        elif n:
            hits = retriever.passage_index.search_rows(self.qv, max(keep, self.DEPTH))
        else:
            hits = [(np.zeros(0, dtype=np.int64), ())] * len(queries)
        self.dense_scale = [top_scale(cos, self.DEPTH) for _, cos in hits]
        self.keyword = [retriever.bm25.scores(q) for q in queries]
        self.keyword_scale, found = [], [rows[:keep] for rows, _ in hits]
        for scores in self.keyword:
            rows = np.flatnonzero(scores)
            self.keyword_scale.append(top_scale(scores[rows], self.DEPTH, n))
            found.append(rows[top_k(scores[rows], keep)] if len(rows) else rows)
        self.rows = np.unique(np.concatenate(found)).astype(np.int64) if n else np.zeros(0, dtype=np.int64)

    def at(self, rows: np.ndarray, mode: str = "hybrid", hidden: Hidden | None = None,
           vectors: np.ndarray | None = None) -> np.ndarray:
        """First-hop scores of passage ``rows`` (``vectors``: their rows of the passage index, when
        the caller holds them): in ``hybrid``, question + sub-queries; otherwise dense only."""
        if not len(rows):
            return np.zeros(0)
        r = self.retriever
        if self.cosines is not None:
            cos = self.cosines[:, rows].T
        else:
            cos = (r.passage_index.rows(rows) if vectors is None else vectors) @ self.qv.T
        if mode == "hybrid":
            both = self._both(rows, cos)
            sub = np.maximum.reduce([np.zeros(len(rows)), *both[1:]])
            scores = both[0] + r.weights.subquery * sub
        else:
            scores = standardize(cos[:, 0].astype(np.float64), self.dense_scale[0])
        return scores if hidden is None else np.where(hidden.passages[rows], -np.inf, scores)

    def parts_at(self, rows: np.ndarray, cos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the question's standardised BM25, the best sub-query's dense + BM25 score, 0 without
        sub-queries) of passage ``rows`` whose cosines with the queries are ``cos``."""
        keyword = standardize(self.keyword[0][rows].astype(np.float64), self.keyword_scale[0])
        both = self._both(rows, cos)
        return keyword, np.maximum.reduce([np.zeros(len(rows)), *both[1:]])

    def _both(self, rows: np.ndarray, cos: np.ndarray) -> list[np.ndarray]:
        """Per query: standardised dense + ``bm25`` x standardised BM25 of passage ``rows``."""
        w = self.retriever.weights.bm25
        return [standardize(cos[:, i].astype(np.float64), self.dense_scale[i])
                + w * standardize(kw[rows].astype(np.float64), scale)
                for i, (kw, scale) in enumerate(zip(self.keyword, self.keyword_scale))]
