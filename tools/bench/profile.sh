#!/usr/bin/env bash
# Instructions per kernel of one network's forward pass, counted by valgrind's callgrind:
# repeatable on a shared, noisy machine where wall-clock time is not (docs/benchmarks.md,
# "Profiles"). Valgrind's CPU reports no AVX-512, so this profiles fervid's AVX2 kernels (what an
# AVX2-only machine runs), or the portable ones with FERVID_GEMM=generic.
#   bash tools/bench/profile.sh MODEL [BATCH]     e.g. mtcnn-pnet 1, mtcnn-rnet 16, mini-xception 16
# MODEL: anything `fervid models bench` takes. Two runs, of 2 + 1 and 2 + 5 forward passes (two
# warm-up passes, then one timed repeat of 1 or 5 passes with --seconds 0): the difference over 4
# is one steady-state pass, without loading, packing or start-up. Prints the instructions per
# pass and the functions with the most (self) instructions.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:?usage: profile.sh MODEL [BATCH]}
BATCH=${2:-1}
BIN=${FERVID_BIN:-.build/release/fervid}
export FERVID_MODELS=${FERVID_MODELS:-$PWD/models}   # the shipped models, by name
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# valgrind cannot read Swift's DWARF 5 debug information: profile a copy without it.
objcopy --strip-debug "$BIN" "$OUT/fervid"
run() {  # $1: passes in the timed repeat
    OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell} valgrind --tool=callgrind --callgrind-out-file="$OUT/cg$1" \
        "$OUT/fervid" models bench "$MODEL" --batch "$BATCH" --threads 1 --warmup 0 --repeats "$1" \
        --seconds 1e-9 >/dev/null 2>"$OUT/log$1" || { cat "$OUT/log$1" >&2; exit 1; }
    callgrind_annotate --threshold=100 "$OUT/cg$1" 2>/dev/null |
        awk '$2 ~ /^\(/ { n = $1; gsub(",", "", n); f = $0; sub(/^[^)]*\)  */, "", f); sub(/ \[.*$/, "", f); sub(/^.*:/, "", f); print n "\t" f }' \
        >"$OUT/f$1"
}
run 1 & a=$!
run 5 & b=$!
wait $a; wait $b
python3 - "$OUT/f1" "$OUT/f5" "$MODEL" "$BATCH" <<'PY'
import sys
def read(p):
    d = {}
    for line in open(p):
        n, f = line.rstrip("\n").split("\t", 1)
        d[f] = d.get(f, 0) + int(n)
    return d
a, b = read(sys.argv[1]), read(sys.argv[2])
total = (b.pop("PROGRAM TOTALS", 0) - a.pop("PROGRAM TOTALS", 0)) / 4
per = sorted(((b.get(f, 0) - a.get(f, 0)) / 4, f) for f in set(a) | set(b))[::-1]
print(f"{sys.argv[3]} batch {sys.argv[4]}: {total / 1e6:.2f} M instructions per pass "
      f"({total / 1e6 / int(sys.argv[4]):.2f} M per image)")
for n, f in per[:14]:
    if n > 0.005 * total:
        print(f"  {100 * n / total:5.1f}%  {n / 1e6:8.2f} M  {f[:110]}")
PY
