"""Query latency against graph size: the MuSiQue graph, and graphs 10x and 50x larger.

How the larger graphs are made (no new extraction: the cost measured is the query's, not the build's):
the MuSiQue and 2Wiki bench graphs are combined, then replicated. Each copy has its own documents,
passages, mentions and relations; people, organisations, works, groups, events and laws are renamed
in each copy (a copy tag after the name, so questions still link to the originals and the copies are
distractors), while places, dates, languages and concepts stay shared: as in a real corpus that grows,
"United States" or "1990" gains mentions in every copy, so hub neighbourhoods grow with the graph.
Copies reuse their originals' vectors, so dense search costs what it would on new text. The MuSiQue
questions are asked of every graph; latency is measured per mode in one run, with Recall@5 beside it
(copies are exact duplicates, so recall at scale is a sanity check, not a quality claim). Each larger
graph is timed beside the 1x graph, question by question, and its ratio to 1x is taken from that pair.

    python benchmarks/latency_scale.py --factors 1 10 50 --limit 100 --chart latency_scale.png
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "bench"
SHARED_TYPES = frozenset({"PLACE", "DATE", "LANGUAGE", "CONCEPT", "QUANTITY"})


def combine(graphs: list) -> object:
    """One graph holding every record of ``graphs`` (ids are content-derived, so they do not clash)."""
    from kg.graph import KnowledgeGraph, VectorTable

    out = KnowledgeGraph(settings=graphs[0].settings)
    for g in graphs:
        for name in ("documents", "passages", "entities", "relations", "mentions", "assignments"):
            getattr(out, name).update(getattr(g, name))
        out.merges += g.merges
        out.synonyms += g.synonyms
    out.vectors = {}
    for table in ("passage", "entity", "fact"):
        parts = [g.vectors[table] for g in graphs if table in g.vectors]
        seen: dict[str, np.ndarray] = {}
        for t in parts:
            for i, v in zip(t.ids, t.vectors):
                seen.setdefault(i, v)
        dim = parts[0].vectors.shape[1]
        out.vectors[table] = VectorTable(tuple(seen), np.asarray(list(seen.values()), dtype=np.float32).reshape(-1, dim),
                                         parts[0].model)
    return out


def replicate(graph, copies: int):
    """``graph`` and ``copies - 1`` renamed copies of it in one graph (see the module docstring)."""
    from kg.graph import KnowledgeGraph, VectorTable
    from kg.model import Provenance

    out = KnowledgeGraph(**{k: dict(getattr(graph, k)) for k in ("documents", "passages", "entities", "relations",
                                                                  "mentions", "assignments")},
                         merges=graph.merges, synonyms=graph.synonyms, settings=graph.settings)
    rows = {t: ([*graph.vectors[t].ids], [graph.vectors[t].vectors]) for t in graph.vectors}
    for c in range(1, copies):
        tag = f"~{c}"
        ent = {e.id: e.id if e.type in SHARED_TYPES else e.id + tag for e in graph.entities.values()}
        for e in graph.entities.values():
            if ent[e.id] != e.id:
                out.entities[ent[e.id]] = replace(e, id=ent[e.id], name=f"{e.name} {_copy_word(c)}",
                                                  aliases=tuple(f"{a} {_copy_word(c)}" for a in e.aliases))
        for d in graph.documents.values():
            out.documents[d.id + tag] = replace(d, id=d.id + tag, source=d.source + tag,
                                                external_id=d.external_id + tag if d.external_id else "")
        for p in graph.passages.values():
            pid = _passage_id(p.id, tag)
            out.passages[pid] = replace(p, id=pid, doc_id=p.doc_id + tag)
        for m in graph.mentions.values():
            out.mentions[m.id + tag] = replace(m, id=m.id + tag, doc_id=m.doc_id + tag, passage_id=_passage_id(m.passage_id, tag),
                                               refers_to=m.refers_to + tag if m.refers_to else m.refers_to)
        for mid, eid in graph.assignments.items():
            out.assignments[mid + tag] = ent[eid]
        for r in graph.relations.values():
            ev = tuple(Provenance(p.doc_id + tag, _passage_id(p.passage_id, tag), p.start, p.end, p.sentence, p.confidence)
                       for p in r.evidence)
            out.relations[r.id + tag] = replace(r, id=r.id + tag, subject=ent[r.subject], object=ent[r.object], evidence=ev)
        for name, table in graph.vectors.items():
            if name == "passage":
                rows[name][0].extend(_passage_id(i, tag) for i in table.ids)
                rows[name][1].append(table.vectors)
            elif name == "entity":
                keep = [n for n, i in enumerate(table.ids) if ent.get(i, i) != i]
                rows[name][0].extend(ent[table.ids[n]] for n in keep)
                rows[name][1].append(table.vectors[keep])
            else:  # facts
                rows[name][0].extend(i + tag for i in table.ids)
                rows[name][1].append(table.vectors)
    out.vectors = {t: VectorTable(tuple(ids), np.concatenate(vs).astype(np.float32), graph.vectors[t].model)
                   for t, (ids, vs) in rows.items()}
    return out


def _passage_id(pid: str, tag: str) -> str:
    doc, _, index = pid.rpartition(":")
    return f"{doc}{tag}:{index}"


def _copy_word(c: int) -> str:
    """A made-up word per copy ("Qa", "Qb", ... "Qba"): a name suffix no question contains."""
    letters = ""
    while True:
        letters = chr(ord("a") + c % 26) + letters
        c //= 26
        if not c:
            return "Q" + letters


def measure(kbs: dict[str, object], questions: list[dict], modes: list[str], k: int = 5) -> dict[str, dict]:
    """Latency and Recall@5 per graph and mode. The graphs and modes take turns question by question
    (the first one rotating), so a slow spell of the machine falls on all of them alike."""
    runs = [(name, mode) for name in kbs for mode in modes]
    external = {name: {d.id: d.external_id for d in kb.graph.documents.values()} for name, kb in kbs.items()}
    for name, mode in runs:
        kbs[name].retrieve(questions[0]["question"], mode=mode)  # warm: lazy indexes, first-call costs
    ms = {run: [] for run in runs}
    recall = {run: [] for run in runs}
    for n, q in enumerate(questions):
        for name, mode in runs[n % len(runs):] + runs[:n % len(runs)]:
            t = time.perf_counter()
            r = kbs[name].retrieve(q["question"], k=k, mode=mode)
            ms[name, mode].append(1000 * (time.perf_counter() - t))
            docs = {external[name].get(e.doc_id, "") for e in r.evidence}
            gold = set(q["supporting_ids"])
            recall[name, mode].append(len(docs & gold) / len(gold))
    out: dict[str, dict] = {name: {} for name in kbs}
    for name, mode in runs:
        times = sorted(ms[name, mode])
        out[name][mode] = {"median_ms": round(statistics.median(times), 1),
                           "p95_ms": round(times[round(0.95 * (len(times) - 1))], 1),
                           "recall@5": round(statistics.fmean(recall[name, mode]), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph-dir", type=Path, default=Path("/tmp/kg-bench"), help="graphs built by retrieval.py")
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 10, 50], help="sizes, in MuSiQue graphs")
    ap.add_argument("--modes", nargs="+", default=["dense", "hybrid"])
    ap.add_argument("--limit", type=int, default=100, help="first N MuSiQue questions")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--chart", type=Path, help="write a PNG chart of median latency against size")
    args = ap.parse_args(argv)
    import kgreason
    from kg import store

    questions = [json.loads(x) for x in (args.bench_dir / "musique_combined300" / "questions.jsonl")
                 .read_text(encoding="utf-8").splitlines() if x][: args.limit]
    musique = store.load_graph(args.graph_dir / "musique_combined300")
    combined = combine([musique, store.load_graph(args.graph_dir / "2wiki_combined164")]) if max(args.factors) > 1 else None
    base = len(musique.passages)
    small = kgreason.KnowledgeBase(args.graph_dir / "musique_combined300", musique)
    small.retriever
    results = {}
    for factor in args.factors:
        t = time.perf_counter()
        if factor == 1:
            kb = small
        else:
            copies = max(1, round(factor * base / len(combined.passages)))
            kb = kgreason.KnowledgeBase(args.graph_dir / "musique_combined300", replicate(combined, copies))
            kb.retriever  # build the indexes before timing questions
        prepare = time.perf_counter() - t
        # every size is timed beside the 1x graph, question by question: its ratio to 1x comes from one
        # stretch of time on the machine
        figures = measure({"1x": small} | ({} if factor == 1 else {"nx": kb}), questions, args.modes)
        graph = kb.graph
        results[factor] = {"passages": len(graph.passages), "entities": len(graph.entities),
                           "relations": len(graph.relations), "prepare_s": round(prepare, 1),
                           **figures["1x" if factor == 1 else "nx"], "at_1x": figures["1x"]}
        r = results[factor]
        print(f"{factor:>3}x  {r['passages']:>8,} passages {r['entities']:>9,} entities  (indexes {prepare:.0f} s)  " +
              "  ".join(f"{m} {r[m]['median_ms']:.1f} / {r[m]['p95_ms']:.1f} ms R@5 {r[m]['recall@5']:.3f}"
                        f" (1x beside it {r['at_1x'][m]['median_ms']:.1f}: {r[m]['median_ms'] / r['at_1x'][m]['median_ms']:.2f}x)"
                        for m in args.modes), flush=True)
        del kb, graph
    for m in args.modes:
        print(f"{m}: median at each size / at 1x timed beside it: " + ", ".join(
            f"{f}x {results[f][m]['median_ms'] / results[f]['at_1x'][m]['median_ms']:.2f}" for f in results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.chart:
        _chart(results, args.modes, args.chart)
    return 0


def _chart(results: dict, modes: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [results[f]["passages"] for f in results]
    for m in modes:
        ax.plot(sizes, [results[f][m]["median_ms"] for f in results], marker="o", label=f"{m} median")
        ax.plot(sizes, [results[f][m]["p95_ms"] for f in results], marker=".", linestyle=":", label=f"{m} p95")
    ax.set_xscale("log")
    ax.set_xlabel("passages in the graph")
    ax.set_ylabel("retrieval latency (ms)")
    ax.set_title("Query latency against graph size")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
