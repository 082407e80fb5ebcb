"""A minimal safetensors writer and reader (F32 only), so the converters need no torch/safetensors.

Format: u64 little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the data block; offsets are relative to the data block.
"""
import json
import struct

import numpy as np


def write(path, tensors, metadata):
    """tensors: {name: array} (converted to little-endian float32, C order); metadata: {str: str}."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("safetensors metadata must be str -> str")
    header["__metadata__"] = dict(sorted(metadata.items()))
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data block starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read(path):
    """Returns ({name: np.ndarray float32}, metadata). Validates every offset."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds file size")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out, covered = {}, 0
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: {name}: dtype {e['dtype']} unsupported")
        b, end = e["data_offsets"]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if not (0 <= b <= end <= len(data)) or end - b != 4 * count:
            raise ValueError(f"{path}: {name}: bad data offsets {b}..{end}")
        out[name] = np.frombuffer(data, dtype="<f4", count=count, offset=b).reshape(e["shape"])
        covered += end - b
    if covered != len(data):
        raise ValueError(f"{path}: data block has {len(data) - covered} unreferenced bytes")
    return out, meta
