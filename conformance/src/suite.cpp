// suite.cpp — prism_conformance_run: the abi, ops, rng, support and perf modes over plugin.h.
#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prism/conformance.h"
#include "prism/plugin.h"
#include "reference.hpp"
#include "suite.hpp"

// The suite's own definition of the opaque error object (Note [Plugin ABI
// rules]): every error a plugin returns must be one made by this host table.
struct prism_plugin_error {
  prism_status code;
  std::string message;
};

namespace prism::conformance {
namespace {

// ===========================================================================
// Host table and error accounting
// ===========================================================================

std::mutex g_err_mutex;
std::set<prism_plugin_error*> g_live_errors;
int64_t g_errors_created = 0;
int64_t g_log_lines = 0;
bool g_log_absent = false;         // the current host table has no `log` slot
bool g_log_called_absent = false;  // ... and the plugin called it anyway

prism_plugin_error* host_error_create(prism_status code, const char* message) {
  auto* e = new prism_plugin_error{code, message ? message : ""};
  std::lock_guard<std::mutex> lock(g_err_mutex);
  g_live_errors.insert(e);
  ++g_errors_created;
  return e;
}

void host_log(prism_log_level, const char*, const char*) {
  ++g_log_lines;
  if (g_log_absent) g_log_called_absent = true;
}

prism_host_table make_host(uint32_t major, uint32_t minor) {
  prism_host_table h{};
  h.struct_size = sizeof(prism_host_table);
  h.abi_major = major;
  h.abi_minor = minor;
  h.error_create = host_error_create;
  h.log = host_log;
  return h;
}

// A host table followed by fields a newer core might append.
struct BigHost {
  prism_host_table table;
  uint64_t future[8];
};

// The outcome of a plugin call that returned an error object.
struct Err {
  bool ok = true;
  prism_status code = PRISM_OK;
  std::string message;
  bool foreign = false;  // not made by our error_create
};

Err take(prism_plugin_error* e) {
  Err r;
  if (e == nullptr) return r;
  r.ok = false;
  std::lock_guard<std::mutex> lock(g_err_mutex);
  auto it = g_live_errors.find(e);
  if (it == g_live_errors.end()) {
    r.foreign = true;
    r.code = PRISM_ERROR_INTERNAL;
    r.message = "(error object not made by host->error_create)";
    return r;  // never free memory we did not allocate
  }
  r.code = e->code;
  r.message = e->message;
  g_live_errors.erase(it);
  delete e;
  return r;
}

const char* status_name(prism_status s) {
  switch (s) {
    case PRISM_OK:
      return "OK";
    case PRISM_ERROR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case PRISM_ERROR_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case PRISM_ERROR_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case PRISM_ERROR_UNAVAILABLE:
      return "UNAVAILABLE";
    case PRISM_ERROR_DEVICE_LOST:
      return "DEVICE_LOST";
    case PRISM_ERROR_INTERNAL:
      return "INTERNAL";
    case PRISM_ERROR_IO:
      return "IO";
    case PRISM_ERROR_TYPE:
      return "TYPE";
    case PRISM_ERROR_INDEX:
      return "INDEX";
    default:
      return "UNKNOWN";
  }
}

std::string describe(const Err& e) {
  return std::string(status_name(e.code)) + ": " + e.message;
}

// ===========================================================================
// Crash and hang guard (Note [Conformance crash guard])
// ---------------------------------------------------------------------------
// A plugin under test may crash or hang. Each plugin call runs under a
// guard: SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT and a SIGALRM per-case timer
// jump back (siglongjmp) to the guard, the case is reported as failed with
// the signal's name, and the run goes on with the next case. Code inside a
// guard keeps no C++ object with a destructor alive across plugin calls, so
// the jump only skips plain frames; the plugin's own state may be broken
// after a crash, and later cases say so when they fail too.
// ===========================================================================

sigjmp_buf* g_jump = nullptr;
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  if (g_jump != nullptr) siglongjmp(*g_jump, 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

constexpr int kGuardedSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
struct sigaction g_saved_actions[6];
stack_t g_saved_stack;

// Installs the guard's handlers for the run; restore_signal_handlers() puts
// the caller's back, so a program that links the suite keeps its own.
void install_signal_handlers() {
  static char alt_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, &g_saved_stack);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < 6; ++i) sigaction(kGuardedSignals[i], &sa, &g_saved_actions[i]);
}

void restore_signal_handlers() {
  alarm(0);
  for (size_t i = 0; i < 6; ++i) sigaction(kGuardedSignals[i], &g_saved_actions[i], nullptr);
  sigaltstack(&g_saved_stack, nullptr);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

// Runs fn() under the guard; returns "" or "crashed with SIGSEGV" /
// "timed out after N s".
template <class Fn>
std::string guarded(double timeout_s, Fn&& fn) {
  sigjmp_buf jb;
  sigjmp_buf* prev = g_jump;
  if (sigsetjmp(jb, 1) != 0) {
    alarm(0);
    g_jump = prev;
    const int sig = g_signal;
    if (sig == SIGALRM) return "timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s";
    return std::string("crashed with ") + signal_name(sig);
  }
  g_jump = &jb;
  g_signal = 0;
  alarm(static_cast<unsigned>(std::max(1.0, timeout_s)));
  fn();
  alarm(0);
  g_jump = prev;
  return {};
}

// ===========================================================================
// The plugin under test
// ===========================================================================

constexpr size_t kTableRequiredEnd = offsetof(prism_plugin_table, kernel_def_size) + sizeof(size_t);
constexpr size_t kKernelDefRequiredEnd = offsetof(prism_kernel_def, run) + sizeof(prism_kernel_fn);

struct Kernel {
  std::string op;
  uint32_t mask = 0;
  prism_kernel_supports_fn supports = nullptr;
  prism_kernel_fn run = nullptr;
};

struct PluginUnderTest {
  void* lib = nullptr;
  prism_plugin_entry_fn entry = nullptr;
  prism_host_table host{};
  const prism_plugin_table* table = nullptr;
  void* ctx = nullptr;
  bool initialised = false;
  int32_t device_count = 0;
  std::string zero_reason;
  prism_device_props props{};
  std::string dev_name, dev_vendor, dev_id;
  std::vector<Kernel> kernels;
  int64_t live_buffers = 0, allocs = 0, frees = 0;

  const Kernel* find(const std::string& op, int32_t dtype) const {
    for (const Kernel& k : kernels)
      if (k.op == op && (k.mask & PRISM_DTYPE_BIT(dtype))) return &k;
    return nullptr;
  }
};

// ===========================================================================
// The run
// ===========================================================================

struct Options {
  std::string plugin_path;
  int32_t device = 0;
  std::string op_regex;
  std::set<int32_t> dtypes;  // empty = all
  std::set<std::string> modes;
  std::string report_json, junit_xml;
  uint64_t seed = 0x5EED;
  double timeout_s = 60;
  bool verbose = false, quiet = false;
};

constexpr size_t kGuard = 64;       // guard bytes each side of every buffer
constexpr uint8_t kPattern = 0xA5;  // what guard and gap bytes hold

struct Operand {
  View view;
  std::vector<uint8_t> image;  // guard + storage + guard, as uploaded
  void* handle = nullptr;
};

// Note [Conformance layouts]
// Every operand of a case gets the same layout kind; inputs of elementwise
// ops already have the output's shape (the core broadcasts before the call).
//   contiguous  row-major
//   transposed  column-major (every dim reversed in memory); for
//               elementwise ops only the inputs, and `transposed_out` only
//               the output, since one shared permutation hides ignored strides
//   broadcast   inputs: dim 0 has stride 0; outputs row-major
//   offset      element 0 at 3 elements into the buffer and a step of 2 in
//               the last dim (a sliced view), so gaps lie between elements
//   0-d, empty, large   contiguous with sizes {}, {0, n}, and a large shape
//   nan_inf     contiguous, floats only, with NaN, ±Inf and −0 among inputs
// Gaps and guards hold 0xA5 bytes; after the call every byte of an output
// image that is not an element of the output view must still be 0xA5.
void make_view(View& v, int32_t dtype, const std::vector<int64_t>& sizes, const std::string& layout,
               bool is_input, int64_t& span) {
  v.dtype = dtype;
  v.sizes = sizes;
  const size_t nd = sizes.size();
  v.strides.assign(nd, 0);
  int64_t offset = 0;
  if (layout == "transposed") {
    int64_t s = 1;
    for (size_t d = 0; d < nd; ++d) {
      v.strides[d] = s;
      s *= std::max<int64_t>(sizes[d], 1);
    }
  } else if (layout == "offset") {
    offset = 3;
    int64_t s = 2;
    for (size_t d = nd; d-- > 0;) {
      v.strides[d] = s;
      s *= std::max<int64_t>(sizes[d], 1) * (d == nd - 1 ? 2 : 1);
      if (d == nd - 1) s = 2 * std::max<int64_t>(sizes[d], 1);
    }
  } else {
    int64_t s = 1;
    for (size_t d = nd; d-- > 0;) {
      v.strides[d] = s;
      s *= std::max<int64_t>(sizes[d], 1);
    }
    if (layout == "broadcast" && is_input && nd > 0) v.strides[0] = 0;
  }
  int64_t n = 1, last = 0;
  for (size_t d = 0; d < nd; ++d) {
    n *= sizes[d];
    if (sizes[d] > 0) last += (sizes[d] - 1) * v.strides[d];
  }
  span = n == 0 ? offset : offset + last + 1;
  v.byte_offset = kGuard + static_cast<uint64_t>(offset) * dtype_size(dtype);
}

struct Case {
  const OpSpec* op = nullptr;
  int32_t dtype = PRISM_DTYPE_F32;  // key dtype
  std::string layout;               // layout kind
  std::string variant;              // attribute variant text ("" or "alpha=2")
  std::vector<Operand> inputs;
  Operand output;
  std::vector<RefAttr> attrs;
  std::string label() const { return variant.empty() ? layout : layout + "," + variant; }
};

class Runner {
 public:
  explicit Runner(Options o) : opt_(std::move(o)), rng_(opt_.seed) {}
  int run();

 private:
  // --- reporting ---
  void add(CaseResult r);
  void progress(const std::string& what);
  bool op_selected(const std::string& op) const;
  bool dtype_selected(int32_t dt) const { return opt_.dtypes.empty() || opt_.dtypes.count(dt) != 0; }
  bool mode(const char* m) const { return opt_.modes.count(m) != 0; }
  void print_summary();
  bool write_json(std::string& err);
  bool write_junit(std::string& err);

  // --- plugin lifecycle ---
  bool load();
  bool init_context();
  void shutdown_context();

  // --- modes ---
  void mode_abi();
  void mode_ops(bool rng_only);
  void mode_support();
  void mode_perf();

  // --- case plumbing ---
  std::vector<Case> build_cases(const OpSpec& op, int32_t dtype, bool rng);
  void fill_inputs(Case& c);
  void run_case(Case& c);
  bool alloc_operand(Operand& o, std::string& err);
  void free_operand(Operand& o);
  std::string upload(Operand& o);
  std::string download(Operand& o, std::vector<uint8_t>& out);
  prism_plugin_error* call_kernel(const Kernel& k, Case& c, std::vector<prism_tensor_desc>& descs,
                                  std::vector<prism_attr>& attrs);

  Options opt_;
  std::mt19937_64 rng_;
  PluginUnderTest p_;
  std::vector<CaseResult> results_;
  bool device_ok_ = false;
  bool is_plugin_ = false;  // the file loaded and exports the entry point
  std::string device_skip_reason_;
  size_t progress_total_ = 0, progress_done_ = 0;
  std::string progress_mode_;
  nlohmann::json support_json_ = nlohmann::json::object();
  std::vector<std::string> fatal_;  // load/report problems
};

// ===========================================================================
// Reporting
// ===========================================================================

void Runner::add(CaseResult r) {
  const bool whole_mode_skipped = r.status == "skip" && (r.mode == "load" || r.op == "(all)");
  if (!opt_.quiet && (r.status == "fail" || opt_.verbose || whole_mode_skipped)) {
    if (isatty(2) && progress_total_ > 0) std::fprintf(stderr, "\r\033[K");
    std::string tag = r.status == "fail"   ? "FAIL"
                      : r.status == "pass" ? "PASS"
                      : r.status == "skip" ? "SKIP"
                                           : "INFO";
    std::printf("%s  %-7s %-16s %-5s %-28s %s\n", tag.c_str(), r.mode.c_str(), r.op.c_str(), r.dtype.c_str(),
                r.layout.c_str(), r.message.c_str());
    std::fflush(stdout);
  }
  results_.push_back(std::move(r));
}

void Runner::progress(const std::string& what) {
  ++progress_done_;
  if (opt_.quiet || !isatty(2)) return;
  std::fprintf(stderr, "\r\033[K[%s %zu/%zu] %s", progress_mode_.c_str(), progress_done_, progress_total_,
               what.c_str());
  std::fflush(stderr);
}

bool Runner::op_selected(const std::string& op) const {
  if (opt_.op_regex.empty()) return true;
  try {
    return std::regex_search(op, std::regex(opt_.op_regex));
  } catch (const std::regex_error&) {
    return false;
  }
}

// ===========================================================================
// Plugin lifecycle
// ===========================================================================

bool Runner::load() {
  CaseResult r{"load", "(plugin)", "-", "dlopen", "pass", ""};
  p_.lib = dlopen(opt_.plugin_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (p_.lib == nullptr) {
    const char* e = dlerror();
    r.status = "fail";
    r.message = std::string("cannot load '") + opt_.plugin_path + "': " + (e ? e : "unknown error");
    add(r);
    return false;
  }
  p_.entry = reinterpret_cast<prism_plugin_entry_fn>(dlsym(p_.lib, PRISM_PLUGIN_ENTRY_SYMBOL));
  if (p_.entry == nullptr) {
    r.status = "fail";
    r.message =
        "'" + opt_.plugin_path + "' does not export " PRISM_PLUGIN_ENTRY_SYMBOL " (not a Prism plugin)";
    add(r);
    return false;
  }
  is_plugin_ = true;
  add(r);

  CaseResult e{"load", "(plugin)", "-", "entry", "pass", ""};
  p_.host = make_host(PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR);
  Err err;
  const prism_plugin_table* table = nullptr;
  std::string crash = guarded(opt_.timeout_s, [&] { err = take(p_.entry(&p_.host, &table)); });
  if (!crash.empty() || !err.ok || table == nullptr) {
    e.status = "fail";
    e.message = !crash.empty() ? "prism_plugin_entry " + crash
                : !err.ok
                    ? "prism_plugin_entry refused the core's ABI " + std::to_string(PRISM_PLUGIN_ABI_MAJOR) +
                          "." + std::to_string(PRISM_PLUGIN_ABI_MINOR) + ": " + describe(err)
                    : "prism_plugin_entry returned no table";
    add(e);
    return false;
  }
  // The smallest table the suite can use at all.
  if (table->struct_size < kTableRequiredEnd || table->abi_major != PRISM_PLUGIN_ABI_MAJOR ||
      table->kernel_def_size < kKernelDefRequiredEnd) {
    e.status = "fail";
    e.message = "plugin table unusable: abi " + std::to_string(table->abi_major) + "." +
                std::to_string(table->abi_minor) + " (suite " + std::to_string(PRISM_PLUGIN_ABI_MAJOR) + "." +
                std::to_string(PRISM_PLUGIN_ABI_MINOR) + "), struct_size " +
                std::to_string(table->struct_size) + " (v1.0 needs >= " + std::to_string(kTableRequiredEnd) +
                "), kernel_def_size " + std::to_string(table->kernel_def_size) +
                " (needs >= " + std::to_string(kKernelDefRequiredEnd) + ")";
    add(e);
    return false;
  }
  p_.table = table;
  e.message = std::string("plugin '") + (table->name ? table->name : "?") + "' device type '" +
              (table->device_type ? table->device_type : "?") + "' version " +
              (table->version ? table->version : "?") + ", ABI " + std::to_string(table->abi_major) + "." +
              std::to_string(table->abi_minor);
  add(e);
  // Kernel definitions, stepping by the plugin's kernel_def_size.
  const char* base = reinterpret_cast<const char*>(table->kernels);
  for (size_t i = 0; i < table->n_kernels && base != nullptr; ++i) {
    const auto* d = reinterpret_cast<const prism_kernel_def*>(base + i * table->kernel_def_size);
    if (d->struct_size < kKernelDefRequiredEnd || d->op == nullptr || d->run == nullptr) continue;
    p_.kernels.push_back({d->op, d->dtype_mask, d->supports, d->run});
  }
  return true;
}

bool Runner::init_context() {
  CaseResult r{"load", "(plugin)", "-", "init", "pass", ""};
  const prism_plugin_table* t = p_.table;
  if (!t->init || !t->shutdown || !t->device_count || !t->device_props || !t->alloc || !t->free ||
      !t->copy_from_host || !t->copy_to_host || !t->synchronize) {
    r.status = "fail";
    r.message = "a required slot of the plugin table is NULL";
    add(r);
    return false;
  }
  Err err;
  std::string crash = guarded(opt_.timeout_s, [&] { err = take(t->init(&p_.ctx)); });
  if (!crash.empty() || !err.ok) {
    r.status = "fail";
    r.message = !crash.empty() ? "init " + crash : "init failed: " + describe(err);
    add(r);
    return false;
  }
  p_.initialised = true;
  const char* reason = nullptr;
  int32_t count = 0;
  crash = guarded(opt_.timeout_s, [&] { err = take(t->device_count(p_.ctx, &count, &reason)); });
  if (!crash.empty() || !err.ok) {
    r.status = "fail";
    r.message = !crash.empty() ? "device_count " + crash : "device_count failed: " + describe(err);
    add(r);
    return false;
  }
  p_.device_count = count;
  p_.zero_reason = reason ? reason : "";
  if (opt_.device < 0 || opt_.device >= count) {
    device_skip_reason_ =
        count == 0
            ? "no device (" +
                  (p_.zero_reason.empty() ? std::string("plugin gave no reason") : p_.zero_reason) + ")"
            : "device " + std::to_string(opt_.device) + " absent (plugin has " + std::to_string(count) + ")";
    r.status = "skip";
    r.message = device_skip_reason_;
    add(r);
    return true;
  }
  p_.props = prism_device_props{};
  p_.props.struct_size = sizeof(prism_device_props);
  crash = guarded(opt_.timeout_s, [&] { err = take(t->device_props(p_.ctx, opt_.device, &p_.props)); });
  if (!crash.empty() || !err.ok) {
    r.status = "fail";
    r.message = !crash.empty() ? "device_props " + crash : "device_props failed: " + describe(err);
    add(r);
    return false;
  }
  p_.dev_name = p_.props.name ? p_.props.name : "";
  p_.dev_vendor = p_.props.vendor ? p_.props.vendor : "";
  p_.dev_id = p_.props.stable_id ? p_.props.stable_id : "";
  device_ok_ = true;
  r.message = std::to_string(count) + " device(s); testing device " + std::to_string(opt_.device) + ": '" +
              p_.dev_name + "'";
  add(r);
  return true;
}

void Runner::shutdown_context() {
  if (!p_.initialised) return;
  CaseResult r{"abi", "(plugin)", "-", "leak_accounting", "pass", ""};
  std::string crash = guarded(opt_.timeout_s, [&] { p_.table->shutdown(p_.ctx); });
  p_.initialised = false;
  std::ostringstream msg;
  msg << p_.allocs << " allocations, " << p_.frees << " frees; " << g_errors_created
      << " error objects created, " << g_live_errors.size() << " never returned to the core";
  r.message = msg.str();
  if (!crash.empty()) {
    r.status = "fail";
    r.message = "shutdown " + crash;
  } else if (!g_live_errors.empty()) {
    r.status = "fail";
    r.message += " (the plugin made error objects and dropped them: leaked)";
  }
  if (mode("abi")) add(r);
}

// ===========================================================================
// Device buffers
// ===========================================================================

bool Runner::alloc_operand(Operand& o, std::string& err) {
  Err e;
  void* h = nullptr;
  const size_t bytes = o.image.size();
  std::string crash =
      guarded(opt_.timeout_s, [&] { e = take(p_.table->alloc(p_.ctx, opt_.device, bytes, &h)); });
  if (!crash.empty()) {
    err = "alloc " + crash;
    return false;
  }
  if (!e.ok) {
    err = "alloc of " + std::to_string(bytes) + " bytes failed: " + describe(e);
    return false;
  }
  if (h == nullptr) {
    err = "alloc of " + std::to_string(bytes) + " bytes returned a NULL handle";
    return false;
  }
  o.handle = h;
  ++p_.allocs;
  ++p_.live_buffers;
  return true;
}

void Runner::free_operand(Operand& o) {
  if (o.handle == nullptr) return;
  void* h = o.handle;
  o.handle = nullptr;
  guarded(opt_.timeout_s, [&] { p_.table->free(p_.ctx, opt_.device, h); });
  ++p_.frees;
  --p_.live_buffers;
}

std::string Runner::upload(Operand& o) {
  Err e;
  std::string crash = guarded(opt_.timeout_s, [&] {
    e = take(
        p_.table->copy_from_host(p_.ctx, opt_.device, nullptr, o.image.data(), o.handle, 0, o.image.size()));
    if (e.ok) e = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
  });
  if (!crash.empty()) return "copy_from_host " + crash;
  if (!e.ok) return "copy_from_host failed: " + describe(e);
  return {};
}

std::string Runner::download(Operand& o, std::vector<uint8_t>& out) {
  out.assign(o.image.size(), 0);
  Err e;
  std::string crash = guarded(opt_.timeout_s, [&] {
    e = take(p_.table->copy_to_host(p_.ctx, opt_.device, nullptr, o.handle, 0, out.data(), out.size()));
  });
  if (!crash.empty()) return "copy_to_host " + crash;
  if (!e.ok) return "copy_to_host failed: " + describe(e);
  return {};
}

// ===========================================================================
// Cases (Note [Conformance layouts])
// ===========================================================================

void add_attr_int(std::vector<RefAttr>& a, const char* name, int64_t v) {
  RefAttr r;
  r.name = name;
  r.kind = PRISM_ATTR_INT;
  r.i = v;
  r.f = static_cast<double>(v);
  a.push_back(r);
}
void add_attr_float(std::vector<RefAttr>& a, const char* name, double v) {
  RefAttr r;
  r.name = name;
  r.kind = PRISM_ATTR_FLOAT;
  r.f = v;
  r.i = static_cast<int64_t>(v);
  a.push_back(r);
}
void add_attr_scalar(std::vector<RefAttr>& a, const char* name, double v) {
  RefAttr r;
  r.name = name;
  r.kind = PRISM_ATTR_SCALAR;
  r.f = v;
  r.i = static_cast<int64_t>(v);
  a.push_back(r);
}

void set_operand(Operand& o, int32_t dtype, const std::vector<int64_t>& sizes, const std::string& layout,
                 bool is_input) {
  int64_t span = 0;
  const std::string kind =
      (layout == "transposed" || layout == "broadcast" || layout == "offset") ? layout : "contiguous";
  make_view(o.view, dtype, sizes, kind, is_input, span);
  o.image.assign(2 * kGuard + static_cast<size_t>(span) * dtype_size(dtype), kPattern);
}

std::vector<Case> Runner::build_cases(const OpSpec& op, int32_t dt, bool rng) {
  std::vector<Case> cases;
  const bool f = is_float(dt);
  std::vector<std::string> layouts = {"contiguous", "transposed", "transposed_out", "broadcast",
                                      "offset",     "0-d",        "empty",          "large"};
  if (f) layouts.push_back("nan_inf");
  auto shape_for = [](const std::string& layout, std::vector<int64_t> base, std::vector<int64_t> large) {
    if (layout == "0-d") return std::vector<int64_t>{};
    if (layout == "empty") {
      base[0] = 0;
      return base;
    }
    if (layout == "large") return large;
    return base;
  };
  auto elementwise = [&](int n_in, const std::vector<int32_t>& in_dtypes, int32_t out_dt) {
    for (const std::string& l : layouts) {
      Case c;
      c.op = &op;
      c.dtype = dt;
      c.layout = l;
      const auto sizes = shape_for(l, {5, 7}, {517, 263});
      // transposed: inputs column-major, output row-major; transposed_out:
      // the reverse (the same layout everywhere would hide ignored strides)
      const std::string in_l = l == "transposed_out" ? "contiguous" : l;
      const std::string out_l = l == "transposed" ? "contiguous" : l == "transposed_out" ? "transposed" : l;
      for (int k = 0; k < n_in; ++k) {
        Operand in;
        set_operand(in, in_dtypes[static_cast<size_t>(k)], sizes, in_l, true);
        c.inputs.push_back(std::move(in));
      }
      set_operand(c.output, out_dt, sizes, out_l, false);
      cases.push_back(std::move(c));
    }
  };
  const std::string name = op.name;
  const auto device_mask = p_.props.dtype_mask;
  switch (op.kind) {
    case OpKind::kFill:
      elementwise(0, {}, dt);
      for (Case& c : cases) add_attr_scalar(c.attrs, "value", f ? 1.25 : (dt == PRISM_DTYPE_BOOL ? 1 : 7));
      break;
    case OpKind::kCopy:
      for (int32_t src = 0; src < PRISM_NUM_DTYPES; ++src) {
        if (!(device_mask & PRISM_DTYPE_BIT(src))) continue;
        const size_t before = cases.size();
        elementwise(1, {src}, dt);
        for (size_t i = before; i < cases.size(); ++i)
          cases[i].variant = std::string("from=") + dtype_name(src);
      }
      break;
    case OpKind::kUnary:
      elementwise(1, {dt}, dt);
      break;
    case OpKind::kBinary: {
      if (name == "div") {
        // mode 0 needs float outputs; modes 1-2 every numeric dtype
        for (int mode : {0, 1, 2}) {
          if (mode == 0 && !f) continue;
          const size_t before = cases.size();
          elementwise(2, {dt, dt}, dt);
          for (size_t i = before; i < cases.size(); ++i) {
            if (mode != 0) {
              add_attr_int(cases[i].attrs, "rounding_mode", mode);
              cases[i].variant = "rounding_mode=" + std::to_string(mode);
            }
          }
        }
        break;
      }
      elementwise(2, {dt, dt}, dt);
      if ((name == "add" || name == "sub") && dt != PRISM_DTYPE_BOOL) {
        for (Case& c : cases)
          if (c.layout == "offset" || c.layout == "large") {
            add_attr_scalar(c.attrs, "alpha", 2);
            c.variant = "alpha=2";
          }
      }
      break;
    }
    case OpKind::kCompare:
    case OpKind::kLogical:
      elementwise(2, {dt, dt}, PRISM_DTYPE_BOOL);
      break;
    case OpKind::kLogicalNot:
      elementwise(1, {dt}, PRISM_DTYPE_BOOL);
      break;
    case OpKind::kWhere:
      elementwise(3, {PRISM_DTYPE_BOOL, dt, dt}, dt);
      break;
    case OpKind::kClamp:
      elementwise(1, {dt}, dt);
      for (Case& c : cases) {
        const bool u = dt == PRISM_DTYPE_U8;
        add_attr_scalar(c.attrs, "min", f ? -0.5 : (u ? 2 : -1));
        add_attr_scalar(c.attrs, "max", f ? 0.75 : (u ? 9 : 3));
      }
      break;
    case OpKind::kReduce:
    case OpKind::kBoolReduce:
    case OpKind::kArgReduce: {
      struct R {
        std::string layout;
        std::vector<int64_t> in;
        std::vector<int64_t> reduce;  // dims
      };
      std::vector<R> rs;
      const bool arg = op.kind == OpKind::kArgReduce;
      if (arg) {
        rs = {{"contiguous", {4, 6, 5}, {0}}, {"contiguous", {4, 6, 5}, {1}}, {"contiguous", {4, 6, 5}, {2}},
              {"transposed", {4, 6, 5}, {1}}, {"broadcast", {4, 6, 5}, {2}},  {"offset", {4, 6, 5}, {1}},
              {"large", {1031, 263}, {1}}};
        if (f) rs.push_back({"nan_inf", {4, 6, 5}, {1}});
      } else {
        rs = {{"contiguous", {4, 6, 5}, {0, 1, 2}},
              {"contiguous", {4, 6, 5}, {1}},
              {"contiguous", {4, 6, 5}, {0, 2}},
              {"transposed", {4, 6, 5}, {1}},
              {"broadcast", {4, 6, 5}, {0, 2}},
              {"offset", {4, 6, 5}, {2}},
              {"0-d", {}, {}},
              {"empty", {4, 0, 5}, {1}},
              {"large", {1031, 263}, {1}},
              {"large", {1031, 263}, {0, 1}}};
        if (f) rs.push_back({"nan_inf", {4, 6, 5}, {1}});
      }
      for (const R& r : rs) {
        Case c;
        c.op = &op;
        c.dtype = dt;
        c.layout = r.layout;
        std::vector<int64_t> out = r.in;
        std::string dims;
        for (int64_t d : r.reduce) {
          out[static_cast<size_t>(d)] = 1;
          dims += (dims.empty() ? "" : "+") + std::to_string(d);
        }
        c.variant = arg ? "dim=" + dims : (dims.empty() ? "" : "dims=" + dims);
        Operand in;
        set_operand(in, dt, r.in, r.layout, true);
        c.inputs.push_back(std::move(in));
        const int32_t out_dt = arg ? PRISM_DTYPE_I64 : op.kind == OpKind::kBoolReduce ? PRISM_DTYPE_BOOL : dt;
        set_operand(c.output, out_dt, out, r.layout == "offset" ? "offset" : "contiguous", false);
        if (arg) add_attr_int(c.attrs, "dim", r.reduce[0]);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kBmm: {
      struct B {
        std::string layout;
        int64_t b, m, k, n;
      };
      const std::vector<B> bs = {{"contiguous", 3, 4, 5, 6}, {"transposed", 3, 4, 5, 6},
                                 {"broadcast", 3, 4, 5, 6},  {"offset", 3, 4, 5, 6},
                                 {"empty", 2, 3, 0, 4},      {"large", 4, 96, 80, 72}};
      for (const B& b : bs) {
        Case c;
        c.op = &op;
        c.dtype = dt;
        c.layout = b.layout;
        Operand a, bb;
        set_operand(a, dt, {b.b, b.m, b.k}, b.layout == "broadcast" ? "contiguous" : b.layout, true);
        set_operand(bb, dt, {b.b, b.k, b.n}, b.layout, true);
        c.inputs.push_back(std::move(a));
        c.inputs.push_back(std::move(bb));
        set_operand(c.output, dt, {b.b, b.m, b.n}, b.layout == "offset" ? "offset" : "contiguous", false);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kRandom: {
      if (!rng) break;
      struct Rl {
        std::string layout;
        std::vector<int64_t> sizes;
        uint64_t seed, offset;
      };
      const std::vector<Rl> rls = {{"contiguous", {5, 7}, 0, 0},
                                   {"contiguous", {5, 7}, 42, 5},
                                   {"transposed", {5, 7}, 7, 1},
                                   {"offset", {5, 7}, 0x123456789ull, (1ull << 33) + 1},
                                   {"0-d", {}, 3, 3},
                                   {"empty", {0, 7}, 1, 1},
                                   {"large", {517, 263}, 2024, 9}};
      for (const Rl& r : rls) {
        Case c;
        c.op = &op;
        c.dtype = dt;
        c.layout = r.layout;
        c.variant = "seed=" + std::to_string(r.seed) + ",offset=" + std::to_string(r.offset);
        set_operand(c.output, dt, r.sizes, r.layout, false);
        add_attr_int(c.attrs, "seed", static_cast<int64_t>(r.seed));
        add_attr_int(c.attrs, "offset", static_cast<int64_t>(r.offset));
        if (name == "philox_uniform") {
          add_attr_float(c.attrs, "low", -1.5);
          add_attr_float(c.attrs, "high", 3.0);
        } else if (name == "philox_normal") {
          add_attr_float(c.attrs, "mean", 0.5);
          add_attr_float(c.attrs, "std", 2.0);
        } else if (name == "philox_randint") {
          add_attr_int(c.attrs, "low", -5);
          add_attr_int(c.attrs, "high", 100);
        } else {
          add_attr_float(c.attrs, "p", 0.3);
        }
        cases.push_back(std::move(c));
      }
      if (name == "philox_bernoulli" && (device_mask & PRISM_DTYPE_BIT(PRISM_DTYPE_F32))) {
        Case c;
        c.op = &op;
        c.dtype = dt;
        c.layout = "contiguous";
        c.variant = "p_tensor";
        Operand pin;
        set_operand(pin, PRISM_DTYPE_F32, {5, 7}, "contiguous", true);
        c.inputs.push_back(std::move(pin));
        set_operand(c.output, dt, {5, 7}, "contiguous", false);
        add_attr_int(c.attrs, "seed", 11);
        add_attr_int(c.attrs, "offset", 2);
        cases.push_back(std::move(c));
      }
      if (name == "philox_randint" && dt == PRISM_DTYPE_I64) {
        Case c;
        c.op = &op;
        c.dtype = dt;
        c.layout = "contiguous";
        c.variant = "wide_range";
        set_operand(c.output, dt, {5, 7}, "contiguous", false);
        add_attr_int(c.attrs, "seed", 5);
        add_attr_int(c.attrs, "offset", 6);
        add_attr_int(c.attrs, "low", -(1ll << 40));
        add_attr_int(c.attrs, "high", 1ll << 41);
        cases.push_back(std::move(c));
      }
      break;
    }
  }
  return cases;
}

// Input values: a domain per op where the op is defined and well conditioned.
void Runner::fill_inputs(Case& c) {
  const std::string op = c.op->name;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    Operand& o = c.inputs[k];
    const int32_t dt = o.view.dtype;
    const bool f = is_float(dt);
    const bool u = dt == PRISM_DTYPE_U8;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto real = [&](double lo, double hi) { return lo + (hi - lo) * unit(rng_); };
    auto integer = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
    };
    auto nonzero_real = [&](double lo, double hi) { return (unit(rng_) < 0.5 ? -1 : 1) * real(lo, hi); };
    auto nonzero_int = [&](int64_t hi) {
      const int64_t m = integer(1, hi);
      return u || unit(rng_) < 0.5 ? m : -m;
    };
    const int64_t n = o.view.numel();
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* p = o.image.data() + o.view.byte_pos(i);
      if (dt == PRISM_DTYPE_BOOL) {
        store_int(dt, p, integer(0, 1));
        continue;
      }
      if (c.op->kind == OpKind::kRandom) {  // bernoulli probabilities
        store_real(dt, p, real(0.0, 1.0));
        continue;
      }
      if (f) {
        double v;
        if (op == "log" || op == "sqrt" || op == "rsqrt")
          v = real(0.1, 4.0);
        else if (op == "log1p")
          v = real(-0.5, 3.0);
        else if (op == "exp" || op == "expm1")
          v = real(-4.0, 4.0);
        else if (op == "reciprocal")
          v = nonzero_real(0.25, 2.0);
        else if ((op == "div" || op == "remainder") && k == 1)
          v = nonzero_real(0.25, 2.0);
        else if (op == "pow")
          v = k == 0 ? real(0.25, 2.0) : real(-2.0, 2.0);
        else if (op == "prod")
          v = real(0.99, 1.01);
        else if (op == "copy")
          v = real(-100.0, 100.0);
        else if (op == "round")
          v = std::round(real(-8, 8) * 2) / 2;  // ties to exercise half-to-even
        else
          v = real(-2.0, 2.0);
        store_real(dt, p, v);
      } else {
        int64_t v;
        if ((op == "div" || op == "remainder") && k == 1)
          v = nonzero_int(6);
        else if (op == "pow")
          v = k == 0 ? integer(u ? 0 : -3, 3) : integer(0, 3);
        else if (op == "bmm")
          v = integer(u ? 0 : -3, 3);
        else if (op == "prod")
          v = integer(u ? 1 : -2, 2);
        else
          v = u ? integer(0, 40) : integer(-20, 20);
        store_int(dt, p, v);
      }
    }
    if (c.layout == "nan_inf" && f && n > 0) {
      const double specials[] = {NAN, INFINITY, -INFINITY, -0.0};
      for (size_t s = 0; s < 4; ++s) {
        const int64_t i = static_cast<int64_t>((k * 7 + s * 11) % static_cast<size_t>(n));
        store_real(dt, o.image.data() + o.view.byte_pos(i), specials[s]);
      }
    }
  }
}

// ===========================================================================
// Tolerances (Note [Conformance tolerances])
// ---------------------------------------------------------------------------
// Integer and bool results must be exact. Float results are compared with
// the reference rounded to the output dtype:
//   kExact           identical values (fill, neg, abs, relu, max/min, where...)
//   kRounded         within 1 ulp: one correctly rounded operation (add, mul,
//                    div, sqrt, copy...) computed in f32 for halves may round
//                    twice, never more
//   kTranscendental  allclose(rtol, atol) per dtype, or within 2 ulp, and the
//                    NMSE over the tensor below a per-dtype bound
//   kAccumulate      |got - ref| <= atol + rtol·|ref| + eps·Σ|terms| (the
//                    error bound of any summation order in an f32/f64
//                    accumulator) and the NMSE bound
//   kBitExact        bit-identical (Note [Philox streams])
// NaN must give NaN; ±Inf must match exactly; the sign of zero is ignored.
// ===========================================================================

struct Tol {
  int64_t max_ulp = 0;
  double rtol = 0, atol = 0, nmse = -1;
};

Tol tolerance(TolClass cls, int32_t dt) {
  Tol t;
  const bool half = dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16;
  switch (cls) {
    case TolClass::kExact:
    case TolClass::kBitExact:
      return t;
    case TolClass::kRounded:
      t.max_ulp = 1;
      return t;
    case TolClass::kTranscendental:
      t.max_ulp = 2;
      if (dt == PRISM_DTYPE_F64) {
        t.rtol = 1e-10;
        t.atol = 1e-12;
        t.nmse = 1e-22;
      } else if (dt == PRISM_DTYPE_F32) {
        t.rtol = 1e-5;
        t.atol = 1e-6;
        t.nmse = 1e-11;
      } else if (dt == PRISM_DTYPE_F16) {
        t.rtol = 2e-3;
        t.atol = 1e-3;
        t.nmse = 1e-6;
      } else {
        t.rtol = 1.6e-2;
        t.atol = 1e-2;
        t.nmse = 1e-4;
      }
      return t;
    case TolClass::kAccumulate:
      t.max_ulp = 1;
      t.rtol = dt == PRISM_DTYPE_F64           ? 1e-14
               : dt == PRISM_DTYPE_F32         ? 1e-6
               : half && dt == PRISM_DTYPE_F16 ? 1e-3
                                               : 8e-3;
      t.atol = 1e-30;
      t.nmse = dt == PRISM_DTYPE_F64   ? 1e-24
               : dt == PRISM_DTYPE_F32 ? 1e-11
               : dt == PRISM_DTYPE_F16 ? 1e-6
                                       : 1e-4;
      return t;
  }
  return t;
}

std::string index_text(const std::vector<int64_t>& sizes, int64_t linear) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = linear % sizes[d];
    linear /= sizes[d];
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? "," : "") + std::to_string(idx[d]);
  return s + "]";
}

std::string num_text(double v, bool f) {
  char buf[64];
  if (f)
    std::snprintf(buf, sizeof buf, "%.9g", v);
  else
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  return buf;
}

// Compares the downloaded output image with the reference; fills r.
void compare(const Case& c, const RefResult& ref, const std::vector<uint8_t>& got_image, CaseResult& r) {
  const View& v = c.output.view;
  const int32_t dt = v.dtype;
  const size_t esz = dtype_size(dt);
  // 1. every byte that is not an output element must be untouched
  std::vector<uint8_t> covered(got_image.size(), 0);
  const int64_t n = v.numel();
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t pos = v.byte_pos(i);
    for (size_t b = 0; b < esz; ++b) covered[pos + b] = 1;
  }
  for (size_t b = 0; b < got_image.size(); ++b) {
    if (!covered[b] && got_image[b] != c.output.image[b]) {
      const long long rel = static_cast<long long>(b) - static_cast<long long>(v.byte_offset);
      r.status = "fail";
      r.message = "wrote outside the output view: byte " + std::to_string(rel) + " relative to element 0 (" +
                  (b < kGuard                       ? "guard before the buffer"
                   : b >= got_image.size() - kGuard ? "guard after the buffer"
                                                    : "a gap between elements") +
                  ") changed";
      return;
    }
  }
  // 2. element values
  const bool f = is_float(dt);
  const Tol tol = tolerance(c.op->tol, dt);
  double num = 0, den = 0, extra2 = 0;
  int64_t first_bad = -1;
  std::string why;
  for (int64_t i = 0; i < n; ++i) {
    const Value got = load(dt, got_image.data() + v.byte_pos(i));
    const Value& want = ref.values[static_cast<size_t>(i)];
    bool ok;
    std::string reason;
    if (!f) {
      ok = got.i == want.i;
      if (dt == PRISM_DTYPE_BOOL && got_image[v.byte_pos(i)] > 1) {
        ok = false;
        reason = " (bool byte is " + std::to_string(got_image[v.byte_pos(i)]) + ", not 0 or 1)";
      }
    } else if (std::isnan(want.f) || std::isnan(got.f)) {
      ok = std::isnan(want.f) && std::isnan(got.f);
      reason = " (NaN rule)";
    } else if (std::isinf(want.f) || std::isinf(got.f)) {
      ok = got.f == want.f;
      reason = " (Inf rule)";
    } else {
      const double err = std::fabs(got.f - want.f);
      r.max_abs_err = std::max(r.max_abs_err, err);
      const int64_t ulp = ulp_distance(dt, got.f, want.f);
      r.max_ulp = std::max(r.max_ulp, ulp);
      const double extra = ref.extra_atol.empty() ? 0.0 : ref.extra_atol[static_cast<size_t>(i)];
      ok = ulp <= tol.max_ulp || err <= tol.atol + tol.rtol * std::fabs(want.f) + extra;
      num += err * err;
      den += want.f * want.f;
      extra2 += extra * extra;
      if (!ok) {
        char buf[160];
        std::snprintf(buf, sizeof buf, " (|err| %.3g, %lld ulp; allowed %lld ulp or %.3g)", err,
                      static_cast<long long>(ulp), static_cast<long long>(tol.max_ulp),
                      tol.atol + tol.rtol * std::fabs(want.f) + extra);
        reason = buf;
      }
    }
    if (!ok && first_bad < 0) {
      first_bad = i;
      why = "element " + index_text(v.sizes, i) + ": got " +
            num_text(f ? got.f : static_cast<double>(got.i), f) + ", expected " +
            num_text(f ? want.f : static_cast<double>(want.i), f) + reason;
    }
  }
  r.nmse = den > 0 ? num / den : num;
  if (first_bad >= 0) {
    r.status = "fail";
    r.message = why;
    return;
  }
  // accumulating ops: the bound grows with the accumulation error allowed above
  const double nmse_bound = tol.nmse + (den > 0 ? extra2 / den : 0.0);
  if (tol.nmse >= 0 && den > 0 && r.nmse > nmse_bound) {
    r.status = "fail";
    char buf[120];
    std::snprintf(buf, sizeof buf, "NMSE %.3g above the %s bound %.3g", r.nmse, dtype_name(dt), nmse_bound);
    r.message = buf;
    return;
  }
  r.status = "pass";
}

prism_plugin_error* Runner::call_kernel(const Kernel& k, Case& c, std::vector<prism_tensor_desc>& descs,
                                        std::vector<prism_attr>& attrs) {
  descs.clear();
  auto desc = [](const Operand& o) {
    prism_tensor_desc d{};
    d.struct_size = sizeof d;
    d.buffer = o.handle;
    d.byte_offset = o.view.byte_offset;
    d.dtype = o.view.dtype;
    d.ndim = static_cast<int32_t>(o.view.sizes.size());
    d.sizes = o.view.sizes.data();
    d.strides = o.view.strides.data();
    return d;
  };
  for (const Operand& o : c.inputs) descs.push_back(desc(o));
  descs.push_back(desc(c.output));
  attrs.clear();
  for (const RefAttr& a : c.attrs) {
    prism_attr pa{};
    pa.struct_size = sizeof pa;
    pa.name = a.name.c_str();
    pa.kind = a.kind;
    pa.i = a.i;
    pa.f = a.f;
    pa.ints = a.ints.empty() ? nullptr : a.ints.data();
    pa.n_ints = static_cast<int64_t>(a.ints.size());
    attrs.push_back(pa);
  }
  prism_kernel_call call{};
  call.struct_size = sizeof call;
  call.op = c.op->name;
  call.device = opt_.device;
  call.stream = nullptr;
  call.inputs = c.inputs.empty() ? nullptr : descs.data();
  call.n_inputs = c.inputs.size();
  call.outputs = descs.data() + c.inputs.size();
  call.n_outputs = 1;
  call.attrs = attrs.empty() ? nullptr : attrs.data();
  call.n_attrs = attrs.size();
  if (k.supports != nullptr && k.supports(p_.ctx, &call) == 0)
    return reinterpret_cast<prism_plugin_error*>(-1);
  return k.run(p_.ctx, &call);
}

void Runner::run_case(Case& c) {
  CaseResult r{
      c.op->kind == OpKind::kRandom ? "rng" : "ops", c.op->name, dtype_name(c.dtype), c.label(), "pass", ""};
  const Kernel* k = p_.find(c.op->name, c.dtype);
  fill_inputs(c);
  RefCall rc;
  rc.op = c.op;
  for (const Operand& o : c.inputs) {
    rc.in_views.push_back(o.view);
    rc.in_images.push_back(&o.image);
  }
  rc.out_view = c.output.view;
  rc.attrs = c.attrs;
  const RefResult ref = reference_run(rc);

  const auto t0 = std::chrono::steady_clock::now();
  std::string err;
  bool allocated = true;
  for (Operand& o : c.inputs) allocated = allocated && alloc_operand(o, err);
  allocated = allocated && alloc_operand(c.output, err);
  if (allocated) {
    for (Operand& o : c.inputs)
      if (err.empty()) err = upload(o);
    if (err.empty()) err = upload(c.output);
  }
  std::vector<prism_tensor_desc> descs;
  std::vector<prism_attr> attrs;
  Err kerr;
  bool declined = false;
  if (err.empty()) {
    prism_plugin_error* raw = nullptr;
    std::string crash = guarded(opt_.timeout_s, [&] {
      raw = call_kernel(*k, c, descs, attrs);
      if (raw == reinterpret_cast<prism_plugin_error*>(-1)) return;
      kerr = take(raw);
      if (kerr.ok) kerr = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
    });
    declined = raw == reinterpret_cast<prism_plugin_error*>(-1);
    if (!crash.empty()) err = "kernel " + crash;
  }
  std::vector<uint8_t> got;
  if (err.empty() && !declined) {
    if (!ref.error.empty()) {
      if (kerr.ok)
        err = "expected an error (" + ref.error + "), the kernel returned success";
      else if (kerr.foreign)
        err = "the kernel returned an error object not made by host->error_create";
    } else if (!kerr.ok) {
      err = "kernel failed: " + describe(kerr);
    } else {
      err = download(c.output, got);
      if (err.empty()) {
        compare(c, ref, got, r);
        // inputs must be untouched
        for (size_t i = 0; i < c.inputs.size() && r.status == "pass"; ++i) {
          std::vector<uint8_t> in_now;
          std::string e2 = download(c.inputs[i], in_now);
          if (!e2.empty())
            err = e2;
          else if (in_now != c.inputs[i].image) {
            r.status = "fail";
            r.message = "input " + std::to_string(i) + " was modified";
          }
        }
      }
    }
  }
  for (Operand& o : c.inputs) free_operand(o);
  free_operand(c.output);
  r.time_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (declined) {
    r.status = "skip";
    r.message = "skipped: declined by the kernel's supports() (the core falls back)";
  } else if (!err.empty()) {
    r.status = "fail";
    r.message = err;
  } else if (r.status == "pass" && !ref.error.empty()) {
    r.message = "returned an error as required (" + ref.error + "): " + describe(kerr);
  }
  add(std::move(r));
}

// ===========================================================================
// ops / rng
// ===========================================================================

void Runner::mode_ops(bool rng_only) {
  progress_mode_ = rng_only ? "rng" : "ops";
  struct Todo {
    const OpSpec* op;
    int32_t dt;
  };
  std::vector<Todo> todo;
  for (const OpSpec& op : op_table()) {
    if ((op.kind == OpKind::kRandom) != rng_only || !op_selected(op.name)) continue;
    for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
      if (!dtype_selected(dt) || !p_.find(op.name, dt)) continue;
      if (!(op.dtypes & PRISM_DTYPE_BIT(dt))) {
        add({rng_only ? "rng" : "ops", op.name, dtype_name(dt), "-", "skip",
             "skipped: the plugin registers this dtype, docs/ops.md does not define the op for it"});
        continue;
      }
      todo.push_back({&op, dt});
    }
  }
  progress_total_ = todo.size();
  progress_done_ = 0;
  for (const Todo& t : todo) {
    progress(std::string(t.op->name) + " " + dtype_name(t.dt));
    std::vector<Case> cases = build_cases(*t.op, t.dt, rng_only);
    for (Case& c : cases) run_case(c);
  }
  // ops the plugin registers that docs/ops.md does not know
  if (!rng_only) {
    std::set<std::string> seen;
    for (const Kernel& k : p_.kernels)
      if (!find_op(k.op) && seen.insert(k.op).second && op_selected(k.op))
        add({"ops", k.op, "-", "-", "skip",
             "skipped: not a kernel op of docs/ops.md (the core never calls it)"});
  }
  if (!opt_.quiet && isatty(2)) std::fprintf(stderr, "\r\033[K");
}

