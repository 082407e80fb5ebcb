"""Checks of the NumPy oracles themselves (tools/ref_*.py) on hand-computed cases."""
import unittest

import numpy as np

from tests.common import cached
import ref_mini_xception as RX
import ref_mtcnn as RM


class MiniXceptionReferenceTests(unittest.TestCase):
    def test_tf_same_padding_is_asymmetric(self):
        # out = ceil(n / s); total = (out - 1) s + k - n; extra pixel at the end.
        self.assertEqual(RX.same_pads(60, 3, 2), (0, 1))
        self.assertEqual(RX.same_pads(15, 3, 2), (1, 1))
        self.assertEqual(RX.same_pads(8, 3, 2), (0, 1))
        self.assertEqual(RX.same_pads(64, 3, 1), (1, 1))
        self.assertEqual(RX.same_pads(60, 1, 2), (0, 0))

    def test_max_pool_same_ignores_padding(self):
        x = -np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1) - 1   # all negative
        y = RX.max_pool(x, [3, 3], [2, 2], "same")                       # pads (0, 1): never wins
        np.testing.assert_array_equal(y[0, :, :, 0], [[-1, -3], [-9, -11]])

    def test_conv_hwio_against_a_loop(self):
        rng = np.random.default_rng(0)
        x, k = rng.standard_normal((1, 5, 6, 2)), rng.standard_normal((3, 3, 2, 4))
        y = RX.conv2d(x, k, [1, 1], "valid")
        ref = np.zeros((1, 3, 4, 4))
        for i in range(3):
            for j in range(4):
                ref[0, i, j] = np.einsum("hwc,hwco->o", x[0, i:i + 3, j:j + 3], k)
        np.testing.assert_allclose(y, ref, atol=1e-12)

    def test_whole_model_shapes_and_softmax(self):
        m = RX.KerasModel(cached("fer/data/emotion_model.hdf5"))
        out = m(np.zeros((1, 64, 64, 1)))
        self.assertEqual(out["add_1"].shape, (1, 30, 30, 16))
        self.assertEqual(out["add_4"].shape, (1, 4, 4, 128))
        self.assertAlmostEqual(float(out["predictions"].sum()), 1.0, places=12)

    def test_bilinear_matches_half_pixel_rule(self):
        ramp = np.tile(np.arange(0, 100, 10, dtype=np.uint8), (2, 1))
        np.testing.assert_array_equal(RX.bilinear_u8(ramp, 1, 5)[0], [5, 25, 45, 65, 85])


class MTCNNReferenceTests(unittest.TestCase):
    def test_area_resize_is_the_rectangle_mean(self):
        rng = np.random.default_rng(1)
        img = rng.uniform(0, 255, (3, 13, 17)).astype(np.float32)
        for oh, ow in [(5, 7), (24, 24), (13, 17)]:
            y = RM.area_resize(img, oh, ow)
            for i in range(oh):
                for j in range(ow):
                    y0, y1 = i * 13 // oh, -(-(i + 1) * 13 // oh)
                    x0, x1 = j * 17 // ow, -(-(j + 1) * 17 // ow)
                    np.testing.assert_allclose(y[:, i, j], img[:, y0:y1, x0:x1].mean(axis=(1, 2)), rtol=1e-5)

    def test_ceil_mode_pool_sizes_follow_pytorch(self):
        # PyTorch: out = ceil((n - k) / s) + 1, minus one if the last window starts past the input.
        for n, k, s, out in [(22, 3, 2, 11), (9, 3, 2, 4), (46, 3, 2, 23), (21, 3, 2, 10), (8, 2, 2, 4), (11, 2, 2, 6)]:
            self.assertEqual(RM.maxpool_ceil(np.zeros((1, 1, n, n)), k, s).shape[2], out, (n, k, s))

    def test_nms_union_and_min(self):
        boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float32)
        scores = np.array([0.9, 0.95, 0.5, 0.8], dtype=np.float32)
        self.assertEqual(RM.nms(boxes, scores, 0.5).tolist(), [1, 3, 2])
        inner = np.array([[0, 0, 10, 10], [2, 2, 7, 7]], dtype=np.float32)
        self.assertEqual(RM.nms(inner, np.array([0.9, 0.8]), 0.7, "Min").tolist(), [0])
        self.assertEqual(RM.nms(inner, np.array([0.9, 0.8]), 0.7).tolist(), [0, 1])

    def test_rerec_and_bbreg(self):
        b = np.array([[10, 20, 30, 60, 0.9]], dtype=np.float32)   # 20 wide, 40 high
        np.testing.assert_allclose(RM.rerec(b)[0, :4], [0, 20, 40, 60])
        r = RM.bbreg(b, np.array([[0.1, 0, 0, -0.1]], dtype=np.float32))  # w + 1 = 21, h + 1 = 41
        np.testing.assert_allclose(r[0, :4], [12.1, 20, 30, 55.9], rtol=1e-6)


if __name__ == "__main__":
    unittest.main()
