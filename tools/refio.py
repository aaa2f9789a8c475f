"""Reference-file writer shared by tools/torch_reference.py and its case modules.

Format (little-endian), read by tests/ref_file.c:
  magic b"HWREF001", u32 count, then per tensor:
  u32 name_len, name bytes (utf-8), u32 dtype (0 float32, 1 int32), u32 ndim,
  i64 dims[ndim], raw data.
"""
import struct

import numpy as np

MAGIC = b"HWREF001"


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<I", len(tensors)))
        for name, value in tensors.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype.kind == "f":
                arr, dtype = arr.astype("<f4"), 0
            elif arr.dtype.kind in "iub":
                arr, dtype = arr.astype("<i4"), 1
            else:
                raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)))
            f.write(raw)
            f.write(struct.pack("<II", dtype, arr.ndim))
            f.write(struct.pack(f"<{arr.ndim}q", *arr.shape))
            f.write(arr.tobytes())
