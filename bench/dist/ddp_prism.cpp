// ddp_prism.cpp — DDP cost per training step (world size 1 vs plain training) and communication/backward
// overlap on an MLP (run under `prism run -n N`).
//
// Modes (one JSON line each, from rank 0):
//   plain      forward + backward + SGD step of the bare model (no process group needed)
//   ddp        the same step through nn::DistributedDataParallel
//   overlap    backward with DDP (buckets all-reduced while backward goes on),
//              against the same work in sequence (backward under no_sync(), then
//              DDP's buckets packed, all-reduced and unpacked) and backward alone:
//              comm = t_seq - t_alone, hidden = (t_seq - t_ddp) / comm
// Steps alternate between the variants (A/B/C/A/B/C) so load changes hit both alike;
// medians are reported.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "prism/nn.hpp"
#include "prism/optim.hpp"

namespace nn = prism::nn;
namespace dist = prism::distributed;
using prism::Tensor;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<nn::Sequential> make_mlp(int64_t width) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(784, width), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(width, width), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(width, width), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(width, 10)});
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 40;
  int64_t width = 1024, batch = 64;
  double bucket_mb = 1.0;
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--steps") steps = std::atoi(argv[i + 1]);
    if (a == "--width") width = std::atoll(argv[i + 1]);
    if (a == "--bucket-mb") bucket_mb = std::atof(argv[i + 1]);
  }
  dist::init_process_group("gloo");
  const int rank = dist::get_rank(), n = dist::get_world_size();
  prism::manual_seed(1);
  Tensor x = prism::randn({batch, 784}), y = prism::randint(0, 10, {batch});
  nn::CrossEntropyLoss loss_fn;

  auto plain = make_mlp(width);
  auto inner = make_mlp(width);
  nn::DistributedDataParallel::Options o;
  o.bucket_cap_mb = bucket_mb;
  o.first_bucket_mb = bucket_mb;
  auto ddp = std::make_shared<nn::DistributedDataParallel>(inner, o);
  prism::optim::SGD opt_plain(plain->parameters(), prism::optim::SGDOptions{0.01});
  prism::optim::SGD opt_ddp(inner->parameters(), prism::optim::SGDOptions{0.01});

  auto step = [&](nn::Module& m, prism::optim::SGD& opt) {
    auto t0 = Clock::now();
    opt.zero_grad(true);
    Tensor loss = loss_fn(m(x), y);
    loss.backward();
    opt.step();
    return seconds_since(t0);
  };
  // With one rank DDP registers no hooks, so the bare step can run on DDP's
  // own module: both variants then use the same parameters and memory, and
  // the difference is DDP alone. With more ranks the hooks would fire (and
  // communicate) on the bare step too, so it uses a copy of the model.
  nn::Module& bare = n == 1 ? static_cast<nn::Module&>(*inner) : *plain;
  prism::optim::SGD& opt_bare = n == 1 ? opt_ddp : opt_plain;
  for (int w = 0; w < 3; ++w) {
    step(bare, opt_bare);
    step(*ddp, opt_ddp);
  }
  std::vector<double> t_plain, t_ddp;
  for (int s = 0; s < steps; ++s) {
    if (s % 2 == 0) {  // A/B then B/A: neither side always runs second
      t_plain.push_back(step(bare, opt_bare));
      t_ddp.push_back(step(*ddp, opt_ddp));
    } else {
      t_ddp.push_back(step(*ddp, opt_ddp));
      t_plain.push_back(step(bare, opt_bare));
    }
  }
  const double mp = median(t_plain), md = median(t_ddp);
  if (rank == 0)
    std::printf(
        "{\"mode\": \"step\", \"world\": %d, \"plain_ms\": %.3f, \"ddp_ms\": %.3f, \"overhead_pct\": %.2f, "
        "\"buckets\": %zu}\n",
        n, mp * 1e3, md * 1e3, (md / mp - 1) * 100, ddp->bucket_count());

  if (n > 1) {
    // Overlap: DDP's backward (buckets all-reduced from the gradient hooks
    // while backward goes on) against the same work in sequence (backward
    // under no_sync, then the same buckets packed, all-reduced and unpacked),
    // and backward alone; the three alternate step by step.
    // Bucket membership as DDP builds it: reverse registration order, cut at
    // DDP's own bucket sizes.
    std::vector<Tensor> params = inner->parameters();
    std::vector<std::vector<Tensor>> bucket_params;
    {
      size_t k = params.size();
      for (int64_t numel : ddp->bucket_numels()) {
        bucket_params.emplace_back();
        for (int64_t got = 0; got < numel && k > 0;) {
          bucket_params.back().push_back(params[--k]);
          got += params[k].numel();
        }
      }
    }
    std::vector<double> t_over, t_seq, t_alone;
    for (int s = 0; s < steps; ++s) {
      // 1. DDP, communication overlapped with backward.
      opt_ddp.zero_grad(true);
      Tensor loss = loss_fn((*ddp)(x), y);
      dist::barrier();
      auto t0 = Clock::now();
      loss.backward();
      t_over.push_back(seconds_since(t0));
      // 2. Sequential: backward, then the buckets' all-reduce; 3. backward alone.
      for (int variant = 0; variant < 2; ++variant) {
        opt_ddp.zero_grad(true);
        auto guard = ddp->no_sync();
        Tensor l2 = loss_fn((*ddp)(x), y);
        dist::barrier();
        t0 = Clock::now();
        l2.backward();
        if (variant == 1) {
          t_alone.push_back(seconds_since(t0));
          continue;
        }
        std::vector<Tensor> flats;
        std::vector<dist::Work> ws;
        prism::NoGradGuard ng;
        for (const auto& bp : bucket_params) {
          std::vector<Tensor> gs;
          for (const Tensor& p : bp) gs.push_back(p.grad().reshape({-1}));
          flats.push_back(prism::cat(gs));
          ws.push_back(dist::all_reduce(flats.back(), dist::ReduceOp::Avg, dist::ProcessGroup(), true));
        }
        for (size_t b = 0; b < ws.size(); ++b) {
          ws[b].wait();
          int64_t off = 0;
          for (const Tensor& p : bucket_params[b]) {
            Tensor gp = p.grad();
            gp.copy_(flats[b].narrow(0, off, p.numel()).view(gp.sizes()));
            off += p.numel();
          }
        }
        t_seq.push_back(seconds_since(t0));
      }
    }
    const double o = median(t_over), q = median(t_seq), a = median(t_alone);
    const double comm = q - a;
    const double hidden = comm > 0 ? std::max(0.0, std::min(1.0, (q - o) / comm)) : 0;
    if (rank == 0)
      std::printf(
          "{\"mode\": \"overlap\", \"world\": %d, \"backward_ddp_ms\": %.3f, \"backward_then_comm_ms\": "
          "%.3f, \"backward_alone_ms\": %.3f, \"comm_ms\": %.3f, \"hidden_pct\": %.1f}\n",
          n, o * 1e3, q * 1e3, a * 1e3, comm * 1e3, hidden * 100);
  }
  std::fflush(stdout);
  dist::destroy_process_group();
  return 0;
}
