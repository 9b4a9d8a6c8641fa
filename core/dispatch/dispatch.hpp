// dispatch.hpp — finds and runs a plugin kernel for an op, with the fallback policy and its counters
// (internal).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/tensor/tensor.hpp"
#include "prism/plugin.h"

namespace prism {

// Attributes of one kernel call (small, on the stack).
class Attrs {
 public:
  Attrs& add_int(const char* name, int64_t v);
  Attrs& add_float(const char* name, double v);
  Attrs& add_scalar(const char* name, double v);
  Attrs& add_ints(const char* name, const int64_t* v, int64_t n);
  const prism_attr* data() const { return attrs_; }
  size_t size() const { return n_; }

 private:
  prism_attr& next(const char* name, int32_t kind);
  prism_attr attrs_[8] = {};
  size_t n_ = 0;
};

// Note [Dispatch]
// run_kernel() resolves `op` on the device of the outputs (all tensors must
// share it — mixing devices is an error naming both), picks the first kernel
// of that device's plugin whose dtype mask holds `key` and whose supports()
// accepts the call, and runs it. When none exists the PRISM_FALLBACK policy
// decides: allow/warn copy the tensors to the CPU plugin, run its kernel there
// and copy the outputs back (counted per op); error fails with UNIMPLEMENTED.
// Kernels see plain descriptors, never core structs.
void run_kernel(const char* op, prism_dtype key, std::initializer_list<TensorImpl*> inputs,
                std::initializer_list<TensorImpl*> outputs, const Attrs& attrs = Attrs());

// Note [Memory overlap] (dispatch.cpp): throws INVALID_ARGUMENT naming `op`
// when an output has internal overlap (except for "fill") or partially
// overlaps an input. run_kernel calls it; in-place ops that compute through
// temporaries call it on their user-visible operands first.
void check_overlap(const char* op, std::initializer_list<TensorImpl*> inputs,
                   std::initializer_list<TensorImpl*> outputs);

// Checks that every tensor is on the same device; throws naming `op` and both devices.
Device* common_device(const char* op, std::initializer_list<const TensorImpl*> tensors);

prism_fallback_policy fallback_policy();
void set_fallback_policy(prism_fallback_policy p);
uint64_t fallback_count(const char* op);  // nullptr = total
void fallback_reset();

}  // namespace prism
