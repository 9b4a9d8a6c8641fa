// runtime.cpp — the plugin loader: host table, discovery, ABI negotiation, devices and the load report.
#include "core/plugin/runtime.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "core/memory/caching_allocator.hpp"

#ifndef PRISM_PLUGIN_DIR_FROM_LIB
#define PRISM_PLUGIN_DIR_FROM_LIB ""
#endif

namespace prism {

namespace {

namespace fs = std::filesystem;

// Note [Plugin error objects]
// error_create allocates with new (std::nothrow) so that running out of
// memory while reporting an error never throws across the C boundary. When
// even that allocation fails it returns kOutOfMemoryError, a static object
// that free_plugin_error() recognises and never deletes. Every path that
// consumes an error object (throw_if_plugin_error, the loader, the caching
// allocator's OOM retry) must go through free_plugin_error, never `delete`.
prism_plugin_error kOutOfMemoryError{PRISM_ERROR_OUT_OF_MEMORY,
                                     "out of memory (while creating a plugin error object)"};

// Note [Untrusted status codes]
// A C plugin may pass any int as a prism_status. In C++ merely loading an
// enum object that holds a value outside the enumeration is undefined, so the
// raw bits are copied out with memcpy and checked as an int. Anything outside
// the error range (including PRISM_OK on a non-NULL error) is a plugin bug,
// reported as INTERNAL. error_create stores only checked codes, so core code
// may read err->code directly.
static_assert(sizeof(prism_status) == sizeof(int32_t), "prism_status is a 32-bit enum");

prism_status checked_code(const prism_status* where) {
  int32_t raw = 0;
  std::memcpy(&raw, where, sizeof(raw));
  if (raw < PRISM_ERROR_INVALID_ARGUMENT || raw > PRISM_ERROR_INDEX) return PRISM_ERROR_INTERNAL;
  return static_cast<prism_status>(raw);
}

extern "C" prism_plugin_error* host_error_create(prism_status code, const char* message) {
  try {
    auto* err = new (std::nothrow) prism_plugin_error{checked_code(&code), message != nullptr ? message : ""};
    return err != nullptr ? err : &kOutOfMemoryError;
  } catch (...) {  // std::string's allocation failed
    return &kOutOfMemoryError;
  }
}

const char* level_name(prism_log_level level) {
  switch (level) {
    default:  // out-of-range values fall through to the code after the switch
      break;
    case PRISM_LOG_DEBUG:
      return "debug";
    case PRISM_LOG_INFO:
      return "info";
    case PRISM_LOG_WARN:
      return "warn";
    case PRISM_LOG_ERROR:
      return "error";
  }
  return "log";
}

// PRISM_LOG=debug|info|warn|error sets the lowest level printed (read once;
// default info, so DEBUG lines are suppressed unless PRISM_LOG=debug).
int log_threshold() {
  static const int threshold = [] {
    const char* env = std::getenv("PRISM_LOG");
    if (env == nullptr) return static_cast<int>(PRISM_LOG_INFO);
    for (int l = PRISM_LOG_DEBUG; l <= PRISM_LOG_ERROR; ++l)
      if (std::strcmp(env, level_name(static_cast<prism_log_level>(l))) == 0) return l;
    return static_cast<int>(PRISM_LOG_INFO);
  }();
  return threshold;
}

void write_log(prism_log_level level, const char* who, const char* message) {
  if (static_cast<int>(level) < log_threshold()) return;
  // One fprintf call: stdio locks the stream, so lines never interleave.
  std::fprintf(stderr, "[prism:%s] %s: %s\n", who != nullptr ? who : "?", level_name(level),
               message != nullptr ? message : "");
}

extern "C" void host_log(prism_log_level level, const char* plugin_name, const char* message) {
  write_log(level, plugin_name, message);
}

const prism_host_table kHostTable = {
    sizeof(prism_host_table), PRISM_PLUGIN_ABI_MAJOR, PRISM_PLUGIN_ABI_MINOR, host_error_create, host_log,
};

void loader_log(prism_log_level level, const std::string& message) {
  write_log(level, "loader", message.c_str());
}

// Takes the message out of an error object and frees it: "CODE: message".
std::string consume_error(prism_plugin_error* err) {
  std::string text = detail::str_cat(status_name(checked_code(&err->code)), ": ",
                                     err->message.empty() ? "(no message)" : err->message);
  free_plugin_error(err);
  return text;
}

std::string safe_str(const char* s) {
  return s != nullptr ? s : "";
}

// Note [ABI minimum sizes]
// The v1.0 plugin table is required up to and including kernel_def_size; the
// event slots after it are optional (NULL = no events), so a table whose
// struct_size stops before them is accepted and they read as NULL. A table
// or kernel definition shorter than its required part is refused, since the
// core could not read a required slot. Anything past the core's own sizeof
// (a newer minor) is ignored.
constexpr size_t kTableAbiFieldsEnd = offsetof(prism_plugin_table, abi_minor) + sizeof(uint32_t);
constexpr size_t kTableRequiredEnd = offsetof(prism_plugin_table, kernel_def_size) + sizeof(size_t);
constexpr size_t kKernelDefRequiredEnd = offsetof(prism_kernel_def, run) + sizeof(prism_kernel_fn);

// The name of the first required slot that is NULL, or nullptr.
const char* first_null_slot(const prism_plugin_table* t) {
  if (t->init == nullptr) return "init";
  if (t->shutdown == nullptr) return "shutdown";
  if (t->device_count == nullptr) return "device_count";
  if (t->device_props == nullptr) return "device_props";
  if (t->alloc == nullptr) return "alloc";
  if (t->free == nullptr) return "free";
  if (t->copy_from_host == nullptr) return "copy_from_host";
  if (t->copy_to_host == nullptr) return "copy_to_host";
  if (t->synchronize == nullptr) return "synchronize";
  if (t->n_kernels > 0 && t->kernels == nullptr) return "kernels";
  return nullptr;
}

// Path used to recognise a file seen before (symlinks and "." resolved).
std::string canonical_key(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(path), ec);
  if (ec) p = fs::absolute(fs::path(path), ec).lexically_normal();
  return p.string();
}

// Note [Discovery problems]
// Whatever discovery skips is said in the load report (and so by `prism
// info`), as a row with loaded = 0 and a reason, and logged as a warning:
// PRISM_PLUGIN_PATH entries that are empty, missing or not directories, and
// entries named libprism-*.so that are not regular files (directories,
// dangling symlinks, FIFOs). The install's own directories are not checked
// this way (a missing one is normal).
constexpr int32_t kMaxDevicesPerPlugin = 1024;  // Note [Device count cap]

struct Skipped {
  std::string path, reason;
};

std::string file_kind(const fs::path& p) {
  std::error_code ec;
  fs::file_status st = fs::status(p, ec);
  if (ec || st.type() == fs::file_type::not_found) {
    std::error_code lec;
    if (fs::is_symlink(fs::symlink_status(p, lec))) {
      std::error_code rec;
      fs::path to = fs::read_symlink(p, rec);
      return detail::str_cat("a dangling symbolic link (to '", to.string(), "')");
    }
    return "does not exist";
  }
  switch (st.type()) {
    case fs::file_type::regular:
      return "a regular file";
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::block:
    case fs::file_type::character:
      return "a device";
    default:
      return "not a regular file";
  }
}

// Files named libprism-*.so in `dir`, sorted by name. A missing or unreadable
// directory yields nothing; entries with that name that are not regular files
// go to `skipped` (Note [Discovery problems]).
std::vector<std::string> candidates_in(const std::string& dir, std::vector<Skipped>* skipped = nullptr) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    const std::string prefix = "libprism-", suffix = ".so";
    if (name.size() <= prefix.size() + suffix.size()) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    std::error_code fec;
    if (!fs::is_regular_file(it->path(), fec)) {  // follows symlinks
      if (skipped != nullptr)
        skipped->push_back({it->path().string(), detail::str_cat("not a plugin library: '", name, "' is ",
                                                                 file_kind(it->path()))});
      continue;
    }
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (auto& n : names) paths.push_back((fs::path(dir) / n).string());
  return paths;
}