// ===========================================================================
// abi (Note [Conformance abi checks])
// ---------------------------------------------------------------------------
// Version negotiation both ways (a major-2 host is refused with an error
// naming the versions; the table's major is checked), host tables shorter
// (no `log` slot: the plugin must not call it) and longer (unknown trailing
// fields) than the plugin's, device_props with a short struct (the plugin may
// only write fields that fit), the table's own struct_size and
// kernel_def_size, optional event slots all-or-nothing, error objects for
// bad calls (made through host->error_create), zero-size and absurdly large
// allocations, free(NULL), and an allocation churn whose memory must come
// back. Leak accounting of buffers and error objects closes the run.
// ===========================================================================

void Runner::mode_abi() {
  const prism_plugin_table* t = p_.table;
  auto row = [&](const std::string& check, bool ok, const std::string& msg) {
    add({"abi", "(plugin)", "-", check, ok ? "pass" : "fail", msg});
  };
  // --- entry with a host of another major
  {
    prism_host_table h = make_host(PRISM_PLUGIN_ABI_MAJOR + 1, 0);
    const prism_plugin_table* out = nullptr;
    Err e;
    std::string crash = guarded(opt_.timeout_s, [&] { e = take(p_.entry(&h, &out)); });
    if (!crash.empty())
      row("host_major_2_refused", false, "entry " + crash + " with a host of ABI 2.0");
    else if (e.ok)
      row("host_major_2_refused", false, "entry accepted a host of ABI 2.0 (must refuse with an error)");
    else
      row("host_major_2_refused",
          e.message.find('2') != std::string::npos && e.message.find('1') != std::string::npos,
          "refused: " + describe(e) +
              (e.message.find('2') != std::string::npos ? "" : " (message must name both versions)"));
    // the entry may have replaced its stored host pointer: restore ours
    guarded(opt_.timeout_s, [&] { take(p_.entry(&p_.host, &out)); });
  }
  // --- table fields
  row("table_abi_major", t->abi_major == PRISM_PLUGIN_ABI_MAJOR,
      "table ABI " + std::to_string(t->abi_major) + "." + std::to_string(t->abi_minor));
  {
    bool ok = t->struct_size >= kTableRequiredEnd;
    const bool has_events = t->struct_size >= offsetof(prism_plugin_table, event_destroy) + sizeof(void*);
    if (ok && t->abi_minor == 0 && t->struct_size > sizeof(prism_plugin_table) + 256) ok = false;
    row("table_struct_size", ok,
        "struct_size " + std::to_string(t->struct_size) +
            " (v1.0 requires >= " + std::to_string(kTableRequiredEnd) + ", this header's full table is " +
            std::to_string(sizeof(prism_plugin_table)) + ")" + (has_events ? "" : "; event slots absent"));
  }
  {
    bool ok =
        t->kernel_def_size >= kKernelDefRequiredEnd && t->kernel_def_size % alignof(prism_kernel_def) == 0;
    size_t bad = 0;
    const char* base = reinterpret_cast<const char*>(t->kernels);
    for (size_t i = 0; ok && i < t->n_kernels; ++i) {
      const auto* d = reinterpret_cast<const prism_kernel_def*>(base + i * t->kernel_def_size);
      if (d->struct_size < kKernelDefRequiredEnd || d->op == nullptr || d->run == nullptr) ++bad;
    }
    row("kernel_defs", ok && bad == 0,
        std::to_string(t->n_kernels) + " kernel defs, kernel_def_size " + std::to_string(t->kernel_def_size) +
            (bad ? ", " + std::to_string(bad) + " with a short struct_size or NULL op/run" : ""));
  }
  row("names", t->name && *t->name && t->device_type && *t->device_type && t->version,
      std::string("name/device_type/version ") + (t->name ? "set" : "NULL"));
  // --- optional slots: events all-or-nothing
  {
    const bool fits = t->struct_size >= offsetof(prism_plugin_table, event_destroy) + sizeof(void*);
    const int n = fits ? (t->event_create != nullptr) + (t->event_record != nullptr) +
                             (t->event_wait != nullptr) + (t->event_synchronize != nullptr) +
                             (t->event_destroy != nullptr)
                       : 0;
    if (n != 0 && n != 5) {
      row("event_slots", false, std::to_string(n) + " of 5 event slots set: set all or none");
    } else if (n == 0) {
      row("event_slots", true, "no event slots (NULL: the core orders work with synchronize)");
    } else if (device_ok_) {
      Err e;
      prism_event_t ev = nullptr;
      std::string crash = guarded(opt_.timeout_s, [&] {
        e = take(t->event_create(p_.ctx, opt_.device, &ev));
        if (e.ok) e = take(t->event_record(p_.ctx, opt_.device, ev, nullptr));
        if (e.ok) e = take(t->event_wait(p_.ctx, opt_.device, ev, nullptr));
        if (e.ok) e = take(t->event_synchronize(p_.ctx, ev));
        if (ev) t->event_destroy(p_.ctx, ev);
      });
      row("event_slots", crash.empty() && e.ok,
          crash.empty() ? (e.ok ? "create/record/wait/synchronize/destroy" : describe(e)) : crash);
    }
  }
  // --- optional slots (1.1): pinned host memory, both or none; a block is
  // written by the host, copied to the device and back through the table
  {
    const bool fits = PRISM_HAS(t, prism_plugin_table, host_free);
    const int n = fits ? (t->host_alloc != nullptr) + (t->host_free != nullptr) : 0;
    if (n == 1) {
      row("pinned_slots", false, "only one of host_alloc/host_free is set: set both or none");
    } else if (n == 0) {
      row("pinned_slots", true,
          fits ? "no pinned host memory (NULL slots)" : "no pinned host memory (a table older than 1.1)");
    } else if (device_ok_) {
      constexpr size_t kBytes = 4096 + 64;
      Err e;
      bool same = false, aligned = false;
      std::string crash = guarded(opt_.timeout_s, [&] {
        void* pin = nullptr;
        void* buf = nullptr;
        e = take(t->host_alloc(p_.ctx, opt_.device, kBytes, &pin));
        if (!e.ok) return;
        aligned = pin != nullptr && reinterpret_cast<uintptr_t>(pin) % 64 == 0;
        auto* bytes = static_cast<unsigned char*>(pin);
        for (size_t i = 0; aligned && i < kBytes; ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 3);
        std::vector<unsigned char> back(kBytes, 0);
        e = take(t->alloc(p_.ctx, opt_.device, kBytes, &buf));
        if (e.ok && aligned) e = take(t->copy_from_host(p_.ctx, opt_.device, nullptr, pin, buf, 0, kBytes));
        if (e.ok && aligned) e = take(t->synchronize(p_.ctx, opt_.device, nullptr));
        if (e.ok && aligned) {
          e = take(t->copy_to_host(p_.ctx, opt_.device, nullptr, buf, 0, back.data(), kBytes));
          same = e.ok && std::memcmp(back.data(), pin, kBytes) == 0;
        }
        if (buf != nullptr) t->free(p_.ctx, opt_.device, buf);
        t->host_free(p_.ctx, opt_.device, pin);
        t->host_free(p_.ctx, opt_.device, nullptr);  // a no-op
      });
      row("pinned_slots", crash.empty() && e.ok && aligned && same,
          !crash.empty() ? crash
          : !e.ok        ? describe(e)
          : !aligned     ? "host_alloc returned NULL or memory not aligned to 64 bytes"
          : !same        ? "bytes copied from pinned memory to the device and back differ"
                         : "host_alloc, copies from and to the device, host_free");
    }
  }
  if (!device_ok_) {
    add({"abi", "(plugin)", "-", "device_checks", "skip", "skipped: " + device_skip_reason_});
    return;
  }
  // --- host table shorter (no log slot) and longer
  {
    prism_host_table short_host = make_host(PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR);
    short_host.struct_size = offsetof(prism_host_table, log);
    short_host.log = nullptr;
    BigHost big{};
    big.table = make_host(PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR);
    big.table.struct_size = sizeof(BigHost);
    for (uint64_t& x : big.future) x = 0xDEADBEEFDEADBEEFull;
    for (int which = 0; which < 2; ++which) {
      prism_host_table* h = which == 0 ? &short_host : &big.table;
      const char* name = which == 0 ? "host_struct_size_smaller" : "host_struct_size_larger";
      const prism_plugin_table* out = nullptr;
      Err e, e2;
      void* ctx = nullptr;
      int32_t count = 0;
      const char* reason = nullptr;
      g_log_absent = which == 0;
      g_log_called_absent = false;
      std::string crash = guarded(opt_.timeout_s, [&] {
        e = take(p_.entry(h, &out));
        if (!e.ok || out == nullptr) return;
        e2 = take(out->init(&ctx));
        if (!e2.ok) return;
        e2 = take(out->device_count(ctx, &count, &reason));
        out->shutdown(ctx);
      });
      g_log_absent = false;
      guarded(opt_.timeout_s, [&] { take(p_.entry(&p_.host, &out)); });
      const bool ok = crash.empty() && e.ok && e2.ok && !g_log_called_absent;
      row(name, ok,
          !crash.empty() ? crash
          : !e.ok        ? "entry refused: " + describe(e)
          : !e2.ok       ? "init/device_count failed: " + describe(e2)
          : g_log_called_absent
              ? "the plugin called host->log although struct_size excludes it (check PRISM_HAS)"
              : "init, device_count, shutdown with host struct_size " + std::to_string(h->struct_size));
    }
  }
  // --- device_props with a short struct: only fields that fit may be written
  {
    unsigned char buf[sizeof(prism_device_props) + 64];
    std::memset(buf, kPattern, sizeof buf);
    auto* props = reinterpret_cast<prism_device_props*>(buf);
    props->struct_size = offsetof(prism_device_props, vendor);
    Err e;
    std::string crash =
        guarded(opt_.timeout_s, [&] { e = take(t->device_props(p_.ctx, opt_.device, props)); });
    bool untouched = true;
    for (size_t b = offsetof(prism_device_props, vendor); b < sizeof buf; ++b)
      untouched = untouched && buf[b] == kPattern;
    row("props_struct_size_smaller", crash.empty() && e.ok && untouched,
        !crash.empty() ? crash
        : !e.ok        ? describe(e)
        : untouched    ? "only the fields that fit were written"
                       : "wrote past props->struct_size");
  }
  // --- error objects for bad calls
  {
    prism_device_props props{};
    props.struct_size = sizeof props;
    Err e;
    std::string crash =
        guarded(opt_.timeout_s, [&] { e = take(t->device_props(p_.ctx, p_.device_count + 3, &props)); });
    row("error_bad_device", crash.empty() && !e.ok && !e.foreign,
        !crash.empty() ? crash
        : e.ok         ? "device_props of a device that does not exist succeeded"
                       : "error: " + describe(e));
    void* h = nullptr;
    crash = guarded(opt_.timeout_s, [&] { e = take(t->alloc(p_.ctx, p_.device_count + 3, 64, &h)); });
    row("error_bad_alloc_device", crash.empty() && !e.ok && !e.foreign,
        !crash.empty() ? crash
        : e.ok         ? "alloc on a device that does not exist succeeded"
                       : "error: " + describe(e));
    if (e.ok && h) guarded(opt_.timeout_s, [&] { t->free(p_.ctx, p_.device_count + 3, h); });
    const Kernel* fill = nullptr;
    for (const Kernel& k : p_.kernels)
      if (k.op == "fill") fill = &k;
    if (fill != nullptr) {
      int32_t dt = 0;
      while (dt < PRISM_NUM_DTYPES && !(fill->mask & PRISM_DTYPE_BIT(dt))) ++dt;
      Case c;
      c.op = find_op("fill");
      c.dtype = dt;
      set_operand(c.output, dt, {4}, "contiguous", false);
      std::string aerr;
      if (alloc_operand(c.output, aerr)) {
        std::vector<prism_tensor_desc> descs;
        std::vector<prism_attr> attrs;
        crash = guarded(opt_.timeout_s, [&] {
          prism_plugin_error* raw = call_kernel(*fill, c, descs, attrs);  // no `value` attribute
          e = raw == reinterpret_cast<prism_plugin_error*>(-1) ? Err{} : take(raw);
        });
        free_operand(c.output);
        row("error_missing_attribute", crash.empty() && !e.ok && e.code == PRISM_ERROR_INVALID_ARGUMENT,
            !crash.empty() ? "fill without 'value' " + crash
            : e.ok         ? "fill without its required 'value' attribute succeeded"
                           : "fill without 'value': " + describe(e));
      }
    }
  }
  // --- allocations
  {
    Err e;
    void* h = nullptr;
    std::string crash = guarded(opt_.timeout_s, [&] { e = take(t->alloc(p_.ctx, opt_.device, 0, &h)); });
    row("alloc_zero_bytes", crash.empty() && e.ok, !crash.empty() ? crash : e.ok ? "ok" : describe(e));
    if (crash.empty() && e.ok) guarded(opt_.timeout_s, [&] { t->free(p_.ctx, opt_.device, h); });
    crash = guarded(opt_.timeout_s, [&] { t->free(p_.ctx, opt_.device, nullptr); });
    row("free_null", crash.empty(), crash.empty() ? "free(NULL) is a no-op" : "free(NULL) " + crash);
    h = nullptr;
    const size_t huge = static_cast<size_t>(1) << 62;
    crash = guarded(opt_.timeout_s, [&] { e = take(t->alloc(p_.ctx, opt_.device, huge, &h)); });
    row("alloc_huge_out_of_memory", crash.empty() && !e.ok && e.code == PRISM_ERROR_OUT_OF_MEMORY,
        !crash.empty() ? "alloc(2^62) " + crash
        : e.ok         ? "alloc(2^62 bytes) succeeded"
                       : std::string("alloc(2^62) -> ") + describe(e) +
                     (e.code == PRISM_ERROR_OUT_OF_MEMORY ? "" : " (must be OUT_OF_MEMORY)"));
    if (crash.empty() && e.ok) guarded(opt_.timeout_s, [&] { t->free(p_.ctx, opt_.device, h); });
  }
  // --- allocation churn: memory must come back
  {
    auto rss_mb = [] {
      long pages = 0, resident = 0;
      FILE* f = std::fopen("/proc/self/statm", "r");
      if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
      }
      return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
    };
    const double before = rss_mb();
    std::vector<uint8_t> chunk(4 << 20, 1);
    Err e;
    std::string crash = guarded(opt_.timeout_s, [&] {
      for (int i = 0; i < 64 && e.ok; ++i) {
        void* h = nullptr;
        e = take(t->alloc(p_.ctx, opt_.device, chunk.size(), &h));
        if (!e.ok) break;
        e = take(t->copy_from_host(p_.ctx, opt_.device, nullptr, chunk.data(), h, 0, chunk.size()));
        if (e.ok) e = take(t->synchronize(p_.ctx, opt_.device, nullptr));
        t->free(p_.ctx, opt_.device, h);
      }
    });
    const double grown = rss_mb() - before;
    char msg[160];
    std::snprintf(msg, sizeof msg, "64 x 4 MiB alloc/write/free: resident memory grew %.1f MiB", grown);
    row("alloc_free_churn", crash.empty() && e.ok && grown < 64.0,
        !crash.empty() ? crash
        : !e.ok        ? describe(e)
                       : msg);
  }
}

