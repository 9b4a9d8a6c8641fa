// dispatch.cpp — kernel lookup, descriptor building and the CPU fallback (Note [Dispatch]).
#include "core/dispatch/dispatch.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "core/dispatch/record.hpp"
#include "core/plugin/runtime.hpp"
#include "core/plugin/streams.hpp"
#include "core/profiler/profiler.hpp"

namespace prism {

// ---- Attrs -----------------------------------------------------------------------

prism_attr& Attrs::next(const char* name, int32_t kind) {
  PRISM_ASSERT(n_ < sizeof(attrs_) / sizeof(attrs_[0]));
  prism_attr& a = attrs_[n_++];
  a.struct_size = sizeof(prism_attr);
  a.name = name;
  a.kind = kind;
  return a;
}
Attrs& Attrs::add_int(const char* name, int64_t v) {
  prism_attr& a = next(name, PRISM_ATTR_INT);
  a.i = v;
  a.f = static_cast<double>(v);
  return *this;
}
Attrs& Attrs::add_float(const char* name, double v) {
  next(name, PRISM_ATTR_FLOAT).f = v;
  return *this;
}
Attrs& Attrs::add_scalar(const char* name, double v) {
  prism_attr& a = next(name, PRISM_ATTR_SCALAR);
  a.f = v;
  // Saturating truncation so a huge double never invokes UB.
  a.i = v != v                        ? 0
        : v >= 9.2233720368547758e18  ? INT64_MAX
        : v <= -9.2233720368547758e18 ? INT64_MIN
                                      : static_cast<int64_t>(v);
  return *this;
}
Attrs& Attrs::add_ints(const char* name, const int64_t* v, int64_t n) {
  prism_attr& a = next(name, PRISM_ATTR_INTS);
  a.ints = v;
  a.n_ints = n;
  return *this;
}

// ---- fallback policy and counters -----------------------------------------------------

namespace {

struct FallbackState {
  std::mutex mutex;
  prism_fallback_policy policy;
  std::map<std::string, uint64_t> counts;
  std::set<std::string> warned;
  FallbackState() {
    const char* env = std::getenv("PRISM_FALLBACK");
    policy = PRISM_FALLBACK_WARN;
    if (env != nullptr) {
      if (std::strcmp(env, "allow") == 0) policy = PRISM_FALLBACK_ALLOW;
      if (std::strcmp(env, "error") == 0) policy = PRISM_FALLBACK_ERROR;
    }
  }
};
FallbackState& fallback_state() {
  static FallbackState s;
  return s;
}

struct Descs {
  prism_tensor_desc d[8];
  size_t n = 0;
};

void fill_descs(Descs& out, std::initializer_list<TensorImpl*> ts) {
  PRISM_ASSERT(ts.size() <= 8);
  for (TensorImpl* t : ts) {
    prism_tensor_desc& d = out.d[out.n++];
    d.struct_size = sizeof(prism_tensor_desc);
    d.buffer = t->storage->buffer;
    d.byte_offset = static_cast<uint64_t>(t->offset) * t->element_size();
    d.dtype = t->dtype;
    d.ndim = t->sizes.n;
    d.sizes = t->sizes.d;
    d.strides = t->strides.d;
  }
}

// Note [Kernel lookup cache]: op names reach the dispatcher as string
// literals, so a small thread-local cache keyed by (device, name pointer,
// dtype) skips the table scan; a hit is confirmed with strcmp, so a reused
// pointer can never pick the wrong kernel. A device's kernel table never
// changes once loaded.
const KernelEntry* lookup_kernel(Device* dev, const char* op, prism_dtype key) {
  struct Slot {
    Device* dev = nullptr;
    const char* op = nullptr;
    prism_dtype key = PRISM_DTYPE_BOOL;
    const KernelEntry* kernel = nullptr;
  };
  constexpr size_t kSlots = 256;
  thread_local Slot cache[kSlots];
  size_t h =
      (reinterpret_cast<uintptr_t>(op) >> 3) ^ (reinterpret_cast<uintptr_t>(dev) >> 4) ^ (size_t(key) * 31);
  Slot& slot = cache[h % kSlots];
  if (slot.dev == dev && slot.op == op && slot.key == key &&
      (slot.kernel == nullptr || slot.kernel->op == op))
    return slot.kernel;
  const KernelEntry* k = dev->plugin->find_kernel(op, key);
  slot = Slot{dev, op, key, k};
  return k;
}

const KernelEntry* select_kernel(Device* dev, const char* op, prism_dtype key,
                                 const prism_kernel_call& call) {
  const KernelEntry* k = lookup_kernel(dev, op, key);
  if (k != nullptr && k->supports != nullptr && k->supports(dev->plugin->ctx, &call) == 0) return nullptr;
  return k;
}

void run_on(Device* dev, const KernelEntry* k, prism_kernel_call& call) {
  call.device = dev->index;
  Plugin& pl = *dev->plugin;
  if (!pl.first_kernel_done.load(std::memory_order_acquire)) {
    // Note [Signal dispositions]: runtimes that set up on first use.
    SignalGuard signals(detail::str_cat("plugin '", pl.name, "' (first kernel, '", call.op, "')"));
    prism_plugin_error* err = k->run(pl.ctx, &call);
    pl.first_kernel_done.store(true, std::memory_order_release);
    PRISM_PLUGIN_CHECK(err, pl, "running '", call.op, "' on ", dev->name);
    return;
  }
  PRISM_PLUGIN_CHECK(k->run(pl.ctx, &call), pl, "running '", call.op, "' on ", dev->name);
}

std::string shapes_of(std::initializer_list<TensorImpl*> ts) {
  std::string s;
  for (TensorImpl* t : ts) {
    if (!s.empty()) s += ", ";
    s += detail::str_cat(dtype_name(t->dtype), t->sizes.str());
  }
  return s;
}

// Note [Memory overlap]
// A kernel that writes an output while reading an input over the same bytes
// in another order gives timing-dependent results (and memcpy with
// overlapping ranges is undefined). Like PyTorch's assert_no_internal_overlap
// and assert_no_partial_overlap, run_kernel refuses:
//  * an output in which one memory location is several elements (a stride 0
//    over a dim of size > 1, as in an expanded view), except for `fill`,
//    which writes one value everywhere (PyTorch allows fill_ there too);
//  * an output and an input of the same storage that share bytes without
//    being element-for-element the same view (x.add_(x) and x.copy_(x) stay
//    allowed). As in PyTorch, views that are not non-overlapping-and-dense
//    (every other column, say) are "too hard" to decide and pass.
bool non_overlapping_and_dense(const TensorImpl* t) {
  int order[PRISM_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < t->sizes.n; ++i)
    if (t->sizes[i] != 1) order[n++] = i;
  std::sort(order, order + n, [t](int a, int b) { return t->strides[a] < t->strides[b]; });
  int64_t expected = 1;
  for (int k = 0; k < n; ++k) {
    if (t->strides[order[k]] != expected) return false;
    expected *= t->sizes[order[k]];
  }
  return true;
}

bool has_internal_overlap(const TensorImpl* t) {
  for (int i = 0; i < t->sizes.n; ++i)
    if (t->strides[i] == 0 && t->sizes[i] > 1) return true;
  return false;
}

bool partially_overlaps(const TensorImpl* out, const TensorImpl* in) {
  if (out == in || out->storage != in->storage) return false;
  if (out->offset == in->offset && out->sizes == in->sizes && out->strides == in->strides &&
      out->dtype == in->dtype)
    return false;  // the same elements: in-place
  const int64_t n_out = out->numel(), n_in = in->numel();
  if (n_out == 0 || n_in == 0) return false;
  if (!non_overlapping_and_dense(out) || !non_overlapping_and_dense(in)) return false;  // too hard
  const int64_t out_begin = out->offset * static_cast<int64_t>(out->element_size());
  const int64_t out_end = out_begin + n_out * static_cast<int64_t>(out->element_size());
  const int64_t in_begin = in->offset * static_cast<int64_t>(in->element_size());
  const int64_t in_end = in_begin + n_in * static_cast<int64_t>(in->element_size());
  return out_begin < in_end && in_begin < out_end;
}

}  // namespace

void check_overlap(const char* op, std::initializer_list<TensorImpl*> inputs,
                   std::initializer_list<TensorImpl*> outputs) {
  for (TensorImpl* o : outputs) {
    if (has_internal_overlap(o) && o->numel() > 1 && std::strcmp(op, "fill") != 0) {
      PRISM_FAIL(INVALID_ARGUMENT, op,
                 ": unsupported operation: more than one element of the written-to tensor ",
                 dtype_name(o->dtype), o->sizes.str(), " (strides ", o->strides.str(),
                 ") refers to a single memory location. Please clone() the tensor before performing the "
                 "operation.");
    }
    for (TensorImpl* i : inputs) {
      if (partially_overlaps(o, i)) {
        PRISM_FAIL(INVALID_ARGUMENT, op, ": unsupported operation: some elements of the input tensor ",
                   dtype_name(i->dtype), i->sizes.str(), " (strides ", i->strides.str(), ", offset ",
                   i->offset, ") and the written-to tensor ", dtype_name(o->dtype), o->sizes.str(),
                   " (strides ", o->strides.str(), ", offset ", o->offset,
                   ") refer to a single memory location. Please clone() the tensor before performing the "
                   "operation.");
      }
    }
  }
}

prism_fallback_policy fallback_policy() {
  std::lock_guard<std::mutex> lock(fallback_state().mutex);
  return fallback_state().policy;
}
void set_fallback_policy(prism_fallback_policy p) {
  std::lock_guard<std::mutex> lock(fallback_state().mutex);
  fallback_state().policy = p;
}
uint64_t fallback_count(const char* op) {
  auto& s = fallback_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (op == nullptr) {
    uint64_t total = 0;
    for (auto& kv : s.counts) total += kv.second;
    return total;
  }
  auto it = s.counts.find(op);
  return it == s.counts.end() ? 0 : it->second;
}
void fallback_reset() {
  auto& s = fallback_state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.counts.clear();
}

Device* common_device(const char* op, std::initializer_list<const TensorImpl*> tensors) {
  Device* dev = nullptr;
  for (const TensorImpl* t : tensors) {
    if (dev == nullptr) {
      dev = t->device();
    } else if (t->device() != dev) {
      PRISM_FAIL(INVALID_ARGUMENT, op, ": expected all tensors on the same device, but found tensors on ",
                 dev->name, " and ", t->device()->name, " (move one with to())");
    }
  }
  return dev;
}

void run_kernel(const char* op, prism_dtype key, std::initializer_list<TensorImpl*> inputs,
                std::initializer_list<TensorImpl*> outputs, const Attrs& attrs) {
  PRISM_ASSERT(outputs.size() > 0);
  Device* dev = (*outputs.begin())->device();
  for (TensorImpl* t : inputs) {
    if (t->device() != dev)
      PRISM_FAIL(INVALID_ARGUMENT, op, ": expected all tensors on the same device, but found tensors on ",
                 dev->name, " and ", t->device()->name, " (move one with to())");
  }
  check_overlap(op, inputs, outputs);
  profiler::OpScope profiled(op, key, inputs, dev);  // Note [Profiler hook]
  Descs in, out;
  fill_descs(in, inputs);
  fill_descs(out, outputs);
  prism_kernel_call call{};
  call.struct_size = sizeof(call);
  call.op = op;
  call.stream = launch_stream(dev);  // Note [User streams]
  call.inputs = in.d;
  call.n_inputs = in.n;
  call.outputs = out.d;
  call.n_outputs = out.n;
  call.attrs = attrs.data();
  call.n_attrs = attrs.size();
  record_kernel_call(dev, key, call);  // Note [Kernel call recording]

  if (const KernelEntry* k = select_kernel(dev, op, key, call)) {
    run_on(dev, k, call);
    return;
  }

  // ---- no kernel: fallback policy -------------------------------------------------
  Device* cpu = Runtime::get().cpu();
  const KernelEntry* ck = cpu == dev ? nullptr : select_kernel(cpu, op, key, call);
  auto& st = fallback_state();
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    if (ck == nullptr || st.policy == PRISM_FALLBACK_ERROR) {
      PRISM_FAIL(UNIMPLEMENTED, "op '", op, "' has no kernel for ", dtype_name(key), " on ", dev->name,
                 " (plugin '", dev->plugin->name, "') for ", shapes_of(inputs), " -> ", shapes_of(outputs),
                 ck == nullptr ? "" : "; fallback through the CPU plugin is disabled (PRISM_FALLBACK=error)");
    }
    ++st.counts[op];
    if (st.policy == PRISM_FALLBACK_WARN && st.warned.insert(op).second) {
      std::cerr << "[prism] warning: op '" << op << "' (" << dtype_name(key) << ") has no kernel on "
                << dev->name << " (plugin '" << dev->plugin->name
                << "'); running it through the CPU plugin (set PRISM_FALLBACK=allow to silence)\n";
    }
  }
  // Copy inputs to the CPU (keeping their layout via contiguous copies), run,
  // and copy each output back into the original (possibly strided) output.
  std::vector<Tensor> cin, cout;
  for (TensorImpl* t : inputs) {
    Tensor alias(std::shared_ptr<TensorImpl>{}, t);  // non-owning
    cin.push_back(to_device(alias, cpu));
  }
  for (TensorImpl* t : outputs) {
    Tensor alias(std::shared_ptr<TensorImpl>{}, t);
    cout.push_back(to_device(alias, cpu));  // carries in-place inputs' values too
  }
  Descs cin_d, cout_d;
  for (auto& t : cin) fill_descs(cin_d, {t.get()});
  for (auto& t : cout) fill_descs(cout_d, {t.get()});
  call.inputs = cin_d.d;
  call.outputs = cout_d.d;
  run_on(cpu, ck, call);
  size_t i = 0;
  for (TensorImpl* t : outputs) {
    Tensor alias(std::shared_ptr<TensorImpl>{}, t);
    copy_(alias, cout[i++]);
  }
}

}  // namespace prism