std::vector<std::string> discovery_dirs(std::vector<Skipped>* skipped = nullptr) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("PRISM_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    int entry = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      ++entry;
      if (colon > start) {
        std::string dir = list.substr(start, colon - start);
        std::error_code ec;
        if (fs::is_directory(dir, ec)) {
          dirs.push_back(dir);
        } else if (skipped != nullptr) {
          const std::string kind = file_kind(dir);
          skipped->push_back(
              {dir, detail::str_cat(
                        "PRISM_PLUGIN_PATH entry ", entry,
                        kind == "does not exist" ? " does not exist" : " is " + kind + ", not a directory",
                        "; ignored",
                        fs::is_regular_file(dir, ec) ? " (to load one file, use prism_plugin_load or "
                                                       "prism info --plugin)"
                                                     : "")});
        }
      } else if (skipped != nullptr && !list.empty()) {
        skipped->push_back({detail::str_cat("PRISM_PLUGIN_PATH entry ", entry),
                            detail::str_cat("PRISM_PLUGIN_PATH entry ", entry, " of '", list,
                                            "' is empty; ignored (an empty entry does not mean the current "
                                            "directory)")});
      }
      start = colon + 1;
    }
  }
  // Note [Relocatable plugin directory]
  // The install's plugin directory is found relative to where libprism really
  // is (symlinks resolved), never through a path baked in at build time: an
  // install moved or made with `cmake --install --prefix P`, and a Python
  // wheel that carries libprism and its plugins, both find their plugins.
  // PRISM_PLUGIN_DIR_FROM_LIB is the plugin directory relative to the library
  // directory ("prism/plugins" for the default layout).
  try {
    fs::path self(boost::dll::this_line_location().string());
    std::error_code ec;
    fs::path real = fs::canonical(self, ec);
    fs::path lib_dir = ec ? self.parent_path() : real.parent_path();
    if (std::strlen(PRISM_PLUGIN_DIR_FROM_LIB) > 0)
      dirs.push_back((lib_dir / PRISM_PLUGIN_DIR_FROM_LIB).string());
    dirs.push_back(lib_dir.string());
  } catch (const std::exception& e) {
    loader_log(PRISM_LOG_DEBUG, detail::str_cat("cannot locate libprism: ", e.what()));
  }
  return dirs;
}

