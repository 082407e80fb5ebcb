#!/usr/bin/env bash
# Man pages for fervid and each subcommand, from the argument parser's own description of the
# command line: swift-argument-parser's generate-manual tool (what its GenerateManual plugin runs)
# reads `fervid --experimental-dump-help`. The tool is built once from the resolved checkout, in
# its own scratch folder so the package's build is not disturbed. Usage: man.sh BINARY OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1 out=$2
checkout=.build/checkouts/swift-argument-parser
[ -d "$checkout" ] || swift package resolve >/dev/null
tool=.build/generate-manual/debug/generate-manual
if [ ! -x "$tool" ] || [ "$checkout/Package.resolved" -nt "$tool" ] || [ Package.resolved -nt "$tool" ]; then
  echo "man: building swift-argument-parser's generate-manual tool" >&2
  swift build --package-path "$checkout" --scratch-path .build/generate-manual --product generate-manual >/dev/null
fi
# The date of the commit, not of the build: the same source gives the same pages.
date=$(git log -1 --format=%cs 2>/dev/null || date -u +%F)
rm -rf "$out"; mkdir -p "$out"
"$tool" "$bin" --multi-page --date "$date" --output-directory "$out"
# The implicit `help` subcommand gets no page of its own.
rm -f "$out/fervid.help.1"
ls "$out" | grep -q '^fervid\.1$' || { echo "man: no fervid.1 written" >&2; exit 1; }
