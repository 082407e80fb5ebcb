#!/usr/bin/env bash
# ONNX Runtime's instructions per forward pass of one exported network, counted by valgrind's
# callgrind: the peer's side of tools/bench/profile.sh. Valgrind's CPU has AVX2 and FMA but no
# AVX-512, so ONNX Runtime (MLAS picks its kernels from CPUID) runs its AVX2 kernels here even on
# an AVX-512 machine: this is the like-for-like AVX2 comparison that wall-clock rows with
# fervid's AVX2 kernels forced cannot give on such a machine, where ONNX Runtime runs AVX-512.
#   bash tools/bench/profile_ort.sh MODEL [BATCH]     (after `make bench` exported the models)
# MODEL: a name in tools/.cache/bench/manifest.json (mini-xception, resnet101-dba, mtcnn-onet, …).
# Two runs, of 5 + 1 and 5 + 11 passes (ONNX Runtime's first passes still size its arenas, and its
# passes differ by millions of instructions): the difference over 10 is the mean steady-state
# pass. One thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:?usage: profile_ort.sh MODEL [BATCH]}
BATCH=${2:-1}
PY=tools/.venv-torch/bin/python
MANIFEST=tools/.cache/bench/manifest.json
[[ -f $MANIFEST && -x $PY ]] || { echo "profile_ort: no $MANIFEST or $PY (run make bench first)" >&2; exit 1; }
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
read -r ONNX SHAPE < <("$PY" - "$MANIFEST" "$MODEL" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if m["name"] == sys.argv[2]:
        print(m["onnx"], ",".join(map(str, m["input_shape"])))
        break
else:
    sys.exit(f"profile_ort: {sys.argv[2]} is not in {sys.argv[1]}")
PY
)
cat >"$OUT/passes.py" <<'PY'
import sys, numpy as np, onnxruntime as ort
path, batch, passes, shape = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(v) for v in sys.argv[4].split(",")]
o = ort.SessionOptions()
o.intra_op_num_threads = 1
o.inter_op_num_threads = 1
o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
feed = {"input": np.random.default_rng(16).uniform(-1, 1, [batch] + shape).astype(np.float32)}
for _ in range(5 + passes):
    s.run(None, feed)
PY
run() {  # $1: timed passes
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$OUT/cg$1" "$PY" "$OUT/passes.py" "$ONNX" "$BATCH" "$1" "$SHAPE" \
        >/dev/null 2>"$OUT/log$1" || { cat "$OUT/log$1" >&2; exit 1; }
    sed -n 's/^totals: *//p' "$OUT/cg$1"
}
run 1 >"$OUT/t1" & a=$!
run 11 >"$OUT/t11" & b=$!
wait $a; wait $b
python3 - "$(cat "$OUT/t1")" "$(cat "$OUT/t11")" "$MODEL" "$BATCH" <<'PY'
import sys
per = (int(sys.argv[2]) - int(sys.argv[1])) / 10
print(f"onnxruntime {sys.argv[3]} batch {sys.argv[4]}: {per / 1e6:.2f} M instructions per pass "
      f"({per / 1e6 / int(sys.argv[4]):.2f} M per image; AVX2 kernels under valgrind)")
PY
