"""Independent NumPy MTCNN detector: the algorithm of facenet-pytorch's `detect_face.py`
(version 2.6.0), rewritten from its description for NumPy; the oracle for the Swift detector.

Networks (NCHW, float32, weights read from the legacy .pt files with the restricted reader):
P-Net conv3-PReLU-maxpool2(ceil)-conv3-PReLU-conv3-PReLU -> (softmax face score, box regression);
R-Net/O-Net end in dense layers fed by the (N, C, H, W) activation permuted to (N, W, H, C).

Detector (single RGB uint8 image):
 1. scales 12/minsize * factor^k while min(h, w) * scale >= 12; each level is the image resized
    with area interpolation to (int(h*s + 1), int(w*s + 1)), normalised (x - 127.5) / 128.
 2. P-Net cells with face score >= t0 give boxes floor((2*idx + 1)/s) .. floor((2*idx + 12)/s)
    (float32 arithmetic, as torch does); NMS IoU 0.5 per scale, then 0.7 over all.
 3. box regression by (w, h) without +1, square (rerec), crop the clipped 1-based box region,
    area-resize to 24x24, R-Net; keep score > t1; NMS IoU 0.7; regression with +1; rerec.
 4. same with 48x48 crops and O-Net; keep score > t2; landmarks from the box before regression;
    regression; NMS 0.7 with the "Min" overlap (intersection / smaller area, +1 areas).
A box whose clipped crop is empty is dropped (facenet-pytorch would misalign its batch there).
"""
import numpy as np

import legacy_torch


def conv(x, w, b):
    """x (N, C, H, W), w (O, C, kh, kw): valid, stride 1."""
    kh, kw = w.shape[2:]
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # (N, C, OH, OW, kh, kw)
    return np.einsum("nchwij,ocij->nohw", v, w, optimize=True) + b[None, :, None, None]


def prelu(x, a):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return np.where(x >= 0, x, x * a.reshape(shape))


