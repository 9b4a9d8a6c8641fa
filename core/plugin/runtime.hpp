// runtime.hpp — the loaded plugins, their devices and the load report (internal, no compatibility promise).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/common.hpp"
#include "prism/comm.h"
#include "prism/plugin.h"

// The core's definition of the opaque plugin error (Note [Plugin ABI rules]).
struct prism_plugin_error {
  prism_status code;
  std::string message;
};

namespace prism {

class CachingAllocator;  // core/memory/caching_allocator.hpp

// One kernel definition copied out of a plugin's table (the plugin's
// prism_kernel_def may be shorter or longer than the core's; see
// Note [Plugin ABI rules]).
struct KernelEntry {
  std::string op;
  uint32_t dtype_mask = 0;
  prism_kernel_supports_fn supports = nullptr;  // may be null
  prism_kernel_fn run = nullptr;
};

// Note [Signal dispositions]
// Prism leaves the host process's signal handling as it found it. Device
// runtimes loaded by plugins may install process-wide handlers (PoCL installs
// a SIGFPE handler that patches a faulting integer division and carries on,
// which would silently hide a division by zero in the user's own code). A
// SignalGuard saves the disposition of every signal 1 .. NSIG-1 and, when it
// goes out of scope, restores each one that changed and logs a warning naming
// the plugin and the signal. Guards surround everything the loader runs of a
// plugin (entry point, init, device queries) and each plugin's first kernel
// (runtimes that initialise lazily). Prism's own integer division never
// relies on signals (docs/ops.md, "Integer division").
class SignalGuard {
 public:
  explicit SignalGuard(std::string who);
  // Restores now if restore() was not called, and logs a warning naming the
  // changed signals.
  ~SignalGuard();
  // Restores every changed disposition now and returns their names
  // ("SIGFPE, SIGSEGV"; "" when none changed) without logging.
  std::string restore();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  void set_who(std::string who) { who_ = std::move(who); }

 private:
  std::string who_;
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

struct Plugin {
  std::string path;         // file it was loaded from ("" for built-in test plugins)
  std::string name;         // table->name
  std::string device_type;  // table->device_type
  std::string version;
  uint32_t abi_major = 0, abi_minor = 0;
  const prism_plugin_table* table = nullptr;  // plugin-owned, static
  void* ctx = nullptr;                        // from table->init
  std::vector<KernelEntry> kernels;
  int32_t device_count = 0;
  std::string zero_device_reason;
  bool has_events = false;        // all five event slots present and non-NULL
  bool has_pinned = false;        // host_alloc and host_free present and non-NULL (ABI 1.1)
  std::shared_ptr<void> library;  // keeps the shared library loaded (type-erased)
  // Set once a kernel of this plugin has run under a SignalGuard
  // (Note [Signal dispositions]).
  std::atomic<bool> first_kernel_done{false};
  // Set while loading: a note for the load report (device count capped ...).
  std::string load_note;

  // Finds the kernel for `op` whose dtype_mask contains `key_dtype`; nullptr if none.
  const KernelEntry* find_kernel(const std::string& op, prism_dtype key_dtype) const;
};

struct Device {
  std::string name;  // "cpu:0"
  Plugin* plugin = nullptr;
  int32_t index = 0;  // device index inside its plugin
  // Copies of the plugin's props strings (the plugin's pointers stay valid too).
  std::string device_name, vendor, stable_id;
  uint64_t total_memory = 0;
  uint32_t dtype_mask = 0;
  uint32_t capabilities = 0;
  std::unique_ptr<CachingAllocator> allocator;
  // Released pinned host blocks of this device's plugin, by size, kept for
  // reuse (Note [Pinned host memory], core/tensor/tensor.cpp).
  std::mutex pinned_mu;
  std::multimap<size_t, void*> pinned_free;

