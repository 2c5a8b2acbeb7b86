"""Local-push against exact personalised PageRank on the bench graphs: agreement and speed.

For the first N questions of each set, the PageRank seeds are computed as the hybrid retriever
computes them (checked against the retriever's own walk), then three walks run on the same seeds:
exact (power iteration with the retriever's settings), push (``approximate_pagerank``) and a
reference (power iteration to tol 1e-13). Printed per set:

- top-k overlap (mean share of the k) of push and exact over passages, entities and all nodes,
  and of each with the reference;
- push against the reference: the largest error as a share of its bound ``epsilon * deg(v)``
  (at most 1 when the bound holds), the largest error, and whether push is a lower bound;
- the median time of each walk and the median per-question ratio push / exact.

With ``--recall`` it also runs hybrid retrieval with ``retrieve.pagerank`` = exact and = push and
prints Recall@5 of each, the questions with the same top 5 (in order, and as a set), and the median PageRank time inside
retrieval (``Retrieval.timings["graph"]``, seeds included).

    python benchmarks/ppr_accuracy.py --limit 60
    python benchmarks/ppr_accuracy.py --limit 60 --recall --epsilon 1e-6
    python benchmarks/ppr_accuracy.py --synthetic 100000     # a random 100k-node, ~1M-edge graph
    python benchmarks/ppr_accuracy.py --sweep 1e-6 3e-6 1e-5 --limit 0   # the epsilon's price and gain

``--sweep`` asks every question (``--limit 0``: all) in dense mode and in hybrid mode with each push
epsilon, all taking turns question by question, and prints hybrid Recall@5 and median latency for
each epsilon with its ratio to dense's median.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import DEFAULT_BENCH, DEFAULT_SETS, load_questions, recall  # noqa: E402

from kg.config import RetrieveConfig  # noqa: E402
from reason.index import top_k  # noqa: E402
from reason.link import link_entities  # noqa: E402
from reason.walk import approximate_pagerank, personalized_pagerank  # noqa: E402


def hybrid_seeds(r, question: str) -> tuple[dict[int, float], np.ndarray]:
    """The seeds ``Retriever._pagerank`` builds for ``question`` in hybrid mode (no excluded
    documents), and the retriever's own PageRank vector for them (to check the copy)."""
    hop = r.first_hop(question)
    linked = link_entities(question, r.graph, r.finder, r.embedder, r.names, r.entity_index, r.config.link)
    first = hop.at(hop.rows)
    n_e, w, seeds = r.frozen.n_entities, r.weights, {}
    for link in linked:
        node = r.frozen.node_of[link.entity_id]
        seeds[node] = seeds.get(node, 0.0) + link.score * r.names.specificity.get(link.entity_id, 1.0)
    facts = r.fact_index.search(hop.qv[0], w.facts) if len(r.fact_index) else []
    for rid, score in facts:
        rel = r.graph.relations[rid]
        weight = float(np.exp((score - facts[0][1]) * w.fact_sharpness))
        for eid in (rel.subject, rel.object):
            node = r.frozen.node_of[eid]
            seeds[node] = seeds.get(node, 0.0) + weight * r.names.specificity.get(eid, 1.0)
    top = top_k(first, w.seed_passages)
    for at in top:
        node = n_e + int(hop.rows[at])
        seeds[node] = seeds.get(node, 0.0) + w.passage_seed * float(np.exp(first[at] - first[top[0]]))
    nodes, mass = r._pagerank(hop.qv[0], hop.rows, first, linked)
    own = np.zeros(r.frozen.adjacency.shape[0])
    own[nodes] = mass
    return seeds, own


def overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Share of the ``k`` largest entries of ``a`` that are among the ``k`` largest of ``b``.

    >>> overlap(np.array([3.0, 2.0, 1.0]), np.array([3.0, 1.0, 2.0]), 2)
    0.5
    """
    return len(set(top_k(a, k)) & set(top_k(b, k))) / k


def timed(fn, *args, **kwargs) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def compare_walks(r, questions: list[dict], epsilon: float, k: int) -> dict[str, float]:
    """Exact, push and reference walks from the hybrid seeds of each question (see the module doc)."""
    adj, deg, d, n_e = r.frozen.adjacency, r.frozen.out_weight, r.config.damping, r.frozen.n_entities
    rows = []
    for q in questions:
        seeds, own = hybrid_seeds(r, q["question"])
        if seeds:
            rows.append(walk_row(adj, deg, d, seeds, epsilon, k, n_e, own))
    return summarise(rows, k) | {"nodes": adj.shape[0], "questions": len(rows)}


def walk_row(adj, deg, d, seeds, epsilon, k, n_e=None, own=None) -> dict[str, float]:
    """One seed set: the three walks, their agreement and their times."""
    exact, t_exact = timed(personalized_pagerank, adj, seeds, damping=d)
    if own is not None and not np.allclose(exact, own, rtol=0, atol=1e-12):
        raise SystemExit("the seeds copied here no longer match Retriever._pagerank: update hybrid_seeds")
    push, t_push = timed(approximate_pagerank, adj, seeds, d, epsilon, deg)
    ref = personalized_pagerank(adj, seeds, damping=d, tol=1e-13, max_iter=1000)
    # no dangling seed -> no mass returns to the seeds, and the bound is epsilon * deg(v)
    bound = epsilon * deg / (1.0 if all(deg[s] > 0 for s in seeds) else 1.0 - d)
    err = ref - push
    row = {
        "push_exact": overlap(exact, push, k), "push_ref": overlap(ref, push, k), "exact_ref": overlap(ref, exact, k),
        "bound_share": float(np.max(np.where(bound > 0, err / np.where(bound > 0, bound, 1.0), 0.0))),
        "max_err": float(err.max()), "lower": bool(err.min() >= -1e-12),
        "t_exact": t_exact, "t_push": t_push, "ratio": t_push / t_exact, "touched": int(np.count_nonzero(push)),
    }
    if n_e is not None:
        row |= {"passages": overlap(exact[n_e:], push[n_e:], k), "entities": overlap(exact[:n_e], push[:n_e], k)}
    return row


def summarise(rows: list[dict], k: int) -> dict[str, float]:
    out = {f"top{k}_{part}_push_vs_exact": statistics.fmean(x[part] for x in rows)
           for part in ("passages", "entities") if part in rows[0]}
    return out | {
        f"top{k}_nodes_push_vs_exact": statistics.fmean(x["push_exact"] for x in rows),
        f"top{k}_nodes_push_vs_reference": statistics.fmean(x["push_ref"] for x in rows),
        f"top{k}_nodes_exact_vs_reference": statistics.fmean(x["exact_ref"] for x in rows),
        "worst_error_over_bound": max(x["bound_share"] for x in rows),
        "max_error": max(x["max_err"] for x in rows),
        "push_is_lower_bound": all(x["lower"] for x in rows),
        "median_exact_ms": 1000 * statistics.median(x["t_exact"] for x in rows),
        "median_push_ms": 1000 * statistics.median(x["t_push"] for x in rows),
        "median_ratio_push_exact": statistics.median(x["ratio"] for x in rows),
        "median_nodes_with_mass": statistics.median(x["touched"] for x in rows),
    }


def synthetic(n: int, epsilon: float, k: int, trials: int = 10, seed: int = 0) -> dict[str, float]:
    """The same comparison on a random undirected graph of ``n`` nodes and ~10 n stored edges (one
    end of each edge drawn with weight 1/sqrt(rank), so there are hubs), 35 random seeds per trial."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    p = 1.0 / np.sqrt(np.arange(1, n + 1))
    a, b = rng.choice(n, 5 * n, p=p / p.sum()), rng.integers(0, n, 5 * n)
    a, b = a[a != b], b[a != b]
    w = rng.uniform(0.2, 1.0, len(a))
    adj = sp.csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    seeds = [{int(x): float(rng.uniform(0.1, 1.0)) for x in rng.integers(0, n, 35)} for _ in range(trials)]
    rows = [walk_row(adj, deg, 0.5, s, epsilon, k) for s in seeds]
    return summarise(rows, k) | {"nodes": n, "stored_edges": adj.nnz, "trials": trials}


