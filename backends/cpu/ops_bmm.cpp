// ops_bmm.cpp — batched matmul: oneDNN sgemm for f32/f16/bf16, packed loops for f64 and integers.
#include <dnnl.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "cpu_loops.hpp"

namespace prism::cpu {
namespace {

// Note [bmm on the CPU]
// ---------------------
// f32 calls dnnl_sgemm once per batch directly on the caller's memory: a
// row-major operand whose last stride is 1 is passed as 'N' with its row
// stride as the leading dimension, one whose second-last stride is 1 as 'T'
// with its column stride; only other layouts (negative or doubly strided) are
// copied to a dense temporary. A batch stride of 0 just reuses the pointer.
// Many small matrices are spread over threads by batch (oneDNN then runs each
// GEMM on its calling thread); large ones let oneDNN thread each GEMM.
// f16/bf16 are widened to f32, multiplied by sgemm (f32 accumulation) and
// rounded once. f64 and integers use a packed i-k-j loop accumulating in
// f64 / i64 (integers wrap).

struct MatView {
  const char* data;
  int64_t rows, cols;              // logical shape
  int64_t row_stride, col_stride;  // elements
};

// How to hand a (rows, cols) f32 view to sgemm without copying: 'N' or 'T'
// and the leading dimension; 0 when it needs a copy.
char gemm_layout(const MatView& v, int64_t& ld) {
  const int64_t r = v.rows, c = v.cols;
  if ((v.col_stride == 1 || c == 1) && (r == 1 || v.row_stride >= std::max<int64_t>(c, 1))) {
    ld = r == 1 ? std::max<int64_t>(c, 1) : v.row_stride;
    return 'N';
  }
  if ((v.row_stride == 1 || r == 1) && (c == 1 || v.col_stride >= std::max<int64_t>(r, 1))) {
    ld = c == 1 ? std::max<int64_t>(r, 1) : v.col_stride;
    return 'T';
  }
  return 0;
}

template <class Src, class Dst>
void pack(const MatView& v, Dst* dst) {  // dst: dense (rows, cols)
  for (int64_t i = 0; i < v.rows; ++i) {
    const char* row = v.data + i * v.row_stride * static_cast<int64_t>(sizeof(Src));
    for (int64_t j = 0; j < v.cols; ++j) {
      // NOLINTNEXTLINE(bugprone-signed-char-misuse): int8 values widen with their sign
      dst[i * v.cols + j] = static_cast<Dst>(Num<Src>::load(
          *reinterpret_cast<const Src*>(row + j * v.col_stride * static_cast<int64_t>(sizeof(Src)))));
    }
  }
}

template <class Dst, class Src>
void unpack(const Src* src, int64_t rows, int64_t cols, char* out, int64_t rs, int64_t cs) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      *reinterpret_cast<Dst*>(out + (i * rs + j * cs) * static_cast<int64_t>(sizeof(Dst))) =
          Num<Dst>::store(static_cast<Compute<Dst>>(src[i * cols + j]));
    }
  }
}

struct BmmShape {
  int64_t B, M, N, K;
  const char *a, *b;
  char* out;
  int64_t a_s[3], b_s[3], o_s[3];  // elements
};

MatView a_view(const BmmShape& s, int64_t i, int64_t es) {
  return {s.a + i * s.a_s[0] * es, s.M, s.K, s.a_s[1], s.a_s[2]};
}
MatView b_view(const BmmShape& s, int64_t i, int64_t es) {
  return {s.b + i * s.b_s[0] * es, s.K, s.N, s.b_s[1], s.b_s[2]};
}

