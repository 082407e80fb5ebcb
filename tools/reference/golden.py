"""Golden logits for `make test`: DBA-Net with formula weights (formula.py) on the formula input.

Writes Tests/ModelsTests/Golden/dbanet.json. The reference runs in float64, so the golden values
are the exact network outputs for float32 weights and input; fervid's float32 engine is then
measured against them (relative error = max |swift - ref| / max |ref|, budget 1e-4).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbanet  # noqa: E402
import formula  # noqa: E402

# 72 = 100 shrunk for test time while keeping odd and floor/ceil map sizes on every backbone:
# VGG taps 36/18/9/4 (head 2x2 -> 7x7), ResNet 18/9/5/3, DenseNet 18/9/4/2.
GOLDEN_INPUT = 72
GOLDEN_BATCH = 2

PAIRS = [(b, s) for b in dbanet.BACKBONES for s in dbanet.STRATEGIES]


def logits_for(backbone: str, strategy: str, size: int, batch: int) -> tuple[np.ndarray, dict]:
    model = dbanet.DBANet(backbone, strategy).eval()
    formula.fill(model)
    x = torch.from_numpy(formula.input_tensor((batch, 3, size, size)))
    with torch.no_grad():
        y = model.double()(x.double())
    stats = {"parameters": dbanet.parameter_count(model)}
    return y.numpy(), stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="Tests/ModelsTests/Golden/dbanet.json")
    ap.add_argument("--size", type=int, default=GOLDEN_INPUT)
    ap.add_argument("--batch", type=int, default=GOLDEN_BATCH)
    args = ap.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))

    probe_name, probe_shape = "backbone.features.0.weight", (64, 3, 3, 3)
    doc = {
        "about": "DBA-Net logits from tools/reference (float64) for formula weights and input; "
                 "regenerate with `make golden`. See docs/dbanet.md.",
        "input_size": args.size,
        "batch": args.batch,
        "input_probe": [float(v) for v in formula.input_tensor((1, 3, 2, 2)).ravel()[:4]],
        "weight_probe": {"name": probe_name, "shape": list(probe_shape),
                         "first": [float(v) for v in formula.tensor(probe_name, probe_shape).ravel()[:4]]},
        "cases": [],
    }
    for backbone, strategy in PAIRS:
        y, stats = logits_for(backbone, strategy, args.size, args.batch)
        peak = float(np.abs(y).max())
        print(f"{backbone:12s} {strategy:9s} params {stats['parameters']:>11,d}  max|logit| {peak:8.4f}  "
              f"spread {float(y.std()):.4f}", flush=True)
        doc["cases"].append({
            "backbone": backbone, "strategy": strategy, "parameters": stats["parameters"],
            "logits": [[float(f"{v:.9g}") for v in row] for row in y],
        })
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