def compare_retrieval(path: Path, questions: list[dict], epsilon: float) -> dict[str, float]:
    """Hybrid Recall@5 and top 5 with each method, the two retrievers asked in turn, same process."""
    import kgreason

    kbs = {m: kgreason.open(path, retrieve_config=RetrieveConfig(pagerank=m, pagerank_epsilon=epsilon))
           for m in ("exact", "push")}
    external = {doc.id: doc.external_id for doc in kbs["exact"].graph.documents.values()}
    for kb in kbs.values():
        kb.retrieve(questions[0]["question"], k=5, mode="hybrid")  # warm-up: models, indexes, out-weights
    r5, graph_s, same, same_set = {m: [] for m in kbs}, {m: [] for m in kbs}, 0, 0
    for q in questions:
        docs = {}
        for m, kb in kbs.items():
            got = kb.retrieve(q["question"], k=5, mode="hybrid")
            docs[m] = [external.get(e.doc_id, e.doc_id) for e in got.evidence]
            r5[m].append(recall(docs[m], q["supporting_ids"], 5))
            graph_s[m].append(got.timings["graph"])
        same += docs["exact"] == docs["push"]
        same_set += set(docs["exact"]) == set(docs["push"])
    out = {f"recall@5_{m}": statistics.fmean(r5[m]) for m in kbs}
    out |= {f"graph_median_ms_{m}": 1000 * statistics.median(graph_s[m]) for m in kbs}
    out["same_top5_in_order"] = f"{same}/{len(questions)}"
    out["same_top5_documents"] = f"{same_set}/{len(questions)}"
    return out


def sweep(path: Path, questions: list[dict], epsilons: list[float]) -> dict[str, str]:
    """Dense, and hybrid with each push epsilon, taking turns question by question (see the module doc)."""
    import kgreason

    kbs = {e: kgreason.open(path, retrieve_config=RetrieveConfig(pagerank_epsilon=e)) for e in epsilons}
    external = {d.id: d.external_id for d in kbs[epsilons[0]].graph.documents.values()}
    runs = [("dense", epsilons[0])] + [("hybrid", e) for e in epsilons]
    for mode, e in runs:
        kbs[e].retrieve(questions[0]["question"], mode=mode)  # warm-up
    seconds = {run: [] for run in runs}
    r5 = {run: [] for run in runs}
    for n, q in enumerate(questions):
        for mode, e in runs[n % len(runs):] + runs[:n % len(runs)]:
            t = time.perf_counter()
            got = kbs[e].retrieve(q["question"], k=5, mode=mode)
            seconds[mode, e].append(time.perf_counter() - t)
            r5[mode, e].append(recall([external.get(x.doc_id, x.doc_id) for x in got.evidence], q["supporting_ids"], 5))
    dense = statistics.median(seconds[runs[0]])
    return {f"{mode}" + (f" epsilon {e:g}" if mode == "hybrid" else ""):
            f"R@5 {statistics.fmean(r5[mode, e]):.3f}  median {1000 * statistics.median(seconds[mode, e]):.1f} ms"
            f"  {statistics.median(seconds[mode, e]) / dense:.2f}x dense" for mode, e in runs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="built graphs (benchmarks/retrieval.py)")
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--limit", type=int, default=60, help="first N questions of each set")
    ap.add_argument("--epsilon", type=float, default=RetrieveConfig().pagerank_epsilon)
    ap.add_argument("--k", type=int, default=10, help="top-k compared")
    ap.add_argument("--recall", action="store_true", help="also compare hybrid retrieval with each method")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N", help="only a random graph of N nodes")
    ap.add_argument("--sweep", type=float, nargs="+", metavar="EPSILON",
                    help="only hybrid Recall@5 and latency with each push epsilon, beside dense")
    args = ap.parse_args(argv)
    import kgreason

    if args.sweep:
        for name in args.sets:
            questions = load_questions(args.bench_dir / name / "questions.jsonl", args.limit or None)
            show(f"{name} ({len(questions)} questions)", sweep(args.graph_dir / name, questions, args.sweep))
        return 0
    if args.synthetic:
        show(f"random graph (epsilon {args.epsilon:g})", synthetic(args.synthetic, args.epsilon, args.k))
        return 0
    for name in args.sets:
        questions = load_questions(args.bench_dir / name / "questions.jsonl", args.limit)
        r = kgreason.open(args.graph_dir / name, retrieve_config=RetrieveConfig(pagerank="exact")).retriever
        figures = compare_walks(r, questions, args.epsilon, args.k)
        if args.recall:
            figures |= compare_retrieval(args.graph_dir / name, questions, args.epsilon)
        show(f"{name} (epsilon {args.epsilon:g})", figures)
    return 0


def show(title: str, figures: dict) -> None:
    print(f"\n{title}")
    for key, value in figures.items():
        print(f"  {key:34} {value:.4g}" if isinstance(value, float) else f"  {key:34} {value}")


if __name__ == "__main__":
    raise SystemExit(main())
