"""mini-Xception in PyTorch, reading the shipped safetensors file (Keras names and layouts).

Only for `make bench`: it turns models/mini-xception.safetensors into an ONNX graph with the
same weights, so ONNX Runtime runs exactly the network fervid runs. The structure is the Keras
model_config of fer's file (Arriaga et al. 2017): two 3x3 valid convs, four residual modules of
two separable convs + a 3x3/2 "same" max-pool with a 1x1/2 shortcut, a 3x3 "same" conv to 7
classes and a global average pool. Every BatchNormalization uses epsilon 1e-3.

Keras layouts: kernel (kh, kw, in, out) -> (out, in, kh, kw); depthwise_kernel (kh, kw, C, 1) ->
(C, 1, kh, kw); pointwise_kernel (1, 1, C, F) -> (F, C, 1, 1). TensorFlow "same" padding puts
the odd pixel at the bottom/right; a max-pool pads with -inf.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.numpy import load_file

EPS = 1e-3
INPUT_SIZE = 64


def same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class BN(nn.BatchNorm2d):
    def __init__(self, w: dict, name: str):
        c = w[f"{name}.gamma"].shape[0]
        super().__init__(c, eps=EPS)
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(w[f"{name}.gamma"]))
            self.bias.copy_(torch.from_numpy(w[f"{name}.beta"]))
            self.running_mean.copy_(torch.from_numpy(w[f"{name}.moving_mean"]))
            self.running_var.copy_(torch.from_numpy(w[f"{name}.moving_variance"]))


def conv(w: dict, name: str, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    k = w[f"{name}.kernel"]                                    # (kh, kw, in, out)
    has_bias = f"{name}.bias" in w
    m = nn.Conv2d(k.shape[2], k.shape[3], (k.shape[0], k.shape[1]), stride=stride, padding=padding, bias=has_bias)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))))
        if has_bias:
            m.bias.copy_(torch.from_numpy(w[f"{name}.bias"]))
    return m


class Separable(nn.Module):
    """Keras SeparableConv2D(3x3, same, no bias): depthwise 3x3 then pointwise 1x1."""

    def __init__(self, w: dict, name: str):
        super().__init__()
        d = w[f"{name}.depthwise_kernel"]                       # (3, 3, C, 1)
        p = w[f"{name}.pointwise_kernel"]                       # (1, 1, C, F)
        c, f = d.shape[2], p.shape[3]
        self.depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.pointwise = nn.Conv2d(c, f, 1, bias=False)
        with torch.no_grad():
            self.depthwise.weight.copy_(torch.from_numpy(np.ascontiguousarray(d.transpose(2, 3, 0, 1))))
            self.pointwise.weight.copy_(torch.from_numpy(np.ascontiguousarray(p.transpose(3, 2, 0, 1))))

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class Module(nn.Module):
    """Residual module k = 1..4: separable_conv2d_{2k-1,2k}, BN {3k+1, 3k+2}; shortcut conv2d_{k+2}, BN 3k."""

    def __init__(self, w: dict, k: int, size: int):
        super().__init__()
        self.sep1, self.bn1 = Separable(w, f"separable_conv2d_{2 * k - 1}"), BN(w, f"batch_normalization_{3 * k + 1}")
        self.sep2, self.bn2 = Separable(w, f"separable_conv2d_{2 * k}"), BN(w, f"batch_normalization_{3 * k + 2}")
        self.shortcut, self.bn_s = conv(w, f"conv2d_{k + 2}", stride=2), BN(w, f"batch_normalization_{3 * k}")
        assert same_pads(size, 1, 2) == (0, 0)                  # the 1x1/2 shortcut needs no padding
        t, b = same_pads(size, 3, 2)
        self.pool_pad = (t, b, t, b)                            # F.pad order: left, right, top, bottom

    def forward(self, x):
        residual = self.bn_s(self.shortcut(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = F.max_pool2d(F.pad(y, self.pool_pad, value=float("-inf")), 3, 2)
        return y + residual


class MiniXception(nn.Module):
    """(N, 1, 64, 64) grey in -1..1 -> logits (N, 7) in fer's label order."""

    def __init__(self, path: str):
        super().__init__()
        w = load_file(path)
        self.conv1, self.bn1 = conv(w, "conv2d_1"), BN(w, "batch_normalization_1")
        self.conv2, self.bn2 = conv(w, "conv2d_2"), BN(w, "batch_normalization_2")
        sizes = [60, 30, 15, 8]                                 # 64 - 2 - 2, then ceil(/2) per module
        self.modules_ = nn.ModuleList(Module(w, k, sizes[k - 1]) for k in range(1, 5))
        self.classifier = conv(w, "conv2d_7", padding=1)
        self.eval()

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for m in self.modules_:
            x = m(x)
        return self.classifier(x).mean(dim=(2, 3))