std::string device_list(const std::vector<std::unique_ptr<Device>>& devices) {
  if (devices.empty()) return "none";
  std::string s;
  for (auto& d : devices) s += (s.empty() ? "" : ", ") + d->name;
  return s;
}

// Note [Signal dispositions]: the signals a plugin changed while loading go
// into its load-report row (prism info shows them) and a debug log line; the
// row stays quiet otherwise, as every PoCL-based plugin changes fifteen.
void note_signals(const std::string& restored, LoadReportRow& row) {
  if (restored.empty()) return;
  std::string note =
      detail::str_cat("while loading, it changed the handlers of ", restored, "; Prism restored them");
  loader_log(PRISM_LOG_DEBUG, detail::str_cat(row.path, ": ", note));
  row.reason += (row.reason.empty() ? "" : "; ") + note;
}

// Failure while admitting a plugin: carries the report reason.
struct Refusal {
  std::string reason;
};

}  // namespace

// The name of a status code ("INVALID_ARGUMENT"); prism_status_name is this.
const char* status_name(prism_status code) {
  switch (code) {
    default:  // out-of-range values (the enum's FORCE_32BIT sentinel) fall through to the code after the
              // switch
      break;
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
  }
  return "UNKNOWN";
}

// ===========================================================================
// Signal dispositions (Note [Signal dispositions])
// ===========================================================================

struct SignalGuard::Saved {
  struct sigaction act[NSIG];
  bool ok[NSIG];
};

namespace {
bool same_disposition(const struct sigaction& a, const struct sigaction& b) {
  if ((a.sa_flags & SA_SIGINFO) != (b.sa_flags & SA_SIGINFO)) return false;
  if (a.sa_flags & SA_SIGINFO) return a.sa_sigaction == b.sa_sigaction && a.sa_flags == b.sa_flags;
  return a.sa_handler == b.sa_handler && a.sa_flags == b.sa_flags;
}
}  // namespace

SignalGuard::SignalGuard(std::string who) : who_(std::move(who)), saved_(new (std::nothrow) Saved) {
  if (!saved_) return;
  for (int sig = 1; sig < NSIG; ++sig) saved_->ok[sig] = ::sigaction(sig, nullptr, &saved_->act[sig]) == 0;
}

std::string SignalGuard::restore() {
  if (!saved_) return "";
  std::string restored, failed;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction now {};
    if (!saved_->ok[sig] || ::sigaction(sig, nullptr, &now) != 0) continue;
    if (same_disposition(now, saved_->act[sig])) continue;
    const char* abbrev = sigabbrev_np(sig);
    std::string name = abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
    std::string& list = ::sigaction(sig, &saved_->act[sig], nullptr) == 0 ? restored : failed;
    list += (list.empty() ? "" : ", ") + name;
  }
  saved_.reset();
  if (!failed.empty())
    write_log(PRISM_LOG_ERROR, "loader",
              (who_ + " changed the handlers of " + failed + "; they could not be restored").c_str());
  return restored;
}

SignalGuard::~SignalGuard() {
  const std::string restored = restore();
  if (!restored.empty())
    write_log(PRISM_LOG_WARN, "loader",
              (who_ + " changed the handlers of " + restored + "; restored the previous ones").c_str());
}

// ===========================================================================
// Errors and the host table
// ===========================================================================

const prism_host_table* host_table() {
  return &kHostTable;
}

void free_plugin_error(prism_plugin_error* err) noexcept {
  if (err != nullptr && err != &kOutOfMemoryError) delete err;
}

void throw_if_plugin_error(prism_plugin_error* err, const std::string& context) {
  if (err == nullptr) return;
  prism_status code = checked_code(&err->code);
  std::string message = err->message.empty() ? status_name(code) : err->message;
  free_plugin_error(err);
  throw Error(code, context.empty() ? message : detail::str_cat(context, ": ", message));
}

void throw_if_plugin_error(prism_plugin_error* err, const Plugin& plugin, const std::string& context) {
  if (err == nullptr) return;
  prism_status code = checked_code(&err->code);
  std::string message = err->message.empty() ? status_name(code) : err->message;
  free_plugin_error(err);
  throw Error(
      code, detail::str_cat(context.empty() ? "" : context + ": ", message, " (plugin '", plugin.name, "')"));
}

const KernelEntry* Plugin::find_kernel(const std::string& op, prism_dtype key_dtype) const {
  int dt = static_cast<int>(key_dtype);
  if (dt < 0 || dt >= PRISM_NUM_DTYPES) return nullptr;
  for (const KernelEntry& k : kernels)
    if ((k.dtype_mask & PRISM_DTYPE_BIT(dt)) != 0 && k.op == op) return &k;
  return nullptr;
}

// ===========================================================================
// Runtime
// ===========================================================================