  bool host_memory() const { return (capabilities & PRISM_DEVICE_CAP_HOST_MEMORY) != 0; }
};

// A communicator plugin (libprism-comm-<name>.so, api/prism/comm.h).
struct CommPlugin {
  std::string path;
  std::string name;  // table->name, e.g. "gloo"
  std::string version;
  uint32_t abi_major = 0, abi_minor = 0;
  const prism_comm_table* table = nullptr;  // plugin-owned, static
  void* ctx = nullptr;                      // from table->init
  bool usable = false;                      // table->probe said so
  std::string reason;                       // why not usable
  std::shared_ptr<void> library;
};

struct LoadReportRow {
  std::string path;
  std::string kind = "device";  // "device" or "comm"
  std::string plugin_name;
  bool loaded = false;
  uint32_t abi_major = 0, abi_minor = 0;
  int32_t device_count = 0;
  std::string reason;
};

// Converts a plugin error to a prism::Error (frees the error object) and
// throws it; `context` names the op/call and the plugin. No-op for nullptr.
void throw_if_plugin_error(prism_plugin_error* err, const std::string& context);
// The same, appending " (plugin '<name>')" to the message, so callers only
// describe the call: "running add on toy:0: <plugin message> (plugin 'toy')".
void throw_if_plugin_error(prism_plugin_error* err, const Plugin& plugin, const std::string& context);
// Runs a plugin call and, only when it fails, builds the context message
// from the remaining arguments and throws (the success path formats nothing).
#define PRISM_PLUGIN_CHECK(call, plugin, ...)                                                    \
  do {                                                                                           \
    prism_plugin_error* prism_err_ = (call);                                                     \
    if (prism_err_ != nullptr)                                                                   \
      ::prism::throw_if_plugin_error(prism_err_, plugin, ::prism::detail::str_cat(__VA_ARGS__)); \
  } while (0)

// Frees an error object made by host_table()->error_create (nullptr and the
// static out-of-memory error are left alone). Use this, never `delete`, for an
// error that is handled rather than thrown (Note [Plugin error objects]).
void free_plugin_error(prism_plugin_error* err) noexcept;

// The host table handed to every plugin (static; lives for the process).
const prism_host_table* host_table();

// Note [Runtime singleton]
// The runtime is a process-wide singleton created on first use. It owns the
// plugins (never unloaded before exit while tensors may be alive) and devices.
class Runtime {
 public:
  static Runtime& get();

  // Discovery (DESIGN.md §6): PRISM_PLUGIN_PATH dirs, the install plugin dir,
  // the directory of libprism. Runs once; later calls are no-ops.
  void load_default();
  // Loads one file; throws prism::Error(UNAVAILABLE) with the reason on
  // failure (a report row is added either way). Idempotent per path.
  void load_path(const std::string& path);
  // Registers a plugin from an entry function already in this process
  // (tests, statically linked plugins). `label` is used as its path.
  void load_entry(prism_plugin_entry_fn entry, const std::string& label);

  // Resolves "cpu", "cpu:0", "opencl:1"; nullptr/"" means cpu:0. Runs
  // load_default first. Throws INVALID_ARGUMENT/UNAVAILABLE naming the
  // device and the loaded device types.
  Device* device(const char* name);
  // The first device of the plugin named "cpu" (fallback target); throws
  // UNAVAILABLE when the CPU plugin is not loaded.
  Device* cpu();

  // Both run load_default first.
  std::vector<Device*> devices();
  std::vector<LoadReportRow> load_report();
  // The communicator plugin named `name` ("gloo"), after load_default;
  // nullptr when none is loaded under that name.
  CommPlugin* comm_plugin(const std::string& name);
  std::vector<CommPlugin*> comm_plugins();

 private:
  Runtime() = default;
  void register_plugin(std::unique_ptr<Plugin> plugin, LoadReportRow& row);
  // Loads the file at `path` (a candidate or an explicit path); fills `row`.
  // Returns false when it was already attempted (no new row is due).
  bool load_file(const std::string& path, LoadReportRow& row);
  // Calls `entry`, checks its table and registers the plugin; fills `row`.
  void admit(prism_plugin_entry_fn entry, std::shared_ptr<void> library, LoadReportRow& row);
  // Loads the built-in CPU plugin (libprism-cpu.so of the discovery
  // directories) if it is not loaded yet (Note [Third-party cpu devices]).
  void load_builtin_cpu();
  // Adds a report row for a discovery problem that is not a load attempt.
  void note_row(const std::string& path, const std::string& reason);
  // The same for a communicator plugin (Note [Communicator ABI rules]).
  void admit_comm(prism_comm_entry_fn entry, std::shared_ptr<void> library, LoadReportRow& row);
  // The report row of an earlier attempt at `path`, or nullptr.
  const LoadReportRow* find_row(const std::string& path) const;
  std::recursive_mutex mutex_;
  bool defaults_loaded_ = false;
  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<std::unique_ptr<CommPlugin>> comm_plugins_;
  std::vector<LoadReportRow> report_;
};

}  // namespace prism