// ===========================================================================
// support
// ===========================================================================

void Runner::mode_support() {
  const uint32_t stored = device_ok_ ? p_.props.dtype_mask : PRISM_DTYPE_MASK_ALL;
  nlohmann::json matrix = nlohmann::json::object();
  std::vector<std::string> lines;
  char head[256];
  int w = std::snprintf(head, sizeof head, "%-18s", "op");
  for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt)
    w += std::snprintf(head + w, sizeof head - w, " %-5s", dtype_name(dt));
  lines.push_back(head);
  for (const OpSpec& op : op_table()) {
    if (!op_selected(op.name)) continue;
    std::string kernels, fallbacks;
    char line[256];
    int n = std::snprintf(line, sizeof line, "%-18s", op.name);
    nlohmann::json row = nlohmann::json::object();
    for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
      const char* cell;
      if (!(op.dtypes & PRISM_DTYPE_BIT(dt)))
        cell = "-";
      else if (p_.find(op.name, dt))
        cell = "K";
      else if (stored & PRISM_DTYPE_BIT(dt))
        cell = "fb";
      else
        cell = ".";
      n += std::snprintf(line + n, sizeof line - n, " %-5s", cell);
      const std::string s = std::string(cell) == "K"    ? "kernel"
                            : std::string(cell) == "fb" ? "fallback"
                            : std::string(cell) == "."  ? "dtype not stored"
                                                        : "not defined";
      row[dtype_name(dt)] = s;
      if (s == "kernel") kernels += std::string(kernels.empty() ? "" : ",") + dtype_name(dt);
      if (s == "fallback") fallbacks += std::string(fallbacks.empty() ? "" : ",") + dtype_name(dt);
    }
    lines.push_back(line);
    matrix[op.name] = row;
    add({"support", op.name, "-", "matrix", "info",
         "kernel: " + (kernels.empty() ? std::string("none") : kernels) +
             "; falls back: " + (fallbacks.empty() ? std::string("none") : fallbacks)});
  }
  support_json_ = matrix;
  if (!opt_.quiet) {
    std::printf(
        "\nsupport matrix (K = plugin kernel, fb = falls back to the CPU plugin, . = dtype not stored, - = "
        "not defined by docs/ops.md)\n");
    for (const std::string& l : lines) std::printf("  %s\n", l.c_str());
  }
}