// One f32 GEMM: out(M, N) = a(M, K) b(K, N), any strides. Scratch vectors are
// the caller's (one set per thread).
bool sgemm_one(const MatView& a, const MatView& b, float* out, int64_t o_rs, int64_t o_cs,
               std::vector<float>& ta, std::vector<float>& tb, std::vector<float>& tc) {
  const int64_t M = a.rows, K = a.cols, N = b.cols;
  int64_t lda = 0, ldb = 0;
  char transa = gemm_layout(a, lda);
  char transb = gemm_layout(b, ldb);
  const float* pa = reinterpret_cast<const float*>(a.data);
  const float* pb = reinterpret_cast<const float*>(b.data);
  if (transa == 0) {
    ta.resize(static_cast<size_t>(M * K));
    pack<float, float>(a, ta.data());
    pa = ta.data();
    transa = 'N';
    lda = std::max<int64_t>(K, 1);
  }
  if (transb == 0) {
    tb.resize(static_cast<size_t>(K * N));
    pack<float, float>(b, tb.data());
    pb = tb.data();
    transb = 'N';
    ldb = std::max<int64_t>(N, 1);
  }
  const bool direct_out = (o_cs == 1 || N == 1) && (M == 1 || o_rs >= N);
  float* pc = out;
  int64_t ldc = M == 1 ? std::max<int64_t>(N, 1) : o_rs;
  if (!direct_out) {
    tc.resize(static_cast<size_t>(M * N));
    pc = tc.data();
    ldc = std::max<int64_t>(N, 1);
  }
  if (dnnl_sgemm(transa, transb, M, N, K, 1.0f, pa, lda, pb, ldb, 0.0f, pc, ldc) != dnnl_success) {
    return false;
  }
  if (!direct_out) unpack<float, float>(pc, M, N, reinterpret_cast<char*>(out), o_rs, o_cs);
  return true;
}

prism_plugin_error* bmm_f32(const prism_kernel_call* c, const BmmShape& s) {
  const int nt = max_threads();
  const double flops = static_cast<double>(s.M) * s.N * s.K;
  std::atomic<bool> ok{true}, oom{false};
  auto batch_range = [&](int64_t b0, int64_t b1) {
    try {
      std::vector<float> ta, tb, tc;
      for (int64_t i = b0; i < b1; ++i) {
        float* o = reinterpret_cast<float*>(s.out) + i * s.o_s[0];
        if (!sgemm_one(a_view(s, i, 4), b_view(s, i, 4), o, s.o_s[1], s.o_s[2], ta, tb, tc)) ok = false;
      }
    } catch (const std::bad_alloc&) {
      oom = true;
    }
  };
  if (s.B >= 2 * nt && flops < 128.0 * 128.0 * 128.0 && nt > 1) {
    parallel_range(s.B, 2, batch_range);
  } else {
    batch_range(0, s.B);
  }
  if (oom) return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory for packed operands", c->op);
  if (!ok) return PRISM_CPU_ERROR(PRISM_ERROR_INTERNAL, "%s: dnnl_sgemm failed", c->op);
  return nullptr;
}

// f16 / bf16: widen to f32, sgemm, round once.
template <class T>
prism_plugin_error* bmm_half(const prism_kernel_call* c, const BmmShape& s) {
  std::vector<float> a, b, o;
  try {
    a.resize(static_cast<size_t>(s.M * s.K));
    b.resize(static_cast<size_t>(s.K * s.N));
    o.resize(static_cast<size_t>(s.M * s.N));
  } catch (const std::bad_alloc&) {
    return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory for f32 staging", c->op);
  }
  for (int64_t i = 0; i < s.B; ++i) {
    pack<T, float>(a_view(s, i, 2), a.data());
    pack<T, float>(b_view(s, i, 2), b.data());
    if (dnnl_sgemm('N', 'N', s.M, s.N, s.K, 1.0f, a.data(), std::max<int64_t>(s.K, 1), b.data(),
                   std::max<int64_t>(s.N, 1), 0.0f, o.data(), std::max<int64_t>(s.N, 1)) != dnnl_success) {
      return PRISM_CPU_ERROR(PRISM_ERROR_INTERNAL, "%s: dnnl_sgemm failed", c->op);
    }
    unpack<T, float>(o.data(), s.M, s.N, s.out + i * s.o_s[0] * 2, s.o_s[1], s.o_s[2]);
  }
  return nullptr;
}

