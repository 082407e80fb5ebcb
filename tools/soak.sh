#!/usr/bin/env bash
# `make soak` (not in CI): a looping MPEG-TS stream of the sample over loopback HTTP, analyzed
# live for SOAK_MINUTES (default 30); resident memory sampled every 10 s. Reports RSS at start
# and end, frames read/analyzed/dropped, rows, the exit code and the sidecar's status.
# Usage: tools/soak.sh [MINUTES] [extra analyze options…]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
minutes="${1:-${SOAK_MINUTES:-30}}"; shift || true
bin="${FERVID_BIN:-$root/.build/release/fervid}"
sample="${FERVID_SAMPLES:-$root/samples}/single_face.mp4"
work="$(mktemp -d /tmp/fervid-soak.XXXXXX)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/soak.ts"
csv="$work/soak.emotions.csv"
ffmpeg -nostdin -v error -re -stream_loop -1 -i "$sample" -an -c:v copy -f mpegts -listen 1 "$url" &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; [ -n "${client:-}" ] && kill -KILL "$client" 2>/dev/null || true; }
trap cleanup EXIT
client=""
# The server listens once ffmpeg has opened its input: a client that exits before its first
# row (connection refused) is started again.
for _ in $(seq 1 50); do
  sleep 0.2
  rm -f "$csv" "$csv.json"
  "$bin" analyze "$url" -o "$csv" --live live --quiet "$@" 2>"$work/stderr" &
  client=$!
  for _ in $(seq 1 300); do
    kill -0 "$client" 2>/dev/null || break
    [ -f "$csv" ] && [ "$(wc -l <"$csv")" -gt 1 ] && break
    sleep 0.1
  done
  kill -0 "$client" 2>/dev/null && break
  wait "$client" 2>/dev/null || true
  client=""
done
[ -n "$client" ] || { echo "soak: fervid did not connect"; cat "$work/stderr"; exit 1; }
echo "soak: $minutes min of $url (pid $client), RSS every 10 s → $work/rss.tsv"
printf 'seconds\trss_kib\trows\n' >"$work/rss.tsv"
start=$(date +%s); end=$((start + minutes * 60))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$client" 2>/dev/null || { echo "soak: fervid exited early"; break; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$client/status" 2>/dev/null || echo 0)
  rows=0; [ -f "$csv" ] && rows=$(($(wc -l <"$csv") - 1))
  printf '%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$rss" "$rows" >>"$work/rss.tsv"
  sleep 10
done
kill -INT "$client" 2>/dev/null || true
rc=0; wait "$client" || rc=$?
client=""
python3 - "$work" "$rc" <<'PY'
import csv, json, sys
work, rc = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{work}/rss.tsv"), delimiter="\t"))
side = json.load(open(f"{work}/soak.emotions.csv.json"))
fr = side["frames"]
first = next((r for r in rows if int(r["seconds"]) >= 10), rows[0])
print(f"soak: {int(rows[-1]['seconds'])/60:.1f} min, RSS {int(first['rss_kib'])//1024} MiB (at {first['seconds']} s) -> "
      f"{int(rows[-1]['rss_kib'])//1024} MiB (max {max(int(r['rss_kib']) for r in rows)//1024} MiB); "
      f"frames read {fr['read']}, analyzed {fr['analyzed']}, dropped {fr['dropped']}; rows {side.get('rows')}; "
      f"exit {rc}, status {side.get('status')} ({side.get('reason')})")
PY
echo "soak: files in $work"
