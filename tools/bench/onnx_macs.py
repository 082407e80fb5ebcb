"""Multiply-accumulates per image of an ONNX graph, from its layer shapes.

Counts what a CNN's FLOPs are made of: Conv (out_channels * OH * OW * in_channels/groups * kh * kw)
and Gemm / MatMul (rows * K * N per image); element-wise operations, pooling and BN are left out
(they are memory-bound and a small fraction). FLOPs = 2 * MACs. Shapes come from ONNX shape
inference with the batch dimension symbolic; the count is for one image.
"""

from __future__ import annotations

import math

import onnx
from onnx import numpy_helper, shape_inference


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def macs_per_image(path: str) -> dict[str, int]:
    """{'conv': ..., 'gemm': ..., 'total': ...} MACs for one image."""
    model = shape_inference.infer_shapes(onnx.load(path))
    g = model.graph
    shapes = {vi.name: _dims(vi) for vi in list(g.value_info) + list(g.input) + list(g.output)}
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    conv = gemm = 0
    for node in g.node:
        if node.op_type == "Conv":
            w = shapes[node.input[1]]                      # (out, in/groups, kh, kw)
            y = shapes[node.output[0]]                     # (N, out, OH, OW)
            conv += w[0] * y[2] * y[3] * math.prod(w[1:])
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            w = shapes[node.input[1]]
            k, n = (w[1], w[0]) if trans_b else (w[0], w[1])
            gemm += k * n                                  # one row per image
        elif node.op_type == "MatMul":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            rows = math.prod(d for d in a[1:-1]) if len(a) > 2 else 1
            gemm += rows * a[-1] * b[-1]
    return {"conv": conv, "gemm": gemm, "total": conv + gemm}
