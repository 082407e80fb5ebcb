#!/usr/bin/env bash
# The PyTorch reference (DBA-Net, docs/dbanet.md). Called by the Makefile:
#   run.sh golden   regenerate Tests/ModelsTests/Golden/dbanet.json   (make golden)
#   run.sh test     train 2 steps, export, fervid parity <= 1e-4     (make test-reference)
# PyTorch comes from the Python package index into tools/.venv-torch (it brings CUDA runtime
# wheels, about 2.5 GB); nothing else in fervid needs it.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=tools/.venv-torch
if [[ ! -f $VENV/.ok ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tools/reference/requirements.txt
    touch "$VENV/.ok"
fi
PY=$VENV/bin/python

case "${1:-}" in
    golden) exec "$PY" tools/reference/golden.py ;;
    test)   exec "$PY" tools/reference/reference_test.py "${@:2}" ;;
    *)      echo "usage: $0 golden|test" >&2; exit 2 ;;
esac
