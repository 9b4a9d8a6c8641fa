// serialize.hpp — header-only C++ wrapper over Prism's safetensors C ABI: save and load named tensors.
#ifndef PRISM_API_PRISM_SERIALIZE_HPP_
#define PRISM_API_PRISM_SERIALIZE_HPP_

// Note [Checkpoints in C++]
// -------------------------
// A checkpoint is a safetensors file (Note [Safetensors format] in
// core/io/safetensors.hpp): PyTorch's `safetensors.torch.load_file` reads
// what save_safetensors() writes, and load_safetensors() reads files written
// by it. A state dict is a name -> Tensor map plus string metadata; optimizer
// state dicts (prism/optim.hpp) keep their scalars in the metadata.
// Loading takes a device (map_location): every tensor is copied there.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "prism/prism.hpp"

namespace prism {

using TensorMap = std::map<std::string, Tensor>;
using StringMap = std::map<std::string, std::string>;

// An opened, validated safetensors file (RAII over prism_safetensors_t).
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path) {
    prism_safetensors_t f = nullptr;
    check(prism_safetensors_open(path.c_str(), &f));
    return SafetensorsFile(f);
  }
  static SafetensorsFile from_memory(const void* data, size_t bytes) {
    prism_safetensors_t f = nullptr;
    check(prism_safetensors_open_memory(data, bytes, &f));
    return SafetensorsFile(f);
  }
  SafetensorsFile(SafetensorsFile&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept {
    if (this != &o) {
      prism_safetensors_close(f_);
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile() { prism_safetensors_close(f_); }

  // Tensor names in data order.
  std::vector<std::string> names() const {
    size_t n = 0;
    check(prism_safetensors_count(f_, &n));
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      check(prism_safetensors_name(f_, i, &name));
      out.emplace_back(name);
    }
    return out;
  }
  Dtype dtype(const std::string& name) const {
    prism_dtype dt = PRISM_DTYPE_F32;
    int64_t sizes[PRISM_MAX_DIMS];
    int32_t ndim = 0;
    check(prism_safetensors_info(f_, name.c_str(), &dt, sizes, PRISM_MAX_DIMS, &ndim));
    return from_c(dt);
  }
  std::vector<int64_t> shape(const std::string& name) const {
    int64_t sizes[PRISM_MAX_DIMS];
    int32_t ndim = 0;
    check(prism_safetensors_info(f_, name.c_str(), nullptr, sizes, PRISM_MAX_DIMS, &ndim));
    return std::vector<int64_t>(sizes, sizes + ndim);
  }
  // A copy of tensor `name` on `device`.
  Tensor get(const std::string& name, const Device& device = Device()) const {
    prism_tensor_t out = nullptr;
    check(prism_safetensors_get(f_, name.c_str(), device.c_str(), &out));
    return Tensor::adopt(out);
  }
  StringMap metadata() const {
    size_t n = 0;
    check(prism_safetensors_metadata_count(f_, &n));
    StringMap out;
    for (size_t i = 0; i < n; ++i) {
      const char* k = nullptr;
      const char* v = nullptr;
      check(prism_safetensors_metadata_get(f_, i, &k, &v));
      out.emplace(k, v);
    }
    return out;
  }
  // Every tensor, on `device`.
  TensorMap tensors(const Device& device = Device()) const {
    TensorMap out;
    for (const std::string& n : names()) out.emplace(n, get(n, device));
    return out;
  }

 private:
  explicit SafetensorsFile(prism_safetensors_t f) : f_(f) {}
  prism_safetensors_t f_ = nullptr;
};

// Writes `tensors` (any devices and layouts) and `metadata` to `path`.
inline void save_safetensors(const std::string& path, const TensorMap& tensors,
                             const StringMap& metadata = StringMap()) {
  std::vector<const char*> names, keys, values;
  std::vector<prism_tensor_t> handles;
  for (const auto& kv : tensors) {
    names.push_back(kv.first.c_str());
    handles.push_back(kv.second.get());
  }
  for (const auto& kv : metadata) {
    keys.push_back(kv.first.c_str());
    values.push_back(kv.second.c_str());
  }
  check(prism_safetensors_save(path.c_str(), names.data(), handles.data(), handles.size(), keys.data(),
                               values.data(), keys.size()));
}

// Every tensor of the file at `path`, on `device` (map_location); the
// metadata goes to *metadata when it is not null.
inline TensorMap load_safetensors(const std::string& path, const Device& device = Device(),
                                  StringMap* metadata = nullptr) {
  SafetensorsFile f = SafetensorsFile::open(path);
  if (metadata != nullptr) *metadata = f.metadata();
  return f.tensors(device);
}

}  // namespace prism

#endif  // PRISM_API_PRISM_SERIALIZE_HPP_
