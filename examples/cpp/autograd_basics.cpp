// autograd_basics.cpp — fits y = 2x + 1 by gradient descent with autograd through prism.hpp.
//
// Build: link against libprism and include api/ (the C++ wrapper is header-only).
// Run:   ./autograd_basics [device]   (default "cpu"; exit status 0 when w and b are within 1e-2 of 2 and 1)

#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include "prism/prism.hpp"

namespace {

constexpr int kSteps = 100;
constexpr double kLr = 0.2;
constexpr double kTol = 1e-2;

// p -= lr * p.grad, then drop the gradient (it would accumulate into the next step).
void sgd_step(prism::Tensor& p, double lr) {
  prism::Tensor g = p.grad();
  if (!g.defined()) throw std::runtime_error("no gradient reached a parameter");
  p.sub_(g, lr);  // in place on a leaf: allowed because the caller holds a NoGradGuard
  p.zero_grad();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const prism::Device device(argc > 1 ? argv[1] : "cpu");

    // Data: 20 points of y = 2x + 1 on [-1, 1]. Plain tensors: no gradient needed.
    prism::Tensor x = prism::linspace(-1, 1, 20, prism::kFloat32, device);
    prism::Tensor y = 2 * x + 1;

    // Parameters: 0-d leaves that require grad.
    prism::Tensor w = prism::Tensor::scalar(0.0, prism::kFloat32, device).requires_grad_();
    prism::Tensor b = prism::Tensor::scalar(0.0, prism::kFloat32, device).requires_grad_();

    std::printf("fitting y = 2x + 1 on %s: %d steps, lr %g\n", device.c_str(), kSteps, kLr);
    for (int step = 1; step <= kSteps; ++step) {
      prism::Tensor pred = w * x + b;                   // (20): the graph is recorded as we go
      prism::Tensor loss = (pred - y).square().mean();  // ()
      if (step == 1) {
        std::cout << "  graph: loss <- " << loss.grad_fn_name() << " <- ";
        for (const std::string& n : loss.grad_fn_next()) std::cout << (n.empty() ? "(constant)" : n) << " ";
        std::cout << "\n";
      }
      loss.backward();  // fills w.grad() and b.grad()
      {
        prism::NoGradGuard no_grad;  // the update itself must not be recorded
        sgd_step(w, kLr);
        sgd_step(b, kLr);
      }
      if (step == 1 || step % 20 == 0) {
        std::printf("  step %3d  loss %.3e  w %.6f  b %.6f\n", step, loss.item<double>(), w.item<double>(),
                    b.item<double>());
      }
    }

    const double wv = w.item<double>();
    const double bv = b.item<double>();
    std::printf("learned w = %.6f (want 2), b = %.6f (want 1)\n", wv, bv);

    // The trained parameters answer without building a graph under no_grad.
    {
      prism::NoGradGuard no_grad;
      prism::Tensor at3 = w * 3.0 + b;
      std::printf("prediction at x = 3: %.4f (requires_grad %d)\n", at3.item<double>(),
                  at3.requires_grad() ? 1 : 0);
    }

    if (!(std::fabs(wv - 2.0) <= kTol && std::fabs(bv - 1.0) <= kTol)) {
      std::fprintf(stderr, "the fit is off by more than %g\n", kTol);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
