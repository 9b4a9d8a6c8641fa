// idx.hpp — the IDX reader (MNIST / Fashion-MNIST files, plain or gzip-compressed) (internal).
#pragma once

#include <cstddef>
#include <string>

#include "core/tensor/tensor.hpp"

namespace prism::io {

// Note [IDX format]
// -----------------
// An IDX file is: two zero bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16,
// 0x0C i32, 0x0D f32, 0x0E f64), a dim count (1 .. PRISM_MAX_DIMS), that
// many big-endian uint32 sizes, then the big-endian row-major data. The
// reader accepts the file gzip-compressed or not (zlib reads both), checks
// every field, and requires the data to be exactly numel * element size
// bytes: a truncated or padded file is an error naming it.

// Reads `path` into a new tensor on `device` (u8 images keep dtype uint8).
Tensor load_idx(const std::string& path, Device* device);
// Parses IDX bytes (already decompressed); `source` names them in errors.
Tensor parse_idx(const unsigned char* data, size_t n, const std::string& source, Device* device);

}  // namespace prism::io