// Note [Runtime lifetime]
// The runtime is created on first use and deliberately never destroyed: it is
// a heap object reachable from a static pointer until the process ends. At
// exit, tensors held by user statics, other threads or leaked handles may
// still reference device allocators, and plugins such as the CPU one run
// thread pools and register their own exit handlers; calling shutdown() or
// dlclose() from a static destructor would race with both. Plugins are
// therefore never unloaded before exit and their shutdown() is not called
// then. Nothing is lost: the memory stays reachable (LeakSanitizer counts
// only unreachable blocks, so it reports nothing and nothing is suppressed)
// and the OS reclaims it. A plugin refused during loading holds no objects
// and is unloaded at once (after shutdown() when its init had succeeded).
Runtime& Runtime::get() {
  static Runtime* instance = new Runtime();
  return *instance;
}

const LoadReportRow* Runtime::find_row(const std::string& path) const {
  for (const LoadReportRow& r : report_)
    if (r.path == path) return &r;
  return nullptr;
}

// Note [Loader discovery order]
// Explicit paths (prism_plugin_load) load whenever they are requested; the
// first device lookup then runs discovery once over PRISM_PLUGIN_PATH, the
// install's plugin directory and libprism's own directory, each sorted by
// file name. A file already attempted (by its canonical path) is never tried
// twice and gets no second row. A plugin name that is already loaded wins
// over later files of the same name: explicit paths therefore take
// precedence only when they are loaded before the first device lookup.
void Runtime::load_default() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  if (defaults_loaded_) return;
  defaults_loaded_ = true;
  std::vector<Skipped> skipped;
  const std::vector<std::string> dirs = discovery_dirs(&skipped);
  for (const Skipped& s : skipped) note_row(s.path, s.reason);
  for (const std::string& dir : dirs) {
    std::vector<Skipped> odd;
    std::vector<std::string> paths = candidates_in(dir, &odd);
    for (const Skipped& s : odd) note_row(s.path, s.reason);
    for (const std::string& path : paths) {
      LoadReportRow row;
      if (!load_file(path, row)) continue;
      if (!row.loaded) {
        bool duplicate = row.reason.find("is already loaded from") != std::string::npos;
        loader_log(duplicate ? PRISM_LOG_DEBUG : PRISM_LOG_WARN,
                   detail::str_cat("skipping ", row.path, ": ", row.reason));
      }
    }
  }
}

void Runtime::load_path(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  PRISM_CHECK(!path.empty(), INVALID_ARGUMENT, "cannot load a plugin from an empty path");
  LoadReportRow row;
  if (!load_file(path, row)) {
    const LoadReportRow* earlier = find_row(canonical_key(path));
    if (earlier == nullptr || earlier->loaded) return;  // idempotent
    row = *earlier;
  }
  if (!row.loaded) PRISM_FAIL(UNAVAILABLE, "cannot load plugin '", row.path, "': ", row.reason);
}

void Runtime::load_entry(prism_plugin_entry_fn entry, const std::string& label) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  PRISM_CHECK(entry != nullptr, INVALID_ARGUMENT, "load_entry: the entry function is NULL");
  if (const LoadReportRow* earlier = find_row(label)) {
    if (earlier->loaded) return;
    PRISM_FAIL(UNAVAILABLE, "cannot load plugin '", label, "': ", earlier->reason);
  }
  LoadReportRow row;
  row.path = label;
  SignalGuard signals(detail::str_cat("the plugin '", label, "'"));
  try {
    admit(entry, nullptr, row);
  } catch (const Refusal& r) {
    row.loaded = false;
    row.reason = r.reason;
  } catch (const std::exception& e) {
    row.loaded = false;
    row.reason = detail::str_cat("internal error while loading: ", e.what());
  }
  note_signals(signals.restore(), row);
  report_.push_back(row);
  if (!row.loaded) PRISM_FAIL(UNAVAILABLE, "cannot load plugin '", label, "': ", row.reason);
}

void Runtime::note_row(const std::string& path, const std::string& reason) {
  if (find_row(path) != nullptr) return;
  LoadReportRow row;
  row.path = path;
  row.loaded = false;
  row.reason = reason;
  report_.push_back(row);
  loader_log(PRISM_LOG_WARN, detail::str_cat("skipping ", path, ": ", reason));
}

// Note [Third-party cpu devices]
// A plugin other than the built-in one ("cpu") may declare device type
// "cpu". The built-in CPU plugin always keeps cpu:0: before such a plugin is
// registered, the built-in one is loaded from the discovery directories if it
// is not loaded yet, and the other plugin's devices take the next indices
// (cpu:1, ...), with a warning in the log and in its load-report row.
void Runtime::load_builtin_cpu() {
  for (const auto& p : plugins_)
    if (p->name == "cpu") return;
  for (const std::string& dir : discovery_dirs()) {
    const std::string path = (fs::path(dir) / "libprism-cpu.so").string();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    LoadReportRow row;
    load_file(path, row);
    for (const auto& p : plugins_)
      if (p->name == "cpu") return;
  }
}

