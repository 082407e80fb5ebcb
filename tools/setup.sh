#!/usr/bin/env bash
# Installs the Debian packages fervid builds and tests with. Quiet and quick when they are present.
# With arguments (`tools/setup.sh LABEL PKG...`) it installs those packages instead, e.g. the
# service tests' set (tools/setup-serve.sh).
set -euo pipefail
label=setup
pkgs=(libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev pkg-config ffmpeg libxml2-utils python3-venv)
if [ $# -gt 0 ]; then label=$1; shift; pkgs=("$@"); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 -m venv needs ensurepip; the pyenv Python has it, Debian's python3 needs python3-venv.
if [ ${#missing[@]} -gt 0 ]; then
  echo "$label: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
