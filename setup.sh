#!/usr/bin/env bash
# One command for a fresh machine: install everything, then build a graph of samples/ and ask it a question.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
kg build samples/corpus --out .kg/samples
kg stats .kg/samples
kg ask .kg/samples "$(python -c 'import json; print(json.loads(open("samples/questions.jsonl").readline())["question"])')"