// ===========================================================================
// perf
// ===========================================================================

void Runner::mode_perf() {
  progress_mode_ = "perf";
  std::vector<std::string> table;
  for (const OpSpec& op : op_table()) {
    if (!op_selected(op.name)) continue;
    int32_t dt = -1;
    for (int32_t cand : {PRISM_DTYPE_F32, PRISM_DTYPE_F64, PRISM_DTYPE_I64, PRISM_DTYPE_BOOL})
      if (dt < 0 && dtype_selected(cand) && p_.find(op.name, cand) && (op.dtypes & PRISM_DTYPE_BIT(cand)))
        dt = cand;
    if (dt < 0) continue;
    // a contiguous case of about 2^20 elements (bmm: 8 x 128 x 128 x 128)
    std::vector<Case> cs = build_cases(op, dt, true);
    Case* pick = nullptr;
    for (Case& c : cs)
      if (c.layout == "large" && (pick == nullptr || c.variant.empty())) pick = &c;
    if (pick == nullptr) continue;
    Case& c = *pick;
    if (op.kind == OpKind::kBmm) {
      set_operand(c.inputs[0], dt, {8, 128, 128}, "contiguous", true);
      set_operand(c.inputs[1], dt, {8, 128, 128}, "contiguous", true);
      set_operand(c.output, dt, {8, 128, 128}, "contiguous", false);
    } else if (op.kind == OpKind::kReduce || op.kind == OpKind::kBoolReduce ||
               op.kind == OpKind::kArgReduce) {
      set_operand(c.inputs[0], dt, {1024, 1024}, "contiguous", true);
      set_operand(c.output, c.output.view.dtype, {1024, 1}, "contiguous", false);
      if (op.kind == OpKind::kArgReduce) {
        c.attrs.clear();
        add_attr_int(c.attrs, "dim", 1);
      }
    } else {
      for (Operand& o : c.inputs) set_operand(o, o.view.dtype, {1024, 1024}, "contiguous", true);
      set_operand(c.output, c.output.view.dtype, {1024, 1024}, "contiguous", false);
    }
    progress(std::string(op.name));
    fill_inputs(c);
    CaseResult r{"perf", op.name, dtype_name(dt), "1M elements", "info", ""};
    std::string err;
    bool ok = true;
    for (Operand& o : c.inputs) ok = ok && alloc_operand(o, err);
    ok = ok && alloc_operand(c.output, err);
    for (Operand& o : c.inputs)
      if (ok && err.empty()) err = upload(o);
    const Kernel* k = p_.find(op.name, dt);
    int iters = 0;
    double seconds = 0;
    if (ok && err.empty()) {
      std::vector<prism_tensor_desc> descs;
      std::vector<prism_attr> attrs;
      Err e;
      std::string crash = guarded(opt_.timeout_s, [&] {
        e = take(call_kernel(*k, c, descs, attrs));  // warm-up
        if (e.ok) e = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
      });
      crash = guarded(opt_.timeout_s, [&] {
        const auto t0 = std::chrono::steady_clock::now();
        for (; e.ok && iters < 200; ++iters) {
          e = take(call_kernel(*k, c, descs, attrs));
          if (!e.ok) break;
          seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (seconds > 0.25 && iters >= 3) {
            ++iters;
            break;
          }
        }
        Err s = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
        if (e.ok) e = s;
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
      if (!crash.empty())
        err = crash;
      else if (!e.ok)
        err = describe(e);
    }
    for (Operand& o : c.inputs) free_operand(o);
    free_operand(c.output);
    if (!err.empty() || iters == 0) {
      r.status = "fail";
      r.message = err.empty() ? "no iteration completed" : err;
    } else {
      double bytes =
          static_cast<double>(c.output.view.numel() * static_cast<int64_t>(dtype_size(c.output.view.dtype)));
      for (const Operand& o : c.inputs)
        bytes += static_cast<double>(o.view.numel() * static_cast<int64_t>(dtype_size(o.view.dtype)));
      r.time_ms = seconds * 1e3 / iters;
      r.throughput = bytes / (seconds / iters) / 1e9;
      char msg[128];
      std::snprintf(msg, sizeof msg, "%.3f ms/call, %.2f GB/s over %d calls", r.time_ms, r.throughput, iters);
      r.message = msg;
      char line[160];
      std::snprintf(line, sizeof line, "%-18s %-5s %10.3f %10.2f", op.name, dtype_name(dt), r.time_ms,
                    r.throughput);
      table.push_back(line);
    }
    add(r);
  }
  if (!opt_.quiet) {
    if (isatty(2)) std::fprintf(stderr, "\r\033[K");
    std::printf("\nperf (1M elements, contiguous; bmm 8x128x128x128)\n  %-18s %-5s %10s %10s\n", "op",
                "dtype", "ms/call", "GB/s");
    for (const std::string& l : table) std::printf("  %s\n", l.c_str());
  }
}

// ===========================================================================
// Summary and reports
// ===========================================================================

void Runner::print_summary() {
  if (opt_.quiet) return;
  std::map<std::string, std::map<std::string, int>> by_mode;
  struct OpRow {
    int pass = 0, fail = 0, skip = 0;
    std::set<std::string> failing_dtypes;
  };
  std::map<std::string, OpRow> by_op;
  for (const CaseResult& r : results_) {
    by_mode[r.mode][r.status]++;
    if (r.mode == "ops" || r.mode == "rng") {
      OpRow& o = by_op[r.op];
      if (r.status == "pass")
        ++o.pass;
      else if (r.status == "fail") {
        ++o.fail;
        o.failing_dtypes.insert(r.dtype);
      } else if (r.status == "skip")
        ++o.skip;
    }
  }
  if (!by_op.empty()) {
    std::printf("\n  %-18s %6s %6s %6s  %s\n", "op", "pass", "fail", "skip", "failing dtypes");
    for (const auto& [op, o] : by_op) {
      std::string d;
      for (const std::string& s : o.failing_dtypes) d += (d.empty() ? "" : ",") + s;
      std::printf("  %-18s %6d %6d %6d  %s\n", op.c_str(), o.pass, o.fail, o.skip, d.c_str());
    }
  }
  std::printf("\n  %-8s %6s %6s %6s %6s\n", "mode", "pass", "fail", "skip", "info");
  for (auto& [m, s] : by_mode)
    std::printf("  %-8s %6d %6d %6d %6d\n", m.c_str(), s["pass"], s["fail"], s["skip"], s["info"]);
  int fails = 0;
  for (const CaseResult& r : results_) fails += r.status == "fail";
  if (fails > 0) {
    std::printf("\n%d failure(s):\n", fails);
    int shown = 0;
    for (const CaseResult& r : results_) {
      if (r.status != "fail") continue;
      if (++shown > 40) {
        std::printf("  ... %d more (see the JSON report)\n", fails - 40);
        break;
      }
      std::printf("  FAIL %s %s %s %s: %s\n", r.mode.c_str(), r.op.c_str(), r.dtype.c_str(), r.layout.c_str(),
                  r.message.c_str());
    }
  }
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t')
          o += ' ';
        else
          o += ch;
    }
  }
  return o;
}

