"""Embedding speed of the MiniLM backends against sentence-transformers (float32, torch), in one run.

Backends: ``onnx-minilm-float`` (the packaged int8-stored ONNX file as shipped: float32 compute) and
``onnx-minilm`` (the default: that model re-quantised once with onnxruntime dynamic int8
quantisation, integer matrix products).

Two workloads from ../shared/bench/musique_combined300/corpus.jsonl:

- passages: the first ``--limit`` records (default 1,000) as ``title + "\\n" + text``;
- names: ``--names`` short entity-name-like strings (default 5,000): the titles, then capitalised
  phrases ("Andaman and Nicobar Islands", "Bay of Bengal") found in the texts, deduplicated.

For 1 and 2 threads (``torch.set_num_threads`` / onnxruntime ``intra_op_num_threads``) it reports
texts/s of each backend, its ratio to sentence-transformers, and the load average read just
before each measurement, plus texts per CPU-second of the process (the machine is shared, so
wall-clock figures drift; the ratios are what matter). Agreement is the mean and min cosine between
each ONNX backend's vectors and sentence-transformers' vectors of the same text.

Usage::

    python benchmarks/embedding_speed.py [--corpus FILE] [--limit 1000] [--names 5000]
                                         [--threads 1,2] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "bench" / "musique_combined300" / "corpus.jsonl"
_PHRASE = re.compile(r"[A-Z][\w'.-]*(?: (?:of |and |the |de |von |la )*[A-Z][\w'.-]*)*")


def load_workloads(corpus: Path, limit: int, names: int) -> dict[str, list[str]]:
    """``{"passages": [...], "names": [...]}`` read from a corpus JSONL file."""
    records = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    passages = [f"{r.get('title', '')}\n{r['text']}" for r in records[:limit]]
    found: dict[str, None] = {}
    for r in records:
        if r.get("title"):
            found.setdefault(r["title"].strip(), None)
    for r in records:
        for phrase in _PHRASE.findall(r["text"]):
            found.setdefault(phrase.strip(" .'-"), None)
            if len(found) >= names:
                break
        if len(found) >= names:
            break
    return {"passages": passages, "names": [n for n in found if n][:names]}


def _timed(embedder, texts: list[str]) -> tuple[dict, np.ndarray]:
    """Texts per wall-clock second and per CPU-second of this process (all its threads): the second
    drifts less when other jobs share the cores."""
    embedder.embed(texts[:8])  # warm-up: session/model load and first-call allocations
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.embed(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"texts_per_s": round(len(texts) / wall, 1), "texts_per_cpu_s": round(len(texts) / cpu, 1),
            "loadavg_1min_before": round(load, 2)}, vectors


BASELINE = "sentence-transformers"


def measure(workloads: dict[str, list[str]], threads: int) -> tuple[dict, dict]:
    """Texts/s of every backend at ``threads``; also returns the vectors for the agreement check."""
    import torch

    from kg.embedding import SentenceTransformerEmbedder
    from kg.onnx_embedding import OnnxMiniLMEmbedder, OnnxMiniLMFloatEmbedder

    torch.set_num_threads(threads)
    backends = {BASELINE: SentenceTransformerEmbedder(batch_size=64),
                "onnx-minilm-float": OnnxMiniLMFloatEmbedder(batch_size=64, threads=threads),
                "onnx-minilm": OnnxMiniLMEmbedder(batch_size=64, threads=threads)}
    figures, vectors = {}, {}
    for workload, texts in workloads.items():
        row = {}
        for name, embedder in backends.items():
            row[name], vectors[(workload, name)] = _timed(embedder, texts)
        base = row[BASELINE]
        for name in backends:
            if name != BASELINE:
                row[name]["ratio_over_st"] = round(row[name]["texts_per_s"] / base["texts_per_s"], 2)
                row[name]["cpu_ratio_over_st"] = round(row[name]["texts_per_cpu_s"] / base["texts_per_cpu_s"], 2)
        figures[workload] = row
    return figures, vectors


def agreement(vectors: dict, workload: str) -> dict[str, dict[str, float]]:
    out = {}
    for (w, name), v in vectors.items():
        if w == workload and name != BASELINE:
            cos = (v * vectors[(workload, BASELINE)]).sum(axis=1)
            out[name] = {"mean_cosine": round(float(cos.mean()), 5), "min_cosine": round(float(cos.min()), 5)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=1000, help="passages to embed")
    ap.add_argument("--names", type=int, default=5000, help="short name-like strings to embed")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to try")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    workloads = load_workloads(args.corpus, args.limit, args.names)
    report = {"corpus": str(args.corpus), "cpus": os.cpu_count(),
              "counts": {k: len(v) for k, v in workloads.items()}, "by_threads": {}}
    vectors = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        report["by_threads"][str(threads)], vectors = measure(workloads, threads)
    report["agreement"] = {w: agreement(vectors, w) for w in workloads}
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def _print(report: dict) -> None:
    print(f"corpus {report['corpus']}  cpus {report['cpus']}  texts {report['counts']}")
    for threads, figures in report["by_threads"].items():
        for workload, row in figures.items():
            st = row[BASELINE]
            print(f"threads={threads} {workload:9s} {BASELINE} {st['texts_per_s']:7.1f}/s "
                  f"{st['texts_per_cpu_s']:7.1f}/cpu-s (load {st['loadavg_1min_before']:.2f})")
            for name, fig in row.items():
                if name != BASELINE:
                    print(f"{'':20s}{name:21s} {fig['texts_per_s']:7.1f}/s {fig['texts_per_cpu_s']:7.1f}/cpu-s "
                          f"(load {fig['loadavg_1min_before']:.2f})  {fig['ratio_over_st']:.2f}x wall, "
                          f"{fig['cpu_ratio_over_st']:.2f}x cpu")
    for workload, by_name in report["agreement"].items():
        for name, agree in by_name.items():
            print(f"cosine {name} vs {BASELINE}, {workload}: mean {agree['mean_cosine']:.5f}  min {agree['min_cosine']:.5f}")


if __name__ == "__main__":
    raise SystemExit(main())
