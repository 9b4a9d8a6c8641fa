// cpu_loops.hpp — inner-loop functors (maps over strided runs) shared by the elementwise kernels.
#pragma once

#include "cpu_internal.hpp"

namespace prism::cpu {

template <class T>
constexpr int32_t kDtypeOf = std::is_same_v<T, bool>       ? PRISM_DTYPE_BOOL
                             : std::is_same_v<T, uint8_t>  ? PRISM_DTYPE_U8
                             : std::is_same_v<T, int8_t>   ? PRISM_DTYPE_I8
                             : std::is_same_v<T, int16_t>  ? PRISM_DTYPE_I16
                             : std::is_same_v<T, int32_t>  ? PRISM_DTYPE_I32
                             : std::is_same_v<T, int64_t>  ? PRISM_DTYPE_I64
                             : std::is_same_v<T, Half>     ? PRISM_DTYPE_F16
                             : std::is_same_v<T, BFloat16> ? PRISM_DTYPE_BF16
                             : std::is_same_v<T, float>    ? PRISM_DTYPE_F32
                                                           : PRISM_DTYPE_F64;

template <class T>
constexpr bool in_mask(uint32_t mask) {
  return (mask >> kDtypeOf<T>)&1u;
}

constexpr uint32_t kMaskAll = PRISM_DTYPE_MASK_ALL;
constexpr uint32_t kMaskNumeric = PRISM_DTYPE_MASK_ALL & ~PRISM_DTYPE_BIT(PRISM_DTYPE_BOOL);
constexpr uint32_t kMaskFloat = PRISM_DTYPE_MASK_FLOAT;

// Note [Inner loops]
// ------------------
// Each functor gets (pointers, byte strides, n) for one run of the innermost
// dim, operand 0 being the output. The dense case and the "one input is a
// stride-0 scalar" cases are written as plain indexed loops over typed
// pointers so the compiler vectorises them (runtime alias checks cover the
// in-place form out == input 0); everything else takes the byte-stride loop.

template <class In, class Out, class F>
struct MapRun1 {
  F f;
  void operator()(char** p, const int64_t* s, int64_t n) const {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* a = reinterpret_cast<const In*>(p[1]);
    constexpr int64_t so = sizeof(Out), sa = sizeof(In);
    if (s[0] == so && s[1] == sa) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else if (s[0] == so && s[1] == 0) {
      const Out v = f(*a);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      char* po = p[0];
      const char* pa = p[1];
      const int64_t s0 = s[0], s1 = s[1];
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<Out*>(po + i * s0) = f(*reinterpret_cast<const In*>(pa + i * s1));
      }
    }
  }
};

template <class In, class Out, class F>
struct MapRun2 {
  F f;
  void operator()(char** p, const int64_t* s, int64_t n) const {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* a = reinterpret_cast<const In*>(p[1]);
    const In* b = reinterpret_cast<const In*>(p[2]);
    constexpr int64_t so = sizeof(Out), si = sizeof(In);
    if (s[0] == so) {
      if (s[1] == si && s[2] == si) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
        return;
      }
      if (s[1] == si && s[2] == 0) {
        const In bv = *b;
        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
        return;
      }
      if (s[1] == 0 && s[2] == si) {
        const In av = *a;
        for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
        return;
      }
    }
    char* po = p[0];
    const char* pa = p[1];
    const char* pb = p[2];
    const int64_t s0 = s[0], s1 = s[1], s2 = s[2];
    for (int64_t i = 0; i < n; ++i) {
      *reinterpret_cast<Out*>(po + i * s0) =
          f(*reinterpret_cast<const In*>(pa + i * s1), *reinterpret_cast<const In*>(pb + i * s2));
    }
  }
};

// Lifts an op on compute types to storage types: Out(op(load(a), load(b))).
template <class T, class R, class Op>
struct Lift1 {
  Op op;
  R operator()(T a) const { return Num<R>::store(op(Num<T>::load(a))); }
};
template <class T, class R, class Op>
struct Lift2 {
  Op op;
  R operator()(T a, T b) const { return Num<R>::store(op(Num<T>::load(a), Num<T>::load(b))); }
};

}  // namespace prism::cpu
