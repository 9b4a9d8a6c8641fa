// record.cpp — writes the PRISM_RECORD log of dispatched kernel calls (Note [Kernel call recording]).
#include "core/dispatch/record.hpp"

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>

#include "core/plugin/runtime.hpp"
#include "prism_plugin_sdk.h"

namespace prism {
namespace {

class Recorder {
 public:
  Recorder() {
    const char* path = std::getenv("PRISM_RECORD");
    if (path == nullptr || *path == '\0') return;
    file_ = std::fopen(path, "w");
    if (file_ == nullptr) {
      std::cerr << "[prism] warning: PRISM_RECORD: cannot open '" << path << "' for writing ("
                << std::strerror(errno) << "); kernel calls are not recorded\n";
      return;
    }
    // One line per call, flushed as it is written, so a run that crashes
    // still leaves every call up to the crash in the log.
    std::setvbuf(file_, nullptr, _IOLBF, 1 << 16);
    std::fputs("{\"prism_record\":1}\n", file_);
    on_.store(true, std::memory_order_release);
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  ~Recorder() {
    std::lock_guard<std::mutex> lock(mu_);
    on_.store(false, std::memory_order_release);
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }

  bool on() const { return on_.load(std::memory_order_acquire); }
  void write(const Device* dev, prism_dtype key, const prism_kernel_call& call);

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::atomic<bool> on_{false};
  uint64_t seq_ = 0;
};

// JSON has no NaN or infinities: they are written as the strings "nan",
// "inf" and "-inf"; finite values with 17 significant digits (exact).
void append_double(std::string& s, double v) {
  if (std::isnan(v)) {
    s += "\"nan\"";
  } else if (std::isinf(v)) {
    s += v > 0 ? "\"inf\"" : "\"-inf\"";
  } else {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s += buf;
  }
}

void append_int(std::string& s, int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%" PRId64, v);
  s += buf;
}

void append_string(std::string& s, const char* v) {
  s += '"';
  for (const char* p = v == nullptr ? "" : v; *p != '\0'; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      s += buf;
    } else {
      s += static_cast<char>(c);
    }
  }
  s += '"';
}

void append_ints(std::string& s, const int64_t* v, int64_t n) {
  s += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (i > 0) s += ',';
    append_int(s, v[i]);
  }
  s += ']';
}

void append_descs(std::string& s, const prism_tensor_desc* d, size_t n) {
  s += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) s += ',';
    const size_t esz = prism_sdk_dtype_size(d[i].dtype);
    s += "{\"dtype\":";
    append_string(s, prism_sdk_dtype_name(d[i].dtype));
    s += ",\"sizes\":";
    append_ints(s, d[i].sizes, d[i].ndim);
    s += ",\"strides\":";
    append_ints(s, d[i].strides, d[i].ndim);
    s += ",\"offset\":";
    append_int(s, static_cast<int64_t>(esz == 0 ? 0 : d[i].byte_offset / esz));
    s += '}';
  }
  s += ']';
}

const char* attr_kind_name(int32_t kind) {
  switch (kind) {
    case PRISM_ATTR_INT:
      return "int";
    case PRISM_ATTR_FLOAT:
      return "float";
    case PRISM_ATTR_SCALAR:
      return "scalar";
    case PRISM_ATTR_INTS:
      return "ints";
    default:
      return "unknown";
  }
}

void Recorder::write(const Device* dev, prism_dtype key, const prism_kernel_call& call) {
  std::string s;
  s.reserve(256);
  s += "{\"seq\":";
  const size_t seq_pos = s.size();  // the number goes in under the lock
  s += ",\"op\":";
  append_string(s, call.op);
  s += ",\"device\":";
  append_string(s, dev->plugin->device_type.c_str());
  s += ",\"plugin\":";
  append_string(s, dev->plugin->name.c_str());
  s += ",\"key\":";
  append_string(s, prism_sdk_dtype_name(key));
  s += ",\"inputs\":";
  append_descs(s, call.inputs, call.n_inputs);
  s += ",\"outputs\":";
  append_descs(s, call.outputs, call.n_outputs);
  s += ",\"attrs\":[";
  for (size_t i = 0; i < call.n_attrs; ++i) {
    const prism_attr& a = call.attrs[i];
    if (i > 0) s += ',';
    s += "{\"name\":";
    append_string(s, a.name);
    s += ",\"kind\":";
    append_string(s, attr_kind_name(a.kind));
    if (a.kind == PRISM_ATTR_INTS) {
      s += ",\"ints\":";
      append_ints(s, a.ints, a.ints == nullptr ? 0 : a.n_ints);
    } else {
      s += ",\"i\":";
      append_int(s, a.i);
      s += ",\"f\":";
      append_double(s, a.f);
    }
    s += '}';
  }
  s += "]}\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return;
  std::string seq;
  append_int(seq, static_cast<int64_t>(seq_++));
  s.insert(seq_pos, seq);
  std::fwrite(s.data(), 1, s.size(), file_);
}

Recorder& recorder() {
  static Recorder r;
  return r;
}

}  // namespace

void record_kernel_call(const Device* dev, prism_dtype key, const prism_kernel_call& call) {
  Recorder& r = recorder();
  if (!r.on()) return;
  r.write(dev, key, call);
}

}  // namespace prism