bool Runner::write_json(std::string& err) {
  nlohmann::json j;
  j["tool"] = "prism-conformance";
  j["abi"] = {{"major", PRISM_PLUGIN_ABI_MAJOR}, {"minor", PRISM_PLUGIN_ABI_MINOR}};
  nlohmann::json plugin = {{"path", opt_.plugin_path}};
  if (p_.table) {
    plugin["name"] = p_.table->name ? p_.table->name : "";
    plugin["device_type"] = p_.table->device_type ? p_.table->device_type : "";
    plugin["version"] = p_.table->version ? p_.table->version : "";
    plugin["abi"] = {{"major", p_.table->abi_major}, {"minor", p_.table->abi_minor}};
    plugin["kernels"] = p_.kernels.size();
  }
  j["plugin"] = plugin;
  j["device"] = {{"index", opt_.device},
                 {"count", p_.device_count},
                 {"present", device_ok_},
                 {"name", p_.dev_name},
                 {"vendor", p_.dev_vendor},
                 {"stable_id", p_.dev_id},
                 {"skip_reason", device_skip_reason_}};
  std::vector<std::string> modes(opt_.modes.begin(), opt_.modes.end());
  std::vector<std::string> dts;
  for (int32_t d : opt_.dtypes) dts.push_back(dtype_name(d));
  j["options"] = {{"modes", modes},
                  {"op_regex", opt_.op_regex},
                  {"dtypes", dts},
                  {"seed", opt_.seed},
                  {"case_timeout_s", opt_.timeout_s}};
  int pass = 0, fail = 0, skip = 0, info = 0;
  nlohmann::json cases = nlohmann::json::array();
  for (const CaseResult& r : results_) {
    pass += r.status == "pass";
    fail += r.status == "fail";
    skip += r.status == "skip";
    info += r.status == "info";
    nlohmann::json c = {{"mode", r.mode},      {"op", r.op},         {"dtype", r.dtype},
                        {"layout", r.layout},  {"status", r.status}, {"message", r.message},
                        {"time_ms", r.time_ms}};
    if (r.mode == "ops" || r.mode == "rng" || r.mode == "grad") {
      c["max_abs_err"] = r.max_abs_err;
      c["max_ulp"] = r.max_ulp;
      c["nmse"] = r.nmse;
    }
    if (r.mode == "perf") c["gb_per_s"] = r.throughput;
    cases.push_back(std::move(c));
  }
  j["summary"] = {{"passed", pass},
                  {"failed", fail},
                  {"skipped", skip},
                  {"info", info},
                  {"result", fail > 0                     ? "fail"
                             : (pass == 0 || !device_ok_) ? "not_run"
                                                          : "pass"}};
  j["support"] = support_json_;
  j["cases"] = std::move(cases);
  std::ofstream f(opt_.report_json);
  if (!f) {
    err = "cannot write the JSON report '" + opt_.report_json + "': " + std::strerror(errno);
    return false;
  }
  f << j.dump(2) << "\n";
  f.close();
  if (!f) {
    err = "cannot write the JSON report '" + opt_.report_json + "'";
    return false;
  }
  return true;
}

