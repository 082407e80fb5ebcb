"""`make test-reference`: train, export, and check fervid's logits against PyTorch's.

For each (backbone, strategy) pair: two training steps of the recipe (train.py) on a synthetic
RAF-DB-layout set, export to safetensors, reload the export in PyTorch, and run fervid on the same
checkpoint and input (`fervid models run CKPT --input X --output Y`). Passes when
max |fervid - pytorch| / max |pytorch| <= 1e-4 for every pair (PyTorch evaluates in float64).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbanet  # noqa: E402
import synthetic_rafdb  # noqa: E402
import train  # noqa: E402

TOLERANCE = 1e-4
# Table II's parameter counts, exactly (docs/dbanet.md; the paper prints 15.94M for VGG-16 DBA).
TABLE_II = {
    ("vgg16", "baseline"): 134_289_223, ("vgg16", "awodb"): 14_801_823, ("vgg16", "dba"): 15_834_911,
    ("vgg16_bn", "baseline"): 134_297_671, ("vgg16_bn", "awodb"): 14_810_271, ("vgg16_bn", "dba"): 15_843_359,
    ("resnet101", "baseline"): 42_514_503, ("resnet101", "awodb"): 43_227_447, ("resnet101", "dba"): 49_193_015,
    ("densenet161", "baseline"): 26_487_463, ("densenet161", "awodb"): 27_775_261,
    ("densenet161", "dba"): 42_911_197,
}
# The nine pairs of Table II; VGG-16-BN stands in for the VGG row's Aw/oDB so both VGG variants run.
DEFAULT_PAIRS = [
    ("vgg16", "baseline"), ("vgg16_bn", "awodb"), ("vgg16", "dba"),
    ("resnet101", "baseline"), ("resnet101", "awodb"), ("resnet101", "dba"),
    ("densenet161", "baseline"), ("densenet161", "awodb"), ("densenet161", "dba"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fervid", default=os.environ.get("FERVID_BIN", ".build/release/fervid"))
    ap.add_argument("--all", action="store_true", help="all twelve pairs (both VGG variants in every strategy)")
    ap.add_argument("--work", default=None, help="keep checkpoints here (default: a temporary directory)")
    args = ap.parse_args()
    if not os.access(args.fervid, os.X_OK):
        raise SystemExit(f"error: {args.fervid}: fervid binary not found (run `make build` or set FERVID_BIN)")
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    pairs = [(b, s) for b in dbanet.BACKBONES for s in dbanet.STRATEGIES] if args.all else DEFAULT_PAIRS

    work = args.work or tempfile.mkdtemp(prefix="fervid-reference-")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "rafdb-basic")
    synthetic_rafdb.make(data, train_per_class=2, test_per_class=1)

    # Two synthetic test images through the evaluation transform: a realistic normalised input.
    test_set = train.RAFDB(data, "test", train.transforms_for(100, train=False))
    x = torch.stack([test_set[0][0], test_set[3][0]]).contiguous()
    x_path = os.path.join(work, "input.safetensors")
    save_file({"input": x.numpy()}, x_path)

    failures, rows = [], []
    for (backbone, strategy), expected in TABLE_II.items():
        count = dbanet.parameter_count(dbanet.DBANet(backbone, strategy))
        if count != expected:
            failures.append(f"{backbone}/{strategy}: {count:,} parameters, Table II {expected:,}")
    print("parameter counts: " + ("Table II" if not failures else "MISMATCH"), flush=True)

    for backbone, strategy in pairs:
        t0 = time.time()
        ckpt = os.path.join(work, f"dbanet-{backbone}-{strategy}.safetensors")
        train.main(["--data", data, "--backbone", backbone, "--strategy", strategy, "--max-steps", "2",
                    "--epochs", "1", "--batch", "8", "--init", "none", "--workers", "0", "--out", ckpt])
        model = dbanet.load_checkpoint(ckpt).eval().double()
        with torch.no_grad():
            ref = model(x.double()).numpy()
        y_path = os.path.join(work, f"logits-{backbone}-{strategy}.safetensors")
        run = subprocess.run([args.fervid, "models", "run", ckpt, "--input", x_path, "--output", y_path],
                             capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"{backbone}/{strategy}: fervid exited {run.returncode}: {run.stderr.strip()}")
            continue
        got = load_file(y_path)["logits"].astype(np.float64)
        if got.shape != ref.shape:
            failures.append(f"{backbone}/{strategy}: fervid logits shape {got.shape}, PyTorch {ref.shape}")
            continue
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        rows.append((backbone, strategy, rel, float(np.abs(ref).max())))
        print(f"PARITY {backbone:12s} {strategy:9s} rel {rel:.2e}  max|logit| {np.abs(ref).max():.3f}  "
              f"({time.time() - t0:.0f} s)", flush=True)
        if not rel <= TOLERANCE:
            failures.append(f"{backbone}/{strategy}: relative error {rel:.3e} > {TOLERANCE:g}")

    print("\nbackbone     strategy  max|Δ|/max|ref|")
    for b, s, rel, _ in rows:
        print(f"{b:12s} {s:9s} {rel:.2e}")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        raise SystemExit(1)
    print(f"\nall {len(rows)} pairs within {TOLERANCE:g}")


if __name__ == "__main__":
    main()
