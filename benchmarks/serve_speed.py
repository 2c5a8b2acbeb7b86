"""kg serve's speed on a bench graph: server start, the page's first requests, and per-click API
latency (search, entity view, 1- and 2-hop neighbourhoods) over a sample of entities, the hubs among them.

Measured in process with the framework's test client (no network in the way), so the figures are the
application's own cost; a browser adds its rendering.

    python benchmarks/serve_speed.py --graph /tmp/kg-bench/2wiki_combined164
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path


def timed(fn, n: int = 1) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t))
    return out


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return f"{name:28} median {statistics.median(ms):7.1f} ms   p95 {ms[round(0.95 * (len(ms) - 1))]:7.1f} ms   (n={len(ms)})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, default=Path("/tmp/kg-bench/2wiki_combined164"))
    ap.add_argument("--entities", type=int, default=200, help="entities sampled (plus the 10 biggest hubs)")
    args = ap.parse_args(argv)
    if not (args.graph / "graph.sqlite").exists() and not args.graph.is_dir():
        print(f"no graph at {args.graph}: build one first (benchmarks/retrieval.py builds the bench graphs)", file=sys.stderr)
        return 2
    from fastapi.testclient import TestClient

    from kgreason.serve.app import create_app

    t = time.perf_counter()
    client = TestClient(create_app(args.graph))
    start = time.perf_counter() - t
    first = timed(lambda: [client.get(p).raise_for_status() for p in ("/", "/static/app.js", "/api/options")])
    svc = client.app.state.service
    rng = random.Random(0)
    ids = rng.sample(sorted(svc.lookup.relations), min(args.entities, len(svc.lookup.relations)))
    hubs = sorted(svc.lookup.relations, key=lambda e: -len(svc.lookup.relations[e]))[:10]
    names = [svc.kb.graph.entities[e].name[:4] for e in ids[:50]]
    rows = {
        "search (4 letters)": [x for q in names for x in timed(lambda q=q: client.get("/api/search", params={"q": q}))],
        "entity view": [x for e in ids + hubs for x in timed(lambda e=e: client.get(f"/api/entity/{e}"))],
        "neighbourhood, 1 hop": [x for e in ids + hubs for x in timed(lambda e=e: client.get(f"/api/neighbourhood/{e}"))],
        "neighbourhood, 2 hops": [x for e in ids + hubs for x in timed(lambda e=e: client.get(f"/api/neighbourhood/{e}", params={"hops": 2}))],
        "neighbourhood of hubs, 2 hops": [x for e in hubs for x in timed(lambda e=e: client.get(f"/api/neighbourhood/{e}", params={"hops": 2}))],
    }
    g = svc.kb.graph
    print(f"{args.graph}: {len(g.passages):,} passages, {len(g.entities):,} entities, {len(g.relations):,} relations; "
          f"biggest hub {len(svc.lookup.relations[hubs[0]]):,} relations")
    print(f"server start (open the graph, index it)  {start:.2f} s")
    print(f"page load (HTML, script, options)        {first[0]:.0f} ms")
    for name, ms in rows.items():
        print(summary(name, ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
