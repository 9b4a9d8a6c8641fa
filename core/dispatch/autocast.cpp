// autocast.cpp — the autocast scope stack, the per-op cast policy table and the front-end hook
// (Note [Autocast]).
#include "core/dispatch/autocast.hpp"

#include <atomic>
#include <cstring>
#include <vector>

#include "core/plugin/runtime.hpp"

namespace prism::amp {

namespace {

struct Scope {
  std::string device_type;
  prism_dtype dtype;
  bool enabled;
};

thread_local std::vector<Scope> t_scopes;
thread_local int t_enabled_scopes = 0;  // scopes with enabled == true
std::atomic<int> g_threads_with_scopes{
    0};  // threads with t_enabled_scopes > 0 (Note [Thread-local fast paths])
thread_local int t_suspended = 0;

// One row per listed op: its policy on device type "cpu" and on every other
// device type. The CPU column is PyTorch 1.13's CPU autocast lists, the other
// column its CUDA lists (Note [Autocast]); ops PyTorch lists under
// "fp32_set_opt_dtype" (sum, prod, softmax, log_softmax, cumsum, cumprod)
// are kFp32 here, which gives the same f32 result.
struct PolicyRow {
  const char* op;
  CastPolicy cpu;
  CastPolicy other;
};
constexpr CastPolicy N = CastPolicy::kNone, L = CastPolicy::kLower, F = CastPolicy::kFp32,
                     P = CastPolicy::kPromote;
constexpr PolicyRow kPolicy[] = {
    // lower precision: the matrix products
    {"matmul", L, L},
    {"bmm", L, L},
    {"linear", L, L},
    {"conv2d", L, L},
    // f32: losses (both lists)
    {"nll_loss", F, F},
    {"cross_entropy", F, F},
    {"binary_cross_entropy_with_logits", F, F},
    {"mse_loss", F, F},
    {"l1_loss", F, F},
    {"huber_loss", F, F},
    {"smooth_l1_loss", F, F},
    {"prod", F, F},
    // f32 on the CUDA list only: softmax, norms, sums and range-sensitive pointwise ops
    {"softmax", N, F},
    {"log_softmax", N, F},
    {"layer_norm", N, F},
    {"norm", N, F},
    {"logsumexp", N, F},
    {"sum", N, F},
    {"cumsum", N, F},
    {"cumprod", N, F},
    {"exp", N, F},
    {"expm1", N, F},
    {"log", N, F},
    {"log2", N, F},
    {"log10", N, F},
    {"log1p", N, F},
    {"reciprocal", N, F},
    {"rsqrt", N, F},
    {"pow", N, F},
    {"acos", N, F},
    {"asin", N, F},
    {"cosh", N, F},
    {"sinh", N, F},
    {"tan", N, F},
    {"erfinv", N, F},
    {"softplus", N, F},
    // promote to the widest input
    {"cat", P, P},
    {"stack", P, P},
    {"atan2", N, P},
    {"index_put", N, P},
    {"scatter_add", N, P},
};

const Scope* innermost(const char* device_type, size_t len) {
  for (auto it = t_scopes.rbegin(); it != t_scopes.rend(); ++it)
    if (it->device_type.size() == len && std::strncmp(it->device_type.c_str(), device_type, len) == 0)
      return &*it;
  return nullptr;
}

bool eligible(const Tensor& t) {
  return t && (t->dtype == PRISM_DTYPE_F16 || t->dtype == PRISM_DTYPE_BF16 || t->dtype == PRISM_DTYPE_F32);
}

}  // namespace

void enter(const std::string& device_type, prism_dtype dtype, bool enabled) {
  PRISM_CHECK(!device_type.empty(), INVALID_ARGUMENT, "autocast: the device type is empty");
  PRISM_CHECK(device_type.find(':') == std::string::npos, INVALID_ARGUMENT,
              "autocast: expected a device type such as \"cpu\" or \"opencl\", got \"", device_type,
              "\" (a device type has no index)");
  PRISM_CHECK(dtype == PRISM_DTYPE_F16 || dtype == PRISM_DTYPE_BF16, INVALID_ARGUMENT, "autocast(",
              device_type, "): the low-precision dtype must be float16 or bfloat16, got ",
              dtype_valid(dtype) ? dtype_name(dtype) : "an invalid dtype");
  PRISM_CHECK(t_scopes.size() < 256, INVALID_ARGUMENT, "autocast: scopes nested more than 256 deep");
  t_scopes.push_back(Scope{device_type, dtype, enabled});
  if (enabled && t_enabled_scopes++ == 0) g_threads_with_scopes.fetch_add(1, std::memory_order_relaxed);
}

void exit() {
  PRISM_CHECK(!t_scopes.empty(), INVALID_ARGUMENT, "autocast_exit: called without a matching autocast_enter");
  if (t_scopes.back().enabled && --t_enabled_scopes == 0)
    g_threads_with_scopes.fetch_sub(1, std::memory_order_relaxed);
  t_scopes.pop_back();
}

bool is_enabled(const std::string& device_type) {
  const Scope* s = innermost(device_type.c_str(), device_type.size());
  return s != nullptr && s->enabled;
}

prism_dtype get_dtype(const std::string& device_type) {
  const Scope* s = innermost(device_type.c_str(), device_type.size());
  if (s != nullptr) return s->dtype;
  return device_type == "cpu" ? PRISM_DTYPE_BF16 : PRISM_DTYPE_F16;  // PyTorch's defaults
}

int depth() {
  return static_cast<int>(t_scopes.size());
}

CastPolicy policy_of(const char* op, const char* device_type) {
  const bool cpu = std::strcmp(device_type, "cpu") == 0;
  for (const PolicyRow& r : kPolicy)
    if (std::strcmp(r.op, op) == 0) return cpu ? r.cpu : r.other;
  return CastPolicy::kNone;
}

SuspendGuard::SuspendGuard() {
  ++t_suspended;
}
SuspendGuard::~SuspendGuard() {
  --t_suspended;
}

bool active() {
  if (g_threads_with_scopes.load(std::memory_order_relaxed) == 0) return false;
  return t_enabled_scopes > 0 && t_suspended == 0;
}

Autocast::Autocast(const char* op, std::initializer_list<const Tensor*> inputs) {
  if (!active()) return;
  apply(op, std::vector<const Tensor*>(inputs));
}

Autocast::Autocast(const char* op, const std::vector<Tensor>& inputs) {
  if (!active()) return;
  std::vector<const Tensor*> ptrs;
  ptrs.reserve(inputs.size());
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  apply(op, ptrs);
}

void Autocast::apply(const char* op, const std::vector<const Tensor*>& inputs) {
  // The device type of the first defined input decides (mixed devices are
  // the op's own error).
  const Tensor* first = nullptr;
  for (const Tensor* t : inputs) {
    if (t != nullptr && *t) {
      first = t;
      break;
    }
  }
  if (first == nullptr) return;
  const std::string& dev = (*first)->device()->name;
  const size_t colon = dev.find(':');
  const size_t len = colon == std::string::npos ? dev.size() : colon;
  const Scope* s = innermost(dev.c_str(), len);
  if (s == nullptr || !s->enabled) return;
  const CastPolicy pol = policy_of(op, std::string(dev, 0, len).c_str());
  if (pol == CastPolicy::kNone) return;
  prism_dtype target = PRISM_DTYPE_F32;
  if (pol == CastPolicy::kLower) target = s->dtype;
  if (pol == CastPolicy::kPromote) {
    target = s->dtype;
    for (const Tensor* t : inputs)
      if (t != nullptr && eligible(*t)) target = promote_types(target, (*t)->dtype);
  }
  cast_.reserve(inputs.size());
  for (const Tensor* t : inputs) {
    if (t == nullptr || !*t) {
      cast_.emplace_back();
    } else if (eligible(*t) && (*t)->dtype != target) {
      SuspendGuard inner;  // to_dtype is not listed, but keep the cast itself plain
      cast_.push_back(to_dtype(*t, target));
    } else {
      cast_.push_back(*t);
    }
  }
  applied_ = true;
  ++t_suspended;
}

Autocast::~Autocast() {
  if (applied_) --t_suspended;
}

}  // namespace prism::amp
