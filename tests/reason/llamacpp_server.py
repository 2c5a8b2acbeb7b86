"""llama.cpp's own OpenAI-compatible HTTP server (from the ``xllamacpp`` wheel) for tests, in its own process.

``python llamacpp_server.py MODEL.gguf [N_CTX]`` loads the model, listens on a free port of 127.0.0.1,
prints ``URL http://127.0.0.1:<port>`` once it answers, and serves until its standard input closes
(so a test that dies never leaves it running). Greedy decoding comes from the requests (temperature 0).
"""
from __future__ import annotations

import os
import sys


def main(model: str, n_ctx: int = 512) -> None:
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = model
    p.n_ctx, p.n_parallel = n_ctx, 1
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
    p.hostnames, p.port = ["127.0.0.1"], 0  # port 0: the kernel picks a free one
    p.warmup, p.verbosity = False, -1
    server = xllamacpp.Server(p)
    print(f"URL {server.listening_address}", flush=True)
    sys.stdin.read()  # serve until the test closes our stdin
    # Exit at once: the kernel closes the socket, and llama.cpp's shutdown (joining its threads) is
    # skipped, which under a busy CPU can take longer than a test should wait
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
