"""Deterministic weights and inputs that fervid's Swift tests recompute bit for bit.

Golden vectors need weights both sides can produce without shipping a checkpoint. Each value is
an integer hash of (tensor name, element index) turned into a float32 in [-1, 1), then scaled by
a rule that depends only on the tensor's name and shape. Swift's twin lives in
Tests/ModelsTests/DeterministicWeights.swift; keep them identical (docs/dbanet.md).

  seed(name)   = FNV-1a 32-bit of the UTF-8 name
  h(i)         = fmix32(seed XOR (i * 0x9E3779B9 mod 2^32))      (MurmurHash3's finaliser)
  u(i)         = float32((h(i) >> 8) * 2^-24) * 2 - 1             exact in float32
  value(name, shape, i), by rule:
    ...running_var                 1 + 0.5 u       (positive, in [0.5, 1.5))
    ...running_mean                0.1 u
    1-D ...weight (BN gamma)       1 + 0.25 u, or 0.2 + 0.05 u for ResNet's bn3 (the residual
                                   branch's last BN; keeps 33 stacked blocks from growing)
    1-D ...bias                    0.1 u
    N-D weight (conv, linear)      u * float32(gain * sqrt(3 / fan_in)), fan_in = prod(shape[1:])
                                   gain = 1 for 1x1 DBA convs (w11x) and the final classifiers,
                                   sqrt(2) otherwise (He: keeps ReLU activations O(1))
  input x (N, 3, H, W) = u over the name "input" (flat NCHW index)
All arithmetic after u is one float32 multiply (and one add), so both sides round identically.
"""

from __future__ import annotations

import math

import numpy as np

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
GOLDEN = 0x9E3779B9
M32 = 0xFFFFFFFF


def seed(name: str) -> int:
    h = FNV_OFFSET
    for b in name.encode("utf-8"):
        h = ((h ^ b) * FNV_PRIME) & M32
    return h


def uniform(name: str, count: int) -> np.ndarray:
    """u(0..count-1) as float32 in [-1, 1)."""
    i = np.arange(count, dtype=np.uint64)
    x = (np.uint64(seed(name)) ^ ((i * np.uint64(GOLDEN)) & np.uint64(M32))) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    u = (x >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
    return u * np.float32(2.0) - np.float32(1.0)


def is_unit_gain(name: str) -> bool:
    last = name.rsplit(".", 1)[0]
    return (last in ("w111", "w112", "w113", "classifier", "backbone.fc", "backbone.classifier",
                     "backbone.classifier.6"))


def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape)) if shape else 1
    u = uniform(name, count)
    if name.endswith("running_var"):
        v = np.float32(1.0) + np.float32(0.5) * u
    elif name.endswith("running_mean"):
        v = np.float32(0.1) * u
    elif len(shape) == 1 and name.endswith("bn3.weight"):
        v = np.float32(0.2) + np.float32(0.05) * u
    elif len(shape) == 1 and name.endswith("weight"):
        v = np.float32(1.0) + np.float32(0.25) * u
    elif len(shape) == 1 and name.endswith("bias"):
        v = np.float32(0.1) * u
    else:
        fan_in = int(np.prod(shape[1:]))
        gain = 1.0 if is_unit_gain(name) else math.sqrt(2.0)
        v = u * np.float32(gain * math.sqrt(3.0 / fan_in))
    return v.astype(np.float32).reshape(shape)


def input_tensor(shape: tuple[int, ...]) -> np.ndarray:
    return uniform("input", int(np.prod(shape))).reshape(shape)


def fill(model) -> None:
    """Overwrite every parameter and buffer of a torch module with the formula."""
    import torch

    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            t.copy_(torch.from_numpy(tensor(name, tuple(t.shape))))
