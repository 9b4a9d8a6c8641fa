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
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "prism/conformance.h"
#include "prism/plugin.h"
#include "prism/prism.h"
#include "reference.hpp"
#include "suite.hpp"
#include "tests/prism_require_devices.h"

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
  return prism_status_name(s);
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
  std::string tier = "default";  // quick | default | full (Note [Conformance tiers])
  int64_t case_index = -1;       // --case: only this case of each op x dtype
  bool stop_on_failure = false;
  std::string replay_path;  // --replay: a PRISM_RECORD log (Note [Replaying recorded calls])
};

/*
 * Note [Conformance tiers]
 * ------------------------
 * Every op x dtype gets its hand-written cases (Note [Conformance layouts])
 * plus generated ones (Note [Generated cases]); the tier sets how many are
 * generated: quick 2 (sanitizer runs), default 6, full 48. On the CPU plugin
 * the default tier is about 9,000 cases (the budget CI holds it to: under
 * 2 minutes for abi,ops,rng,support,grad,async on a 2-core machine).
 */
int generated_cases(const std::string& tier) {
  return tier == "quick" ? 2 : tier == "full" ? 48 : 6;
}

constexpr size_t kGuard = 64;       // guard bytes each side of every buffer
constexpr uint8_t kPattern = 0xA5;  // what the abi checks' guard bytes hold

// Note [Per-operand guard patterns]
// Guard and gap bytes of every operand image hold a different seeded random
// pattern (splitmix64 of the run's seed and an operand counter), so a kernel
// that copies an input's neighbouring bytes into an output's guard, or reads
// past an input into its own result, changes bytes that differ from what was
// there; one shared pattern (0xA5 everywhere) hides exactly that overrun.
// After every call all bytes outside each output's elements must equal the
// uploaded image, and every input image must be unchanged.
uint64_t g_guard_seed = 0x5EED;
uint64_t g_guard_counter = 0;

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void fill_guard_pattern(std::vector<uint8_t>& image) {
  uint64_t state = g_guard_seed ^ (++g_guard_counter * 0xD1B54A32D192ED03ull);
  for (size_t i = 0; i < image.size(); i += 8) {
    const uint64_t r = splitmix64(state);
    for (size_t b = 0; b < 8 && i + b < image.size(); ++b) image[i + b] = static_cast<uint8_t>(r >> (8 * b));
  }
}

struct Operand {
  View view;
  std::vector<uint8_t> image;  // guard + storage + guard, as uploaded
  void* handle = nullptr;
  // Values: the op's domain unless `ranged` (uniform in [lo, hi]; integers
  // inclusive) or `fixed` (the case builder wrote the image itself).
  bool ranged = false, fixed = false;
  double lo = 0, hi = 0;
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
  std::vector<Operand> more_outputs;  // outputs 1.. (sort's indices, optimizer state)
  bool inout = false;                 // outputs are updated in place: their old values matter
  std::vector<RefAttr> attrs;
  int64_t index = -1;  // position in its op x dtype list: the reproducer's --case
  std::string label() const { return variant.empty() ? layout : layout + "," + variant; }
};

class Runner {
 public:
  explicit Runner(Options o) : opt_(std::move(o)), rng_(opt_.seed) {
    g_guard_seed = opt_.seed;
    g_guard_counter = 0;
  }
  int run();

 private:
  // --- reporting ---
  void add(CaseResult r);
  void progress(const std::string& what);
  bool op_selected(const std::string& op) const;
  bool any_failure() const {
    for (const CaseResult& r : results_)
      if (r.status == "fail") return true;
    return false;
  }
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
  void mode_replay();
  void localise_grad_failures(std::vector<CaseResult>& rows);
  void mode_support();
  void mode_perf();