bool Runtime::load_file(const std::string& path, LoadReportRow& row) {
  std::string key = canonical_key(path);
  if (find_row(key) != nullptr) return false;
  row = LoadReportRow{};
  row.path = key;
  // Note [Signal dispositions]: restored after the library is loaded (or
  // unloaded again when refused), before anything else runs.
  SignalGuard signals(detail::str_cat("the plugin loaded from '", key, "'"));
  try {
    // dlopen reads the file: a FIFO would block it (holding the runtime lock)
    // and a device or directory is never a library. Refuse them first.
    struct stat st {};
    if (::stat(key.c_str(), &st) != 0) {
      const int err = errno;
      throw Refusal{detail::str_cat("cannot load the library: ", std::strerror(err))};
    }
    if (!S_ISREG(st.st_mode))
      throw Refusal{detail::str_cat("not a plugin library: '", path, "' is ", file_kind(key))};
    // rtld_now: unresolved symbols fail here, with the loader's message,
    // rather than at the first call. rtld_local: plugins never see each
    // other's symbols (two plugins may bundle different copies of a library).
    boost::dll::fs::error_code ec;
    auto lib = std::make_shared<boost::dll::shared_library>(
        boost::dll::fs::path(key), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec || !lib->is_loaded()) {
      // Boost keeps dlerror()'s text pending after a failed dlopen; it is the
      // useful part ("cannot open shared object file", "undefined symbol").
      const char* why = dlerror();
      throw Refusal{
          detail::str_cat("cannot load the library: ", why != nullptr ? std::string(why) : ec.message())};
    }
    if (!lib->has(PRISM_PLUGIN_ENTRY_SYMBOL) && lib->has(PRISM_COMM_ENTRY_SYMBOL)) {
      row.kind = "comm";
      auto entry = &lib->get<std::remove_pointer_t<prism_comm_entry_fn>>(PRISM_COMM_ENTRY_SYMBOL);
      admit_comm(entry, lib, row);
      report_.push_back(row);
      return true;
    }
    if (!lib->has(PRISM_PLUGIN_ENTRY_SYMBOL))
      throw Refusal{detail::str_cat("the library does not export '", PRISM_PLUGIN_ENTRY_SYMBOL, "' (nor '",
                                    PRISM_COMM_ENTRY_SYMBOL, "'; not a Prism plugin)")};
    auto entry = &lib->get<std::remove_pointer_t<prism_plugin_entry_fn>>(PRISM_PLUGIN_ENTRY_SYMBOL);
    admit(entry, lib, row);
  } catch (const Refusal& r) {
    row.loaded = false;
    row.reason = r.reason;
  } catch (const std::exception& e) {
    row.loaded = false;
    row.reason = detail::str_cat("internal error while loading: ", e.what());
  }
  note_signals(signals.restore(), row);
  report_.push_back(row);
  return true;
}

