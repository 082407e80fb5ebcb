"""One-off validation of the NumPy MTCNN oracle (tools/ref_mtcnn.py) against facenet-pytorch
2.6.0's own `detect_face`, run with PyTorch. Not part of `make test` (PyTorch is ~2.5 GB); run:

    python3 -m venv tools/.venv-torch && tools/.venv-torch/bin/pip install torch torchvision pillow numpy
    tools/.venv-torch/bin/python tools/check_ref_mtcnn_against_facenet.py

facenet-pytorch's modules are imported from the wheel `make models` downloaded (extracted to
tools/.cache/facenet_src, bypassing its package __init__, which needs `requests`); its weights
are loaded from our restricted reader's arrays, never with torch.load. Compares its boxes with
Tests/ModelsTests/Golden/mtcnn_detections.json (the oracle's output).
"""
import glob
import json
import os
import sys
import types
import zipfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import legacy_torch  # noqa: E402


def decode_frame(name, index, w, h):
    """As tools/make_face_golden.py: frame `index` via the ffmpeg CLI, (h, w, 3) uint8."""
    import subprocess
    samples = os.environ.get("FERVID_SAMPLES", os.path.join(ROOT, "samples"))
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", os.path.join(samples, name), "-vf", f"select=eq(n\\,{index})",
           "-vframes", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, np.uint8).reshape(h, w, 3)


SRC = os.path.join(ROOT, "tools", ".cache", "facenet_src")
wheel = glob.glob(os.path.join(ROOT, "tools", "wheels", "facenet_pytorch-2.6.0-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    z.extractall(SRC, [n for n in z.namelist() if n.startswith("facenet_pytorch/models/")])
pkg = types.ModuleType("facenet_pytorch")
pkg.__path__ = [os.path.join(SRC, "facenet_pytorch")]
sys.modules["facenet_pytorch"] = pkg
from facenet_pytorch.models.mtcnn import ONet, PNet, RNet  # noqa: E402
from facenet_pytorch.models.utils.detect_face import detect_face  # noqa: E402

nets = []
for cls, name in ((PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")):
    net = cls(pretrained=False)
    sd = legacy_torch.load_state_dict(os.path.join(ROOT, "tools", ".cache", "models", "facenet_pytorch", "data", f"{name}.pt"))
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()})
    nets.append(net.eval())


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


golden = json.load(open(os.path.join(ROOT, "Tests", "ModelsTests", "Golden", "mtcnn_detections.json")))
worst_iou, worst_score, worst_mark, ok = 1.0, 0.0, 0.0, True
for f in golden["frames"]:
    img = decode_frame(f["sample"], f["frame"], f["width"], f["height"])
    with torch.no_grad():
        boxes, points = detect_face(img, 20, *nets, [0.6, 0.7, 0.7], 0.709, "cpu")
    boxes, points = np.asarray(boxes[0], dtype=np.float64).reshape(-1, 5), np.asarray(points[0], dtype=np.float64).reshape(-1, 5, 2)
    if len(boxes) != len(f["boxes"]):
        ok = False
        print(f"{f['sample']} frame {f['frame']}: facenet-pytorch {len(boxes)} faces, oracle {len(f['boxes'])}")
    for rb, rs, rp in zip(f["boxes"], f["scores"], f["landmarks"]):
        j = int(np.argmax([iou(rb, b) for b in boxes])) if len(boxes) else None
        if j is None:
            continue
        worst_iou = min(worst_iou, iou(rb, boxes[j]))
        worst_score = max(worst_score, abs(rs - boxes[j][4]))
        worst_mark = max(worst_mark, float(np.abs(np.asarray(rp) - points[j]).max()))
print(f"facenet-pytorch {torch.__version__} vs oracle over {len(golden['frames'])} frames: counts "
      f"{'equal' if ok else 'DIFFER'}, min IoU {worst_iou:.6f}, max |Δscore| {worst_score:.2e}, max |Δlandmark| {worst_mark:.4f} px")
sys.exit(0 if ok and worst_iou >= 0.95 else 1)
