// dlpack_interop.cpp — sharing memory with other libraries without copies: DLPack import/export and
// from_blob.
//
// Three directions, each zero copy:
//   1. another library's buffer -> Prism   (prism::from_dlpack; Prism calls the producer's deleter)
//   2. Prism -> another library            (Tensor::to_dlpack; the consumer calls our deleter)
//   3. a plain host pointer -> Prism        (Tensor::from_blob with a C++ deleter: the from_numpy case)
// Exit status 0 when every check holds.

#include <dlpack/dlpack.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <vector>

#include "prism/prism.hpp"

namespace {

int g_failures = 0;

void expect(bool ok, const char* what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
  if (!ok) ++g_failures;
}

// ---------------------------------------------------------------------------------------------
// A stand-in for another library's array: it owns a buffer and hands it out through DLPack.
// ---------------------------------------------------------------------------------------------
struct ForeignArray {
  std::vector<float> values;
  std::vector<int64_t> shape;
  DLManagedTensor managed{};
  bool* freed = nullptr;  // set when the consumer is done with it
};

// The DLPack deleter of ForeignArray: the consumer (Prism) calls it exactly once.
void foreign_deleter(DLManagedTensor* self) {
  auto* owner = static_cast<ForeignArray*>(self->manager_ctx);
  *owner->freed = true;
  delete owner;
}

DLManagedTensor* make_foreign(std::vector<float> values, std::vector<int64_t> shape, bool* freed) {
  auto* owner = new ForeignArray{std::move(values), std::move(shape), {}, freed};
  DLTensor& t = owner->managed.dl_tensor;
  t.data = owner->values.data();
  t.device = {kDLCPU, 0};
  t.ndim = static_cast<int>(owner->shape.size());
  t.dtype = {kDLFloat, 32, 1};
  t.shape = owner->shape.data();
  t.strides = nullptr;  // row-major
  t.byte_offset = 0;
  owner->managed.manager_ctx = owner;
  owner->managed.deleter = foreign_deleter;
  return &owner->managed;
}

// A consumer that knows only DLPack: sums a float32 tensor of any strides.
double sum_dltensor(const DLTensor& t) {
  const float* base = reinterpret_cast<const float*>(static_cast<const char*>(t.data) + t.byte_offset);
  int64_t numel = 1;
  for (int i = 0; i < t.ndim; ++i) numel *= t.shape[i];
  double total = 0;
  for (int64_t linear = 0; linear < numel; ++linear) {
    int64_t rest = linear, offset = 0, row_major_stride = numel;
    for (int i = 0; i < t.ndim; ++i) {
      row_major_stride /= t.shape[i];
      int64_t index = rest / row_major_stride;
      rest %= row_major_stride;
      offset += index * (t.strides ? t.strides[i] : row_major_stride);
    }
    total += base[offset];
  }
  return total;
}

}  // namespace

int main() {
  try {
    // --- 1. Import: Prism computes on the foreign buffer in place ---------------------------------------
    std::cout << "1. from_dlpack\n";
    bool foreign_freed = false;
    {
      DLManagedTensor* foreign = make_foreign({1, 2, 3, 4, 5, 6}, {2, 3}, &foreign_freed);
      float* raw = static_cast<float*>(foreign->dl_tensor.data);
      prism::Tensor t = prism::from_dlpack(foreign);  // Prism now owns `foreign`
      std::cout << "  imported " << t << "\n";
      expect(t.sizes() == std::vector<int64_t>({2, 3}), "shape (2, 3)");
      t.mul_(10);  // in place: the foreign buffer changes
      expect(raw[5] == 60.0f, "in-place op wrote into the foreign buffer");
      prism::Tensor col = t.select(1, 0);  // a view keeps the buffer alive
      t = prism::Tensor();
      expect(!foreign_freed, "a live view keeps the foreign buffer");
      expect(col.sum().item<float>() == 50.0f, "view reads the foreign buffer");
    }
    expect(foreign_freed, "Prism called the producer's deleter once the last view was gone");

    // --- 2. Export: another library reads Prism memory ---------------------------------------------------
    std::cout << "2. to_dlpack\n";
    prism::Tensor m = prism::arange(0, 12).view({3, 4});
    DLManagedTensor* exported = m.t().to_dlpack();  // a transposed view: strides are exported too
    std::cout << "  exported ndim " << exported->dl_tensor.ndim << ", shape (" << exported->dl_tensor.shape[0]
              << ", " << exported->dl_tensor.shape[1] << ")\n";
    expect(sum_dltensor(exported->dl_tensor) == 66.0, "consumer sums the exported tensor to 66");
    m = prism::Tensor();  // Prism lets go; the export keeps the storage alive
    expect(sum_dltensor(exported->dl_tensor) == 66.0, "export outlives the Prism handle");
    exported->deleter(exported);  // the consumer is done

    // --- 3. from_blob: wrap a host pointer with a C++ deleter -------------------------------------------
    std::cout << "3. from_blob\n";
    int deleter_calls = 0;
    {
      auto* buffer = new double[4]{0.5, 1.5, 2.5, 3.5};
      prism::Tensor b = prism::Tensor::from_blob(buffer, {2, 2}, prism::kFloat64, [&](void* p) {
        delete[] static_cast<double*>(p);
        ++deleter_calls;
      });
      prism::Tensor y = b.matmul(b);  // [[0.5,1.5],[2.5,3.5]]^2
      std::cout << "  b @ b = " << y << "\n";
      expect(y.allclose(prism::Tensor::from_vector(std::vector<double>{4, 6, 10, 16}, {2, 2})), "b @ b");
    }
    expect(deleter_calls == 1, "the from_blob deleter ran exactly once");
  } catch (const prism::Error& e) {
    std::cerr << "prism error (" << e.status_name() << "): " << e.what() << "\n";
    return 1;
  }
  std::cout << (g_failures ? "some checks failed\n" : "all checks passed\n");
  return g_failures ? 1 : 0;
}