// Any Refusal thrown here leaves the runtime unchanged; `library` is then
// released (dlclose) by the caller's shared_ptr.
void Runtime::admit(prism_plugin_entry_fn entry, std::shared_ptr<void> library, LoadReportRow& row) {
  try {
    const prism_plugin_table* table = nullptr;
    if (prism_plugin_error* err = entry(host_table(), &table))
      throw Refusal{detail::str_cat(PRISM_PLUGIN_ENTRY_SYMBOL, " failed: ", consume_error(err))};
    if (table == nullptr) throw Refusal{detail::str_cat(PRISM_PLUGIN_ENTRY_SYMBOL, " returned no table")};
    if (table->struct_size < kTableAbiFieldsEnd)
      throw Refusal{detail::str_cat("plugin table struct_size ", table->struct_size,
                                    " is too small to hold an ABI version")};
    row.abi_major = table->abi_major;
    row.abi_minor = table->abi_minor;
    if (table->abi_major != PRISM_PLUGIN_ABI_MAJOR) {
      throw Refusal{detail::str_cat("plugin ABI ", table->abi_major, ".", table->abi_minor,
                                    " is not compatible with core ABI ", PRISM_PLUGIN_ABI_MAJOR, ".",
                                    PRISM_PLUGIN_ABI_MINOR, " (major versions differ)")};
    }
    if (table->struct_size < kTableRequiredEnd) {
      throw Refusal{detail::str_cat("plugin table struct_size ", table->struct_size,
                                    " is smaller than the ABI ", PRISM_PLUGIN_ABI_MAJOR, ".0 minimum ",
                                    kTableRequiredEnd)};
    }
    if (table->name == nullptr || table->name[0] == '\0')
      throw Refusal{"required field 'name' is NULL or empty"};
    if (table->device_type == nullptr || table->device_type[0] == '\0')
      throw Refusal{"required field 'device_type' is NULL or empty"};
    std::string name = table->name, device_type = table->device_type;
    if (device_type.find_first_of(": \t") != std::string::npos)
      throw Refusal{detail::str_cat("device_type '", device_type, "' must not contain ':' or blanks")};
    if (const char* slot = first_null_slot(table))
      throw Refusal{detail::str_cat("required slot '", slot, "' is NULL")};
    std::string cpu_note;
    if (device_type == "cpu" && name != "cpu") {
      load_builtin_cpu();  // Note [Third-party cpu devices]
      cpu_note = detail::str_cat("plugin '", name,
                                 "' claims device type 'cpu'; the built-in CPU plugin keeps cpu:0 and this "
                                 "plugin's devices take the next indices");
      loader_log(PRISM_LOG_WARN, detail::str_cat(row.path, ": ", cpu_note));
    }

    auto plugin = std::make_unique<Plugin>();
    plugin->load_note = cpu_note;
    plugin->path = row.path;
    plugin->name = name;
    plugin->device_type = device_type;
    plugin->version = safe_str(table->version);
    plugin->abi_major = table->abi_major;
    plugin->abi_minor = table->abi_minor;
    plugin->table = table;
    plugin->library = std::move(library);
    plugin->has_events = PRISM_HAS(table, prism_plugin_table, event_create) &&
                         PRISM_HAS(table, prism_plugin_table, event_destroy) &&
                         table->event_create != nullptr && table->event_record != nullptr &&
                         table->event_wait != nullptr && table->event_synchronize != nullptr &&
                         table->event_destroy != nullptr;
    plugin->has_pinned = PRISM_HAS(table, prism_plugin_table, host_free) && table->host_alloc != nullptr &&
                         table->host_free != nullptr;

    // Kernels: step with the plugin's kernel_def_size (Note [ABI minimum sizes]).
    if (table->n_kernels > 0) {
      size_t step = table->kernel_def_size;
      if (step < kKernelDefRequiredEnd)
        throw Refusal{detail::str_cat("kernel_def_size ", step, " is smaller than the ABI ",
                                      PRISM_PLUGIN_ABI_MAJOR, ".0 minimum ", kKernelDefRequiredEnd)};
      if (step % alignof(prism_kernel_def) != 0)
        throw Refusal{
            detail::str_cat("kernel_def_size ", step, " is not a multiple of ", alignof(prism_kernel_def))};
      const char* base = reinterpret_cast<const char*>(table->kernels);
      for (size_t i = 0; i < table->n_kernels; ++i) {
        const auto* def = reinterpret_cast<const prism_kernel_def*>(base + i * step);
        if (def->struct_size < kKernelDefRequiredEnd) {
          throw Refusal{detail::str_cat("kernels[", i, "].struct_size ", def->struct_size,
                                        " is smaller than the ABI ", PRISM_PLUGIN_ABI_MAJOR, ".0 minimum ",
                                        kKernelDefRequiredEnd)};
        }
        if (def->op == nullptr || def->op[0] == '\0')
          throw Refusal{detail::str_cat("kernels[", i, "].op is NULL or empty")};
        if (def->run == nullptr)
          throw Refusal{detail::str_cat("required slot 'kernels[", i, "].run' (op '", def->op, "') is NULL")};
        plugin->kernels.push_back(KernelEntry{def->op, def->dtype_mask, def->supports, def->run});
      }
    }

    for (const auto& p : plugins_)
      if (p->name == name)
        throw Refusal{detail::str_cat("plugin '", name, "' is already loaded from '", p->path, "'")};

    if (prism_plugin_error* err = table->init(&plugin->ctx))
      throw Refusal{detail::str_cat("init failed: ", consume_error(err))};
    try {
      int32_t count = 0;
      const char* reason = nullptr;
      if (prism_plugin_error* err = table->device_count(plugin->ctx, &count, &reason))
        throw Refusal{detail::str_cat("device_count failed: ", consume_error(err))};
      if (count < 0) throw Refusal{detail::str_cat("device_count returned a negative count (", count, ")")};
      if (count > kMaxDevicesPerPlugin) {
        // Note [Device count cap]: a plugin reporting millions of devices
        // would make every device listing enormous; the first
        // kMaxDevicesPerPlugin are used and the report says so.
        std::string cap = detail::str_cat("the plugin reports ", count, " devices; only the first ",
                                          kMaxDevicesPerPlugin, " are used (Prism's per-plugin cap)");
        loader_log(PRISM_LOG_WARN, detail::str_cat(row.path, ": ", cap));
        plugin->load_note += (plugin->load_note.empty() ? "" : "; ") + cap;
        count = kMaxDevicesPerPlugin;
      }
      plugin->device_count = count;
      if (count == 0)
        plugin->zero_device_reason =
            reason != nullptr && reason[0] != '\0' ? reason : "the plugin reports no devices";
    } catch (...) {
      table->shutdown(plugin->ctx);
      throw;
    }
    register_plugin(std::move(plugin), row);  // shuts the plugin down itself on failure
  } catch (const Refusal&) {
    row.loaded = false;
    row.device_count = 0;
    throw;
  }
}

// Note [Communicator plugins]
// libprism-comm-<name>.so files are found by the same discovery as device
// plugins (their names match libprism-*.so) and told apart by the entry
// symbol they export. A communicator plugin's row has kind "comm", no
// devices, and as reason the engine's probe answer when it cannot run here
// ("no device" for NCCL without a GPU). It is loaded even when not usable,
// so `prism info` can say why.
constexpr size_t kCommTableRequiredEnd = offsetof(prism_comm_table, recv) + sizeof(void*);

