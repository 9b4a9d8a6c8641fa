// cpu_internal.hpp — CPU plugin internals (dtypes, loops, threading, errors); no compatibility promise.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "prism/plugin.h"
#include "prism_plugin_sdk.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace prism::cpu {

// ===========================================================================
// Host table and errors
// ===========================================================================

// The host table from prism_plugin_entry; lives until the plugin is unloaded.
extern const prism_host_table* g_host;

#define PRISM_CPU_ERROR(code, ...) prism_sdk_error(::prism::cpu::g_host, (code), __VA_ARGS__)
#define PRISM_CPU_INVALID(...) PRISM_CPU_ERROR(PRISM_ERROR_INVALID_ARGUMENT, __VA_ARGS__)
#define PRISM_CPU_RETURN_IF_ERROR(expr)                 \
  do {                                                  \
    if (prism_plugin_error* err_ = (expr)) return err_; \
  } while (0)

// ===========================================================================
// Element types
// ===========================================================================

struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// Num<T>: the type arithmetic on T is done in (f16/bf16 compute in f32).
template <class T>
struct Num {
  using C = T;
  static inline C load(T v) { return v; }
  static inline T store(C v) { return v; }
};
template <>
struct Num<Half> {
  using C = float;
  static inline float load(Half v) { return prism_sdk_f16_to_f32(v.bits); }
  static inline Half store(float v) { return Half{prism_sdk_f32_to_f16(v)}; }
};
template <>
struct Num<BFloat16> {
  using C = float;
  static inline float load(BFloat16 v) { return prism_sdk_bf16_to_f32(v.bits); }
  static inline BFloat16 store(float v) { return BFloat16{prism_sdk_f32_to_bf16(v)}; }
};

template <class T>
using Compute = typename Num<T>::C;

template <class T>
constexpr bool kIsFloat = std::is_floating_point_v<Compute<T>>;
template <class T>
constexpr bool kIsBool = std::is_same_v<T, bool>;
template <class T>
constexpr bool kIsInt = std::is_integral_v<T> && !kIsBool<T>;

