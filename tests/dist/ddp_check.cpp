// ddp_check.cpp — prism-ddp-check: nn::DistributedDataParallel against a hand-made reference, run under
// `prism run -n N`.
//
// Checks, on every rank: parameters equal rank 0's after construction (each
// rank initialises differently); after backward, .grad is the average over
// ranks of the per-rank gradients (computed on an identical plain model and
// all-reduced by hand); no_sync() accumulates locally and the next
// synchronised backward averages the sum (with N = 1: the gradients are plain
// training's, bit for bit); a DistributedSampler splits the
// indices into disjoint equal shares. With --mismatch, rank 1 builds a wider
// model and construction must fail on every rank naming the difference.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "prism/data.hpp"
#include "prism/nn.hpp"

namespace nn = prism::nn;
namespace dist = prism::distributed;
using prism::Tensor;

namespace {

int g_rank = 0, g_failures = 0, g_checks = 0;

void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "FAIL rank %d: %s\n", g_rank, what.c_str());
  }
}

std::shared_ptr<nn::Sequential> make(int64_t hidden) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(6, hidden), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, 3)});
}

bool close(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.sub(b).abs().amax().item<double>() <= 1e-6;
}

// Gradients of a plain copy of `m` on (x, y), averaged over ranks by hand.
std::vector<Tensor> reference_grads(nn::Module& m, const std::vector<std::pair<Tensor, Tensor>>& batches) {
  auto plain = make(8);
  plain->load_state_dict(m.state_dict());
  nn::CrossEntropyLoss loss_fn;
  for (auto& b : batches) loss_fn((*plain)(b.first), b.second).backward();
  std::vector<Tensor> out;
  for (Tensor& p : plain->parameters()) {
    Tensor g = p.grad().clone();
    dist::all_reduce(g, dist::ReduceOp::Avg);
    out.push_back(g);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool mismatch = argc > 1 && std::strcmp(argv[1], "--mismatch") == 0;
  dist::init_process_group();
  g_rank = dist::get_rank();
  const int n = dist::get_world_size();
  if (mismatch) {
    try {
      nn::DistributedDataParallel ddp(make(g_rank == 1 ? 9 : 8));
      std::printf("rank %d: construction succeeded\n", g_rank);
      return 1;
    } catch (const prism::Error& e) {
      std::printf("rank %d: error: %s\n", g_rank, e.what());
      return std::strstr(e.what(), "the model differs across ranks") != nullptr ? 0 : 1;
    }
  }
  prism::manual_seed(100 + static_cast<uint64_t>(g_rank));  // every rank initialises differently
  auto inner = make(8);
  nn::DistributedDataParallel::Options o;
  o.bucket_cap_mb = 0.0001;  // several buckets even for this small model
  o.first_bucket_mb = 0.0001;
  nn::DistributedDataParallel ddp(inner, o);
  expect(ddp.bucket_count() > 1, "several buckets");
  for (const Tensor& p : inner->parameters()) {
    Tensor r0 = p.clone();
    dist::broadcast(r0, 0);
    expect(p.equal(r0), "parameters equal rank 0's after construction");
  }
  nn::CrossEntropyLoss loss_fn;
  prism::manual_seed(7 + static_cast<uint64_t>(g_rank));  // every rank sees different data
  auto batch = [] { return std::make_pair(prism::randn({5, 6}), prism::randint(0, 3, {5})); };

  // One synchronised step.
  auto b1 = batch();
  std::vector<Tensor> want = reference_grads(*inner, {b1});
  loss_fn(ddp(b1.first), b1.second).backward();
  std::vector<Tensor> params = inner->parameters();
  for (size_t k = 0; k < params.size(); ++k)
    expect(close(params[k].grad(), want[k]), "grad of parameter " + std::to_string(k) + " is the average");
  if (n == 1)  // world size 1: no hooks, backward as without DDP
    for (size_t k = 0; k < params.size(); ++k)
      expect(params[k].grad().equal(want[k]),
             "world size 1: grad of parameter " + std::to_string(k) + " bitwise equals plain training's");
  for (const Tensor& p : params) {  // bitwise equal across ranks
    Tensor r0 = p.grad().clone();
    dist::broadcast(r0, 0);
    expect(p.grad().equal(r0), "gradients bitwise equal to rank 0's");
  }

  // no_sync accumulation, then a synchronised step.
  for (Tensor& p : params) p.zero_grad(true);
  auto b2 = batch(), b3 = batch();
  want = reference_grads(*inner, {b2, b3});
  {
    auto guard = ddp.no_sync();
    loss_fn(ddp(b2.first), b2.second).backward();
  }
  loss_fn(ddp(b3.first), b3.second).backward();
  for (size_t k = 0; k < params.size(); ++k)
    expect(close(params[k].grad(), want[k]), "no_sync: grad of parameter " + std::to_string(k) +
                                                 " is the average of the accumulated gradients");

  // DistributedSampler: disjoint, equal shares covering the data set.
  prism::data::DistributedSampler sampler(103, n, g_rank, true, 5);
  sampler.set_epoch(3);
  std::vector<int64_t> mine = sampler.indices();
  expect(static_cast<int64_t>(mine.size()) == (103 + n - 1) / n, "sampler share size");
  Tensor all = prism::zeros({static_cast<int64_t>(mine.size()) * n}, prism::kInt64);
  dist::all_gather(all, Tensor::from_data(mine.data(), {static_cast<int64_t>(mine.size())}, prism::kInt64));
  std::set<int64_t> seen;
  for (int64_t i : all.to_vector<int64_t>()) seen.insert(i);
  expect(seen.size() == 103, "sampler shares cover every index");

  std::printf("rank %d of %d: %d checks, %d failures\n", g_rank, n, g_checks, g_failures);
  std::fflush(stdout);
  dist::destroy_process_group();
  return g_failures > 0 ? 1 : 0;
}
