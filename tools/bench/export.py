"""`make bench`, step 1: the benchmarked networks, each as safetensors (for fervid) and ONNX (for
ONNX Runtime) from the same weights, plus a check input and the MAC count.

- DBA-Net with VGG-16, ResNet-101 and DenseNet-161 backbones (strategy dba, 7 classes, 100x100):
  the PyTorch reference (tools/reference/dbanet.py) with the deterministic weights of
  tools/reference/formula.py (fixed, activations O(1) through 101 layers), exported with
  dbanet.export (the checkpoint contract) and torch.onnx.export of the same module.
- mini-Xception: the shipped models/mini-xception.safetensors as is for fervid, and a PyTorch
  re-implementation reading that file (minixception_torch.py) exported to ONNX.
- MTCNN's P-, R- and O-Net (mtcnn-pnet, mtcnn-rnet, mtcnn-onet): the shipped
  models/mtcnn.safetensors for fervid, facenet-pytorch's networks reading that file
  (mtcnn_torch.py) exported to ONNX; P-Net at the largest pyramid level of a 640x360 frame.

Writes <out>/<name>.safetensors, <name>.onnx, <name>.check.safetensors (`input`, batch 2) and
<out>/manifest.json. Skips the work when the manifest's stamp (hash of the sources and the
shipped model) is current.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import dbanet  # noqa: E402
import formula  # noqa: E402
import minixception_torch  # noqa: E402
import mtcnn_torch  # noqa: E402
import onnx_macs  # noqa: E402

DBA_MODELS = {"vgg16-dba": "vgg16", "resnet101-dba": "resnet101", "densenet161-dba": "densenet161"}
# Issue 8's table: GMACs per image at 100x100 for the DBA variants.
ISSUE_GMACS = {"vgg16-dba": 2.97, "resnet101-dba": 1.93, "densenet161-dba": 1.48}
SOURCES = [os.path.join(HERE, f) for f in ("export.py", "minixception_torch.py", "mtcnn_torch.py", "onnx_macs.py")] + \
          [os.path.join(ROOT, "tools", "reference", f) for f in ("dbanet.py", "formula.py")]


def stamp(*model_paths: str) -> str:
    h = hashlib.sha256()
    for p in SOURCES + list(model_paths):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


def export_onnx(module: torch.nn.Module, example: torch.Tensor, path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for the exported files")
    ap.add_argument("--mini-xception", default=os.path.join(ROOT, "models", "mini-xception.safetensors"))
    ap.add_argument("--mtcnn", default=os.path.join(ROOT, "models", "mtcnn.safetensors"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    current = stamp(args.mini_xception, args.mtcnn)
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("stamp") == current:
                print(f"export: {manifest_path} is current")
                return
    torch.set_grad_enabled(False)
    rng = np.random.default_rng(8)

    def build(name: str):
        """(module, checkpoint path for fervid, check input batch of 2, per-image input shape)."""
        if name in mtcnn_torch.NETWORKS:
            shape = mtcnn_torch.NETWORKS[name][2]
            x = rng.uniform(-1, 1, [2] + shape).astype(np.float32)
            return mtcnn_torch.load(name, args.mtcnn), os.path.abspath(args.mtcnn), x, shape
        if name == "mini-xception":
            x = rng.uniform(-1, 1, (2, 1, 64, 64)).astype(np.float32)
            return minixception_torch.MiniXception(args.mini_xception), os.path.abspath(args.mini_xception), x, [1, 64, 64]
        model = dbanet.DBANet(DBA_MODELS[name], "dba")
        formula.fill(model)
        model.eval()
        ckpt = os.path.join(args.out, f"{name}.safetensors")
        dbanet.export(model, ckpt)
        return model, ckpt, rng.standard_normal((2, 3, 100, 100)).astype(np.float32), [3, 100, 100]

    models = []
    for name in list(DBA_MODELS) + ["mini-xception"] + list(mtcnn_torch.NETWORKS):
        t0 = time.time()
        model, ckpt, x, shape = build(name)
        onnx_path = os.path.join(args.out, f"{name}.onnx")
        export_onnx(model, torch.from_numpy(x), onnx_path)
        check = os.path.join(args.out, f"{name}.check.safetensors")
        save_file({"input": x}, check)
        macs = onnx_macs.macs_per_image(onnx_path)
        gmacs = macs["total"] / 1e9
        line = f"export: {name}: {gmacs:.3f} GMACs/image (conv {macs['conv'] / 1e9:.3f}, linear {macs['gemm'] / 1e9:.4f})"
        if name in ISSUE_GMACS:
            line += f"; issue 8 says {ISSUE_GMACS[name]:.2f} ({(gmacs / ISSUE_GMACS[name] - 1) * 100:+.1f}%)"
        print(line + f"; {time.time() - t0:.1f} s", flush=True)
        # The count is the peak_fraction numerator: it must agree with the issue's own figures.
        if name in ISSUE_GMACS and abs(gmacs / ISSUE_GMACS[name] - 1) > 0.01:
            sys.exit(f"export: {name}: {gmacs:.3f} GMACs/image differs from issue 8's {ISSUE_GMACS[name]} by more than 1%")
        models.append({"name": name, "safetensors": ckpt, "onnx": onnx_path, "check_input": check,
                       # what fervid is given: the checkpoint, or the network's name for MTCNN's
                       "fervid_model": name if name in mtcnn_torch.NETWORKS else ckpt,
                       "input_shape": shape, "macs_per_image": macs["total"],
                       "torch_logits": model(torch.from_numpy(x)).numpy().tolist()})
    with open(manifest_path, "w") as f:
        json.dump({"stamp": current, "models": models}, f, indent=1)


if __name__ == "__main__":
    main()
