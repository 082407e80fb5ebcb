#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets in Tests/Fuzz (swiftc -sanitize=fuzzer,address) and
# runs each for FUZZ_SECONDS (default 60). Fails on a crash, a hang (-timeout) or an allocation
# past -rss_limit_mb; the input that did it is left in $WORK/artifacts/<target>/ — copy it into
# Tests/Fuzz/corpus/<target>/ and add a regression test. Prints one line per target: execs,
# coverage (cov: edges, ft: features), corpus size. Usage: tools/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-60}}"; shift || true
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(safetensors boxes timeline metadata)
work="${FUZZ_WORK:-$root/.build/fuzz}"
pkg="$root/Tests/Fuzz"
mkdir -p "$work"
echo "fuzz: building (swift build -c release -Xswiftc -sanitize=fuzzer,address) …"
swift build --package-path "$pkg" --scratch-path "$work/build" -c release \
  -Xswiftc -sanitize=fuzzer,address >"$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log"; echo "fuzz: build failed ($work/build.log)"; exit 1; }
bin="$(swift build --package-path "$pkg" --scratch-path "$work/build" -c release --show-bin-path)"
status=0
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"; artifacts="$work/artifacts/$t"; log="$work/$t.log"
  mkdir -p "$corpus" "$artifacts"
  # The seed corpus is read-only input; new finds go to the work corpus (outside the repo).
  "$bin/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "$pkg/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*'); ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  if [ $rc -eq 0 ]; then verdict=ok; else verdict="FAILED (exit $rc; $log, $artifacts)"; status=1; fi
  printf 'fuzz %-12s %5ss  execs=%s (%s/s)  cov=%s ft=%s corpus=%s  %s\n' \
    "$t" "$seconds" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict"
  [ $rc -ne 0 ] && grep -E 'ERROR: libFuzzer|SUMMARY|==ERROR|deadly signal|timeout' "$log" | head -5
done
exit $status
