"""Read PyTorch's legacy (pre-zip) serialization without PyTorch and without trusting the file.

Layout of such a file (torch.save with _use_new_zipfile_serialization=False):
  pickle 1: magic number 0x1950a86a20f9469cfc6c
  pickle 2: protocol version (1001)
  pickle 3: system info dict (endianness, type sizes)
  pickle 4: the object (here a state dict); tensors are `_rebuild_tensor_v2(storage, offset,
            size, stride, requires_grad, hooks)` where `storage` is a persistent id
            ('storage', <StorageType>, key, location, numel, view_metadata)
  pickle 5: list of storage keys, in the order their data follows
  then, per key: int64 element count, then count * itemsize little-endian bytes.

Only the globals such a state dict needs are resolved, to local stand-ins; anything else
(os.system, builtins.eval, ...) raises `UnsafePickleError`. Every length and offset is checked
against the file size.
"""
import io
import pickle
import struct

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001

# Storage types a legacy file may name, and their element types.
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file names a global outside the allow-list."""


class LegacyFormatError(ValueError):
    """The file is not a well-formed legacy PyTorch file."""


class _StorageRef:
    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _TensorRef:
    """What `_rebuild_tensor_v2` returns here: a view description resolved after the data is read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    if not isinstance(storage, _StorageRef):
        raise LegacyFormatError("_rebuild_tensor_v2: first argument is not a storage")
    for v in (storage_offset, *size, *stride):
        if not isinstance(v, int) or v < 0:
            raise LegacyFormatError("_rebuild_tensor_v2: bad offset/size/stride")
    return _TensorRef(storage, storage_offset, size, stride)


class _StorageType:
    def __init__(self, name):
        self.name = name


class _OrderedDict(dict):
    """Stand-in for collections.OrderedDict (dicts keep insertion order)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage."""

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return _OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', StorageType, key, location, numel, view_metadata); view_metadata must be None.
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise LegacyFormatError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel, view = pid
        if (not isinstance(stype, _StorageType) or not isinstance(key, str) or not isinstance(numel, int)
                or numel < 0 or view is not None):
            raise LegacyFormatError(f"malformed storage reference {pid!r}")
        return _StorageRef(key, STORAGE_DTYPES[stype.name], numel)


def restricted_loads(data: bytes):
    """Unpickle one object from `data` with the allow-list above (for tests and callers)."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def load_state_dict(path):
    """Returns {name: np.ndarray} in file order. Raises on anything unexpected."""
    with open(path, "rb") as f:
        raw = f.read()
    buf = io.BytesIO(raw)

    def next_pickle():
        try:
            return RestrictedUnpickler(buf).load()
        except (EOFError, pickle.UnpicklingError) as e:
            if isinstance(e, UnsafePickleError):
                raise
            raise LegacyFormatError(f"{path}: truncated or malformed pickle at byte {buf.tell()}: {e}") from e

    if next_pickle() != MAGIC:
        raise LegacyFormatError(f"{path}: not a legacy PyTorch file (bad magic number)")
    if next_pickle() != PROTOCOL:
        raise LegacyFormatError(f"{path}: unsupported protocol version")
    info = next_pickle()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise LegacyFormatError(f"{path}: only little-endian files are supported")
    state = next_pickle()
    if not isinstance(state, dict):
        raise LegacyFormatError(f"{path}: top-level object is not a state dict")
    keys = next_pickle()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        raise LegacyFormatError(f"{path}: malformed storage key list")

    refs = {}
    for name, t in state.items():
        if not isinstance(name, str) or not isinstance(t, _TensorRef):
            raise LegacyFormatError(f"{path}: entry {name!r} is not a tensor")
        refs.setdefault(t.storage.key, t.storage)
    if set(refs) != set(keys):
        raise LegacyFormatError(f"{path}: storage keys do not match the tensors")

    storages = {}
    pos = buf.tell()
    for key in keys:
        if pos + 8 > len(raw):
            raise LegacyFormatError(f"{path}: truncated before storage {key}")
        (numel,) = struct.unpack_from("<q", raw, pos)
        pos += 8
        ref = refs[key]
        if numel != ref.numel:
            raise LegacyFormatError(f"{path}: storage {key} has {numel} elements, expected {ref.numel}")
        nbytes = numel * np.dtype(ref.dtype).itemsize
        if pos + nbytes > len(raw):
            raise LegacyFormatError(f"{path}: storage {key} runs past the end of the file")
        storages[key] = np.frombuffer(raw, dtype=np.dtype(ref.dtype).newbyteorder("<"), count=numel, offset=pos)
        pos += nbytes
    if pos != len(raw):
        raise LegacyFormatError(f"{path}: {len(raw) - pos} trailing bytes")

    out = {}
    for name, t in state.items():
        s = storages[t.storage.key]
        itemsize = s.itemsize
        last = t.offset + sum((n - 1) * st for n, st in zip(t.size, t.stride)) if all(t.size) else t.offset - 1
        if last >= len(s):
            raise LegacyFormatError(f"{path}: tensor {name} reaches past its storage")
        view = np.lib.stride_tricks.as_strided(
            s[t.offset:], shape=t.size, strides=tuple(st * itemsize for st in t.stride), writeable=False)
        out[name] = np.ascontiguousarray(view)
    return out
