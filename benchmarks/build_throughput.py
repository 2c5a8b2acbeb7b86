"""Build throughput, peak memory, load time and incremental rebuild time on a real corpus.

Default corpus: ../shared/bench/musique_combined300/corpus.jsonl (5,021 passages). Every figure is
also reported as a ratio against a baseline measured in the same run, because these machines are
shared and absolute times drift:

- baseline: spaCy ``nlp.pipe`` alone over the same texts in one process, and with as many
  processes as the build's workers (the floor any spaCy-based extractor pays);
- passage embedding alone: the build's embedder over every passage text once (the floor any build
  that stores dense passage vectors pays); with the spaCy figure it gives the fastest end-to-end
  rate this machine allows for a build that parses and embeds every passage;
- load time and no-change rebuild time relative to the full build time.

Usage::

    python benchmarks/build_throughput.py [--corpus FILE] [--workers 2] [--limit N] [--json OUT] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import kg
import kgreason

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "bench" / "musique_combined300" / "corpus.jsonl"


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def spacy_baseline(texts: list[str], model: str, processes: int = 1) -> float:
    """Passages per second of plain ``nlp.pipe`` over ``texts`` with ``processes`` processes."""
    import spacy

    nlp = spacy.load(model)
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=64, n_process=processes):
        pass
    return len(texts) / (time.perf_counter() - start)


def embedding_baseline(kb) -> float:
    """Passages per second of the graph's embedder over its passage texts (model loaded first)."""
    from reason.index import passage_text

    texts = [passage_text(kb.graph, pid) for pid in kb.graph.passages]
    embedder = kgreason.make_embedder(kb.build_config)
    embedder.embed(["warm-up"])
    start = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--workers", type=int, default=2, help="extraction processes for the build")
    ap.add_argument("--limit", type=int, help="use only the first N records (writes a temporary excerpt)")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--keep", type=Path, help="copy the built graph here (e.g. for benchmarks/retrieval.py --graph-dir)")
    args = ap.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    from kg.config import BuildConfig

    work = Path(tempfile.mkdtemp(prefix="kg-build-bench-"))
    corpus = args.corpus
    if args.limit:
        corpus = work / "excerpt.jsonl"
        with args.corpus.open(encoding="utf-8") as src:
            corpus.write_text("".join(line for _, line in zip(range(args.limit), src)), encoding="utf-8")
    config = BuildConfig.from_dict({"extract": {"workers": args.workers}})

    start = time.perf_counter()
    report = kg.build([corpus], work / "graph", config, progress=False)
    build_s = time.perf_counter() - start
    peak = _peak_mb()

    start = time.perf_counter()
    kb = kg.open(work / "graph")
    load_s = time.perf_counter() - start
    stats = kb.graph.stats()

    start = time.perf_counter()
    again = kg.build([corpus], work / "graph", config, progress=False)
    rebuild_s = time.perf_counter() - start

    texts = [json.loads(line)["text"] for line in corpus.open(encoding="utf-8") if line.strip()]
    base = spacy_baseline(texts, config.extract.model)
    base_workers = spacy_baseline(texts, config.extract.model, args.workers) if args.workers > 1 else base
    embed_rate = embedding_baseline(kb)
    passages = stats["passages"]
    floor_s = len(texts) / base_workers + passages / embed_rate
    passages_per_s = passages / build_s
    figures = {
        "corpus": str(args.corpus),
        "records": report.documents_added,
        "workers": args.workers,
        **stats,
        "build_seconds": round(build_s, 2),
        "build_passages_per_s": round(passages_per_s, 1),
        "build_stage_seconds": report.timings,
        "peak_rss_mb": round(peak, 1),
        "spacy_pipe_alone_passages_per_s": round(base, 1),
        "build_vs_spacy_alone": round(passages_per_s / base, 2),
        f"spacy_pipe_{args.workers}_processes_passages_per_s": round(base_workers, 1),
        "passage_embedding_alone_passages_per_s": round(embed_rate, 1),
        "parse_plus_embed_floor_passages_per_s": round(passages / floor_s, 1),
        "build_vs_parse_plus_embed_floor": round(passages_per_s / (passages / floor_s), 2),
        "load_seconds": round(load_s, 2),
        "load_vs_build": round(load_s / build_s, 3),
        "unchanged_rebuild_seconds": round(rebuild_s, 2),
        "unchanged_rebuild_vs_build": round(rebuild_s / build_s, 3),
        "unchanged_rebuild_documents_skipped": again.documents_unchanged,
        "llm_calls": 0,
    }
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        shutil.copytree(work / "graph", args.keep)
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
