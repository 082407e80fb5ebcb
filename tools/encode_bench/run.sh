#!/usr/bin/env bash
# Builds tools/encode_bench with Sources/Video (swiftc -O, one module) and runs it on the
# 640x360 sample, 1 encoder thread and auto. Usage: tools/encode_bench/run.sh [INPUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${TMPDIR:-/tmp}/fervid-encode-bench
mkdir -p "$out"
swiftc -O -swift-version 6 -module-name EncodeBench -I Sources/CFFmpeg \
    Sources/Video/*.swift tools/encode_bench/main.swift -o "$out/encode-bench"
input=${1:-samples/WolfgangLanger_Pexels.mp4}
for threads in 1 0; do
    for run in 1 2 3; do "$out/encode-bench" "$input" "$out/bench.mp4" "$threads"; done
done
