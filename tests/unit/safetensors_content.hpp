// safetensors_content.hpp — the reference tensors that the PyTorch interop files hold (shared by tests and
// tools).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "core/tensor/tensor.hpp"

namespace prism::test {

// Note [Interop content]
// tests/data/safetensors/make_fixture.py (PyTorch) and the Prism tests build
// the same tensors from these formulas: element i (row-major) of tensor
// `name` is scale * i + shift, cast to the dtype (bool: i is even). Every
// value is exact in its dtype, so both sides compare bit for bit.
struct InteropTensor {
  const char* name;
  prism_dtype dtype;
  std::vector<int64_t> shape;
  double scale, shift;
};

inline const std::vector<InteropTensor>& interop_tensors() {
  static const std::vector<InteropTensor> v = {
      {"f32", PRISM_DTYPE_F32, {2, 3}, 0.5, -1},
      {"f64", PRISM_DTYPE_F64, {}, 0, 3.141592653589793},
      {"f16", PRISM_DTYPE_F16, {4}, 0.25, -0.5},
      {"bf16", PRISM_DTYPE_BF16, {2, 2}, 2, -3},
      {"i64", PRISM_DTYPE_I64, {3}, 1e12, -7},
      {"i32", PRISM_DTYPE_I32, {2, 2}, -100000, 0},
      {"i16", PRISM_DTYPE_I16, {3}, 1000, -2000},
      {"i8", PRISM_DTYPE_I8, {4}, 50, -100},
      {"u8", PRISM_DTYPE_U8, {2, 3}, 40, 0},
      {"bool", PRISM_DTYPE_BOOL, {3}, 0, 0},
      {"nested.layer.weight", PRISM_DTYPE_F32, {3, 1, 2}, -0.125, 8},
      {"empty", PRISM_DTYPE_F32, {0, 3}, 1, 0},
  };
  return v;
}

inline std::vector<double> interop_values(const InteropTensor& t) {
  int64_t n = 1;
  for (int64_t s : t.shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] =
        t.dtype == PRISM_DTYPE_BOOL ? (i % 2 == 0 ? 1.0 : 0.0) : t.scale * static_cast<double>(i) + t.shift;
  return v;
}

// Metadata both sides write.
inline std::vector<std::pair<std::string, std::string>> interop_metadata() {
  return {{"format", "pt"}, {"note", "interop fixture"}};
}

}  // namespace prism::test