def maxpool_ceil(x, k, s):
    """PyTorch MaxPool2d(k, s, ceil_mode=True), no padding: the last window may hang over the edge
    (it must start inside the input)."""
    n, c, h, w = x.shape
    oh = -(-(h - k) // s) + 1
    ow = -(-(w - k) // s) + 1
    if (oh - 1) * s >= h:
        oh -= 1
    if (ow - 1) * s >= w:
        ow -= 1
    ph, pw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - w, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), constant_values=-np.inf)
    v = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return v[:, :, :oh, :ow].max(axis=(4, 5))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Nets:
    def __init__(self, pnet_pt, rnet_pt, onet_pt):
        self.p = legacy_torch.load_state_dict(pnet_pt)
        self.r = legacy_torch.load_state_dict(rnet_pt)
        self.o = legacy_torch.load_state_dict(onet_pt)

    @staticmethod
    def _c(p, x, i, pool=None):
        x = prelu(conv(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"]), p[f"prelu{i}.weight"])
        return maxpool_ceil(x, *pool) if pool else x

    def pnet(self, x):
        p = self.p
        x = self._c(p, x, 1, (2, 2))
        x = self._c(p, x, 2)
        x = self._c(p, x, 3)
        prob = softmax(conv(x, p["conv4_1.weight"], p["conv4_1.bias"]), 1)
        reg = conv(x, p["conv4_2.weight"], p["conv4_2.bias"])
        return reg, prob

    @staticmethod
    def _dense(p, name, x):
        return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    def rnet(self, x):
        p = self.r
        x = self._c(p, x, 1, (3, 2))
        x = self._c(p, x, 2, (3, 2))
        x = self._c(p, x, 3)
        x = x.transpose(0, 3, 2, 1).reshape(len(x), -1)   # (N, W, H, C) flatten
        x = prelu(self._dense(p, "dense4", x), p["prelu4.weight"])
        return self._dense(p, "dense5_2", x), softmax(self._dense(p, "dense5_1", x), 1)

    def onet(self, x):
        p = self.o
        x = self._c(p, x, 1, (3, 2))
        x = self._c(p, x, 2, (3, 2))
        x = self._c(p, x, 3, (2, 2))
        x = self._c(p, x, 4)
        x = x.transpose(0, 3, 2, 1).reshape(len(x), -1)
        x = prelu(self._dense(p, "dense5", x), p["prelu5.weight"])
        return (self._dense(p, "dense6_2", x), self._dense(p, "dense6_3", x),
                softmax(self._dense(p, "dense6_1", x), 1))


def area_resize(img, oh, ow):
    """PyTorch interpolate(mode="area") == adaptive average pooling; img (C, H, W) float."""
    def matrix(o, i):
        m = np.zeros((o, i), dtype=np.float64)
        for k in range(o):
            s, e = (k * i) // o, -(-((k + 1) * i) // o)
            m[k, s:e] = 1.0 / (e - s)
        return m
    mh, mw = matrix(oh, img.shape[1]), matrix(ow, img.shape[2])
    return (mh[None] @ img.astype(np.float64) @ mw.T[None]).astype(np.float32)


def nms(boxes, scores, thresh, method="Union"):
    """Greedy NMS by descending score. "Union": torchvision IoU (areas without +1), suppress > thresh.
    "Min": facenet-pytorch's nms_numpy (areas with +1, overlap over the smaller area)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=int)
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    plus = 1.0 if method == "Min" else 0.0
    area = (x2 - x1 + plus) * (y2 - y1 + plus)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + plus)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + plus)
        inter = iw * ih
        o = inter / np.minimum(area[i], area[rest]) if method == "Min" else inter / (area[i] + area[rest] - inter)
        order = rest[o <= thresh]
    return np.array(keep, dtype=int)


def rerec(b):
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    l = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * 0.5 - l * 0.5
    b[:, 1] = b[:, 1] + h * 0.5 - l * 0.5
    b[:, 2] = b[:, 0] + l
    b[:, 3] = b[:, 1] + l
    return b


def bbreg(b, reg):
    b = b.copy()
    w, h = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def crops(img, boxes, size):
    """1-based clipped crops (facenet-pytorch's `pad`), each area-resized to size x size.
    Returns (batch (N, 3, size, size) normalised, indices of boxes kept)."""
    c, h, w = img.shape
    t = np.trunc(boxes[:, :4]).astype(np.int64)
    x, y = np.maximum(t[:, 0], 1), np.maximum(t[:, 1], 1)
    ex, ey = np.minimum(t[:, 2], w), np.minimum(t[:, 3], h)
    out, kept = [], []
    for k in range(len(boxes)):
        if ey[k] > y[k] - 1 and ex[k] > x[k] - 1:
            out.append(area_resize(img[:, y[k] - 1:ey[k], x[k] - 1:ex[k]], size, size))
            kept.append(k)
    if not out:
        return np.zeros((0, 3, size, size), np.float32), np.zeros(0, dtype=int)
    return ((np.stack(out) - np.float32(127.5)) * np.float32(0.0078125)), np.array(kept)


def detect(nets, rgb, minsize=20, factor=0.709, thresholds=(0.6, 0.7, 0.7)):
    """rgb: (H, W, 3) uint8. Returns (boxes (K, 4) x1,y1,x2,y2, scores (K,), landmarks (K, 5, 2))."""
    img = rgb.transpose(2, 0, 1).astype(np.float32)
    h, w = rgb.shape[:2]
    m = 12.0 / minsize
    minl = min(h, w) * m
    scales, s = [], m
    while minl >= 12:
        scales.append(s)
        s *= factor
        minl *= factor

    # Stage 1: P-Net over the pyramid. Rows: x1, y1, x2, y2, score, reg0..3.
    cand = []
    for scale in scales:
        level = area_resize(img, int(h * scale + 1), int(w * scale + 1))
        level = (level - np.float32(127.5)) * np.float32(0.0078125)
        reg, prob = nets.pnet(level[None].astype(np.float32))
        score = prob[0, 1]
        ys, xs = np.nonzero(score >= thresholds[0])            # row-major, as torch's nonzero
        if len(ys) == 0:
            continue
        bb = np.stack([xs, ys], 1).astype(np.float32)
        q1 = np.floor((2 * bb + 1) / np.float32(scale))
        q2 = np.floor((2 * bb + 12) / np.float32(scale))
        rows = np.concatenate([q1, q2, score[ys, xs][:, None], reg[0][:, ys, xs].T], 1).astype(np.float32)
        cand.append(rows[nms(rows[:, :4], rows[:, 4], 0.5)])
    if not cand:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    b = np.concatenate(cand)
    b = b[nms(b[:, :4], b[:, 4], 0.7)]
    rw, rh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    boxes = np.stack([b[:, 0] + b[:, 5] * rw, b[:, 1] + b[:, 6] * rh,
                      b[:, 2] + b[:, 7] * rw, b[:, 3] + b[:, 8] * rh, b[:, 4]], 1)
    boxes = rerec(boxes)

    # Stage 2: R-Net on 24x24 crops.
    data, kept = crops(img, boxes, 24)
    boxes = boxes[kept]
    if len(boxes) == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    reg, prob = nets.rnet(data)
    ok = prob[:, 1] > thresholds[1]
    boxes = np.concatenate([boxes[ok, :4], prob[ok, 1:2]], 1)
    reg = reg[ok]
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes = rerec(bbreg(boxes[pick], reg[pick]))

    # Stage 3: O-Net on 48x48 crops.
    data, kept = crops(img, boxes, 48)
    boxes = boxes[kept]
    if len(boxes) == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    reg, lm, prob = nets.onet(data)
    ok = prob[:, 1] > thresholds[2]
    boxes = np.concatenate([boxes[ok, :4], prob[ok, 1:2]], 1)
    reg, lm = reg[ok], lm[ok]
    bw, bh = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
    px = bw[:, None] * lm[:, :5] + boxes[:, 0:1] - 1
    py = bh[:, None] * lm[:, 5:] + boxes[:, 1:2] - 1
    points = np.stack([px, py], 2)
    boxes = bbreg(boxes, reg)
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7, "Min")
    return boxes[pick, :4], boxes[pick, 4], points[pick]
