// attention_bench.cpp — scaled_dot_product_attention on the CPU: the plugin's fused kernel beside the
// composite softmax(Q·Kᵀ·scale + M)·V written with the same primitives the core falls back to, timed side by
// side.
//
// Note [Attention benchmark]
// --------------------------
// For each case both forms run interleaved (fused, composite, fused, ...)
// after a warm-up, so machine load hits both alike; the medians and their
// ratio are printed, with the largest difference of the two results (the
// run fails when it exceeds 1e-4: a fast wrong kernel is no result). The
// forward alone is timed, and forward + backward (grad w.r.t. q, k, v) where
// --backward is given. With gradients the op takes the fused path only from
// PRISM_ATTENTION_RECOMPUTE_ELEMENTS weights on (Note [Fused attention
// kernel]); run with PRISM_ATTENTION_RECOMPUTE_ELEMENTS=0 to time the fused
// forward with its recomputing backward against the composite.
//   bench_attention [--reps N] [--backward]   (threads: PRISM_NUM_THREADS, else OpenMP's default)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "prism/nn.hpp"

namespace {

using prism::Tensor;
namespace F = prism::nn::functional;

Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.sizes().back()));
  Tensor s = q.matmul(k.transpose(-2, -1)) * scale;
  if (causal) {
    const int64_t L = s.sizes()[s.dim() - 2], S = s.sizes()[s.dim() - 1];
    s = prism::where(Tensor::ones({L, S}).tril().to(prism::kBool), s, -INFINITY);
  }
  if (mask.defined()) s = s + mask;
  return F::softmax(s, -1).matmul(v);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Case {
  const char* name;
  int64_t B, H, L, S, D;
  bool mask, causal;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 15;
  bool backward = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--backward") == 0) {
      backward = true;
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--backward]\n", argv[0]);
      return 2;
    }
  }
  prism::load_default_plugins();
  const std::vector<Case> cases = {
      {"B8 H8 L128 S128 D64", 8, 8, 128, 128, 64, false, false},
      {"B8 H8 L128 S128 D64 float mask", 8, 8, 128, 128, 64, true, false},
      {"B8 H8 L128 S128 D64 causal", 8, 8, 128, 128, 64, false, true},
      {"B1 H8 L512 S512 D64", 1, 8, 512, 512, 64, false, false},
  };
  std::printf("%-34s %12s %12s %8s %10s\n", backward ? "case (forward + backward)" : "case (forward)",
              "fused ms", "composite ms", "ratio", "max diff");
  int bad = 0;
  for (const Case& c : cases) {
    prism::manual_seed(1);
    Tensor q = Tensor::randn({c.B, c.H, c.L, c.D}), k = Tensor::randn({c.B, c.H, c.S, c.D});
    Tensor v = Tensor::randn({c.B, c.H, c.S, c.D});
    Tensor mask = c.mask ? Tensor::randn({c.L, c.S}) : Tensor();
    if (backward) {
      q.requires_grad_(true);
      k.requires_grad_(true);
      v.requires_grad_(true);
    }
    auto run = [&](bool fused) {
      const auto t0 = std::chrono::steady_clock::now();
      Tensor out = fused ? F::scaled_dot_product_attention(q, k, v, mask, 0.0, c.causal)
                         : composite(q, k, v, mask, c.causal);
      if (backward) prism::autograd::grad({out}, {q, k, v}, {prism::ones_like(out)});
      (void)out.to_vector<float>().size();  // synchronise
      const auto t1 = std::chrono::steady_clock::now();
      return std::chrono::duration<double, std::milli>(t1 - t0).count();
    };
    run(true);
    run(false);
    std::vector<double> tf, tc;
    for (int r = 0; r < reps; ++r) {
      tf.push_back(run(true));
      tc.push_back(run(false));
    }
    double diff = 0;
    {
      prism::NoGradGuard ng;
      std::vector<float> a = F::scaled_dot_product_attention(q, k, v, mask, 0.0, c.causal).to_vector<float>();
      std::vector<float> b = composite(q, k, v, mask, c.causal).to_vector<float>();
      for (size_t i = 0; i < a.size(); ++i)
        diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    }
    const double mf = median(tf), mc = median(tc);
    std::printf("%-34s %12.3f %12.3f %8.2f %10.2e\n", c.name, mf, mc, mc / mf, diff);
    if (!(diff <= 1e-4)) bad = 1;
  }
  const char* threads = std::getenv("PRISM_NUM_THREADS");
  std::printf("ratio = composite / fused (> 1: the fused kernel is faster); PRISM_NUM_THREADS=%s\n",
              threads != nullptr ? threads : "(unset)");
  if (bad != 0) std::printf("FAILED: the fused result differs from the composite\n");
  return bad;
}