bool Runner::write_junit(std::string& err) {
  std::map<std::string, std::vector<const CaseResult*>> by_mode;
  for (const CaseResult& r : results_) by_mode[r.mode].push_back(&r);
  std::ostringstream x;
  int total = 0, failures = 0, skipped = 0;
  for (const CaseResult& r : results_) {
    ++total;
    failures += r.status == "fail";
    skipped += r.status == "skip";
  }
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x << "<testsuites name=\"prism-conformance\" tests=\"" << total << "\" failures=\"" << failures
    << "\" errors=\"0\" skipped=\"" << skipped << "\">\n";
  for (const auto& [m, rs] : by_mode) {
    int f = 0, s = 0;
    double t = 0;
    for (const CaseResult* r : rs) {
      f += r->status == "fail";
      s += r->status == "skip";
      t += r->time_ms;
    }
    x << "  <testsuite name=\"" << xml_escape(m) << "\" tests=\"" << rs.size() << "\" failures=\"" << f
      << "\" errors=\"0\" skipped=\"" << s << "\" time=\"" << t / 1e3 << "\">\n";
    for (const CaseResult* r : rs) {
      x << "    <testcase classname=\"prism.conformance." << xml_escape(m) << "." << xml_escape(r->op)
        << "\" name=\"" << xml_escape(r->op + " " + r->dtype + " " + r->layout) << "\" time=\""
        << r->time_ms / 1e3 << "\"";
      if (r->status == "fail") {
        x << ">\n      <failure message=\"" << xml_escape(r->message) << "\">" << xml_escape(r->message)
          << "</failure>\n    </testcase>\n";
      } else if (r->status == "skip") {
        x << ">\n      <skipped message=\"" << xml_escape(r->message) << "\"/>\n    </testcase>\n";
      } else if (!r->message.empty()) {
        x << ">\n      <system-out>" << xml_escape(r->message) << "</system-out>\n    </testcase>\n";
      } else {
        x << "/>\n";
      }
    }
    x << "  </testsuite>\n";
  }
  x << "</testsuites>\n";
  std::ofstream out(opt_.junit_xml);
  if (!out) {
    err = "cannot write the JUnit report '" + opt_.junit_xml + "': " + std::strerror(errno);
    return false;
  }
  out << x.str();
  out.close();
  if (!out) {
    err = "cannot write the JUnit report '" + opt_.junit_xml + "'";
    return false;
  }
  return true;
}

