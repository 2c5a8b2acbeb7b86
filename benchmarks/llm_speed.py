"""Prompt-processing and generation speed of the packaged llama.cpp models, by thread count.

For each model (``qwen2.5-0.5b``, ``qwen2.5-1.5b``) and thread count it loads a fresh llama.cpp server
(so no prompt cache carries over), sends one numbered-sources prompt of about 200 tokens and generates
exactly ``--tokens`` tokens (end of sequence ignored), and prints llama.cpp's own timings: load seconds,
prompt tokens/s and generation tokens/s, plus the 1-minute load average read before each run (the
machine is shared, so wall-clock figures drift; compare rows of one run). Kept short on purpose: one
request per configuration.

Usage::

    python benchmarks/llm_speed.py [--models qwen2.5-0.5b,qwen2.5-1.5b] [--threads 1,2] [--tokens 32]
"""
from __future__ import annotations

import argparse
import os
import time

from kg.llamacpp import PACKAGED, LoadedModel, packaged_path

PROMPT = (
    "Sources:\n"
    "[1] Van Hook Township: Van Hook Township is a township in Mountrail County, North Dakota, United States. "
    "The population was 328 at the 2010 census.\n"
    "[2] Mountrail County: Mountrail County is a county in the U.S. state of North Dakota. As of the 2010 "
    "census, the population was 7,673. Its county seat is Stanley.\n"
    "[3] Stanley, North Dakota: Stanley is a city in and the county seat of Mountrail County, North Dakota. "
    "It was founded in 1902 as a station on the Great Northern Railway and named after a local settler.\n\n"
    "Question: What is the seat of the county where Van Hook Township is located? Explain the two steps."
)


def measure(model: str, threads: int, tokens: int) -> dict[str, float]:
    """Load ``model`` with ``threads`` threads and time one request; llama.cpp's timings in tokens/s."""
    path = packaged_path(PACKAGED[model])
    load = os.getloadavg()[0]
    start = time.perf_counter()
    loaded = LoadedModel(path, threads, 2048)
    seconds = time.perf_counter() - start
    response = loaded.complete({"messages": [{"role": "user", "content": PROMPT}], "max_tokens": tokens,
                                "temperature": 0, "ignore_eos": True})
    t = response["timings"]
    return {"load_avg": load, "load_s": seconds, "prompt_n": t["prompt_n"], "prompt_tps": t["prompt_per_second"],
            "gen_n": t["predicted_n"], "gen_tps": t["predicted_per_second"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="qwen2.5-0.5b,qwen2.5-1.5b")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--tokens", type=int, default=32)
    args = ap.parse_args()
    print(f"{'model':<14}{'threads':>8}{'loadavg':>9}{'load s':>8}{'prompt tok':>11}{'prompt tok/s':>13}"
          f"{'gen tok':>8}{'gen tok/s':>10}")
    for model in args.models.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            r = measure(model, threads, args.tokens)
            print(f"{model:<14}{threads:>8}{r['load_avg']:>9.2f}{r['load_s']:>8.1f}{r['prompt_n']:>11}"
                  f"{r['prompt_tps']:>13.1f}{r['gen_n']:>8}{r['gen_tps']:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
