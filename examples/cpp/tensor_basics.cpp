// tensor_basics.cpp — a first tour of prism.hpp: create, view, broadcast, reduce, matmul, and print.
//
// Build: link against libprism and include api/ (the C++ wrapper is header-only).
// Run:   ./tensor_basics        (exit status 0 when every printed result is as expected)

#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include "prism/prism.hpp"

namespace {

int g_failures = 0;

// Prints a named tensor and checks its values against what PyTorch gives.
void show(const char* what, const prism::Tensor& t, const std::vector<double>& expected) {
  std::cout << what << " " << prism::shape_string(t.sizes()) << ":\n  " << t << "\n";
  std::vector<double> got = t.to_vector<double>();
  bool ok = got.size() == expected.size();
  for (size_t i = 0; ok && i < got.size(); ++i)
    ok = std::fabs(got[i] - expected[i]) <= 1e-4 * (1 + std::fabs(expected[i]));
  if (!ok) {
    std::cout << "  ^ unexpected values\n";
    ++g_failures;
  }
}

}  // namespace

int main() {
  try {
    // --- Where are we running? ------------------------------------------------------------------
    std::cout << "Prism " << prism::version() << "\n";
    for (const prism::DeviceInfo& d : prism::devices()) {
      std::cout << "  device " << d.device << ": " << d.name << " (" << d.plugin << ")\n";
    }

    // --- Creation ---------------------------------------------------------------------------------
    prism::Tensor x = prism::arange(0, 6);  // float32 [0, 1, 2, 3, 4, 5]
    show("x = arange(6)", x, {0, 1, 2, 3, 4, 5});
    prism::Tensor data = prism::Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
    show("from_vector", data, {1, 2, 3, 4});
    show("eye(2)", prism::eye(2), {1, 0, 0, 1});

    // --- Views share memory -----------------------------------------------------------------------
    prism::Tensor m = x.view({2, 3});  // no copy: same storage, new shape
    show("m = x.view(2, 3)", m, {0, 1, 2, 3, 4, 5});
    prism::Tensor mt = m.t();  // transposed view: strides (1, 3), not contiguous
    std::cout << "m.t() is_contiguous = " << std::boolalpha << mt.is_contiguous() << "\n";
    m[1].fill_(10);  // writing through a view changes x too
    show("x after m[1].fill_(10)", x, {0, 1, 2, 10, 10, 10});
    x.copy_(prism::arange(0, 6));  // put the values back

    // --- Broadcasting: sizes align from the right ----------------------------------------------------
    prism::Tensor col = prism::Tensor::from_vector(std::vector<float>{100, 200}, {2, 1});
    prism::Tensor row = prism::Tensor::from_vector(std::vector<float>{1, 2, 3});
    show("col (2,1) + row (3)", col + row, {101, 102, 103, 201, 202, 203});
    show("m * 2 - 1", m * 2 - 1, {-1, 1, 3, 5, 7, 9});

    // --- Reductions ---------------------------------------------------------------------------------
    show("m.sum()", m.sum(), {15});
    show("m.sum(dim 0)", m.sum(0), {3, 5, 7});
    show("m.mean(dim 1, keepdim)", m.mean({1}, true), {1, 4});
    auto [best, where] = m.max(1);
    show("m.max(dim 1) values", best, {2, 5});
    show("m.max(dim 1) indices", where, {2, 2});
    show("m.std() (unbiased)", m.std(), {std::sqrt(3.5)});

    // --- Matrix products ----------------------------------------------------------------------------
    prism::Tensor w = prism::Tensor::from_vector(std::vector<float>{1, 0, 0, 1, 1, 1}, {3, 2});
    show("m @ w", m.matmul(w), {2, 3, 8, 9});
    show("(ones(4,2,3) @ w).sum(0), batched then summed", prism::matmul(prism::ones({4, 2, 3}), w).sum(0),
         {8, 8, 8, 8});

    // --- Errors are exceptions with a readable message ----------------------------------------------------
    try {
      mt.view({6});
    } catch (const prism::Error& e) {
      std::cout << "expected error (" << e.status_name() << "): " << e.what() << "\n";
    }
  } catch (const prism::Error& e) {
    std::cerr << "prism error (" << e.status_name() << "): " << e.what() << "\n";
    return 1;
  }
  if (g_failures) {
    std::cerr << g_failures << " result(s) differed from the expected values\n";
    return 1;
  }
  std::cout << "all results as expected\n";
  return 0;
}