int Runner::run() {
  install_signal_handlers();
  const bool loaded = load();
  bool usable = loaded && init_context();
  if (usable) {
    if (mode("abi")) mode_abi();
    if (device_ok_) {
      if (mode("ops")) mode_ops(false);
      if (mode("rng")) mode_ops(true);
      if (mode("perf")) mode_perf();
    }
    if (mode("support")) mode_support();
    if (!device_ok_) {
      for (const char* m : {"ops", "rng", "perf", "grad", "async"})
        if (mode(m)) add({m, "(all)", "-", "-", "skip", "skipped: " + device_skip_reason_});
    }
  } else {
    for (const std::string& m : opt_.modes)
      add({m, "(all)", "-", "-", "skip", "skipped: the plugin could not be loaded (see the load rows)"});
  }
  shutdown_context();
  if (usable && device_ok_ && (mode("grad") || mode("async"))) {
    // The user-ABI modes load the plugin again through libprism; the suite's
    // own context is shut down by now (Note [Conformance entry point]).
    UserModeOptions u;
    u.plugin_path = opt_.plugin_path;
    u.device =
        std::string(p_.table->device_type ? p_.table->device_type : "?") + ":" + std::to_string(opt_.device);
    u.op_regex = opt_.op_regex;
    u.f64 = (p_.props.dtype_mask & PRISM_DTYPE_BIT(PRISM_DTYPE_F64)) != 0;
    u.timeout_s = opt_.timeout_s;
    std::vector<CaseResult> rs;
    std::string crash = guarded(opt_.timeout_s * 4, [&] {
      if (mode("grad")) {
        auto g = run_grad_mode(u);
        rs.insert(rs.end(), g.begin(), g.end());
      }
      if (mode("async")) {
        auto a = run_async_mode(u);
        rs.insert(rs.end(), a.begin(), a.end());
      }
    });
    for (CaseResult& r : rs) add(std::move(r));
    if (!crash.empty()) add({"grad", "(all)", "-", "-", "fail", "the user-ABI modes " + crash});
  }
  restore_signal_handlers();
  print_summary();
  int status = PRISM_CONFORMANCE_PASSED;
  int fails = 0, passes = 0;
  for (const CaseResult& r : results_) {
    fails += r.status == "fail";
    passes += r.status == "pass";
  }
  if (fails > 0)
    status = is_plugin_ ? PRISM_CONFORMANCE_FAILED : PRISM_CONFORMANCE_USAGE;
  else if (!device_ok_ || passes == 0)
    status = PRISM_CONFORMANCE_NOT_RUN;
  std::string err;
  if (!opt_.report_json.empty() && !write_json(err)) {
    std::fprintf(stderr, "prism-conformance: %s\n", err.c_str());
    if (status == PRISM_CONFORMANCE_PASSED) status = PRISM_CONFORMANCE_USAGE;
  }
  if (!opt_.junit_xml.empty() && !write_junit(err)) {
    std::fprintf(stderr, "prism-conformance: %s\n", err.c_str());
    if (status == PRISM_CONFORMANCE_PASSED) status = PRISM_CONFORMANCE_USAGE;
  }
  if (!opt_.quiet) {
    std::printf("\nresult: %s (%d passed, %d failed)%s\n",
                status == PRISM_CONFORMANCE_PASSED    ? "PASS"
                : status == PRISM_CONFORMANCE_NOT_RUN ? "NOT RUN"
                                                      : "FAIL",
                passes, fails, device_skip_reason_.empty() ? "" : (" — " + device_skip_reason_).c_str());
  }
  return status;
}