// f64 and integers: packed loop with A = f64 or i64 accumulation.
template <class T>
prism_plugin_error* bmm_loop(const prism_kernel_call* c, const BmmShape& s) {
  using A = std::conditional_t<kIsFloat<T>, double, int64_t>;
  constexpr int64_t es = sizeof(T);
  const double flops = static_cast<double>(s.B) * s.M * s.N * s.K;
  std::atomic<bool> oom{false};
  auto batch_range = [&](int64_t b0, int64_t b1) {
    try {
      std::vector<A> a(static_cast<size_t>(s.M * s.K)), b(static_cast<size_t>(s.K * s.N)),
          o(static_cast<size_t>(s.M * s.N));
      for (int64_t i = b0; i < b1; ++i) {
        pack<T, A>(a_view(s, i, es), a.data());
        pack<T, A>(b_view(s, i, es), b.data());
        std::fill(o.begin(), o.end(), A(0));
        for (int64_t m = 0; m < s.M; ++m) {
          A* orow = o.data() + m * s.N;
          for (int64_t k = 0; k < s.K; ++k) {
            const A av = a[static_cast<size_t>(m * s.K + k)];
            const A* brow = b.data() + k * s.N;
            for (int64_t n = 0; n < s.N; ++n) orow[n] = wrap_add(orow[n], wrap_mul(av, brow[n]));
          }
        }
        for (int64_t m = 0; m < s.M; ++m) {
          for (int64_t n = 0; n < s.N; ++n) {
            *reinterpret_cast<T*>(s.out + (i * s.o_s[0] + m * s.o_s[1] + n * s.o_s[2]) * es) =
                cast<T>(o[static_cast<size_t>(m * s.N + n)]);
          }
        }
      }
    } catch (const std::bad_alloc&) {
      oom = true;
    }
  };
  if (flops >= 1e6 && s.B > 1) {
    parallel_range(s.B, 2, batch_range);
  } else {
    batch_range(0, s.B);
  }
  if (oom) {
    return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "%s: out of memory for packed operands", c->op);
  }
  return nullptr;
}

prism_plugin_error* run_bmm(void*, const prism_kernel_call* c) {
  OmpThreadsScope threads(max_threads());  // dnnl_sgemm's team (Note [Threads under load])
  PRISM_CPU_RETURN_IF_ERROR(check_arity(c, 2, 2, 1));
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  const prism_tensor_desc& out = c->outputs[0];
  const int32_t dt = out.dtype;
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, a, dt, "input a"));
  PRISM_CPU_RETURN_IF_ERROR(check_dtype(c, b, dt, "input b"));
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3 || a.sizes[0] != out.sizes[0] ||
      b.sizes[0] != out.sizes[0] || a.sizes[2] != b.sizes[1] || a.sizes[1] != out.sizes[1] ||
      b.sizes[2] != out.sizes[2]) {
    return PRISM_CPU_INVALID("%s: expected a (B, M, K), b (B, K, N) and out (B, M, N)", c->op);
  }
  BmmShape s;
  s.B = out.sizes[0];
  s.M = out.sizes[1];
  s.N = out.sizes[2];
  s.K = a.sizes[2];
  s.a = static_cast<const char*>(desc_data(a));
  s.b = static_cast<const char*>(desc_data(b));
  s.out = desc_data(out);
  for (int d = 0; d < 3; ++d) {
    s.a_s[d] = a.strides[d];
    s.b_s[d] = b.strides[d];
    s.o_s[d] = out.strides[d];
  }
  if (s.B == 0 || s.M == 0 || s.N == 0) return nullptr;
  if (s.K == 0) {  // empty sum: zeros
    const prism_tensor_desc* ops[1] = {&out};
    StridedPlan plan;
    build_plan(plan, ops, 1);
    const size_t es = prism_sdk_dtype_size(dt);
    run_plan(plan, [es](char** p, const int64_t* st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) std::memset(p[0] + i * st[0], 0, es);
    });
    return nullptr;
  }
  switch (dt) {
    case PRISM_DTYPE_F32:
      return bmm_f32(c, s);
    case PRISM_DTYPE_F16:
      return bmm_half<Half>(c, s);
    case PRISM_DTYPE_BF16:
      return bmm_half<BFloat16>(c, s);
    case PRISM_DTYPE_F64:
      return bmm_loop<double>(c, s);
    case PRISM_DTYPE_U8:
      return bmm_loop<uint8_t>(c, s);
    case PRISM_DTYPE_I8:
      return bmm_loop<int8_t>(c, s);
    case PRISM_DTYPE_I16:
      return bmm_loop<int16_t>(c, s);
    case PRISM_DTYPE_I32:
      return bmm_loop<int32_t>(c, s);
    case PRISM_DTYPE_I64:
      return bmm_loop<int64_t>(c, s);
    default:
      return unsupported_dtype(c, dt);
  }
}

const prism_kernel_def kKernels[] = {
    {sizeof(prism_kernel_def), "bmm", kMaskNumeric, nullptr, run_bmm},
};

}  // namespace

KernelList bmm_kernels() {
  return {kKernels, 1};
}

}  // namespace prism::cpu
