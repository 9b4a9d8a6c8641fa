// safetensors_interop_tool.cpp — writes or checks the reference safetensors file (Note [Interop content]) for
// the PyTorch interop ctests.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/io/safetensors.hpp"
#include "core/plugin/runtime.hpp"
#include "tests/unit/safetensors_content.hpp"

namespace {

int write_file(const char* path) {
  prism::Device* cpu = prism::Runtime::get().device("cpu");
  std::vector<std::string> names;
  std::vector<prism::Tensor> tensors;
  for (const auto& t : prism::test::interop_tensors()) {
    std::vector<double> v = prism::test::interop_values(t);
    prism::Tensor d =
        prism::from_host(v.data(), prism::Dims{static_cast<int64_t>(v.size())}, PRISM_DTYPE_F64, cpu);
    names.emplace_back(t.name);
    tensors.push_back(
        prism::reshape(prism::to_dtype(d, t.dtype),
                       prism::Dims::from(t.shape.data(), static_cast<int32_t>(t.shape.size()))));
  }
  prism::io::save_safetensors(path, names, tensors, prism::test::interop_metadata());
  std::printf("wrote %s (%zu tensors)\n", path, names.size());
  return 0;
}

int check_file(const char* path) {
  prism::Device* cpu = prism::Runtime::get().device("cpu");
  auto f = prism::io::SafetensorsFile::open(path);
  int errors = 0;
  const auto& want = prism::test::interop_tensors();
  if (f->entries().size() != want.size()) {
    std::printf("%s: %zu tensors, expected %zu\n", path, f->entries().size(), want.size());
    ++errors;
  }
  for (const auto& w : want) {
    prism::Tensor t = f->tensor(w.name, cpu);
    std::vector<double> expect = prism::test::interop_values(w);
    std::vector<unsigned char> raw(static_cast<size_t>(t->numel()) * t->element_size());
    prism::copy_to_host(t, raw.data(), raw.size());
    bool same = t->dtype == w.dtype && std::vector<int64_t>(t->sizes.begin(), t->sizes.end()) == w.shape;
    for (size_t i = 0; same && i < expect.size(); ++i)
      same = prism::load_as_double(raw.data() + i * t->element_size(), t->dtype) == expect[i];
    if (!same) {
      std::printf("%s: tensor '%s' differs (%s)\n", path, w.name, prism::describe(t).c_str());
      ++errors;
    }
  }
  if (f->metadata() != prism::test::interop_metadata()) {
    std::printf("%s: metadata differs\n", path);
    ++errors;
  }
  if (errors == 0) std::printf("%s: %zu tensors and metadata match\n", path, want.size());
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::fprintf(stderr, "usage: %s write|check FILE\n", argv[0]);
    return 2;
  }
  try {
    return std::strcmp(argv[1], "write") == 0 ? write_file(argv[2]) : check_file(argv[2]);
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
