"""Build throughput, peak memory, load time and incremental rebuild time on a real corpus.

Default corpus: ../shared/bench/musique_combined300/corpus.jsonl (5,021 passages). Every figure is
also reported as a ratio against a baseline measured in the same run, because these machines are
shared and absolute times drift:

- baseline: spaCy ``nlp.pipe`` alone over the same texts in one process (the floor any
  spaCy-based extractor pays), and the full build's passages/s relative to it;
- load time and no-change rebuild time relative to the full build time.

Usage::

    python benchmarks/build_throughput.py [--corpus FILE] [--workers 2] [--limit N] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "bench" / "musique_combined300" / "corpus.jsonl"


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def spacy_baseline(corpus: Path, model: str, limit: int | None) -> float:
    """Passages per second of plain ``nlp.pipe`` (one process) over the corpus texts."""
    import spacy

    texts = [json.loads(line)["text"] for line in corpus.open(encoding="utf-8") if line.strip()]
    texts = texts[:limit] if limit else texts
    nlp = spacy.load(model)
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=64):
        pass
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--workers", type=int, default=2, help="extraction processes for the build")
    ap.add_argument("--limit", type=int, help="use only the first N records (writes a temporary excerpt)")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    import kg
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

    base = spacy_baseline(corpus, config.extract.model, None)
    passages_per_s = stats["passages"] / build_s
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
        "load_seconds": round(load_s, 2),
        "load_vs_build": round(load_s / build_s, 3),
        "unchanged_rebuild_seconds": round(rebuild_s, 2),
        "unchanged_rebuild_vs_build": round(rebuild_s / build_s, 3),
        "unchanged_rebuild_documents_skipped": again.documents_unchanged,
        "llm_calls": 0,
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