void Runtime::admit_comm(prism_comm_entry_fn entry, std::shared_ptr<void> library, LoadReportRow& row) {
  try {
    const prism_comm_table* table = nullptr;
    if (prism_plugin_error* err = entry(host_table(), &table))
      throw Refusal{detail::str_cat(PRISM_COMM_ENTRY_SYMBOL, " failed: ", consume_error(err))};
    if (table == nullptr) throw Refusal{detail::str_cat(PRISM_COMM_ENTRY_SYMBOL, " returned no table")};
    if (table->struct_size < kTableAbiFieldsEnd)
      throw Refusal{detail::str_cat("communicator table struct_size ", table->struct_size,
                                    " is too small to hold an ABI version")};
    row.abi_major = table->abi_major;
    row.abi_minor = table->abi_minor;
    if (table->abi_major != PRISM_COMM_ABI_MAJOR) {
      throw Refusal{detail::str_cat("communicator ABI ", table->abi_major, ".", table->abi_minor,
                                    " is not compatible with core communicator ABI ", PRISM_COMM_ABI_MAJOR,
                                    ".", PRISM_COMM_ABI_MINOR, " (major versions differ)")};
    }
    if (table->struct_size < kCommTableRequiredEnd) {
      throw Refusal{detail::str_cat("communicator table struct_size ", table->struct_size,
                                    " is smaller than the ABI ", PRISM_COMM_ABI_MAJOR, ".0 minimum ",
                                    kCommTableRequiredEnd)};
    }
    if (table->name == nullptr || table->name[0] == '\0')
      throw Refusal{"required field 'name' is NULL or empty"};
    const void* slots[] = {reinterpret_cast<const void*>(table->init),
                           reinterpret_cast<const void*>(table->shutdown),
                           reinterpret_cast<const void*>(table->probe),
                           reinterpret_cast<const void*>(table->comm_create),
                           reinterpret_cast<const void*>(table->comm_split),
                           reinterpret_cast<const void*>(table->comm_destroy),
                           reinterpret_cast<const void*>(table->all_reduce),
                           reinterpret_cast<const void*>(table->broadcast),
                           reinterpret_cast<const void*>(table->all_gather),
                           reinterpret_cast<const void*>(table->reduce_scatter),
                           reinterpret_cast<const void*>(table->barrier),
                           reinterpret_cast<const void*>(table->send),
                           reinterpret_cast<const void*>(table->recv)};
    const char* names[] = {"init",         "shutdown",   "probe",     "comm_create", "comm_split",
                           "comm_destroy", "all_reduce", "broadcast", "all_gather",  "reduce_scatter",
                           "barrier",      "send",       "recv"};
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); ++i)
      if (slots[i] == nullptr) throw Refusal{detail::str_cat("required slot '", names[i], "' is NULL")};
    for (const auto& p : comm_plugins_) {
      if (p->name == table->name) {
        throw Refusal{
            detail::str_cat("communicator '", table->name, "' is already loaded from '", p->path, "'")};
      }
    }
    auto plugin = std::make_unique<CommPlugin>();
    plugin->path = row.path;
    plugin->name = table->name;
    plugin->version = safe_str(table->version);
    plugin->abi_major = table->abi_major;
    plugin->abi_minor = table->abi_minor;
    plugin->table = table;
    plugin->library = std::move(library);
    if (prism_plugin_error* err = table->init(&plugin->ctx))
      throw Refusal{detail::str_cat("init failed: ", consume_error(err))};
    int32_t usable = 0;
    const char* reason = nullptr;
    if (prism_plugin_error* err = table->probe(plugin->ctx, &usable, &reason)) {
      table->shutdown(plugin->ctx);
      throw Refusal{detail::str_cat("probe failed: ", consume_error(err))};
    }
    plugin->usable = usable != 0;
    if (!plugin->usable) plugin->reason = reason != nullptr && reason[0] != '\0' ? reason : "not usable here";
    row.plugin_name = plugin->name;
    row.loaded = true;
    row.device_count = 0;
    row.reason = plugin->usable ? "" : plugin->reason;
    comm_plugins_.push_back(std::move(plugin));
  } catch (const Refusal& r) {
    row.loaded = false;
    row.reason = r.reason;
  } catch (const std::exception& e) {
    row.loaded = false;
    row.reason = detail::str_cat("internal error while loading: ", e.what());
  }
}

CommPlugin* Runtime::comm_plugin(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  for (auto& p : comm_plugins_)
    if (p->name == name) return p.get();
  return nullptr;
}

std::vector<CommPlugin*> Runtime::comm_plugins() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  std::vector<CommPlugin*> out;
  for (auto& p : comm_plugins_) out.push_back(p.get());
  return out;
}