std::vector<std::string> split_list(const char* s) {
  std::vector<std::string> out;
  if (s == nullptr) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace
}  // namespace prism::conformance

extern "C" PRISM_CONFORMANCE_API int prism_conformance_run(const prism_conformance_options* options) {
  using namespace prism::conformance;
  if (options == nullptr || options->struct_size < offsetof(prism_conformance_options, seed) ||
      options->plugin_path == nullptr) {
    std::fprintf(stderr, "prism-conformance: no plugin path given\n");
    return PRISM_CONFORMANCE_USAGE;
  }
  Options o;
  o.plugin_path = options->plugin_path;
  o.device = options->device;
  o.op_regex = options->op_regex ? options->op_regex : "";
  if (!o.op_regex.empty()) {
    try {
      std::regex check(o.op_regex);
    } catch (const std::regex_error& e) {
      std::fprintf(stderr, "prism-conformance: bad --op regex '%s': %s\n", o.op_regex.c_str(), e.what());
      return PRISM_CONFORMANCE_USAGE;
    }
  }
  for (const std::string& d : split_list(options->dtypes)) {
    const int32_t dt = dtype_from_name(d);
    if (dt < 0) {
      std::fprintf(stderr,
                   "prism-conformance: unknown dtype '%s' (use bool,u8,i8,i16,i32,i64,f16,bf16,f32,f64)\n",
                   d.c_str());
      return PRISM_CONFORMANCE_USAGE;
    }
    o.dtypes.insert(dt);
  }
  const std::set<std::string> known = {"abi", "ops", "grad", "rng", "async", "support", "perf"};
  for (const std::string& m : split_list(options->modes ? options->modes : "abi,ops,rng,support")) {
    if (!known.count(m)) {
      std::fprintf(stderr, "prism-conformance: unknown mode '%s' (use abi,ops,grad,rng,async,support,perf)\n",
                   m.c_str());
      return PRISM_CONFORMANCE_USAGE;
    }
    o.modes.insert(m);
  }
  o.report_json = options->report_json ? options->report_json : "";
  o.junit_xml = options->junit_xml ? options->junit_xml : "";
  if (options->struct_size >= offsetof(prism_conformance_options, quiet) + sizeof(int32_t)) {
    if (options->seed != 0) o.seed = options->seed;
    if (options->case_timeout_s > 0) o.timeout_s = options->case_timeout_s;
    o.verbose = options->verbose != 0;
    o.quiet = options->quiet != 0;
  }
  Runner runner(std::move(o));
  return runner.run();
}
