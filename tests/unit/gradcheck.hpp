// gradcheck.hpp — finite-difference gradient check shared by the unit tests (float64 inputs on the CPU).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/autograd/autograd.hpp"
#include "tests/unit/test_util.hpp"

namespace prism::test {

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(x) * w))/dx against central differences, for each input
// (w: seeded random weights of f's output shape). Inputs become leaves that
// require grad; integer arguments of f are captured by the lambda instead.
inline void gradcheck(const char* what, const GradFn& f, std::vector<Tensor> inputs, double tol = 1e-6) {
  for (Tensor& t : inputs) autograd::set_requires_grad(t, true);
  Tensor out = f(inputs);
  manual_seed(99);
  Tensor w;
  {
    autograd::NoGradGuard ng;
    w = randn(out->sizes, PRISM_DTYPE_F64, cpu());
  }
  Tensor loss = reduce("sum", binary("mul", out, w), {}, false);
  std::vector<Tensor> analytic = autograd::grad({loss}, {}, inputs, false, true);
  autograd::NoGradGuard ng;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor base = contiguous(inputs[k]);
    std::vector<double> v = values(base);
    std::vector<double> an = analytic[k] ? values(analytic[k]) : std::vector<double>(v.size(), 0.0);
    for (size_t i = 0; i < v.size(); ++i) {
      auto eval = [&](double delta) {
        std::vector<double> p = v;
        p[i] += delta;
        std::vector<Tensor> in = inputs;
        in[k] = as_strided(tensor<double>(p, base->sizes), inputs[k]->sizes, base->strides, 0);
        return values(reduce("sum", binary("mul", f(in), w), {}, false))[0];
      };
      double h = 1e-6;
      double num = (eval(h) - eval(-h)) / (2 * h);
      EXPECT_NEAR(an[i], num, tol * std::max(1.0, std::fabs(num)))
          << what << ": input " << k << " element " << i;
    }
  }
}

}  // namespace prism::test