  // --- case plumbing ---
  std::vector<Case> build_cases(const OpSpec& op, int32_t dtype, bool rng);
  void build_ext_cases(const OpSpec& op, int32_t dtype, std::vector<Case>& cases);
  void fill_inputs(Case& c);
  void run_case(Case& c);
  bool alloc_operand(Operand& o, std::string& err);
  void free_operand(Operand& o);
  std::string upload(Operand& o, bool sync = true);
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
    if (!r.repro.empty()) std::printf("      reproduce: %s\n", r.repro.c_str());
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

std::string Runner::upload(Operand& o, bool sync) {
  Err e;
  std::string crash = guarded(opt_.timeout_s, [&] {
    e = take(
        p_.table->copy_from_host(p_.ctx, opt_.device, nullptr, o.image.data(), o.handle, 0, o.image.size()));
    if (e.ok && sync) e = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
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
  fill_guard_pattern(o.image);
}

// ===========================================================================
// Generated cases (Note [Generated cases])
// ---------------------------------------------------------------------------
// A seeded generator of operand layouts, so coverage grows without code:
// 0-d to 4-d shapes whose extents come from a pool around the block sizes a
// kernel is likely to use (1, 3, 4, 5, 7, 8, 31-33, and 1-D/2-D extents
// 127-129, 1023-1025, 4095-4097), empty tensors; per operand a random
// permutation of the memory order (3-D/4-D permutations), a step of 2-3 in
// one dim (gaps), a storage offset, broadcast (stride 0) in any dims — one or
// several, leading or not — and odd strides on size-1 dims. Outputs get the
// same except broadcast. Reductions reduce a random subset of dims of such
// an input (the full reduction included). Each case has its own generator
// seeded from (run seed, op, dtype, case number), so `--case N` rebuilds
// exactly case N.
// ===========================================================================

uint64_t case_seed(uint64_t seed, const std::string& op, int32_t dt, int64_t index) {
  uint64_t h = seed ^ 0xCBF29CE484222325ull;
  for (char ch : op) h = (h ^ static_cast<uint8_t>(ch)) * 0x100000001B3ull;
  h = (h ^ static_cast<uint64_t>(dt + 1)) * 0x100000001B3ull;
  h = (h ^ static_cast<uint64_t>(index + 7)) * 0x100000001B3ull;
  return splitmix64(h);
}

std::vector<int64_t> gen_shape(std::mt19937_64& g) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto pick = [&](std::initializer_list<int64_t> xs) {
    return *(xs.begin() + static_cast<ptrdiff_t>(u(g) * static_cast<double>(xs.size())));
  };
  const double r = u(g);
  if (r < 0.15) {  // extents around block sizes, 1-D or 2-D
    const int64_t e = pick({127, 128, 129, 1023, 1024, 1025, 4095, 4096, 4097, 255, 257, 63, 65});
    return u(g) < 0.5 ? std::vector<int64_t>{e} : std::vector<int64_t>{e, pick({1, 2, 3})};
  }
  if (r < 0.20) return {};  // 0-d
  const int nd = static_cast<int>(pick({1, 2, 2, 3, 3, 4}));
  std::vector<int64_t> sizes;
  int64_t total = 1;
  for (int d = 0; d < nd; ++d) {
    int64_t e = pick({1, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 33});
    if (total * e > 6000) e = 1;
    total *= e;
    sizes.push_back(e);
  }
  if (u(g) < 0.05) sizes[static_cast<size_t>(u(g) * nd)] = 0;  // empty
  return sizes;
}

// A generated layout for `sizes`; describes itself in `desc`.
void gen_operand(std::mt19937_64& g, Operand& o, int32_t dtype, const std::vector<int64_t>& sizes,
                 bool is_input, bool allow_broadcast = true) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t nd = sizes.size();
  View& v = o.view;
  v.dtype = dtype;
  v.sizes = sizes;
  v.strides.assign(nd, 0);
  std::vector<size_t> order(nd);
  for (size_t d = 0; d < nd; ++d) order[d] = d;
  if (nd > 1 && u(g) < 0.45) std::shuffle(order.begin(), order.end(), g);  // order[0] = outermost
  const int64_t step_dim = nd > 0 && u(g) < 0.3 ? static_cast<int64_t>(u(g) * static_cast<double>(nd)) : -1;
  const int64_t step = u(g) < 0.5 ? 2 : 3;
  int64_t s = 1;
  for (size_t i = nd; i-- > 0;) {
    const size_t d = order[i];
    const int64_t m = static_cast<int64_t>(d) == step_dim ? step : 1;
    v.strides[d] = s * m;
    s *= std::max<int64_t>(sizes[d], 1) * m;
  }
  if (is_input && allow_broadcast) {
    const double p = u(g) < 0.4 ? 0.35 : 0.0;
    for (size_t d = 0; d < nd; ++d)
      if (sizes[d] > 1 && u(g) < p) v.strides[d] = 0;
  }
  for (size_t d = 0; d < nd; ++d)  // size-1 dims: their stride must not matter
    if (sizes[d] == 1 && u(g) < 0.5) v.strides[d] = u(g) < 0.5 ? 0 : 1000003;
  const int64_t offset = u(g) < 0.5 ? 1 + static_cast<int64_t>(u(g) * 9) : 0;
  int64_t n = 1, last = 0;
  for (size_t d = 0; d < nd; ++d) {
    n *= sizes[d];
    if (sizes[d] > 0) last += (sizes[d] - 1) * v.strides[d];
  }
  const int64_t span = n == 0 ? offset : offset + last + 1;
  v.byte_offset = kGuard + static_cast<uint64_t>(offset) * dtype_size(dtype);
  o.image.assign(2 * kGuard + static_cast<size_t>(span) * dtype_size(dtype), kPattern);
  fill_guard_pattern(o.image);
}

std::string view_text(const View& v) {
  std::string s = std::string(dtype_name(v.dtype)) + " sizes=[";
  for (size_t d = 0; d < v.sizes.size(); ++d) s += (d ? "," : "") + std::to_string(v.sizes[d]);
  s += "] strides=[";
  for (size_t d = 0; d < v.strides.size(); ++d) s += (d ? "," : "") + std::to_string(v.strides[d]);
  const int64_t off = static_cast<int64_t>((v.byte_offset - kGuard) / dtype_size(v.dtype));
  return s + "] offset=" + std::to_string(off);
}

// Appends `count` generated cases for the elementwise and reduction kinds.
void add_generated_cases(const OpSpec& op, int32_t dt, uint64_t seed, int count, uint32_t device_mask,
                         std::vector<Case>& cases) {
  const bool f = is_float(dt);
  for (int k = 0; k < count; ++k) {
    const int64_t index = static_cast<int64_t>(cases.size());
    std::mt19937_64 g(case_seed(seed, op.name, dt, index));
    Case c;
    c.op = &op;
    c.dtype = dt;
    c.layout = "generated";
    std::vector<int64_t> sizes = gen_shape(g);
    auto in = [&](int32_t idt) {
      Operand o;
      gen_operand(g, o, idt, sizes, true);
      c.inputs.push_back(std::move(o));
    };
    switch (op.kind) {
      case OpKind::kFill:
        add_attr_scalar(c.attrs, "value", f ? -3.5 : (dt == PRISM_DTYPE_BOOL ? 1 : 5));
        break;
      case OpKind::kCopy: {
        int32_t src = dt;
        for (int tries = 0; tries < 8; ++tries) {
          const int32_t cand = static_cast<int32_t>(g() % PRISM_NUM_DTYPES);
          if (device_mask & PRISM_DTYPE_BIT(cand)) {
            src = cand;
            break;
          }
        }
        in(src);
        c.variant = std::string("from=") + dtype_name(src);
        break;
      }
      case OpKind::kUnary:
      case OpKind::kClamp:
        in(dt);
        if (op.kind == OpKind::kClamp) {
          const bool uns = dt == PRISM_DTYPE_U8;
          add_attr_scalar(c.attrs, "min", f ? -0.5 : (uns ? 2 : -1));
          add_attr_scalar(c.attrs, "max", f ? 0.75 : (uns ? 9 : 3));
        }
        break;
      case OpKind::kBinary:
        in(dt);
        in(dt);
        if (std::string(op.name) == "div") {
          const int64_t mode = f ? static_cast<int64_t>(g() % 3) : 1 + static_cast<int64_t>(g() % 2);
          if (mode != 0) add_attr_int(c.attrs, "rounding_mode", mode);
          c.variant = "rounding_mode=" + std::to_string(mode);
        } else if ((std::string(op.name) == "add" || std::string(op.name) == "sub") &&
                   dt != PRISM_DTYPE_BOOL && g() % 2 == 0) {
          add_attr_scalar(c.attrs, "alpha", f ? -1.5 : 3);
          c.variant = "alpha";
        }
        break;
      case OpKind::kCompare:
      case OpKind::kLogical:
        in(dt);
        in(dt);
        break;
      case OpKind::kLogicalNot:
        in(dt);
        break;
      case OpKind::kWhere:
        in(PRISM_DTYPE_BOOL);
        in(dt);
        in(dt);
        break;
      case OpKind::kReduce:
      case OpKind::kBoolReduce:
      case OpKind::kArgReduce: {
        const bool arg = op.kind == OpKind::kArgReduce;
        if (sizes.empty() && arg) sizes = {5};
        if (arg) {
          for (int64_t& e : sizes)
            if (e == 0) e = 3;  // argmax over an empty dim is an error case of its own
        }
        Operand x;
        gen_operand(g, x, dt, sizes, true);
        c.inputs.push_back(std::move(x));
        std::vector<int64_t> out = sizes;
        std::string dims;
        const size_t nd = sizes.size();
        const int64_t arg_dim = nd > 0 ? static_cast<int64_t>(g() % nd) : 0;
        const bool all = g() % 3 == 0;
        for (size_t d = 0; d < nd; ++d) {
          const bool r = arg ? static_cast<int64_t>(d) == arg_dim : (all || g() % 2 == 0);
          if (r) {
            out[d] = 1;
            dims += (dims.empty() ? "" : "+") + std::to_string(d);
          }
        }
        if (arg) add_attr_int(c.attrs, "dim", arg_dim);
        c.variant = (arg ? "dim=" : "dims=") + dims;
        const int32_t out_dt = arg ? PRISM_DTYPE_I64 : op.kind == OpKind::kBoolReduce ? PRISM_DTYPE_BOOL : dt;
        gen_operand(g, c.output, out_dt, out, false);
        break;
      }
      default:
        return;  // other kinds keep their hand-written cases
    }
    if (op.kind != OpKind::kReduce && op.kind != OpKind::kBoolReduce && op.kind != OpKind::kArgReduce) {
      const int32_t out_dt =
          (op.kind == OpKind::kCompare || op.kind == OpKind::kLogical || op.kind == OpKind::kLogicalNot)
              ? PRISM_DTYPE_BOOL
              : dt;
      gen_operand(g, c.output, out_dt, sizes, false);
    }
    if (!c.variant.empty()) c.variant += ",";
    c.variant += "#" + std::to_string(index);
    cases.push_back(std::move(c));
  }
}

std::vector<Case> Runner::build_cases(const OpSpec& op, int32_t dt, bool rng) {
  std::vector<Case> cases;
  const bool f = is_float(dt);
  std::vector<std::string> layouts = {"contiguous", "transposed", "transposed_out", "broadcast",
                                      "offset",     "0-d",        "empty",          "large"};
  if (f) layouts.push_back("nan_inf");
  if (is_int(dt)) layouts.push_back("limits");  // Note [Integer limits]
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
  // the float64 reference covers the real dtypes only (docs/ops.md, Complex dtypes)
  const auto device_mask = p_.props.dtype_mask & PRISM_DTYPE_MASK_ALL;
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
        // Note [Exact conversions]: the values where conversion rules differ
        // (docs/ops.md: NaN, ±Inf, out of range, ±0.5 ties, wrap-around,
        // round-to-nearest-even halfway points); every conversion is compared
        // bit for bit with the documented rule
        Case sc;
        sc.op = &op;
        sc.dtype = dt;
        sc.layout = "specials";
        Operand in;
        set_operand(in, src, {96}, "contiguous", true);
        sc.inputs.push_back(std::move(in));
        set_operand(sc.output, dt, {96}, "contiguous", false);
        cases.push_back(std::move(sc));
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
          if (is_int(dt)) {
            Case z = cases.back();
            z.layout = "div_by_zero";
            cases.push_back(std::move(z));
          }
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
      if (name == "remainder" && is_int(dt)) {
        // docs/ops.md "Integer division": a zero divisor is an error, nothing written
        Case z = cases.back();
        z.layout = "div_by_zero";
        z.variant.clear();
        cases.push_back(std::move(z));
      }
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
        if (is_int(dt)) {
          rs.push_back({"limits", {4, 6, 5}, {1}});
          rs.push_back({"limits", {4, 6, 5}, {0, 1, 2}});
        }
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
    default:
      build_ext_cases(op, dt, cases);
      break;
  }
  if (op.kind <= OpKind::kArgReduce)
    add_generated_cases(op, dt, opt_.seed, generated_cases(opt_.tier), device_mask, cases);
  return cases;
}

// ===========================================================================
// Cases of the NN, indexing and optimizer kernel ops (Note [Conformance layouts])
// ---------------------------------------------------------------------------
// softmax, conv and pool kernels take contiguous operands (docs/ops.md), so
// their cases vary shapes, dims and attributes; the indexing, scan and sort
// kernels take any strides and also get transposed and offset layouts.
// Index inputs hold values in range, except one `out_of_range` case per
// indexing op that must be refused before anything is written.
// ===========================================================================

