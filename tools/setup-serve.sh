#!/usr/bin/env bash
# Installs the Debian packages `fervid-serve`'s tests use: a real PostgreSQL 15 server (started by
# the tests themselves with initdb + pg_ctl), headless Chromium for the dashboard test, wrk for
# the load test. Quiet and quick when they are present.
set -euo pipefail
pkgs=(postgresql-15 chromium wrk ffmpeg)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-serve: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
