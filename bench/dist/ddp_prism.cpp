// ddp_prism.cpp — DDP cost per training step (world size 1 vs plain training) and communication/backward
// overlap on an MLP (run under `prism run -n N`).
//
// Modes (one JSON line each, from rank 0):
//   plain      forward + backward + SGD step of the bare model (no process group needed)
//   ddp        the same step through nn::DistributedDataParallel
//   overlap    backward time with DDP (communication included) against backward
//              under no_sync() (no communication) and the all-reduce of the same
//              buckets alone: hidden = (t_nosync + t_comm - t_ddp) / t_comm
// Steps alternate between the variants (A/B/A/B) so load changes hit both alike;
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
  for (int w = 0; w < 3; ++w) {
    step(*plain, opt_plain);
    step(*ddp, opt_ddp);
  }
  std::vector<double> t_plain, t_ddp;
  for (int s = 0; s < steps; ++s) {
    t_plain.push_back(step(*plain, opt_plain));
    t_ddp.push_back(step(*ddp, opt_ddp));
  }
  const double mp = median(t_plain), md = median(t_ddp);
  if (rank == 0)
    std::printf(
        "{\"mode\": \"step\", \"world\": %d, \"plain_ms\": %.3f, \"ddp_ms\": %.3f, \"overhead_pct\": %.2f, "
        "\"buckets\": %zu}\n",
        n, mp * 1e3, md * 1e3, (md / mp - 1) * 100, ddp->bucket_count());

  if (n > 1) {
    // Backward with DDP vs under no_sync, and the buckets' all-reduce alone.
    std::vector<double> t_bwd, t_nosync, t_comm;
    std::vector<Tensor> flats;
    for (const Tensor& p : inner->parameters()) flats.push_back(prism::zeros({p.numel()}));
    for (int s = 0; s < steps; ++s) {
      opt_ddp.zero_grad(true);
      Tensor loss = loss_fn((*ddp)(x), y);
      dist::barrier();
      auto t0 = Clock::now();
      loss.backward();
      t_bwd.push_back(seconds_since(t0));

      opt_ddp.zero_grad(true);
      {
        auto guard = ddp->no_sync();
        Tensor l2 = loss_fn((*ddp)(x), y);
        dist::barrier();
        t0 = Clock::now();
        l2.backward();
        t_nosync.push_back(seconds_since(t0));
      }
      // The same bytes, in buckets of the same size, back to back.
      dist::barrier();
      t0 = Clock::now();
      std::vector<dist::Work> ws;
      Tensor all = prism::zeros({static_cast<int64_t>(inner->num_parameters())});
      int64_t off = 0;
      for (int64_t numel : ddp->bucket_numels()) {  // DDP's own buckets
        ws.push_back(
            dist::all_reduce(all.narrow(0, off, numel), dist::ReduceOp::Avg, dist::ProcessGroup(), true));
        off += numel;
      }
      for (auto& w : ws) w.wait();
      t_comm.push_back(seconds_since(t0));
    }
    const double b = median(t_bwd), ns = median(t_nosync), c = median(t_comm);
    const double hidden = c > 0 ? std::max(0.0, std::min(1.0, (ns + c - b) / c)) : 0;
    if (rank == 0)
      std::printf(
          "{\"mode\": \"overlap\", \"world\": %d, \"backward_ddp_ms\": %.3f, \"backward_nosync_ms\": %.3f, "
          "\"comm_alone_ms\": %.3f, \"hidden_pct\": %.1f}\n",
          n, b * 1e3, ns * 1e3, c * 1e3, hidden * 100);
  }
  std::fflush(stdout);
  dist::destroy_process_group();
  return 0;
}
