#!/usr/bin/env bash
# `make bench`: fervid's CNN engine against ONNX Runtime on the same networks and weights, one
# run, alternating; then `fervid analyze` end to end (issue 8; docs/benchmarks.md).
# Python side in tools/.venv-torch (PyTorch for the export, onnx + onnxruntime for the peer);
# extra arguments go to tools/bench/bench.py (e.g. --models resnet101-dba --rounds 5).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=tools/.venv-torch
bash tools/reference/run.sh venv      # creates the venv with torch + torchvision if missing
if [[ ! -f $VENV/.bench-ok || tools/bench/requirements.txt -nt $VENV/.bench-ok ]]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tools/bench/requirements.txt
    touch "$VENV/.bench-ok"
fi

BIN=${FERVID_BIN:-.build/release/fervid}
[[ -x $BIN ]] || { echo "bench: no fervid binary at $BIN (make build)" >&2; exit 1; }
exec "$VENV/bin/python" tools/bench/bench.py --fervid "$BIN" "$@"
