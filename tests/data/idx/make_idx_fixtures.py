#!/usr/bin/env python3
"""make_idx_fixtures.py — writes the small IDX files the data tests read (plain and gzip-compressed).

IDX: two zero bytes, a type byte (0x08 u8 ... 0x0E f64), the dim count, the
big-endian uint32 sizes, then big-endian row-major data.
"""
import gzip
import struct


def idx(type_code, fmt, sizes, values):
    head = bytes([0, 0, type_code, len(sizes)]) + b"".join(struct.pack(">I", s) for s in sizes)
    return head + b"".join(struct.pack(">" + fmt, v) for v in values)


def main():
    # 3 images of 2 x 2 u8 pixels: value = 10 * image + pixel.
    images = idx(0x08, "B", [3, 2, 2], [10 * i + p for i in range(3) for p in range(4)])
    labels = idx(0x08, "B", [3], [7, 0, 9])
    floats = idx(0x0D, "f", [2, 3], [0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0])
    with open("tiny-images-idx3-ubyte", "wb") as f:
        f.write(images)
    with gzip.GzipFile("tiny-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
        f.write(labels)
    with gzip.GzipFile("tiny-floats-idx2-float.gz", "wb", mtime=0) as f:
        f.write(floats)


if __name__ == "__main__":
    main()
