"""A DBA-Net ResNet-101 checkpoint with fixed pseudo-random weights, without torch.

For memory and speed measurements only (docs/architecture.md): the tensor names and shapes are
torchvision's ResNet-101 plus the DBA head of tools/reference/dbanet.py, and the metadata is what
`dbanet.metadata()` writes. He-scaled weights keep activations O(1).

    tools/.venv/bin/python tools/random_dbanet.py OUT.safetensors [--strategy dba|awodb]
"""
import argparse
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_io  # noqa: E402

LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def resnet101(rng):
    t = {}

    def conv(name, o, i, k):
        t[name + ".weight"] = rng.standard_normal((o, i, k, k)).astype(np.float32) * np.sqrt(2.0 / (i * k * k))

    def bn(name, c):
        t[name + ".weight"] = (1 + 0.1 * rng.standard_normal(c)).astype(np.float32)
        t[name + ".bias"] = (0.1 * rng.standard_normal(c)).astype(np.float32)
        t[name + ".running_mean"] = (0.1 * rng.standard_normal(c)).astype(np.float32)
        t[name + ".running_var"] = (1 + 0.25 * rng.random(c)).astype(np.float32)

    conv("backbone.conv1", 64, 3, 7)
    bn("backbone.bn1", 64)
    inplanes = 64
    for li, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 23), (512, 3)], start=1):
        for b in range(blocks):
            p = f"backbone.layer{li}.{b}"
            conv(p + ".conv1", planes, inplanes, 1)
            bn(p + ".bn1", planes)
            conv(p + ".conv2", planes, planes, 3)
            bn(p + ".bn2", planes)
            conv(p + ".conv3", planes * 4, planes, 1)
            bn(p + ".bn3", planes * 4)
            if b == 0:
                conv(p + ".downsample.0", planes * 4, inplanes, 1)
                bn(p + ".downsample.1", planes * 4)
            inplanes = planes * 4
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--strategy", default="dba", choices=("dba", "awodb"))
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t = resnet101(rng)
    c = (256, 512, 1024, 2048)

    def linear(name, o, i):
        t[name + ".weight"] = (rng.standard_normal((o, i)) * np.sqrt(1.0 / i)).astype(np.float32)
        t[name + ".bias"] = (0.1 * rng.standard_normal(o)).astype(np.float32)

    for k, ch in enumerate(c):
        linear(f"attention.{k}.fc1", ch // 16, ch)
        linear(f"attention.{k}.fc2", ch, ch // 16)
    if a.strategy == "dba":
        for name, i, o in (("w113", c[2] + c[3], c[2]), ("w112", c[1] + c[2] + c[3], c[1]), ("w111", sum(c), c[0])):
            linear(name, o, i)
            t[name + ".weight"] = t[name + ".weight"].reshape(o, i, 1, 1)
    linear("classifier", len(LABELS), sum(c))
    meta = {
        "fervid.arch": "dbanet", "fervid.backbone": "resnet101", "fervid.strategy": a.strategy,
        "fervid.input_size": "100x100", "fervid.labels": ",".join(LABELS), "fervid.colour": "rgb",
        "fervid.mean": "0.485,0.456,0.406", "fervid.std": "0.229,0.224,0.225",
    }
    safetensors_io.write(a.out, t, meta)


if __name__ == "__main__":
    main()
