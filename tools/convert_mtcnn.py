"""Convert facenet-pytorch's MTCNN weights (legacy .pt state dicts) to models/mtcnn.safetensors.

Usage: convert_mtcnn.py PNET.pt RNET.pt ONET.pt OUT.safetensors SOURCE_NOTE
Names become `pnet.conv1.weight`, `rnet.dense4.weight`, ... with PyTorch layouts unchanged
(conv OIHW, linear (out, in)). The dense layers of R-Net and O-Net were trained on a flatten of
the (N, C, H, W) activation permuted to (N, W, H, C): the metadata says so and the model applies it.
"""
import sys

import numpy as np

import legacy_torch
import safetensors_io

# Parameter counts of the three networks (ASSETS.md): an exact check that nothing is lost.
EXPECTED_PARAMS = {"pnet": 6632, "rnet": 100178, "onet": 389040}
EXPECTED_SHAPES = {
    "pnet.conv1.weight": (10, 3, 3, 3), "pnet.conv4_1.weight": (2, 32, 1, 1), "pnet.conv4_2.weight": (4, 32, 1, 1),
    "rnet.dense4.weight": (128, 576), "rnet.dense5_1.weight": (2, 128), "rnet.dense5_2.weight": (4, 128),
    "onet.dense5.weight": (256, 1152), "onet.dense6_1.weight": (2, 256), "onet.dense6_2.weight": (4, 256),
    "onet.dense6_3.weight": (10, 256),
}


def convert(paths, out, source_note):
    tensors = {}
    for net, path in zip(("pnet", "rnet", "onet"), paths):
        sd = legacy_torch.load_state_dict(path)
        n = sum(a.size for a in sd.values())
        if n != EXPECTED_PARAMS[net]:
            raise SystemExit(f"convert_mtcnn: {path}: {n} parameters, expected {EXPECTED_PARAMS[net]}")
        for name, a in sd.items():
            if a.dtype != np.float32:
                raise SystemExit(f"convert_mtcnn: {path}: {name} is {a.dtype}, expected float32")
            tensors[f"{net}.{name}"] = a
    for name, shape in EXPECTED_SHAPES.items():
        if name not in tensors or tensors[name].shape != shape:
            got = tensors[name].shape if name in tensors else "missing"
            raise SystemExit(f"convert_mtcnn: {name}: {got}, expected {shape}")
    metadata = {
        "fervid.arch": "mtcnn",
        "fervid.networks": "pnet,rnet,onet",
        "fervid.input_size": "pnet:any,rnet:24x24,onet:48x48",
        "fervid.colour": "rgb",
        "fervid.normalisation": "(x - 127.5) / 128",
        "fervid.mean": "127.5",
        "fervid.std": "128",
        "fervid.labels": "background,face",
        "fervid.outputs": "pnet:(box_reg[4],prob[2]) rnet:(box_reg[4],prob[2]) onet:(box_reg[4],landmarks[10],prob[2])",
        "fervid.flatten": "rnet.dense4 and onet.dense5 take (N,C,H,W) permuted to (N,W,H,C), then flattened",
        "fervid.detector": "min_face=20,factor=0.709,thresholds=0.6/0.7/0.7",
        "fervid.layout": "pytorch",
        "fervid.parameters": str(sum(EXPECTED_PARAMS.values())),
        "fervid.source": source_note,
        "fervid.licence": "MIT (facenet-pytorch)",
    }
    safetensors_io.write(out, tensors, metadata)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    convert(sys.argv[1:4], sys.argv[4], sys.argv[5])
