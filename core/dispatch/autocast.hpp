// autocast.hpp — the autocast scope (thread-local, nestable) and the per-op cast policy hook (internal).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/tensor/tensor.hpp"

namespace prism::amp {

// Note [Autocast]
// ---------------
// An autocast scope (torch.autocast) names a device type ("cpu", "opencl",
// "cuda", ...) and a low dtype (f16 or bf16). Inside it, the front-end of a
// listed op casts its floating inputs before running, by the policy of one
// table (kPolicy in autocast.cpp), keyed by op name and device type:
//  * kLower  — matmul, bmm, linear, conv2d: f32 inputs are cast to the low
//              dtype, so the op runs (and returns) in it;
//  * kFp32   — losses, and on non-CPU device types softmax, log_softmax,
//              layer_norm, sums, exp/log/pow and the other range-sensitive
//              ops: f16/bf16 inputs are cast to f32, so the result is f32;
//  * kPromote — cat, stack: every floating input is cast to the widest of
//              them (and the low dtype).
// The lists follow PyTorch 1.13 (aten/src/ATen/autocast_mode.cpp): device
// type "cpu" uses PyTorch's CPU lists (softmax, exp and sum stay in the
// input's dtype there, as torch.autocast("cpu") does); every other device
// type uses PyTorch's CUDA lists. f64 and integer inputs are never cast.
// Ops not in the table run unchanged on whatever dtypes they get.
//
// The casts are ordinary to_dtype calls, so autograd records them
// (ToCopyBackward) and gradients reach f32 leaves in f32. Inside a listed
// op the scope is suspended (as PyTorch excludes the Autocast dispatch key),
// so the op's own composite pieces are not cast again, and the autograd
// engine suspends it for the whole backward sweep. The scope works under
// no_grad too (inference): the casts are then simply not recorded.
//
// Scopes nest: enter() pushes (device type, dtype, enabled) on a
// thread-local stack, exit() pops; the innermost entry for a device type
// decides, so autocast(enabled=false) inside an enabled scope turns it off.

enum class CastPolicy { kNone, kLower, kFp32, kPromote };

// Pushes a scope. `dtype` must be f16 or bf16 (also when !enabled, so the
// state reads back as PyTorch's does); device_type must be non-empty.
void enter(const std::string& device_type, prism_dtype dtype, bool enabled);
// Pops the innermost scope; throws when none is open.
void exit();
// The innermost scope's state for `device_type` (false / f16-or-bf16 default).
bool is_enabled(const std::string& device_type);
prism_dtype get_dtype(const std::string& device_type);
// Number of open scopes on this thread.
int depth();

// The policy of `op` for a device type (kNone when not listed).
CastPolicy policy_of(const char* op, const char* device_type);

// Suspends autocast on this thread for its lifetime (nested ok).
class SuspendGuard {
 public:
  SuspendGuard();
  ~SuspendGuard();
  SuspendGuard(const SuspendGuard&) = delete;
  SuspendGuard& operator=(const SuspendGuard&) = delete;
};

// True when some enabled scope is open and autocast is not suspended
// (one thread-local read: the op front-ends call it first).
bool active();

// The hook of a listed op's front-end:
//   if (amp::Autocast ac{"matmul", {&a, &b}}) return matmul(ac[0], ac[1]);
// converts to true when the op's policy applies to this call; the cast
// inputs are then ac[i] (null inputs stay null) and autocast is suspended
// while `ac` lives, so the recursive call runs the plain op.
class Autocast {
 public:
  Autocast(const char* op, std::initializer_list<const Tensor*> inputs);
  // List form (cat, stack): the cast list is list().
  Autocast(const char* op, const std::vector<Tensor>& inputs);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;
  explicit operator bool() const { return applied_; }
  const Tensor& operator[](size_t i) const { return cast_[i]; }
  const std::vector<Tensor>& list() const { return cast_; }

 private:
  void apply(const char* op, const std::vector<const Tensor*>& inputs);
  std::vector<Tensor> cast_;
  bool applied_ = false;
};

}  // namespace prism::amp
