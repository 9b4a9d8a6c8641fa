// c_api_io.cpp — user C ABI: safetensors checkpoints (save, open from a file or memory, read onto a device)
// and IDX data files.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/c_api/handle.hpp"
#include "core/io/idx.hpp"
#include "core/io/safetensors.hpp"
#include "core/plugin/runtime.hpp"
#include "prism/prism.h"

struct prism_safetensors_s {
  std::shared_ptr<prism::io::SafetensorsFile> file;
};

using prism::capi::arg;
using prism::capi::guard;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

// Note [Safetensors handles]: open handles are kept in a set and every call
// checks membership before it dereferences one, so a closed handle (used
// after close, closed twice) or a garbage value is INVALID_ARGUMENT, never a
// read of freed memory. A handle closed long ago whose address the allocator
// hands to a newer file refers to that newer file.
std::mutex g_files_mutex;
std::unordered_set<const prism_safetensors_s*>& open_files() {
  static auto* files = new std::unordered_set<const prism_safetensors_s*>();  // never destroyed
  return *files;
}

prism_safetensors_t register_file(std::shared_ptr<prism::io::SafetensorsFile> file) {
  auto h = std::make_unique<prism_safetensors_s>(prism_safetensors_s{std::move(file)});
  std::lock_guard<std::mutex> lock(g_files_mutex);
  open_files().insert(h.get());
  return h.release();
}

const prism::io::SafetensorsFile& file_arg(prism_safetensors_t f, const char* op) {
  PRISM_CHECK(f != nullptr, INVALID_ARGUMENT, op, ": file handle is NULL");
  std::lock_guard<std::mutex> lock(g_files_mutex);
  PRISM_CHECK(open_files().count(f) != 0, INVALID_ARGUMENT, op, ": ", static_cast<const void*>(f),
              " is not an open safetensors handle (closed already, or never returned by Prism)");
  return *f->file;
}

