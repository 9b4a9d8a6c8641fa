#!/usr/bin/env python3
"""make_fixture.py — writes and checks safetensors files with PyTorch, for Prism's interop tests.

The safetensors format (https://github.com/huggingface/safetensors, "Format"):
8 bytes little-endian header length N, N bytes of JSON mapping each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
"__metadata__" string map, then the raw little-endian row-major data. This
script follows the reference writer: tensors sorted by element size (largest
first) then name, compact JSON, header padded with spaces to 8 bytes.

Usage: make_fixture.py write OUT              writes the reference tensors (Note [Interop content])
       make_fixture.py write-safetensors OUT  the same through the `safetensors` package (when installed)
       make_fixture.py check IN               reads IN and compares it with the reference tensors (also
                                              with safetensors.torch.load_file when that is installed)
Exits 0 on success, 1 on a mismatch, 77 when torch (or, for write-safetensors,
the safetensors package) cannot be imported.

tests/data/safetensors/torch_written.safetensors was written by `write` and
reference_written.safetensors by `write-safetensors` (safetensors 0.8.0,
torch 1.13).
"""
import json
import struct
import sys

try:
    import torch
except ImportError as e:  # the ctest reports this as skipped
    print(f"skipped: torch is not importable ({e})")
    sys.exit(77)

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}

# (name, dtype, shape, scale, shift): element i = scale * i + shift (bool: i even).
# Must match tests/unit/safetensors_content.hpp.
CONTENT = [
    ("f32", torch.float32, [2, 3], 0.5, -1),
    ("f64", torch.float64, [], 0, 3.141592653589793),
    ("f16", torch.float16, [4], 0.25, -0.5),
    ("bf16", torch.bfloat16, [2, 2], 2, -3),
    ("i64", torch.int64, [3], 1e12, -7),
    ("i32", torch.int32, [2, 2], -100000, 0),
    ("i16", torch.int16, [3], 1000, -2000),
    ("i8", torch.int8, [4], 50, -100),
    ("u8", torch.uint8, [2, 3], 40, 0),
    ("bool", torch.bool, [3], 0, 0),
    ("nested.layer.weight", torch.float32, [3, 1, 2], -0.125, 8),
    ("empty", torch.float32, [0, 3], 1, 0),
]
METADATA = {"format": "pt", "note": "interop fixture"}


def reference():
    out = {}
    for name, dtype, shape, scale, shift in CONTENT:
        n = 1
        for s in shape:
            n *= s
        i = torch.arange(n, dtype=torch.float64)
        v = (i.remainder(2) == 0) if dtype == torch.bool else i * scale + shift
        out[name] = v.to(dtype).reshape(shape)
    return out


def tensor_bytes(t):
    t = t.contiguous()
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write(path, tensors, metadata):
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header, blobs, offset = {}, [], 0
    for k in order:
        b = tensor_bytes(tensors[k])
        header[k] = {"dtype": NAMES[tensors[k].dtype], "shape": list(tensors[k].shape),
                     "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    end = 0
    for name, info in header.items():
        b, e = info["data_offsets"]
        end = max(end, e)
        dtype = DTYPES[info["dtype"]]
        if b == e:
            tensors[name] = torch.empty(info["shape"], dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(data[b:e]), dtype=dtype).reshape(info["shape"])
    if end != len(data):
        raise ValueError(f"{path}: data region has {len(data)} bytes, tensors cover {end}")
    return tensors, metadata


def check(path):
    got, metadata = read(path)
    want = reference()
    errors = []
    if set(got) != set(want):
        errors.append(f"names {sorted(got)} != {sorted(want)}")
    for k in want:
        if k not in got:
            continue
        g, w = got[k], want[k]
        if g.dtype != w.dtype or list(g.shape) != list(w.shape) or not torch.equal(g, w):
            errors.append(f"{k}: got {g.dtype} {list(g.shape)} {g.flatten().tolist()}, "
                          f"want {w.dtype} {list(w.shape)} {w.flatten().tolist()}")
    if metadata != METADATA:
        errors.append(f"metadata {metadata} != {METADATA}")
    try:  # the reference implementation too, where it is installed
        from safetensors.torch import load_file
    except ImportError:
        print(f"{path}: the safetensors package is not installed; checked with this script's reader only")
    else:
        ref = load_file(path)
        for k in want:
            if k not in ref or ref[k].dtype != want[k].dtype or not torch.equal(ref[k], want[k]):
                errors.append(f"{k}: safetensors.torch.load_file disagrees")
    for e in errors:
        print(f"{path}: {e}")
    if not errors:
        print(f"{path}: {len(got)} tensors and metadata match PyTorch's reference")
    return 1 if errors else 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "write-safetensors", "check"):
        print(__doc__)
        return 2
    if argv[1] == "write":
        write(argv[2], reference(), METADATA)
        return 0
    if argv[1] == "write-safetensors":
        try:
            from safetensors.torch import save_file
        except ImportError as e:
            print(f"skipped: the safetensors package is not importable ({e})")
            return 77
        save_file(reference(), argv[2], metadata=METADATA)
        return 0
    return check(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