namespace {

Case new_case(const OpSpec& op, int32_t dt, const std::string& layout, const std::string& variant) {
  Case c;
  c.op = &op;
  c.dtype = dt;
  c.layout = layout;
  c.variant = variant;
  return c;
}

Operand operand(int32_t dt, const std::vector<int64_t>& sizes, const std::string& layout, bool is_input) {
  Operand o;
  set_operand(o, dt, sizes, layout, is_input);
  return o;
}

Operand ranged(Operand o, double lo, double hi) {
  o.ranged = true;
  o.lo = lo;
  o.hi = hi;
  return o;
}

void add_attr_ints(std::vector<RefAttr>& a, const char* name, std::vector<int64_t> v) {
  RefAttr r;
  r.name = name;
  r.kind = PRISM_ATTR_INTS;
  r.ints = std::move(v);
  a.push_back(r);
}

std::string dims_text(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

}  // namespace

void Runner::build_ext_cases(const OpSpec& op, int32_t dt, std::vector<Case>& cases) {
  const std::string name = op.name;
  const bool f = is_float(dt);
  const uint32_t stored = p_.props.dtype_mask;
  const bool has_i64 = (stored & PRISM_DTYPE_BIT(PRISM_DTYPE_I64)) != 0;
  switch (op.kind) {
    case OpKind::kSoftmax: {
      const bool backward = name.find("backward") != std::string::npos;
      const bool log = name.rfind("log_", 0) == 0;
      struct S {
        std::string layout;
        std::vector<int64_t> sizes;
        int64_t dim;
      };
      const std::vector<S> ss = {{"contiguous", {4, 6, 5}, 0}, {"contiguous", {4, 6, 5}, 1},
                                 {"contiguous", {4, 6, 5}, 2}, {"0-d", {}, 0},
                                 {"empty", {0, 5}, 1},         {"large", {3, 1031}, 1}};
      for (const S& x : ss) {
        Case c = new_case(op, dt, x.layout, "dim=" + std::to_string(x.dim));
        if (backward) {
          c.inputs.push_back(operand(dt, x.sizes, "contiguous", true));
          c.inputs.push_back(
              ranged(operand(dt, x.sizes, "contiguous", true), log ? -4.0 : 0.0, log ? 0.0 : 1.0));
        } else {
          c.inputs.push_back(ranged(operand(dt, x.sizes, "contiguous", true), -4.0, 4.0));
        }
        c.output = operand(dt, x.sizes, "contiguous", false);
        add_attr_int(c.attrs, "dim", x.dim);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kConv: {
      struct V {
        std::string layout;
        std::vector<int64_t> x, w;
        bool bias;
        std::vector<int64_t> stride, pad, dil;
        int64_t groups;
      };
      const std::vector<V> vs = {{"contiguous", {2, 3, 7, 6}, {4, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1},
                                 {"contiguous", {2, 4, 9, 8}, {6, 2, 3, 2}, false, {2, 1}, {1, 1}, {1, 2}, 2},
                                 {"contiguous", {1, 3, 5, 5}, {3, 1, 3, 3}, true, {1, 2}, {1, 0}, {2, 1}, 3},
                                 {"large", {2, 8, 20, 20}, {16, 8, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1}};
      for (const V& v : vs) {
        const int64_t oh = (v.x[2] + 2 * v.pad[0] - v.dil[0] * (v.w[2] - 1) - 1) / v.stride[0] + 1;
        const int64_t ow = (v.x[3] + 2 * v.pad[1] - v.dil[1] * (v.w[3] - 1) - 1) / v.stride[1] + 1;
        const std::vector<int64_t> y = {v.x[0], v.w[0], oh, ow};
        const std::string variant = "x=" + dims_text(v.x) + ",w=" + dims_text(v.w) +
                                    ",s=" + dims_text(v.stride) + ",p=" + dims_text(v.pad) +
                                    ",d=" + dims_text(v.dil) + ",g=" + std::to_string(v.groups) +
                                    (v.bias ? ",bias" : "");
        Case c = new_case(op, dt, v.layout, variant);
        if (name == "conv2d") {
          c.inputs.push_back(operand(dt, v.x, "contiguous", true));
          c.inputs.push_back(operand(dt, v.w, "contiguous", true));
          if (v.bias) c.inputs.push_back(operand(dt, {v.w[0]}, "contiguous", true));
          c.output = operand(dt, y, "contiguous", false);
        } else if (name == "conv2d_backward_input") {
          c.inputs.push_back(operand(dt, y, "contiguous", true));
          c.inputs.push_back(operand(dt, v.w, "contiguous", true));
          c.output = operand(dt, v.x, "contiguous", false);
        } else {
          c.inputs.push_back(operand(dt, y, "contiguous", true));
          c.inputs.push_back(operand(dt, v.x, "contiguous", true));
          c.output = operand(dt, v.w, "contiguous", false);
          if (v.bias) c.more_outputs.push_back(operand(dt, {v.w[0]}, "contiguous", false));
        }
        add_attr_ints(c.attrs, "stride", v.stride);
        add_attr_ints(c.attrs, "padding", v.pad);
        add_attr_ints(c.attrs, "dilation", v.dil);
        add_attr_int(c.attrs, "groups", v.groups);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kPool: {
      const bool is_max = name.rfind("max", 0) == 0;
      const bool backward = name.find("backward") != std::string::npos;
      struct V {
        std::string layout;
        std::vector<int64_t> x, k, s, p;
        int include_pad;
      };
      std::vector<V> vs = {{"contiguous", {2, 3, 9, 8}, {3, 3}, {2, 2}, {1, 1}, 1},
                           {"contiguous", {2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, 1},
                           {"contiguous", {1, 2, 7, 9}, {3, 2}, {1, 2}, {1, 1}, 1},
                           {"large", {4, 16, 32, 32}, {3, 3}, {1, 1}, {1, 1}, 1}};
      if (!is_max) vs.push_back({"contiguous", {2, 3, 9, 8}, {3, 3}, {2, 2}, {1, 1}, 0});
      for (const V& v : vs) {
        const std::vector<int64_t> y = {v.x[0], v.x[1], (v.x[2] + 2 * v.p[0] - v.k[0]) / v.s[0] + 1,
                                        (v.x[3] + 2 * v.p[1] - v.k[1]) / v.s[1] + 1};
        std::string variant =
            "x=" + dims_text(v.x) + ",k=" + dims_text(v.k) + ",s=" + dims_text(v.s) + ",p=" + dims_text(v.p);
        if (!is_max) variant += ",count_include_pad=" + std::to_string(v.include_pad);
        Case c = new_case(op, dt, v.layout, variant);
        if (!backward) {
          c.inputs.push_back(operand(dt, v.x, "contiguous", true));
          c.output = operand(dt, y, "contiguous", false);
        } else {
          c.inputs.push_back(operand(dt, y, "contiguous", true));
          if (is_max) c.inputs.push_back(operand(dt, v.x, "contiguous", true));
          c.output = operand(dt, v.x, "contiguous", false);
        }
        add_attr_ints(c.attrs, "kernel", v.k);
        add_attr_ints(c.attrs, "stride", v.s);
        add_attr_ints(c.attrs, "padding", v.p);
        if (!is_max) add_attr_int(c.attrs, "count_include_pad", v.include_pad);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kScatter:
    case OpKind::kIndexPut: {
      if (!has_i64) break;  // index tensors are i64
      const std::vector<int64_t> x = {4, 5, 6};
      struct V {
        std::string layout;
        int64_t dim;
        std::string extra;  // "", "smaller", "out_of_range", "wrap", "broadcast", "reduce=N", "accumulate"
      };
      std::vector<V> vs = {{"contiguous", 0, ""}, {"contiguous", 1, ""}, {"contiguous", 2, ""},
                           {"transposed", 1, ""}, {"offset", 2, ""},     {"contiguous", 1, "out_of_range"}};
      if (op.kind == OpKind::kGather || op.kind == OpKind::kScatter)
        vs.push_back({"contiguous", 1, "smaller"});
      if (op.kind == OpKind::kIndexSelect || op.kind == OpKind::kIndexPut)
        vs.push_back({"contiguous", 2, "wrap"});
      if (op.kind == OpKind::kIndexPut) {
        vs.push_back({"contiguous", 1, "accumulate"});
        vs.push_back({"broadcast", 1, "accumulate"});
      }
      if (op.kind == OpKind::kScatter)
        for (int r = 1; r <= 4; ++r)
          vs.push_back({r % 2 ? "transposed" : "contiguous", 1, "reduce=" + std::to_string(r)});
      for (const V& v : vs) {
        const size_t d = static_cast<size_t>(v.dim);
        const int64_t size = x[d];
        Case c = new_case(op, dt, v.layout,
                          "dim=" + std::to_string(v.dim) + (v.extra.empty() ? "" : "," + v.extra));
        const std::string lay = v.layout == "broadcast" ? "contiguous" : v.layout;
        const double ilo = v.extra == "wrap" ? -static_cast<double>(size) : 0.0;
        const double ihi =
            v.extra == "out_of_range" ? static_cast<double>(size) : static_cast<double>(size - 1);
        if (op.kind == OpKind::kGather || op.kind == OpKind::kScatter) {
          std::vector<int64_t> is = x;
          is[d] = 3;
          if (v.extra == "smaller")
            for (size_t k = 0; k < is.size(); ++k)
              if (k != d) is[k] -= 1;
          Operand index = ranged(operand(PRISM_DTYPE_I64, is, lay, true), ilo, ihi);
          if (v.extra == "out_of_range") index.lo = index.hi;  // every index out of range
          if (op.kind == OpKind::kGather) {
            c.inputs.push_back(operand(dt, x, lay, true));
            c.inputs.push_back(std::move(index));
            c.output = operand(dt, is, lay == "offset" ? "offset" : "contiguous", false);
          } else {
            c.inputs.push_back(std::move(index));
            c.inputs.push_back(operand(dt, is, lay, true));
            c.output = operand(dt, x, lay == "offset" ? "offset" : "contiguous", false);
            c.inout = true;
            if (v.extra.rfind("reduce=", 0) == 0)
              add_attr_int(c.attrs, "reduce", std::stoll(v.extra.substr(7)));
          }
        } else {
          Operand index = ranged(operand(PRISM_DTYPE_I64, {op.kind == OpKind::kIndexSelect ? 7 : 3},
                                         lay == "offset" ? "offset" : "contiguous", true),
                                 ilo, ihi);
          if (v.extra == "out_of_range") index.lo = index.hi;
          std::vector<int64_t> sub = x;
          sub[d] = index.view.sizes[0];
          if (op.kind == OpKind::kIndexSelect) {
            c.inputs.push_back(operand(dt, x, lay, true));
            c.inputs.push_back(std::move(index));
            c.output = operand(dt, sub, lay == "offset" ? "offset" : "contiguous", false);
          } else {
            c.inputs.push_back(std::move(index));
            c.inputs.push_back(operand(dt, sub, v.layout, true));  // broadcast: dim 0 stride 0
            c.output = operand(dt, x, lay == "offset" ? "offset" : "contiguous", false);
            c.inout = true;
            if (v.extra == "accumulate") add_attr_int(c.attrs, "accumulate", 1);
          }
          if (v.extra == "wrap") add_attr_int(c.attrs, "wrap", 1);
        }
        add_attr_int(c.attrs, "dim", v.dim);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kNonzero: {
      if (!has_i64) break;
      struct V {
        std::string layout;
        std::vector<int64_t> x;
      };
      for (const V& v : std::vector<V>{{"contiguous", {4, 5}},
                                       {"transposed", {3, 4, 5}},
                                       {"offset", {6, 7}},
                                       {"empty", {0, 3}},
                                       {"large", {67, 131}}}) {
        Case c = new_case(op, dt, v.layout, "x=" + dims_text(v.x));
        Operand in = operand(dt, v.x, v.layout, true);
        in.fixed = true;
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        std::mt19937_64 rng_nz(case_seed(opt_.seed, name, dt, static_cast<int64_t>(cases.size())));
        int64_t rows = 0;
        for (int64_t i = 0; i < in.view.numel(); ++i) {
          const bool nz = unit(rng_nz) < 0.5;
          rows += nz;
          uint8_t* p = in.image.data() + in.view.byte_pos(i);
          if (!nz)
            store_int(dt, p, 0);
          else if (f)
            store_real(dt, p, unit(rng_nz) < 0.1 ? NAN : 0.25 + unit(rng_nz));  // NaN is non-zero
          else
            store_int(dt, p, 1 + static_cast<int64_t>(unit(rng_nz) * 5));
        }
        c.inputs.push_back(std::move(in));
        c.output = operand(PRISM_DTYPE_I64, {rows, static_cast<int64_t>(v.x.size())}, "contiguous", false);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kScan: {
      const bool prod = name == "cumprod";
      struct V {
        std::string layout;
        std::vector<int64_t> x;
        int64_t dim;
      };
      for (const V& v : std::vector<V>{{"contiguous", {4, 6, 5}, 0},
                                       {"contiguous", {4, 6, 5}, 1},
                                       {"contiguous", {4, 6, 5}, 2},
                                       {"transposed", {4, 6, 5}, 1},
                                       {"offset", {4, 6, 5}, 2},
                                       {"empty", {0, 5}, 1},
                                       {"large", {3, 1031}, 1}}) {
        Case c = new_case(op, dt, v.layout, "dim=" + std::to_string(v.dim));
        Operand in = operand(dt, v.x, v.layout, true);
        if (prod && f) in = ranged(std::move(in), 0.9, 1.1);
        c.inputs.push_back(std::move(in));
        c.output = operand(dt, v.x, v.layout == "offset" ? "offset" : "contiguous", false);
        add_attr_int(c.attrs, "dim", v.dim);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kSort: {
      if (!has_i64) break;
      const bool topk = name == "topk";
      struct V {
        std::string layout;
        std::vector<int64_t> x;
        int64_t dim, flag, k;
      };
      std::vector<V> vs = {{"contiguous", {4, 6, 5}, 0, 0, 3}, {"contiguous", {4, 6, 5}, 1, 1, 4},
                           {"contiguous", {4, 6, 5}, 2, 0, 5}, {"transposed", {4, 6, 5}, 1, 1, 2},
                           {"offset", {4, 6, 5}, 2, 1, 1},     {"large", {3, 1031}, 1, 1, 9},
                           {"ties", {4, 9}, 1, 0, 4},          {"ties", {4, 9}, 1, 1, 4}};
      if (f) vs.push_back({"nan_inf", {4, 6, 5}, 1, 1, 3});
      for (const V& v : vs) {
        std::vector<int64_t> o = v.x;
        if (topk) o[static_cast<size_t>(v.dim)] = v.k;
        Case c = new_case(op, dt, v.layout,
                          "dim=" + std::to_string(v.dim) +
                              (topk ? ",k=" + std::to_string(v.k) + ",largest=" : ",descending=") +
                              std::to_string(v.flag));
        Operand in = operand(dt, v.x, v.layout == "ties" ? "contiguous" : v.layout, true);
        if (v.layout == "ties") in = ranged(std::move(in), 0, dt == PRISM_DTYPE_BOOL ? 1 : 3);
        c.inputs.push_back(std::move(in));
        c.output = operand(dt, o, v.layout == "offset" ? "offset" : "contiguous", false);
        c.more_outputs.push_back(operand(PRISM_DTYPE_I64, o, "contiguous", false));
        add_attr_int(c.attrs, "dim", v.dim);
        if (topk) {
          add_attr_int(c.attrs, "k", v.k);
          add_attr_int(c.attrs, "largest", v.flag);
        } else {
          add_attr_int(c.attrs, "descending", v.flag);
        }
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kOptim: {
      const bool adam = name == "adam_update";
      struct V {
        std::string layout;
        std::vector<int64_t> sizes;
        std::string variant;
      };
      std::vector<V> vs;
      if (!adam) {
        vs = {{"contiguous", {5, 7}, "plain"},          {"contiguous", {5, 7}, "momentum"},
              {"contiguous", {5, 7}, "momentum,init"},  {"contiguous", {5, 7}, "nesterov"},
              {"contiguous", {5, 7}, "maximize,decay"}, {"large", {517, 263}, "momentum"}};
      } else {
        vs = {{"contiguous", {5, 7}, "plain"},    {"contiguous", {5, 7}, "amsgrad"},
              {"contiguous", {5, 7}, "decay"},    {"contiguous", {5, 7}, "adamw"},
              {"contiguous", {5, 7}, "maximize"}, {"large", {517, 263}, "amsgrad,adamw"}};
      }
      for (const V& v : vs) {
        auto has = [&](const char* w) { return v.variant.find(w) != std::string::npos; };
        Case c = new_case(op, dt, v.layout, v.variant);
        c.inout = true;
        c.inputs.push_back(operand(dt, v.sizes, "contiguous", true));
        c.output = ranged(operand(dt, v.sizes, "contiguous", false), -2, 2);
        int64_t flags = 0;
        add_attr_float(c.attrs, "lr", adam ? 0.01 : 0.1);
        if (!adam) {
          const bool mom = has("momentum") || has("nesterov");
          if (mom) c.more_outputs.push_back(ranged(operand(dt, v.sizes, "contiguous", false), -1, 1));
          add_attr_float(c.attrs, "momentum", mom ? 0.9 : 0.0);
          add_attr_float(c.attrs, "dampening", has("momentum") && !has("init") ? 0.1 : 0.0);
          add_attr_float(c.attrs, "weight_decay", has("decay") || has("nesterov") ? 0.01 : 0.0);
          flags = (has("nesterov") ? 1 : 0) | (has("maximize") ? 2 : 0) | (has("init") ? 4 : 0);
        } else {
          c.more_outputs.push_back(ranged(operand(dt, v.sizes, "contiguous", false), -1, 1));
          c.more_outputs.push_back(ranged(operand(dt, v.sizes, "contiguous", false), 0.1, 1));
          if (has("amsgrad"))
            c.more_outputs.push_back(ranged(operand(dt, v.sizes, "contiguous", false), 0.1, 1.2));
          add_attr_float(c.attrs, "beta1", 0.9);
          add_attr_float(c.attrs, "beta2", 0.999);
          add_attr_float(c.attrs, "eps", 1e-8);
          add_attr_float(c.attrs, "weight_decay", has("decay") || has("adamw") ? 0.05 : 0.0);
          add_attr_int(c.attrs, "step", 3);
          flags = (has("amsgrad") ? 1 : 0) | (has("maximize") ? 2 : 0) | (has("adamw") ? 4 : 0);
        }
        add_attr_int(c.attrs, "flags", flags);
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kAmpUnscale: {
      // grad (in place) x {finite, NaN/Inf planted} x found_inf already {0, 1}.
      struct V {
        std::string layout;
        std::vector<int64_t> sizes;
        double inv_scale;
        bool plant;  // a NaN and an Inf among the gradient's values
        double found;
      };
      const std::vector<V> vs = {{"contiguous", {5, 7}, 1.0 / 65536, false, 0},
                                 {"contiguous", {5, 7}, 0.37, false, 0},
                                 {"contiguous", {5, 7}, 1.0, false, 1},
                                 {"nan_inf", {5, 7}, 1.0 / 1024, true, 0},
                                 {"nan_inf", {5, 7}, 0.5, true, 1},
                                 {"0-d", {}, 0.25, false, 0},
                                 {"large", {517, 263}, 1.0 / 8192, false, 0},
                                 {"large", {517, 263}, 1.0 / 8192, true, 0}};
      for (const V& v : vs) {
        Case c = new_case(op, dt, v.layout,
                          "inv_scale=" + std::to_string(v.inv_scale) + (v.plant ? ",nonfinite" : "") +
                              ",found_inf=" + std::to_string(static_cast<int>(v.found)));
        c.inout = true;
        Operand inv = operand(PRISM_DTYPE_F32, {1}, "contiguous", true);
        inv.fixed = true;
        store_real(PRISM_DTYPE_F32, inv.image.data() + inv.view.byte_pos(0), v.inv_scale);
        c.inputs.push_back(std::move(inv));
        c.output = ranged(operand(dt, v.sizes, "contiguous", false), -3000, 3000);
        if (v.plant) {
          c.output.fixed = true;
          std::mt19937_64 rng_g(case_seed(opt_.seed, name, dt, static_cast<int64_t>(cases.size())));
          std::uniform_real_distribution<double> unit(-3000.0, 3000.0);
          const int64_t n = c.output.view.numel();
          for (int64_t i = 0; i < n; ++i)
            store_real(dt, c.output.image.data() + c.output.view.byte_pos(i),
                       i == n / 3   ? NAN
                       : i == n / 2 ? -INFINITY
                                    : unit(rng_g));
        }
        Operand found = operand(PRISM_DTYPE_F32, {1}, "contiguous", false);
        found.fixed = true;
        store_real(PRISM_DTYPE_F32, found.image.data() + found.view.byte_pos(0), v.found);
        c.more_outputs.push_back(std::move(found));
        cases.push_back(std::move(c));
      }
      break;
    }
    case OpKind::kAttention: {
      // q (B..., L, E), k (B..., S, E), v (B..., S, Ev) [, additive mask (B..., L, S)]
      // with the core's contract: one rank, equal batch dims (broadcast ones
      // have stride 0), any strides; the output dense.
      struct V {
        std::string layout, variant;
        std::vector<int64_t> batch;
        int64_t L, S, E, Ev;
        bool causal;
        int mask;  // 0 none, 1 random, 2 with -inf (a whole row in one batch entry)
      };
      const std::vector<V> vs = {{"contiguous", "plain", {2}, 5, 9, 8, 3, false, 0},
                                 {"contiguous", "causal", {2, 2}, 7, 5, 4, 6, true, 0},
                                 {"contiguous", "causal", {1}, 5, 8, 4, 4, true, 0},
                                 {"contiguous", "mask", {3}, 4, 10, 6, 5, false, 1},
                                 {"contiguous", "mask -inf", {2}, 4, 7, 5, 3, false, 2},
                                 {"transposed", "mask", {2, 2}, 5, 6, 4, 3, false, 1},
                                 {"broadcast", "mask", {3}, 4, 6, 8, 4, false, 1},
                                 {"offset", "causal", {2}, 6, 6, 5, 4, true, 0},
                                 {"2-d", "plain", {}, 6, 9, 8, 5, false, 0},
                                 {"large", "causal", {1, 2}, 130, 150, 32, 16, true, 0},
                                 {"large", "mask", {2}, 70, 131, 16, 8, false, 1}};
      for (const V& v : vs) {
        const std::string lay =
            v.layout == "2-d" || v.layout == "large" ? std::string("contiguous") : v.layout;
        const double scale = v.causal ? 0.35 : 1.0 / std::sqrt(static_cast<double>(v.E));
        Case c = new_case(op, dt, v.layout, v.variant + ",scale=" + std::to_string(scale));
        auto shape = [&](int64_t a, int64_t b) {
          std::vector<int64_t> sz = v.batch;
          sz.push_back(a);
          sz.push_back(b);
          return sz;
        };
        c.inputs.push_back(ranged(operand(dt, shape(v.L, v.E), lay, true), -1.5, 1.5));
        c.inputs.push_back(ranged(operand(dt, shape(v.S, v.E), lay, true), -1.5, 1.5));
        c.inputs.push_back(ranged(operand(dt, shape(v.S, v.Ev), lay, true), -2, 2));
        if (v.mask != 0) {
          Operand m = ranged(operand(dt, shape(v.L, v.S), lay, true), -3, 3);
          if (v.mask == 2) {
            m.fixed = true;
            std::mt19937_64 rng_m(case_seed(opt_.seed, name, dt, static_cast<int64_t>(cases.size())));
            std::uniform_real_distribution<double> unit(-3.0, 3.0);
            const int64_t total = m.view.numel();
            for (int64_t li = 0; li < total; ++li) {
              const int64_t j = li % v.S, i = (li / v.S) % v.L;
              // row 1 of batch entry 0 fully masked (NaN), scattered -inf elsewhere
              const bool dead = (li < v.L * v.S && i == 1) || (j + i) % 3 == 0;
              store_real(dt, m.image.data() + m.view.byte_pos(li), dead ? -INFINITY : unit(rng_m));
            }
          }
          c.inputs.push_back(std::move(m));
        }
        c.output = operand(dt, shape(v.L, v.Ev), "contiguous", false);
        add_attr_float(c.attrs, "scale", scale);
        add_attr_int(c.attrs, "is_causal", v.causal ? 1 : 0);
        cases.push_back(std::move(c));
      }
      break;
    }
    default:
      break;
  }
}

// Input values: a domain per op where the op is defined and well conditioned.
void Runner::fill_inputs(Case& c) {
  const std::string op = c.op->name;
  std::vector<Operand*> fills;
  for (Operand& o : c.inputs) fills.push_back(&o);
  if (c.inout) {
    fills.push_back(&c.output);
    for (Operand& o : c.more_outputs) fills.push_back(&o);
  }
  for (size_t k = 0; k < fills.size(); ++k) {
    Operand& o = *fills[k];
    if (o.fixed) continue;
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
      if (o.ranged) {
        if (is_float(dt))
          store_real(dt, p, real(o.lo, o.hi));
        else
          store_int(dt, p, integer(static_cast<int64_t>(o.lo), static_cast<int64_t>(o.hi)));
        continue;
      }
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
    if (c.layout == "div_by_zero" && k == 1) {
      for (int64_t i = 0; i < n; i += 5) store_int(dt, o.image.data() + o.view.byte_pos(i), 0);
      continue;
    }
    if (c.layout == "limits" && is_int(dt) && !o.ranged) {
      // Note [Integer limits]: values at and next to the type's limits and,
      // for i64, above 2^53 (where a kernel computing through double loses
      // the low bits); divisors and exponents stay valid (non-zero divisors,
      // -1 among them for INT_MIN / -1; exponents 0..3)
      const int bits = static_cast<int>(dtype_size(dt)) * 8;
      const bool uns = dt == PRISM_DTYPE_U8;
      const int64_t hi = uns ? 255 : (bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1);
      const int64_t lo = uns ? 0 : (bits == 64 ? INT64_MIN : -(int64_t{1} << (bits - 1)));
      std::vector<int64_t> pool = {lo, lo + 1, hi, hi - 1, 0, 1, uns ? 2 : -1, hi / 2, lo / 2 - 1};
      if (bits == 64) {
        pool.insert(pool.end(), {(int64_t{1} << 53) + 1, -(int64_t{1} << 53) - 3, (int64_t{1} << 62) + 12345,
                                 -(int64_t{1} << 60) - 7, 1234567890123456789ll});
      }
      const bool divisor = (op == "div" || op == "remainder") && k == 1;
      for (int64_t i = 0; i < n; ++i) {
        uint8_t* p = o.image.data() + o.view.byte_pos(i);
        int64_t v = pool[static_cast<size_t>(integer(0, static_cast<int64_t>(pool.size()) - 1))];
        if (divisor && v == 0) v = uns ? 3 : -1;
        if (op == "pow" && k == 1) v = integer(0, 3);
        if (op == "sum" || op == "prod" || op == "bmm") v = integer(0, 1) ? v : integer(lo / 2, hi / 2);
        store_int(dt, p, v);
      }
      continue;
    }
    if (c.layout == "specials" && k == 0) {
      // conversions: rounding ties and halfway points of every narrower
      // float type, integers near every type's limits and above 2^53
      static const double fspecial[] = {NAN,
                                        INFINITY,
                                        -INFINITY,
                                        -0.0,
                                        0.5,
                                        -0.5,
                                        1.5,
                                        -1.5,
                                        2.5,
                                        -2.5,
                                        0.49999999999999994,
                                        -0.9999999,
                                        255.9,
                                        256.0,
                                        256.5,
                                        -1.0,
                                        -129.0,
                                        127.5,
                                        -128.7,
                                        32767.5,
                                        32768.0,
                                        -32769.0,
                                        65504.0,
                                        65519.99,
                                        65520.0,
                                        2147483647.5,
                                        2147483648.0,
                                        -2147483649.0,
                                        4294967296.5,
                                        9007199254740993.0,
                                        9.2233720368547758e18,
                                        -9.2233720368547758e18,
                                        1e19,
                                        -1e19,
                                        1e30,
                                        3.4028235e38,
                                        1e300,
                                        5e-324,
                                        1e-40,
                                        6e-8,
                                        1.00390625,
                                        1.01171875,
                                        1.00390625 + 1e-9,
                                        1.0009765625,
                                        1.0029296875,
                                        1.00048828125,
                                        -1.01171875,
                                        0.1,
                                        1.0 / 3,
                                        2.0 / 3};
      static const int64_t ispecial[] = {0,
                                         1,
                                         -1,
                                         127,
                                         128,
                                         -128,
                                         -129,
                                         255,
                                         256,
                                         32767,
                                         32768,
                                         -32768,
                                         -32769,
                                         65535,
                                         65536,
                                         2147483647,
                                         2147483648ll,
                                         -2147483648ll,
                                         -2147483649ll,
                                         4294967295ll,
                                         4294967296ll,
                                         (1ll << 53) + 1,
                                         -(1ll << 53) - 1,
                                         INT64_MAX,
                                         INT64_MIN,
                                         INT64_MAX - 1,
                                         16777217,
                                         -16777217,
                                         2049,
                                         4097,
                                         257};
      const size_t nf = sizeof fspecial / sizeof fspecial[0], ni = sizeof ispecial / sizeof ispecial[0];
      for (int64_t i = 0; i < n; ++i) {
        uint8_t* p = o.image.data() + o.view.byte_pos(i);
        if (dt == PRISM_DTYPE_BOOL)
          store_int(dt, p, i % 3 == 0);
        else if (f)
          store_real(dt, p, fspecial[static_cast<size_t>(i) % nf]);
        else
          store_int(dt, p, ispecial[static_cast<size_t>(i) % ni]);
      }
      continue;
    }
    if (c.layout == "nan_inf" && f && n > 0 && k < c.inputs.size()) {
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
// The grad mode (Note [Grad mode dtypes], user_modes.cpp), relative to the
// gradient's scale max(1e-3, max |reference|):
//   f64   central finite differences, eps 1e-6, tolerance 1e-5
//   f32   central finite differences, eps 1e-2, tolerance 2e-2
//   f16   the f64 autograd gradient at the same (f16-rounded) inputs, 1e-2
//   bf16  the f64 autograd gradient at the same (bf16-rounded) inputs, 5e-2
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
void compare(const Case& c, const Operand& out, const std::vector<Value>& want_values,
             const std::vector<double>& extra_atol, const std::vector<uint8_t>& got_image, CaseResult& r) {
  const View& v = out.view;
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
    if (!covered[b] && got_image[b] != out.image[b]) {
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
    const Value& want = want_values[static_cast<size_t>(i)];
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
      const double extra = extra_atol.empty() ? 0.0 : extra_atol[static_cast<size_t>(i)];
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
      // integers print exactly (through double, values above 2^53 would look equal)
      why = "element " + index_text(v.sizes, i) + ": got " +
            (f ? num_text(got.f, f) : std::to_string(got.i)) + ", expected " +
            (f ? num_text(want.f, f) : std::to_string(want.i)) + reason;
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
  for (const Operand& o : c.more_outputs) descs.push_back(desc(o));
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
  call.n_outputs = 1 + c.more_outputs.size();
  call.attrs = attrs.empty() ? nullptr : attrs.data();
  call.n_attrs = attrs.size();
  if (k.supports != nullptr && k.supports(p_.ctx, &call) == 0)
    return reinterpret_cast<prism_plugin_error*>(-1);
  return k.run(p_.ctx, &call);
}

void Runner::run_case(Case& c) {
  const bool replayed = c.layout == "replay";
  CaseResult r{replayed                        ? "replay"
               : c.op->kind == OpKind::kRandom ? "rng"
                                               : "ops",
               c.op->name,
               dtype_name(c.dtype),
               c.label(),
               "pass",
               ""};
  const Kernel* k = p_.find(c.op->name, c.dtype);
  fill_inputs(c);
  RefCall rc;
  rc.op = c.op;
  for (const Operand& o : c.inputs) {
    rc.in_views.push_back(o.view);
    rc.in_images.push_back(&o.image);
  }
  rc.out_view = c.output.view;
  rc.out_views.push_back(c.output.view);
  rc.out_images.push_back(&c.output.image);
  for (const Operand& o : c.more_outputs) {
    rc.out_views.push_back(o.view);
    rc.out_images.push_back(&o.image);
  }
  rc.attrs = c.attrs;
  const RefResult ref = reference_run(rc);

  const auto t0 = std::chrono::steady_clock::now();
  std::string err;
  bool allocated = true;
  for (Operand& o : c.inputs) allocated = allocated && alloc_operand(o, err);
  allocated = allocated && alloc_operand(c.output, err);
  for (Operand& o : c.more_outputs) allocated = allocated && alloc_operand(o, err);
  // Note [Reads without synchronize]: uploads, the kernel and the read back
  // follow each other with no synchronize in between; stream order and the
  // rule that a read back to the host waits for queued work must make the
  // results visible (an asynchronous device that breaks either fails here).
  if (allocated) {
    for (Operand& o : c.inputs)
      if (err.empty()) err = upload(o, false);
    if (err.empty()) err = upload(c.output, false);
    for (Operand& o : c.more_outputs)
      if (err.empty()) err = upload(o, false);
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
      // an expected error may only surface when the queue runs
      if (kerr.ok && !ref.error.empty()) kerr = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr));
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
      else if ((c.op->kind >= OpKind::kGather && c.op->kind <= OpKind::kIndexPut) ||
               c.layout == "div_by_zero") {
        // indexing kernels check every index before writing anything
        err = download(c.output, got);
        if (err.empty() && got != c.output.image)
          err = "refused the call (" + describe(kerr) + ") but wrote into the output first";
      }
    } else if (!kerr.ok) {
      err = "kernel failed: " + describe(kerr);
    } else {
      err = download(c.output, got);
      if (err.empty()) {
        Err serr;
        const std::string crash = guarded(
            opt_.timeout_s, [&] { serr = take(p_.table->synchronize(p_.ctx, opt_.device, nullptr)); });
        if (!crash.empty())
          err = "synchronize " + crash;
        else if (!serr.ok)
          err = "the kernel's queued work failed (reported by synchronize): " + describe(serr);
      }
      if (err.empty()) {
        compare(c, c.output, ref.values, ref.extra_atol, got, r);
        for (size_t k = 0; k < c.more_outputs.size() && err.empty() && r.status == "pass"; ++k) {
          if (k >= ref.more_values.size()) {
            err = "internal: the reference has no values for output " + std::to_string(k + 1);
            break;
          }
          err = download(c.more_outputs[k], got);
          if (err.empty()) {
            compare(c, c.more_outputs[k], ref.more_values[k], ref.more_atol[k], got, r);
            if (r.status != "pass") r.message = "output " + std::to_string(k + 1) + ": " + r.message;
          }
        }
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
  for (Operand& o : c.more_outputs) free_operand(o);
  r.time_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (declined) {
    r.status = "skip";
    r.message = "skipped: declined by the kernel's supports() (the core falls back)";
  } else if (!err.empty()) {
    r.status = "fail";
    r.message = err;
  }
  if (r.status == "fail") {
    // Note [Failure diagnostics]: the kernel that ran, every operand's
    // layout, and a command that runs this case alone
    std::string ops;
    for (size_t i = 0; i < c.inputs.size(); ++i)
      ops += "; in" + std::to_string(i) + " " + view_text(c.inputs[i].view);
    ops += "; out " + view_text(c.output.view);
    for (size_t i = 0; i < c.more_outputs.size(); ++i)
      ops += "; out" + std::to_string(i + 1) + " " + view_text(c.more_outputs[i].view);
    r.message += " [kernel '" + std::string(c.op->name) + "' of plugin '" +
                 (p_.table && p_.table->name ? p_.table->name : "?") + "'" + ops + "]";
    if (replayed)
      r.repro = "prism-conformance --plugin " + opt_.plugin_path + " --replay " + opt_.replay_path +
                " --case " + std::to_string(c.index) +
                (opt_.seed != 0x5EED ? " --seed " + std::to_string(opt_.seed) : "");
    else
      r.repro = "prism-conformance --plugin " + opt_.plugin_path + " --mode " + r.mode + " --op '^" +
                c.op->name + "$' --dtype " + dtype_name(c.dtype) + " --case " + std::to_string(c.index) +
                (opt_.seed != 0x5EED ? " --seed " + std::to_string(opt_.seed) : "") +
                (opt_.tier != "default" ? " --tier " + opt_.tier : "");
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
    for (size_t k = 0; k < cases.size(); ++k) {
      Case& c = cases[k];
      c.index = static_cast<int64_t>(k);
      if (opt_.case_index >= 0 && c.index != opt_.case_index) continue;
      // each case draws its values from its own seed, so --case N alone
      // reproduces exactly what it saw in the full run
      rng_.seed(case_seed(opt_.seed ^ 0xF111ull, t.op->name, t.dt, c.index));
      run_case(c);
      if (opt_.stop_on_failure && !results_.empty() && results_.back().status == "fail") return;
    }
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
// replay (Note [Replaying recorded calls])
// ---------------------------------------------------------------------------
// `--replay FILE` reads a log written by a program run with PRISM_RECORD=FILE
// (Note [Kernel call recording] in core/dispatch/record.hpp; the format is in
// docs/writing-a-plugin.md) and runs every distinct recorded call on the
// plugin under test: the same op, key dtype, operand dtypes, sizes, strides,
// storage offsets and attributes, with seeded random values in the op's
// domain (index operands within the indexed extent; optimizer state in the
// ranges of the ops mode; nonzero's input with exactly as many non-zeros as
// its recorded output has rows). Each call runs through run_case, so it gets
// the ops mode's guards, reference, tolerances and failure diagnostics. Calls
// that repeat exactly (the seq number aside) run once; the row says how many
// times the call was recorded. Calls with the same layout (op, dtypes,
// sizes, strides, offsets, attribute names) that differ only in attribute
// values (Adam's step, a scheduled learning rate) run for their first 4
// distinct attribute sets; the rest are counted on the summary line, and the
// full tier (--full) runs every one; outside it, a call whose operands hold
// more than 2^21 elements in all is skipped with that reason (an
// evaluation-sized conv2d costs minutes of float64 reference). Each operand
// gets its own buffer: aliasing
// between operands (in-place calls) is not replayed. A storage offset above
// 4096 elements is reduced modulo 4096 (the alignment stays what was
// recorded) so that a view deep into a large buffer does not need the whole
// buffer. A call is skipped, with the reason on its row and never counted as
// a pass, when its op has no reference kernel in the suite, when the plugin
// has no kernel for its op and key dtype, when the device does not store one
// of its dtypes, or when one operand would span more than 256 MiB.
// ===========================================================================

namespace {

constexpr int64_t kReplayOffsetWrap = 4096;
constexpr uint64_t kReplayMaxBytes = uint64_t{256} << 20;
// Outside --full, calls with more operand elements than this are skipped
// (the float64 reference of an evaluation-sized conv2d takes minutes).
constexpr int64_t kReplayMaxElements = int64_t{1} << 21;

double json_number(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string t = v.get<std::string>();
    if (t == "nan") return NAN;
    if (t == "inf") return INFINITY;
    if (t == "-inf") return -INFINITY;
    throw std::runtime_error("bad number '" + t + "'");
  }
  return v.get<double>();
}

// Builds an operand from one recorded descriptor; returns "" or why it cannot.
std::string replay_operand(const nlohmann::json& d, Operand& o) {
  const int32_t dt = dtype_from_name(d.at("dtype").get<std::string>());
  if (dt < 0) return "unknown dtype '" + d.at("dtype").get<std::string>() + "'";
  const std::vector<int64_t> sizes = d.at("sizes").get<std::vector<int64_t>>();
  const std::vector<int64_t> strides = d.at("strides").get<std::vector<int64_t>>();
  int64_t offset = d.at("offset").get<int64_t>();
  if (sizes.size() != strides.size() || sizes.size() > PRISM_MAX_DIMS) return "bad sizes/strides";
  int64_t n = 1, lo = 0, hi = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] < 0) return "negative size";
    n *= sizes[k];
    if (sizes[k] > 0) (strides[k] < 0 ? lo : hi) += (sizes[k] - 1) * strides[k];
  }
  if (n == 0) lo = hi = 0;
  if (offset + lo < 0) return "the view reaches before its storage";
  if (offset > kReplayOffsetWrap) offset = -lo + (offset + lo) % kReplayOffsetWrap;
  const int64_t span = n == 0 ? offset : offset + hi + 1;
  const uint64_t bytes = static_cast<uint64_t>(span) * dtype_size(dt);
  if (bytes > kReplayMaxBytes)
    return "skipped: an operand spans " + std::to_string(bytes >> 20) + " MiB (the replay limit is 256 MiB)";
  o.view.dtype = dt;
  o.view.sizes = sizes;
  o.view.strides = strides;
  o.view.byte_offset = kGuard + static_cast<uint64_t>(offset) * dtype_size(dt);
  o.image.assign(2 * kGuard + static_cast<size_t>(bytes), kPattern);
  fill_guard_pattern(o.image);
  return {};
}

// Values that run_case's fill_inputs cannot know from the op name alone.
void replay_domains(Case& c, std::mt19937_64& g) {
  auto extent = [](const Operand& o, const RefAttr* dim) {
    if (dim == nullptr || o.view.sizes.empty()) return int64_t{1};
    int64_t d = dim->i;
    const int64_t nd = static_cast<int64_t>(o.view.sizes.size());
    if (d < 0) d += nd;
    return d >= 0 && d < nd ? o.view.sizes[static_cast<size_t>(d)] : int64_t{1};
  };
  RefCall probe;
  probe.attrs = c.attrs;
  const RefAttr* dim = probe.attr("dim");
  auto index_range = [&](Operand& idx, int64_t size) {
    idx.ranged = true;
    idx.lo = 0;
    idx.hi = static_cast<double>(std::max<int64_t>(size, 1) - 1);
  };
  switch (c.op->kind) {
    case OpKind::kGather:
    case OpKind::kIndexSelect:
      if (c.inputs.size() >= 2) index_range(c.inputs[1], extent(c.inputs[0], dim));
      break;
    case OpKind::kScatter:
    case OpKind::kIndexPut:
      c.inout = true;
      if (!c.inputs.empty()) index_range(c.inputs[0], extent(c.output, dim));
      break;
    case OpKind::kSoftmax: {
      const std::string name = c.op->name;
      const bool log = name.rfind("log_", 0) == 0;
      Operand& x =
          name.find("backward") != std::string::npos && c.inputs.size() >= 2 ? c.inputs[1] : c.inputs[0];
      x.ranged = true;
      x.lo = name.find("backward") != std::string::npos ? (log ? -4.0 : 0.0) : -4.0;
      x.hi = name.find("backward") != std::string::npos ? (log ? 0.0 : 1.0) : 4.0;
      break;
    }
    case OpKind::kOptim: {
      c.inout = true;
      const bool adam = std::string(c.op->name) == "adam_update";
      auto range = [](Operand& o, double lo, double hi) {
        o.ranged = true;
        o.lo = lo;
        o.hi = hi;
      };
      range(c.output, -2, 2);
      for (size_t k = 0; k < c.more_outputs.size(); ++k) {
        if (!adam || k == 0)
          range(c.more_outputs[k], -1, 1);
        else
          range(c.more_outputs[k], 0.1, k == 1 ? 1.0 : 1.2);
      }
      break;
    }
    case OpKind::kNonzero: {
      if (c.inputs.empty() || c.output.view.sizes.empty()) break;
      Operand& in = c.inputs[0];
      in.fixed = true;
      const int64_t n = in.view.numel();
      const int64_t rows = std::min<int64_t>(c.output.view.sizes[0], n);
      std::vector<int64_t> pos(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = i;
      std::shuffle(pos.begin(), pos.end(), g);
      std::vector<uint8_t> nz(static_cast<size_t>(n), 0);
      for (int64_t i = 0; i < rows; ++i) nz[static_cast<size_t>(pos[static_cast<size_t>(i)])] = 1;
      for (int64_t i = 0; i < n; ++i) {
        uint8_t* p = in.image.data() + in.view.byte_pos(i);
        if (is_float(in.view.dtype))
          store_real(in.view.dtype, p, nz[static_cast<size_t>(i)] ? 0.5 + static_cast<double>(g() % 8) : 0.0);
        else
          store_int(in.view.dtype, p, nz[static_cast<size_t>(i)] ? 1 + static_cast<int64_t>(g() % 5) : 0);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace

void Runner::mode_replay() {
  progress_mode_ = "replay";
  std::ifstream in(opt_.replay_path);
  if (!in) {
    add({"replay", "(log)", "-", "-", "fail", "cannot read the recorded log '" + opt_.replay_path + "'"});
    return;
  }
  struct Call {
    int64_t seq = 0;
    int64_t count = 0;
    nlohmann::json j;
  };
  std::vector<Call> calls;
  std::map<std::string, size_t> seen;
  // layout signature (attribute values left out) -> distinct attribute sets seen
  std::map<std::string, int64_t> variants;
  const int64_t max_variants = opt_.tier == "full" ? INT64_MAX : 4;
  int64_t folded = 0;
  std::string line;
  int64_t line_no = 0, recorded = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      add({"replay", "(log)", "-", "line " + std::to_string(line_no), "fail",
           "not a JSON object: " + std::string(e.what())});
      continue;
    }
    if (j.contains("prism_record")) {
      header = true;
      if (!j["prism_record"].is_number_integer() || j["prism_record"].get<int64_t>() != 1)
        add({"replay", "(log)", "-", "line " + std::to_string(line_no), "fail",
             "unsupported record format version " + j["prism_record"].dump() + " (this suite reads 1)"});
      continue;
    }
    ++recorded;
    const int64_t seq = j.value("seq", line_no);
    nlohmann::json key = j;
    key.erase("seq");
    key.erase("device");  // where it ran does not change what the call asks
    key.erase("plugin");
    const std::string k = key.dump();
    auto it = seen.find(k);
    if (it != seen.end()) {
      ++calls[it->second].count;
      continue;
    }
    nlohmann::json layout = key;
    if (layout.contains("attrs") && layout["attrs"].is_array())
      for (nlohmann::json& a : layout["attrs"])
        if (a.is_object()) {
          a.erase("i");
          a.erase("f");
          a.erase("ints");
        }
    if (++variants[layout.dump()] > max_variants) {
      ++folded;
      continue;
    }
    seen.emplace(k, calls.size());
    calls.push_back({seq, 1, std::move(j)});
  }
  if (!header)
    add({"replay", "(log)", "-", "-", "fail",
         "'" + opt_.replay_path + "' has no {\"prism_record\":1} header line"});
  if (!opt_.quiet)
    std::fprintf(stderr, "replay: %lld recorded kernel calls, %zu distinct replayed%s\n",
                 static_cast<long long>(recorded), calls.size(),
                 folded == 0 ? ""
                             : (" (" + std::to_string(folded) +
                                " more differ from them only in attribute values beyond 4 per layout; --full "
                                "replays them)")
                                   .c_str());
  progress_total_ = calls.size();
  progress_done_ = 0;
  for (Call& call : calls) {
    const nlohmann::json& j = call.j;
    if (opt_.case_index >= 0 && call.seq != opt_.case_index) continue;
    std::string op_name = "?", key_name = "-";
    const std::string label =
        "replay,seq=" + std::to_string(call.seq) + (call.count > 1 ? ",x" + std::to_string(call.count) : "");
    try {
      op_name = j.at("op").get<std::string>();
      key_name = j.at("key").get<std::string>();
      if (!op_selected(op_name)) continue;
      progress(op_name + " " + key_name);
      const int32_t key = dtype_from_name(key_name);
      if (key < 0) throw std::runtime_error("unknown key dtype '" + key_name + "'");
      if (!dtype_selected(key)) continue;
      const OpSpec* spec = find_op(op_name);
      if (spec == nullptr) {
        add({"replay", op_name, key_name, label, "skip",
             "skipped: the suite has no reference kernel for op '" + op_name +
                 "' (not a kernel op of docs/ops.md), so this call cannot be checked"});
        continue;
      }
      if (!(spec->dtypes & PRISM_DTYPE_BIT(key))) {
        add({"replay", op_name, key_name, label, "skip",
             "skipped: docs/ops.md does not define '" + op_name + "' for " + key_name + " (no reference)"});
        continue;
      }
      if (p_.find(op_name, key) == nullptr) {
        add({"replay", op_name, key_name, label, "skip",
             "skipped: the plugin has no '" + op_name + "' kernel for " + key_name +
                 " (the core would run this call through the CPU fallback)"});
        continue;
      }
      Case c;
      c.op = spec;
      c.dtype = key;
      c.layout = "replay";
      c.variant = label.substr(std::string("replay,").size());
      c.index = call.seq;
      std::string why;
      const nlohmann::json& ins = j.at("inputs");
      const nlohmann::json& outs = j.at("outputs");
      if (outs.empty()) throw std::runtime_error("a call without outputs");
      for (const nlohmann::json& d : ins) {
        Operand o;
        if (why.empty()) why = replay_operand(d, o);
        c.inputs.push_back(std::move(o));
      }
      for (size_t k = 0; k < outs.size(); ++k) {
        Operand o;
        if (why.empty()) why = replay_operand(outs[k], o);
        if (k == 0)
          c.output = std::move(o);
        else
          c.more_outputs.push_back(std::move(o));
      }
      std::vector<const Operand*> all;
      for (const Operand& o : c.inputs) all.push_back(&o);
      all.push_back(&c.output);
      for (const Operand& o : c.more_outputs) all.push_back(&o);
      int64_t elements = 0;
      for (const Operand* o : all) {
        elements += o->view.numel();
        if (why.empty() && !(p_.props.dtype_mask & PRISM_DTYPE_BIT(o->view.dtype)))
          why = std::string("skipped: the device does not store ") + dtype_name(o->view.dtype);
      }
      if (why.empty() && opt_.tier != "full" && elements > kReplayMaxElements)
        why = "skipped: " + std::to_string(elements) + " elements in its operands, above the " +
              std::to_string(kReplayMaxElements) +
              " a call may have outside the full tier (--full replays it)";
      if (!why.empty()) {
        const bool skip = why.rfind("skipped: ", 0) == 0;
        add({"replay", op_name, key_name, label, skip ? "skip" : "fail",
             skip ? why : "bad recorded operand: " + why});
        continue;
      }
      for (const nlohmann::json& a : j.at("attrs")) {
        RefAttr r;
        r.name = a.at("name").get<std::string>();
        const std::string kind = a.at("kind").get<std::string>();
        if (kind == "ints") {
          r.kind = PRISM_ATTR_INTS;
          r.ints = a.at("ints").get<std::vector<int64_t>>();
        } else {
          r.kind =
              kind == "int"     ? PRISM_ATTR_INT
              : kind == "float" ? PRISM_ATTR_FLOAT
              : kind == "scalar"
                  ? PRISM_ATTR_SCALAR
                  : throw std::runtime_error("attribute '" + r.name + "' of unknown kind '" + kind + "'");
          r.i = a.at("i").get<int64_t>();
          r.f = json_number(a.at("f"));
        }
        c.attrs.push_back(std::move(r));
      }
      const uint64_t seed = case_seed(opt_.seed ^ 0xF111ull, op_name, key, call.seq);
      std::mt19937_64 g(seed);
      replay_domains(c, g);
      rng_.seed(seed);
      run_case(c);
      if (opt_.stop_on_failure && !results_.empty() && results_.back().status == "fail") return;
    } catch (const std::exception& e) {
      add({"replay", op_name, key_name, label, "fail", std::string("bad recorded call: ") + e.what()});
    }
  }
  if (!opt_.quiet && isatty(2)) std::fprintf(stderr, "\r\033[K");
}

// Note [Grad failure diagnostics] (user_modes.cpp): each failing grad case
// carries the kernel calls of its gradient; replaying them alone on the
// plugin names the kernel that gives wrong values.
void Runner::localise_grad_failures(std::vector<CaseResult>& rows) {
  std::vector<size_t> failed;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].mode == "grad" && rows[i].status == "fail" && !rows[i].calls.empty()) failed.push_back(i);
  if (failed.empty()) return;
  const size_t rows_before = results_.size();
  const bool ok = init_context() && device_ok_;
  results_.resize(rows_before);  // the second init's own rows
  if (!ok) return;
  const Options saved = opt_;
  opt_.case_index = -1;
  opt_.op_regex.clear();
  opt_.dtypes.clear();
  opt_.quiet = true;
  opt_.stop_on_failure = false;
  for (size_t i : failed) {
    char path[] = "/tmp/prism-conformance-grad-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) continue;
    const std::string text = "{\"prism_record\":1}\n" + rows[i].calls;
    const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    if (written) {
      opt_.replay_path = path;
      const size_t before = results_.size();
      mode_replay();
      std::vector<CaseResult> replayed(results_.begin() + static_cast<ptrdiff_t>(before), results_.end());
      results_.resize(before);
      std::string culprit, ops;
      std::set<std::string> seen;
      for (const CaseResult& row : replayed) {
        if (seen.insert(row.op + " " + row.dtype).second)
          ops += (ops.empty() ? "" : ", ") + row.op + " " + row.dtype;
        if (culprit.empty() && row.status == "fail")
          culprit = "kernel '" + row.op + "' " + row.dtype +
                    " gives wrong values when replayed alone: " + row.message;
      }
      rows[i].message += culprit.empty() ? " [each kernel the gradient ran (" + ops +
                                               ") passes when replayed alone on random inputs]"
                                         : " [" + culprit + "]";
    }
    unlink(path);
  }
  opt_ = saved;
  const size_t rows_end = results_.size();
  shutdown_context();
  results_.resize(rows_end);
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
  // --- optional slots (1.2): user streams both or none; a block copied to the
  // device on a user stream and back, an event recorded there is queried
  // until complete, and the device timer (if any) reads >= 0 ms
  {
    const bool fits = PRISM_HAS(t, prism_plugin_table, event_elapsed_ms);
    const int n = fits ? (t->stream_create != nullptr) + (t->stream_destroy != nullptr) : 0;
    const bool events = t->event_create != nullptr && t->event_record != nullptr &&
                        t->event_synchronize != nullptr && t->event_destroy != nullptr;
    if (n == 1) {
      row("stream_slots", false, "only one of stream_create/stream_destroy is set: set both or none");
    } else if (fits && (t->event_query != nullptr || t->event_elapsed_ms != nullptr) && !events) {
      row("stream_slots", false, "event_query/event_elapsed_ms are set without the event slots");
    } else if (n == 0 && (!fits || t->event_query == nullptr)) {
      row("stream_slots", true,
          fits ? "no user streams or event queries (NULL slots)"
               : "no user streams (a table older than 1.2)");
    } else if (device_ok_) {
      constexpr size_t kBytes = 4096;
      Err e;
      bool same = false, completed = false, timed = true;
      std::string crash = guarded(opt_.timeout_s, [&] {
        prism_stream_t st = nullptr;
        prism_event_t a = nullptr, b = nullptr;
        void* buf = nullptr;
        std::vector<unsigned char> src(kBytes), back(kBytes, 0);
        for (size_t i = 0; i < kBytes; ++i) src[i] = static_cast<unsigned char>(i * 5 + 1);
        if (n == 2) e = take(t->stream_create(p_.ctx, opt_.device, &st));
        if (e.ok) e = take(t->alloc(p_.ctx, opt_.device, kBytes, &buf));
        if (e.ok && events) e = take(t->event_create(p_.ctx, opt_.device, &a));
        if (e.ok && events) e = take(t->event_create(p_.ctx, opt_.device, &b));
        if (e.ok && events) e = take(t->event_record(p_.ctx, opt_.device, a, st));
        if (e.ok) e = take(t->copy_from_host(p_.ctx, opt_.device, st, src.data(), buf, 0, kBytes));
        if (e.ok && events) e = take(t->event_record(p_.ctx, opt_.device, b, st));
        if (e.ok && events && t->event_query != nullptr) {
          // Polled against a wall-clock deadline, not a count of queries: on a
          // loaded machine the device's worker thread may wait for a CPU far
          // longer than a million queries take.
          int32_t done = 0;
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
          for (int spin = 0; e.ok && done == 0 && std::chrono::steady_clock::now() < deadline; ++spin) {
            e = take(t->event_query(p_.ctx, b, &done));
            if (done == 0 && spin >= 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
          }
          completed = done != 0;
        } else {
          completed = true;
        }
        if (e.ok) e = take(t->synchronize(p_.ctx, opt_.device, st));
        if (e.ok) {
          e = take(t->copy_to_host(p_.ctx, opt_.device, st, buf, 0, back.data(), kBytes));
          same = e.ok && back == src;
        }
        if (e.ok && events && t->event_elapsed_ms != nullptr) {
          double ms = -1;
          e = take(t->event_elapsed_ms(p_.ctx, a, b, &ms));
          timed = e.ok && ms >= 0.0;
        }
        if (a) t->event_destroy(p_.ctx, a);
        if (b) t->event_destroy(p_.ctx, b);
        if (buf != nullptr) t->free(p_.ctx, opt_.device, buf);
        if (st != nullptr) t->stream_destroy(p_.ctx, opt_.device, st);
      });
      row("stream_slots", crash.empty() && e.ok && same && completed && timed,
          !crash.empty() ? crash
          : !e.ok        ? describe(e)
          : !completed   ? "event_query never reported the recorded event complete"
          : !same        ? "bytes copied to the device on a user stream and back differ"
          : !timed       ? "event_elapsed_ms gave a negative time"
                         : std::string(n == 2 ? "stream_create/destroy, " : "") +
                         "copies and events on the stream, event_query" +
                         (t->event_elapsed_ms != nullptr ? ", event_elapsed_ms" : ""));
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
    if (!op_selected(op.name) || op.kind > OpKind::kRandom) continue;  // perf: the primitive ops
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
  // Note [Coverage figure]: registered kernel cells (op x dtype of the op
  // table the plugin has a kernel for) against the cells the ops/rng modes
  // exercised, and the layouts used
  {
    std::set<std::pair<std::string, std::string>> registered, exercised;
    std::set<std::string> layouts;
    for (const OpSpec& op : op_table())
      for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt)
        if ((op.dtypes & PRISM_DTYPE_BIT(dt)) && p_.find(op.name, dt) && op_selected(op.name) &&
            dtype_selected(dt))
          registered.insert({op.name, dtype_name(dt)});
    for (const CaseResult& r : results_) {
      if ((r.mode != "ops" && r.mode != "rng") || (r.status != "pass" && r.status != "fail")) continue;
      exercised.insert({r.op, r.dtype});
      layouts.insert(r.layout.substr(0, r.layout.find(',')));
    }
    if (!registered.empty() && (mode("ops") || mode("rng")))
      std::printf(
          "\n  coverage: %zu of %zu registered op x dtype kernels exercised (%.0f %%), %zu layout kinds\n",
          exercised.size(), registered.size(),
          100.0 * static_cast<double>(exercised.size()) / static_cast<double>(registered.size()),
          layouts.size());
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
      if (!r.repro.empty()) std::printf("       reproduce: %s\n", r.repro.c_str());
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
    if (!r.repro.empty()) c["reproduce"] = r.repro;
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
      // rng first: it is short, so --stop-on-failure reaches a bad random
      // kernel without running every ops case first
      if (mode("rng")) mode_ops(true);
      if (mode("ops") && !(opt_.stop_on_failure && any_failure())) mode_ops(false);
      if (mode("replay")) mode_replay();
      if (mode("perf")) mode_perf();
    }
    if (mode("support")) mode_support();
    if (!device_ok_) {
      for (const char* m : {"ops", "rng", "replay", "perf", "grad", "async"})
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
    for (int32_t dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
      if (!(p_.props.dtype_mask & PRISM_DTYPE_MASK_ALL & PRISM_DTYPE_BIT(dt)) || !dtype_selected(dt))
        continue;
      bool has = false;
      for (const Kernel& k : p_.kernels) has = has || (k.mask & PRISM_DTYPE_BIT(dt)) != 0;
      if (has) u.kernel_dtypes.push_back(dt);
    }
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
    localise_grad_failures(rs);
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
  // Note [Required devices] (tests/prism_require_devices.h): where the
  // device must exist, "nothing could run" is a failure, never a skip.
  if (status == PRISM_CONFORMANCE_NOT_RUN) {
    const std::string type = p_.table && p_.table->device_type ? p_.table->device_type : "";
    const std::string dev = type + ":" + std::to_string(opt_.device);
    if (!type.empty() && prism_test_device_required(dev.c_str())) {
      status = PRISM_CONFORMANCE_FAILED;
      add({"load", "(plugin)", "-", "required", "fail",
           dev + " is required (PRISM_REQUIRE_DEVICES) but nothing could run: " + device_skip_reason_});
    }
  }
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
  const bool has_replay =
      options->struct_size >= offsetof(prism_conformance_options, replay) + sizeof(char*) &&
      options->replay != nullptr && *options->replay != '\0';
  if (has_replay) o.replay_path = options->replay;
  const std::set<std::string> known = {"abi", "ops", "grad", "rng", "async", "support", "perf", "replay"};
  const char* modes = options->modes ? options->modes : has_replay ? "replay" : "abi,ops,rng,support";
  for (const std::string& m : split_list(modes)) {
    if (!known.count(m)) {
      std::fprintf(stderr,
                   "prism-conformance: unknown mode '%s' (use abi,ops,grad,rng,async,support,perf,replay)\n",
                   m.c_str());
      return PRISM_CONFORMANCE_USAGE;
    }
    o.modes.insert(m);
  }
  if (o.modes.count("replay") != 0 && !has_replay) {
    std::fprintf(stderr, "prism-conformance: the replay mode needs a recorded log (--replay FILE)\n");
    return PRISM_CONFORMANCE_USAGE;
  }
  o.report_json = options->report_json ? options->report_json : "";
  o.junit_xml = options->junit_xml ? options->junit_xml : "";
  if (options->struct_size >= offsetof(prism_conformance_options, quiet) + sizeof(int32_t)) {
    if (options->seed != 0) o.seed = options->seed;
    if (options->case_timeout_s > 0) o.timeout_s = options->case_timeout_s;
    o.verbose = options->verbose != 0;
    o.quiet = options->quiet != 0;
  }
  if (options->struct_size >= offsetof(prism_conformance_options, stop_on_failure) + sizeof(int32_t)) {
    if (options->tier != nullptr && *options->tier != '\0') o.tier = options->tier;
    if (o.tier != "quick" && o.tier != "default" && o.tier != "full") {
      std::fprintf(stderr, "prism-conformance: unknown tier '%s' (use quick, default or full)\n",
                   o.tier.c_str());
      return PRISM_CONFORMANCE_USAGE;
    }
    o.case_index = options->case_index;
    o.stop_on_failure = options->stop_on_failure != 0;
  }
  Runner runner(std::move(o));
  return runner.run();
}