const char* str_arg(const char* s, const char* op, const char* what) {
  PRISM_CHECK(s != nullptr, INVALID_ARGUMENT, op, ": ", what, " is NULL");
  return s;
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_safetensors_save(const char* path, const char* const* names,
                                              const prism_tensor_t* tensors, size_t n,
                                              const char* const* metadata_keys,
                                              const char* const* metadata_values, size_t n_metadata) {
  const char* op = "safetensors_save";
  return guard([&] {
    str_arg(path, op, "path");
    PRISM_CHECK(n == 0 || (names != nullptr && tensors != nullptr), INVALID_ARGUMENT, op,
                ": names or tensors is NULL with n = ", n);
    PRISM_CHECK(n_metadata == 0 || (metadata_keys != nullptr && metadata_values != nullptr), INVALID_ARGUMENT,
                op, ": metadata_keys or metadata_values is NULL with n_metadata = ", n_metadata);
    std::vector<std::string> ns;
    std::vector<prism::Tensor> ts;
    for (size_t i = 0; i < n; ++i) {
      PRISM_CHECK(names[i] != nullptr, INVALID_ARGUMENT, op, ": names[", i, "] is NULL");
      ns.emplace_back(names[i]);
      ts.push_back(arg(tensors[i], op, "tensors[i]"));
    }
    std::vector<std::pair<std::string, std::string>> meta;
    for (size_t i = 0; i < n_metadata; ++i) {
      PRISM_CHECK(metadata_keys[i] != nullptr && metadata_values[i] != nullptr, INVALID_ARGUMENT, op,
                  ": metadata entry ", i, " has a NULL key or value");
      meta.emplace_back(metadata_keys[i], metadata_values[i]);
    }
    prism::io::save_safetensors(path, ns, ts, meta);
  });
}

PRISM_API prism_status prism_safetensors_open(const char* path, prism_safetensors_t* out) {
  return guard([&] {
    out_arg(out, "safetensors_open");
    auto file = prism::io::SafetensorsFile::open(str_arg(path, "safetensors_open", "path"));
    *out = register_file(std::move(file));
  });
}

PRISM_API prism_status prism_safetensors_open_memory(const void* data, size_t bytes,
                                                     prism_safetensors_t* out) {
  return guard([&] {
    out_arg(out, "safetensors_open_memory");
    auto file = prism::io::SafetensorsFile::from_memory(data, bytes);
    *out = register_file(std::move(file));
  });
}

PRISM_API prism_status prism_safetensors_close(prism_safetensors_t f) {
  if (f == nullptr) return PRISM_OK;
  return guard([&] {
    {
      std::lock_guard<std::mutex> lock(g_files_mutex);
      PRISM_CHECK(open_files().erase(f) != 0, INVALID_ARGUMENT,
                  "safetensors_close: ", static_cast<const void*>(f),
                  " is not an open safetensors handle (closed already, or never returned by Prism)");
    }
    delete f;
  });
}

PRISM_API prism_status prism_safetensors_count(prism_safetensors_t f, size_t* n) {
  return guard([&] {
    const auto& file = file_arg(f, "safetensors_count");
    out_arg(n, "safetensors_count");
    *n = file.entries().size();
  });
}

PRISM_API prism_status prism_safetensors_name(prism_safetensors_t f, size_t index, const char** name) {
  return guard([&] {
    const auto& file = file_arg(f, "safetensors_name");
    out_arg(name, "safetensors_name");
    PRISM_CHECK(index < file.entries().size(), INVALID_ARGUMENT, "safetensors_name: index ", index,
                " is out of range for the ", file.entries().size(), " tensors of '", file.source(), "'");
    *name = file.entries()[index].name.c_str();
  });
}

PRISM_API prism_status prism_safetensors_info(prism_safetensors_t f, const char* name, prism_dtype* dtype,
                                              int64_t* sizes, int32_t capacity, int32_t* ndim) {
  const char* op = "safetensors_info";
  return guard([&] {
    const auto& file = file_arg(f, op);
    const auto& e = file.entry(str_arg(name, op, "name"));
    out_arg(ndim, op);
    PRISM_CHECK(capacity >= e.sizes.n && (sizes != nullptr || e.sizes.n == 0), INVALID_ARGUMENT, op,
                ": capacity ", capacity, " is smaller than the ", e.sizes.n, " dims of tensor '", e.name,
                "'");
    if (dtype != nullptr) *dtype = e.dtype;
    for (int32_t i = 0; i < e.sizes.n; ++i) sizes[i] = e.sizes[i];
    *ndim = e.sizes.n;
  });
}

PRISM_API prism_status prism_safetensors_get(prism_safetensors_t f, const char* name, const char* device,
                                             prism_tensor_t* out) {
  const char* op = "safetensors_get";
  return guard([&] {
    const auto& file = file_arg(f, op);
    out_arg(out, op);
    prism::Device* dev = prism::Runtime::get().device(device);
    *out = wrap(file.tensor(str_arg(name, op, "name"), dev));
  });
}

PRISM_API prism_status prism_safetensors_metadata_count(prism_safetensors_t f, size_t* n) {
  return guard([&] {
    const auto& file = file_arg(f, "safetensors_metadata_count");
    out_arg(n, "safetensors_metadata_count");
    *n = file.metadata().size();
  });
}

PRISM_API prism_status prism_safetensors_metadata_get(prism_safetensors_t f, size_t index, const char** key,
                                                      const char** value) {
  const char* op = "safetensors_metadata_get";
  return guard([&] {
    const auto& file = file_arg(f, op);
    out_arg(key, op);
    out_arg(value, op);
    PRISM_CHECK(index < file.metadata().size(), INVALID_ARGUMENT, op, ": index ", index,
                " is out of range for the ", file.metadata().size(), " metadata entries of '", file.source(),
                "'");
    *key = file.metadata()[index].first.c_str();
    *value = file.metadata()[index].second.c_str();
  });
}

PRISM_API prism_status prism_load_idx(const char* path, const char* device, prism_tensor_t* out) {
  return guard([&] {
    out_arg(out, "load_idx");
    prism::Device* dev = prism::Runtime::get().device(device);
    *out = wrap(prism::io::load_idx(str_arg(path, "load_idx", "path"), dev));
  });
}

}  // extern "C"