// Note [Float to integer casts]
// -----------------------------
// C++ leaves an out-of-range float -> int conversion undefined, and devices
// disagree on it. Prism defines it: truncate toward zero, saturate to the i64
// range (NaN -> 0), then wrap modulo 2^bits into the target type. Values that
// fit the target are simply truncated, as PyTorch does; u8/i8/i16 wrap as
// PyTorch does on x86.
template <class To, class From>
inline To cast(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return cast<To>(Num<From>::load(v));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    if constexpr (kIsBool<From>) {
      return Num<To>::store(v ? 1.0f : 0.0f);
    } else {
      return Num<To>::store(static_cast<float>(v));
    }
  } else if constexpr (kIsBool<To>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    int64_t i;
    if (v >= From(-9223372036854775808.0) && v < From(9223372036854775808.0)) {
      i = static_cast<int64_t>(v);
    } else {
      i = (v != v)
              ? 0
              : (v < From(0) ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max());
    }
    if constexpr (std::is_same_v<To, int64_t>) {
      return i;
    } else {
      return static_cast<To>(static_cast<std::make_unsigned_t<To>>(static_cast<uint64_t>(i)));
    }
  } else if constexpr (std::is_integral_v<To> && std::is_integral_v<From>) {
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

// Wrapping integer arithmetic (signed overflow is defined as two's complement).
template <class T>
inline T wrap_add(T a, T b) {
  if constexpr (kIsInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <class T>
inline T wrap_sub(T a, T b) {
  if constexpr (kIsInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <class T>
inline T wrap_mul(T a, T b) {
  if constexpr (kIsInt<T>) {
    // unsigned short * unsigned short promotes to int and can overflow it
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}

// ===========================================================================
// Dtype dispatch
// ===========================================================================

// dispatch_dtype(call, dtype, fn): calls fn(TypeTag<T>{}) with T the C++
// element type of `dtype` and returns its result; unknown dtypes are an
// INVALID_ARGUMENT error. fn is a generic lambda, so `if constexpr` inside it
// discards the branches that do not apply to T.
template <class T>
struct TypeTag {
  using type = T;
};
#define PRISM_CPU_TYPE_OF(tag) typename decltype(tag)::type

inline prism_plugin_error* unsupported_dtype(const prism_kernel_call* c, int32_t dtype);

template <class Fn>
inline prism_plugin_error* dispatch_dtype(const prism_kernel_call* c, int32_t dtype, Fn&& fn) {
  switch (dtype) {
    case PRISM_DTYPE_BOOL:
      return fn(TypeTag<bool>{});
    case PRISM_DTYPE_U8:
      return fn(TypeTag<uint8_t>{});
    case PRISM_DTYPE_I8:
      return fn(TypeTag<int8_t>{});
    case PRISM_DTYPE_I16:
      return fn(TypeTag<int16_t>{});
    case PRISM_DTYPE_I32:
      return fn(TypeTag<int32_t>{});
    case PRISM_DTYPE_I64:
      return fn(TypeTag<int64_t>{});
    case PRISM_DTYPE_F16:
      return fn(TypeTag<Half>{});
    case PRISM_DTYPE_BF16:
      return fn(TypeTag<BFloat16>{});
    case PRISM_DTYPE_F32:
      return fn(TypeTag<float>{});
    case PRISM_DTYPE_F64:
      return fn(TypeTag<double>{});
    default:
      return unsupported_dtype(c, dtype);
  }
}

// ===========================================================================
// Threading (Note [CPU threading])
// ---------------------------------------------------------------------------
// One OpenMP runtime: the GNU libgomp that oneDNN is built against, so the
// plugin's loops and oneDNN's GEMMs share a single pool. Work below
// kParallelGrain elements runs on the calling thread and never enters an
// OpenMP region (a fork-join costs microseconds; a 4-element add costs
// nanoseconds). The team size of every region, the plugin's and oneDNN's,
// comes from max_threads() (Note [Threads under load], cpu_threads.cpp).
// ===========================================================================

constexpr int64_t kParallelGrain = 65536;

// Whether a descriptor's elements are row-major contiguous (strides in
// elements; size-1 dims may have any stride).
inline bool dense(const prism_tensor_desc& d) {
  int64_t expect = 1;
  for (int i = d.ndim - 1; i >= 0; --i) {
    if (d.sizes[i] != 1 && d.strides[i] != expect) return false;
    expect *= d.sizes[i];
  }
  return true;
}

// Threads the calling thread's next parallel region may use: the requested
// count (PRISM_NUM_THREADS, else the caller's omp_get_max_threads()) cut to
// the CPUs that other runnable work leaves free (Note [Threads under load]);
// 1 inside a parallel region. Defined in cpu_threads.cpp.
int max_threads();

// Sets the calling thread's OpenMP thread count (its own ICV, which oneDNN
// reads for its regions) to `n` for the scope and restores it after, so a
// oneDNN call uses the team max_threads() chose and the caller's setting is
// unchanged afterwards.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int n);
  ~OmpThreadsScope();
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int prev_ = 0;
};

// Runs fn(begin, end) over [0, n) split in contiguous chunks, in parallel
// only when n >= grain and more than one thread is available.
template <class Fn>
inline void parallel_range(int64_t n, int64_t grain, const Fn& fn) {
  if (n <= 0) return;
#ifdef _OPENMP
  int team = 1;
  if (n >= grain && (team = max_threads()) > 1) {
    if (static_cast<int64_t>(team) > n) team = static_cast<int>(n);
#pragma omp parallel num_threads(team)
    {
      const int64_t nt = omp_get_num_threads();
      const int64_t t = omp_get_thread_num();
      int64_t chunk = (n + nt - 1) / nt;
      if (chunk >= 1024) chunk = (chunk + 15) / 16 * 16;  // chunk edges off shared cache lines
      const int64_t b = t * chunk;
      const int64_t e = b + chunk < n ? b + chunk : n;
      if (b < e) fn(b, e);
    }
    return;
  }
#else
  (void)grain;
#endif
  fn(int64_t{0}, n);
}

// ===========================================================================
// Strided iteration (Note [Strided loops])
// ---------------------------------------------------------------------------
// A StridedPlan holds up to kMaxOperands views of the same shape (operand 0
// is the output). Building it drops size-1 dims, orders dims by the output's
// stride magnitude (innermost first, ties broken by the inputs) and merges
// neighbours that are contiguous for every operand, so a dense tensor of any
// rank becomes one long run. Strides are kept in bytes. for_each_run() hands
// an inner kernel (pointers, byte strides, count) runs of the innermost dim;
// the kernels have fast paths for dense and stride-0 inputs that the compiler
// vectorises.
// ===========================================================================

constexpr int kMaxOperands = 4;

struct StridedPlan {
  int ndim = 0;  // >= 1 after build (a 0-d view becomes one dim of size 1)
  int nops = 0;
  int64_t numel = 0;
  int64_t sizes[PRISM_MAX_DIMS];
  int64_t strides[kMaxOperands][PRISM_MAX_DIMS];  // bytes, dim 0 innermost
  char* data[kMaxOperands];
  int64_t esz[kMaxOperands];  // element size of each operand, bytes
};

inline char* desc_data(const prism_tensor_desc& d) {
  return static_cast<char*>(d.buffer) + d.byte_offset;
}

// Builds the plan for views that all have `shape` (the first operand's sizes).
// ops[i] supplies data and strides; elem_sizes[i] its element size.
inline void build_plan(StridedPlan& p, const prism_tensor_desc* const* ops, int nops, bool reorder = true) {
  const prism_tensor_desc& out = *ops[0];
  p.nops = nops;
  p.ndim = 0;
  p.numel = 1;
  int64_t* esz = p.esz;
  for (int k = 0; k < nops; ++k) {
    p.data[k] = desc_data(*ops[k]);
    esz[k] = static_cast<int64_t>(prism_sdk_dtype_size(ops[k]->dtype));
  }
  // innermost logical dim first
  for (int d = out.ndim - 1; d >= 0; --d) {
    const int64_t n = out.sizes[d];
    p.numel *= n;
    if (n == 1) continue;
    const int i = p.ndim++;
    p.sizes[i] = n;
    for (int k = 0; k < nops; ++k) p.strides[k][i] = ops[k]->strides[d] * esz[k];
  }
  if (p.numel == 0) {
    p.ndim = 0;
    return;
  }
  if (reorder && p.ndim > 1) {
    // insertion sort of dims by |stride| of operand 0, then the others
    auto less = [&](int a, int b) {
      for (int k = 0; k < nops; ++k) {
        const int64_t sa = p.strides[k][a] < 0 ? -p.strides[k][a] : p.strides[k][a];
        const int64_t sb = p.strides[k][b] < 0 ? -p.strides[k][b] : p.strides[k][b];
        if (sa != sb) return sa < sb;
      }
      return false;
    };
    for (int i = 1; i < p.ndim; ++i) {
      for (int j = i; j > 0 && less(j, j - 1); --j) {
        std::swap(p.sizes[j], p.sizes[j - 1]);
        for (int k = 0; k < nops; ++k) std::swap(p.strides[k][j], p.strides[k][j - 1]);
      }
    }
  }
  // merge dim i+1 into dim i when every operand steps through it contiguously
  int w = 0;
  for (int i = 1; i < p.ndim; ++i) {
    bool merge = true;
    for (int k = 0; k < nops && merge; ++k) {
      merge = p.strides[k][i] == p.strides[k][w] * p.sizes[w];
    }
    if (merge) {
      p.sizes[w] *= p.sizes[i];
    } else {
      ++w;
      p.sizes[w] = p.sizes[i];
      for (int k = 0; k < nops; ++k) p.strides[k][w] = p.strides[k][i];
    }
  }
  p.ndim = p.ndim == 0 ? 0 : w + 1;
  if (p.ndim == 0) {  // one element
    p.ndim = 1;
    p.sizes[0] = 1;
    for (int k = 0; k < nops; ++k) p.strides[k][0] = 0;
  }
}

// Calls run(ptrs, inner_strides, n) for the runs covering linear indices
// [begin, end) of the plan (dim 0 fastest).
template <class Run>
inline void for_each_run(const StridedPlan& p, int64_t begin, int64_t end, Run& run) {
  const int nd = p.ndim;
  const int nops = p.nops;
  int64_t idx[PRISM_MAX_DIMS];
  char* ptr[kMaxOperands];
  int64_t inner[kMaxOperands];
  for (int k = 0; k < nops; ++k) {
    ptr[k] = p.data[k];
    inner[k] = p.strides[k][0];
  }
  int64_t rem = begin;
  for (int d = 0; d < nd; ++d) {
    idx[d] = rem % p.sizes[d];
    rem /= p.sizes[d];
    for (int k = 0; k < nops; ++k) ptr[k] += idx[d] * p.strides[k][d];
  }
  int64_t left = end - begin;
  while (left > 0) {
    const int64_t avail = p.sizes[0] - idx[0];
    const int64_t n = avail < left ? avail : left;
    run(ptr, inner, n);
    left -= n;
    if (left == 0) break;
    // n == avail here: dim 0 wrapped
    for (int k = 0; k < nops; ++k) ptr[k] -= idx[0] * p.strides[k][0];
    idx[0] = 0;
    for (int d = 1; d < nd; ++d) {
      if (++idx[d] < p.sizes[d]) {
        for (int k = 0; k < nops; ++k) ptr[k] += p.strides[k][d];
        break;
      }
      for (int k = 0; k < nops; ++k) ptr[k] -= (p.sizes[d] - 1) * p.strides[k][d];
      idx[d] = 0;
    }
  }
}

// Note [Blocked transposes]
// -------------------------
// Dims are ordered by the output, so an input stored transposed walks its
// inner run with a large stride: every element is a new cache line and, for
// big matrices, a new page. When some input would rather have dim 1 innermost,
// the two inner dims are walked in kTileI x kTileJ tiles instead, and each tile
// of such an input is first copied (read along its own contiguous dim) into a
// small buffer laid out like the output. The run then sees unit strides for
// every operand and takes its vectorised path; the copy is the blocked
// transpose a hand-written loop would do.
// Tiles are kTileI elements along dim 0 (the output's contiguous dim) by
// kTileJ along dim 1 (the staged input's): wide along dim 1 so every input
// row read is 1 KiB of consecutive f32 (measured best of 64x64 .. 256x256).
// A streamed output (Note [Streamed tile output]) takes 64 x 64 tiles: with
// no read-for-ownership traffic the smaller tile's working set wins (4096^2
// a + b.t(): 1.3-1.4x the 64 x 256 tile's rate, measured stand-alone).
constexpr int64_t kTileI = 64, kTileJ = 256, kTileJStream = 64;

inline bool stages_tile(const StridedPlan& p, int k) {
  const int64_t a0 = p.strides[k][0] < 0 ? -p.strides[k][0] : p.strides[k][0];
  const int64_t a1 = p.strides[k][1] < 0 ? -p.strides[k][1] : p.strides[k][1];
  return a1 != 0 && a1 < a0;
}

inline bool prefers_tiling(const StridedPlan& p) {
  if (p.ndim < 2 || p.sizes[0] < 16 || p.sizes[1] < 16) return false;
  for (int k = 1; k < p.nops; ++k)
    if (stages_tile(p, k)) return true;
  return false;
}

// Copies the n x m tile at `src` (dim 0 stride s0, dim 1 stride s1, bytes)
// into dst[j * kTileI + i], reading along dim 1 (the source's short stride).
template <class E>
inline void stage_tile(char* dst, const char* src, int64_t s0, int64_t s1, int64_t n, int64_t m) {
  E* d = reinterpret_cast<E*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const char* row = src + i * s0;
    for (int64_t j = 0; j < m; ++j) {
      E v;
      std::memcpy(&v, row + j * s1, sizeof(E));
      d[j * kTileI + i] = v;
    }
  }
}

#if defined(__SSE__)
// 4-byte elements with a unit dim-1 stride, n and m multiples of 4: 4 x 4
// blocks transposed in registers (SSE is part of the x86-64 baseline).
inline void stage_tile_f32x4(char* dst, const char* src, int64_t s0, int64_t n, int64_t m) {
  float* d = reinterpret_cast<float*>(dst);
  for (int64_t i = 0; i < n; i += 4) {
    const char* r = src + i * s0;
    for (int64_t j = 0; j < m; j += 4) {
      __m128 r0 = _mm_loadu_ps(reinterpret_cast<const float*>(r + j * 4));
      __m128 r1 = _mm_loadu_ps(reinterpret_cast<const float*>(r + s0 + j * 4));
      __m128 r2 = _mm_loadu_ps(reinterpret_cast<const float*>(r + 2 * s0 + j * 4));
      __m128 r3 = _mm_loadu_ps(reinterpret_cast<const float*>(r + 3 * s0 + j * 4));
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(d + (j + 0) * kTileI + i, r0);
      _mm_storeu_ps(d + (j + 1) * kTileI + i, r1);
      _mm_storeu_ps(d + (j + 2) * kTileI + i, r2);
      _mm_storeu_ps(d + (j + 3) * kTileI + i, r3);
    }
  }
}
#endif

inline void stage_tile_any(int64_t esz, char* dst, const char* src, int64_t s0, int64_t s1, int64_t n,
                           int64_t m) {
#if defined(__SSE__)
  if (esz == 4 && s1 == 4 && n % 4 == 0 && m % 4 == 0) {
    stage_tile_f32x4(dst, src, s0, n, m);
    return;
  }
#endif
  switch (esz) {
    case 1:
      stage_tile<uint8_t>(dst, src, s0, s1, n, m);
      break;
    case 2:
      stage_tile<uint16_t>(dst, src, s0, s1, n, m);
      break;
    case 4:
      stage_tile<uint32_t>(dst, src, s0, s1, n, m);
      break;
    default:
      stage_tile<uint64_t>(dst, src, s0, s1, n, m);
      break;
  }
}

// Note [Streamed tile output]
// A tiled walk writes the output in kTileI-element pieces of rows that lie a
// whole row apart, so the cache cannot stream them: every line written is
// first read from memory (read-for-ownership) and later written back. When the
// output is large (kStreamOutBytes and up: it leaves the cache anyway) and
// dense along dim 0, each piece is computed into a small buffer and copied out
// with non-temporal stores, which write whole lines without reading them
// (with Note [Tile prefetch], 4096^2 a + b.t() went from 0.36 to 0.66-1.1x a
// contiguous add loop). Not used for small outputs, which a following op
// would rather find in cache.
constexpr int64_t kStreamOutBytes = int64_t{8} << 20;

inline bool streams_output(const StridedPlan& p) {
#if defined(__SSE2__)
  return p.strides[0][0] == p.esz[0] && p.numel * p.esz[0] >= kStreamOutBytes;
#else
  (void)p;
  return false;
#endif
}

// Copies `bytes` from src to dst, the 16-byte-aligned middle of dst with
// non-temporal stores (the caller fences once at the end of its walk).
inline void stream_copy(char* dst, const char* src, int64_t bytes) {
#if defined(__SSE2__)
  int64_t head = (16 - static_cast<int64_t>(reinterpret_cast<uintptr_t>(dst) & 15)) & 15;
  if (head > bytes) head = bytes;
  std::memcpy(dst, src, static_cast<size_t>(head));
  int64_t i = head;
  for (; i + 16 <= bytes; i += 16) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
  std::memcpy(dst + i, src + i, static_cast<size_t>(bytes - i));
#else
  std::memcpy(dst, src, static_cast<size_t>(bytes));
#endif
}

// Note [Tile prefetch]
// The hardware prefetchers follow long runs; a tile touches short pieces of
// many rows, so each tile's memory is requested while the previous tile
// computes: at step j of a tile, row j's piece of the next tile for every
// operand read in place (and the output unless it is streamed), and an equal
// share of the next tile's rows for every staged operand.
// Both helpers are forced inline: GCC deems a function made only of
// prefetches free of side effects and drops the calls to it.
#if defined(__GNUC__)
#define PRISM_CPU_ALWAYS_INLINE __attribute__((always_inline))
#else
#define PRISM_CPU_ALWAYS_INLINE
#endif
PRISM_CPU_ALWAYS_INLINE inline void prefetch_span(const char* a, int64_t bytes) {
  for (int64_t q = 0; q < bytes; q += 64) __builtin_prefetch(a + q, 0, 2);
}

PRISM_CPU_ALWAYS_INLINE inline void prefetch_next_tile(const StridedPlan& p, const bool* staged, bool stream,
                                                       char* const* base, int64_t i0, int64_t n, int64_t j0,
                                                       int64_t j1, int64_t j) {
  const int64_t m = j1 - j0, t = j - j0;
  for (int k = 0; k < p.nops; ++k) {
    const int64_t s0 = p.strides[k][0], s1 = p.strides[k][1];
    if (staged[k]) {
      // n rows (stride s0) of m elements (stride s1), spread over m steps.
      if (s1 <= 0 || s1 > 64) continue;
      const int64_t row_lines = (m * s1 + 63) / 64;
      const int64_t lines = n * row_lines;
      for (int64_t q = t * lines / m; q < (t + 1) * lines / m; ++q) {
        __builtin_prefetch(base[k] + j0 * s1 + (i0 + q / row_lines) * s0 + (q % row_lines) * 64, 0, 2);
      }
    } else if (!(k == 0 && stream) && s0 > 0 && s0 <= 64) {
      prefetch_span(base[k] + j * s1 + i0 * s0, n * s0);
    }
  }
}

inline int64_t tile_rows(const StridedPlan& p) {
  return streams_output(p) ? kTileJStream : kTileJ;
}

// Tiled walk of work units [ub, ue): a unit is tile_rows(p) rows (dim 1) of
// one outer index (dims >= 2), swept in column tiles of kTileI (dim 0).
template <class Run>
inline void run_tiles(const StridedPlan& p, int64_t ub, int64_t ue, Run& run) {
  const int64_t n0 = p.sizes[0], n1 = p.sizes[1], tj = tile_rows(p);
  const int64_t row_blocks = (n1 + tj - 1) / tj;
  // Staging buffers for transposed inputs (operand 0, the output, is never
  // staged): one heap block per thread, kept for the thread's lifetime.
  constexpr size_t kStageBytes = static_cast<size_t>(kTileI * kTileJ * 8);
  static thread_local std::unique_ptr<char[]> stage_buf;
  if (!stage_buf) stage_buf.reset(new char[kStageBytes * kMaxOperands]);
  char* stage[kMaxOperands];
  bool staged[kMaxOperands] = {};
  for (int k = 0; k < p.nops; ++k) stage[k] = stage_buf.get() + kStageBytes * static_cast<size_t>(k);
  for (int k = 1; k < p.nops; ++k) staged[k] = stages_tile(p, k) && p.esz[k] <= 8;
  // Operand 0's slot holds the streamed output's row buffer (Note [Streamed tile output]).
  const bool stream = streams_output(p);
  char* ptr[kMaxOperands];
  int64_t inner[kMaxOperands];
  for (int k = 0; k < p.nops; ++k) inner[k] = staged[k] ? p.esz[k] : p.strides[k][0];
  for (int64_t u = ub; u < ue; ++u) {
    int64_t outer = u / row_blocks;
    const int64_t j0 = (u % row_blocks) * tj;
    const int64_t j1 = j0 + tj < n1 ? j0 + tj : n1;
    char* base[kMaxOperands];
    for (int k = 0; k < p.nops; ++k) base[k] = p.data[k];
    for (int d = 2; d < p.ndim; ++d) {
      const int64_t i = outer % p.sizes[d];
      outer /= p.sizes[d];
      for (int k = 0; k < p.nops; ++k) base[k] += i * p.strides[k][d];
    }
    for (int64_t i0 = 0; i0 < n0; i0 += kTileI) {
      const int64_t n = n0 - i0 < kTileI ? n0 - i0 : kTileI;
      for (int k = 1; k < p.nops; ++k) {
        if (staged[k]) {
          stage_tile_any(p.esz[k], stage[k], base[k] + j0 * p.strides[k][1] + i0 * p.strides[k][0],
                         p.strides[k][0], p.strides[k][1], n, j1 - j0);
        }
      }
      // Next tile along dim 0, fetched while this one runs (Note [Tile prefetch]).
      const int64_t nx = n0 - i0 - n < kTileI ? n0 - i0 - n : kTileI;
      for (int64_t j = j0; j < j1; ++j) {
        if (nx > 0) prefetch_next_tile(p, staged, stream, base, i0 + n, nx, j0, j1, j);
        for (int k = 0; k < p.nops; ++k) {
          ptr[k] = staged[k] ? stage[k] + (j - j0) * kTileI * p.esz[k]
                             : base[k] + j * p.strides[k][1] + i0 * p.strides[k][0];
        }
        if (stream) {
          char* out = ptr[0];
          ptr[0] = stage[0];
          run(ptr, inner, n);
          stream_copy(out, stage[0], n * p.esz[0]);
        } else {
          run(ptr, inner, n);
        }
      }
    }
  }
#if defined(__SSE2__)
  if (stream) _mm_sfence();  // order the streamed stores before the kernel returns
#endif
}

// Runs `run` over the whole plan, threaded when large. Operand 0 is the only
// one written: inputs may be handed to `run` from a staging copy.
template <class Run>
inline void run_plan(const StridedPlan& p, Run run) {
  if (p.numel == 0) return;
  if (prefers_tiling(p)) {
    const int64_t tj = tile_rows(p);
    const int64_t units = p.numel / (p.sizes[0] * p.sizes[1]) * ((p.sizes[1] + tj - 1) / tj);
    const int64_t unit_elems = p.sizes[0] * tj;
    parallel_range(units, (kParallelGrain + unit_elems - 1) / unit_elems, [&](int64_t b, int64_t e) {
      Run local = run;
      run_tiles(p, b, e, local);
    });
    return;
  }
  if (p.numel < kParallelGrain) {
    for_each_run(p, 0, p.numel, run);
    return;
  }
  parallel_range(p.numel, kParallelGrain, [&](int64_t b, int64_t e) {
    Run local = run;
    for_each_run(p, b, e, local);
  });
}

// ===========================================================================
// Call validation
// ===========================================================================

inline prism_plugin_error* check_arity(const prism_kernel_call* c, size_t min_in, size_t max_in,
                                       size_t n_out) {
  if (c->n_inputs < min_in || c->n_inputs > max_in || c->n_outputs != n_out) {
    return PRISM_CPU_INVALID("%s: expected %zu..%zu inputs and %zu outputs, got %zu and %zu", c->op, min_in,
                             max_in, n_out, c->n_inputs, c->n_outputs);
  }
  const size_t n = c->n_inputs + c->n_outputs;
  for (size_t i = 0; i < n; ++i) {
    const prism_tensor_desc& d = i < c->n_inputs ? c->inputs[i] : c->outputs[i - c->n_inputs];
    if (d.ndim < 0 || d.ndim > PRISM_MAX_DIMS || prism_sdk_dtype_size(d.dtype) == 0 ||
        (d.ndim > 0 && (d.sizes == nullptr || d.strides == nullptr))) {
      return PRISM_CPU_INVALID("%s: malformed tensor descriptor (ndim %d, dtype %d)", c->op,
                               static_cast<int>(d.ndim), static_cast<int>(d.dtype));
    }
  }
  return nullptr;
}

inline bool same_shape(const prism_tensor_desc& a, const prism_tensor_desc& b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; ++d) {
    if (a.sizes[d] != b.sizes[d]) return false;
  }
  return true;
}

inline prism_plugin_error* check_same_shape(const prism_kernel_call* c, const prism_tensor_desc& x,
                                            const char* what) {
  if (!same_shape(x, c->outputs[0])) {
    return PRISM_CPU_INVALID("%s: %s must have the output's shape (ndim %d vs %d)", c->op, what,
                             static_cast<int>(x.ndim), static_cast<int>(c->outputs[0].ndim));
  }
  return nullptr;
}

inline prism_plugin_error* check_dtype(const prism_kernel_call* c, const prism_tensor_desc& x, int32_t dtype,
                                       const char* what) {
  if (x.dtype != dtype) {
    return PRISM_CPU_INVALID("%s: %s has dtype %s, expected %s", c->op, what, prism_sdk_dtype_name(x.dtype),
                             prism_sdk_dtype_name(dtype));
  }
  return nullptr;
}

inline prism_plugin_error* unsupported_dtype(const prism_kernel_call* c, int32_t dtype) {
  return PRISM_CPU_INVALID("%s: dtype %s is not supported", c->op, prism_sdk_dtype_name(dtype));
}

// Numeric value of a SCALAR attribute for element type T.
template <class T>
inline T scalar_attr_value(const prism_attr& a) {
  if constexpr (kIsBool<T>) {
    return a.kind == PRISM_ATTR_INT ? a.i != 0 : (a.f != 0.0 || (a.kind == PRISM_ATTR_SCALAR && a.i != 0));
  } else if constexpr (kIsInt<T>) {
    return static_cast<T>(prism_sdk_attr_as_int(&a));
  } else {
    return Num<T>::store(static_cast<Compute<T>>(prism_sdk_attr_as_float(&a)));
  }
}

// ===========================================================================
// Kernel tables of each translation unit
// ===========================================================================

struct KernelList {
  const prism_kernel_def* defs;
  size_t count;
};

KernelList elementwise_kernels();
KernelList binary_kernels();
KernelList reduce_kernels();
KernelList bmm_kernels();
KernelList random_kernels();
KernelList nn_kernels();       // ops_nn.cpp
KernelList index_kernels();    // ops_index.cpp
KernelList optim_kernels();    // ops_optim.cpp
KernelList complex_kernels();  // ops_complex.cpp

// ops_attention.cpp
KernelList attention_kernels();

// Casts to or from complex64/complex128 (ops_complex.cpp); the copy kernel hands them over.
prism_plugin_error* run_copy_complex(void* ctx, const prism_kernel_call* c);

}  // namespace prism::cpu