// Queries every device, drops duplicates (same stable_id as a device already
// present), names the rest "<device_type>:<n>" and publishes the plugin. On
// any failure before publishing, the plugin is shut down and the error
// propagates; publishing itself cannot fail.
void Runtime::register_plugin(std::unique_ptr<Plugin> plugin, LoadReportRow& row) {
  std::vector<std::unique_ptr<Device>> fresh;
  LoadReportRow done;
  try {
    std::vector<std::string> notes;
    if (!plugin->load_note.empty()) notes.push_back(plugin->load_note);
    int32_t next_index = 0;
    for (const auto& d : devices_)
      if (d->plugin->device_type == plugin->device_type) ++next_index;

    for (int32_t i = 0; i < plugin->device_count; ++i) {
      prism_device_props props;
      std::memset(&props, 0, sizeof(props));
      props.struct_size = sizeof(props);
      if (prism_plugin_error* err = plugin->table->device_props(plugin->ctx, i, &props)) {
        notes.push_back(
            detail::str_cat("device ", i, ": device_props failed: ", consume_error(err), "; skipped"));
        continue;
      }
      auto dev = std::make_unique<Device>();
      dev->plugin = plugin.get();
      dev->index = i;
      dev->device_name = safe_str(props.name);
      dev->vendor = safe_str(props.vendor);
      dev->stable_id = safe_str(props.stable_id);
      dev->total_memory = props.total_memory;
      dev->dtype_mask = props.dtype_mask;
      dev->capabilities = props.capabilities;

      const Device* twin = nullptr;
      if (!dev->stable_id.empty()) {
        for (const auto& d : devices_)
          if (d->stable_id == dev->stable_id) twin = d.get();
        for (const auto& d : fresh)
          if (d->stable_id == dev->stable_id) twin = d.get();
      }
      if (twin != nullptr) {
        notes.push_back(detail::str_cat("device ", i, " (stable id '", dev->stable_id,
                                        "') is already provided by ", twin->name, " (plugin '",
                                        twin->plugin->name, "'); skipped"));
        continue;
      }
      dev->name = detail::str_cat(plugin->device_type, ":", next_index++);
      fresh.push_back(std::move(dev));
    }
    for (auto& d : fresh) d->allocator = std::make_unique<CachingAllocator>(d.get());

    std::string reason = plugin->device_count == 0 ? plugin->zero_device_reason : "";
    for (const std::string& n : notes) reason += (reason.empty() ? "" : "; ") + n;
    done = row;
    done.plugin_name = plugin->name;
    done.loaded = true;
    done.device_count = static_cast<int32_t>(fresh.size());
    done.reason = reason;
    loader_log(PRISM_LOG_DEBUG,
               detail::str_cat("loaded plugin '", plugin->name, "' ", plugin->abi_major, ".",
                               plugin->abi_minor, " from ", plugin->path, " with ", fresh.size(),
                               " device(s)", reason.empty() ? "" : ": ", reason));
    devices_.reserve(devices_.size() + fresh.size());
    plugins_.reserve(plugins_.size() + 1);
  } catch (...) {
    fresh.clear();  // the allocators hold no blocks yet: nothing reaches the plugin
    plugin->table->shutdown(plugin->ctx);
    throw;
  }

  row = std::move(done);
  plugins_.push_back(std::move(plugin));  // capacity reserved above: no throw
  for (auto& d : fresh) devices_.push_back(std::move(d));
}

Device* Runtime::device(const char* name) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  std::string requested = name != nullptr && name[0] != '\0' ? name : "cpu:0";
  std::string type = requested;
  int64_t index = 0;
  size_t colon = requested.find(':');
  if (colon != std::string::npos) {
    type = requested.substr(0, colon);
    std::string digits = requested.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() <= 9 &&
              std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    PRISM_CHECK(ok && !type.empty(), INVALID_ARGUMENT, "invalid device '", requested,
                "': expected 'type' or 'type:index' (e.g. 'cpu', 'cuda:1'); available devices: ",
                device_list(devices_));
    index = std::stoll(digits);
  }
  PRISM_CHECK(!type.empty(), INVALID_ARGUMENT, "invalid device '", requested,
              "': expected 'type' or 'type:index'; available devices: ", device_list(devices_));
  int64_t of_type = 0;
  for (auto& d : devices_) {
    if (d->plugin->device_type != type) continue;
    if (of_type == index) return d.get();
    ++of_type;
  }
  if (of_type > 0)
    PRISM_FAIL(INVALID_ARGUMENT, "device '", requested, "' does not exist: ", of_type, " '", type,
               "' device(s) loaded; available devices: ", device_list(devices_));
  std::string why;
  for (auto& p : plugins_)
    if (p->device_type == type && p->device_count == 0)
      why = detail::str_cat(" (plugin '", p->name, "' has no devices: ", p->zero_device_reason, ")");
  PRISM_FAIL(UNAVAILABLE, "device '", requested, "' is not available: no loaded plugin provides '", type,
             "' devices", why, "; available devices: ", device_list(devices_),
             "; see the plugin load report for plugins that failed to load");
}

Device* Runtime::cpu() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  for (auto& d : devices_)
    if (d->plugin->name == "cpu") return d.get();
  PRISM_FAIL(UNAVAILABLE,
             "the CPU plugin (libprism-cpu.so) is not loaded or has no device; "
             "available devices: ",
             device_list(devices_), "; see the plugin load report for plugins that failed to load");
}

std::vector<Device*> Runtime::devices() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  std::vector<Device*> out;
  out.reserve(devices_.size());
  for (auto& d : devices_) out.push_back(d.get());
  return out;
}

std::vector<LoadReportRow> Runtime::load_report() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  load_default();
  return report_;
}

}  // namespace prism
