// optim_test.cpp — prism/optim.hpp: optimizers and LR schedulers against PyTorch's sequences, parameter
// groups, gradient accumulation, zero_grad and state dicts through safetensors files.
#include "prism/optim.hpp"

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optim_golden.hpp"
#include "test_util.hpp"

namespace {

using prism::Tensor;
using prism_test::near_values;
using prism_test::throws_with;
namespace optim = prism::optim;

Tensor param0() {
  return Tensor::from_vector(optim_golden::kP0).requires_grad_();
}

Tensor grad_at(int t) {
  return Tensor::from_vector(optim_golden::grad(t));
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Runs steps [first, last] of the golden gradient sequence.
void run_steps(optim::Optimizer& opt, Tensor& p, int first, int last,
               const std::vector<std::vector<double>>& want) {
  for (int t = first; t <= last; ++t) {
    p.set_grad(grad_at(t));
    opt.step();
    ASSERT_TRUE(near_values(p, want[static_cast<size_t>(t - 1)], 1e-12)) << "step " << t;
  }
}

struct GoldenCase {
  const char* name;
  MakeOptimizer make;
  const std::vector<std::vector<double>>* want;
};

std::vector<GoldenCase> golden_cases() {
  using optim_golden::k_adam_amsgrad_wd;
  using optim_golden::k_adam_plain;
  using optim_golden::k_adamw_amsgrad_max;
  using optim_golden::k_adamw_plain;
  using optim_golden::k_sgd_maximize;
  using optim_golden::k_sgd_momentum;
  using optim_golden::k_sgd_nesterov;
  using optim_golden::k_sgd_plain;
  auto sgd = [](optim::SGDOptions o) -> MakeOptimizer {
    return [o](std::vector<Tensor> ps) { return std::make_unique<optim::SGD>(std::move(ps), o); };
  };
  auto adam = [](optim::AdamOptions o) -> MakeOptimizer {
    return [o](std::vector<Tensor> ps) { return std::make_unique<optim::Adam>(std::move(ps), o); };
  };
  auto adamw = [](optim::AdamWOptions o) -> MakeOptimizer {
    return [o](std::vector<Tensor> ps) { return std::make_unique<optim::AdamW>(std::move(ps), o); };
  };
  optim::SGDOptions s1;
  s1.lr = 0.1;
  optim::SGDOptions s2 = s1;
  s2.momentum = 0.9;
  s2.dampening = 0.1;
  s2.weight_decay = 0.01;
  optim::SGDOptions s3;
  s3.lr = 0.05;
  s3.momentum = 0.9;
  s3.nesterov = true;
  s3.weight_decay = 0.1;
  optim::SGDOptions s4 = s1;
  s4.momentum = 0.5;
  s4.maximize = true;
  optim::AdamOptions a1;
  a1.lr = 0.01;
  optim::AdamOptions a2;
  a2.lr = 0.01;
  a2.beta1 = 0.8;
  a2.beta2 = 0.99;
  a2.eps = 1e-6;
  a2.weight_decay = 0.1;
  a2.amsgrad = true;
  optim::AdamWOptions w1;
  w1.lr = 0.01;
  w1.weight_decay = 0.1;
  optim::AdamWOptions w2;
  w2.lr = 0.02;
  w2.amsgrad = true;
  w2.maximize = true;
  return {
      {"sgd_plain", sgd(s1), &k_sgd_plain},       {"sgd_momentum", sgd(s2), &k_sgd_momentum},
      {"sgd_nesterov", sgd(s3), &k_sgd_nesterov}, {"sgd_maximize", sgd(s4), &k_sgd_maximize},
      {"adam_plain", adam(a1), &k_adam_plain},    {"adam_amsgrad_wd", adam(a2), &k_adam_amsgrad_wd},
      {"adamw_plain", adamw(w1), &k_adamw_plain}, {"adamw_amsgrad_max", adamw(w2), &k_adamw_amsgrad_max},
  };
}

TEST(Optim, MatchesPyTorchStepForStep) {
  for (const GoldenCase& c : golden_cases()) {
    SCOPED_TRACE(c.name);
    Tensor p = param0();
    auto opt = c.make({p});
    run_steps(*opt, p, 1, optim_golden::kSteps, *c.want);
  }
}

TEST(Optim, StateDictRoundTripsThroughSafetensorsMidTraining) {
  for (const GoldenCase& c : golden_cases()) {
    SCOPED_TRACE(c.name);
    Tensor p = param0();
    auto opt = c.make({p});
    run_steps(*opt, p, 1, 2, *c.want);
    const std::string path = ::testing::TempDir() + "prism_optim_" + c.name + ".safetensors";
    optim::save_state_dict(path, opt->state_dict());
    prism::save_safetensors(path + ".params", {{"p", p}});
    // A fresh optimizer on a fresh parameter resumes exactly where the first stopped.
    Tensor q = prism::load_safetensors(path + ".params").at("p").requires_grad_();
    auto resumed = c.make({q});
    resumed->load_state_dict(optim::load_state_dict(path));
    run_steps(*resumed, q, 3, optim_golden::kSteps, *c.want);
    std::remove(path.c_str());
    std::remove((path + ".params").c_str());
  }
}

TEST(Optim, LoadStateDictRejectsMismatches) {
  Tensor p = param0();
  optim::AdamOptions o;
  optim::Adam adam({p}, o);
  p.set_grad(grad_at(1));
  adam.step();
  optim::StateDict sd = adam.state_dict();
  Tensor other = Tensor::zeros({3}, prism::kFloat64).requires_grad_();
  optim::Adam wrong({other}, o);
  EXPECT_TRUE(throws_with([&] { wrong.load_state_dict(sd); }, {"state.0.exp_avg", "(4,)", "(3,)"}));
  optim::StateDict empty;
  EXPECT_TRUE(throws_with([&] { wrong.load_state_dict(empty); }, {"param_groups.0.lr"}));
  EXPECT_EQ(adam.step_count(0), 1);
}

TEST(Optim, ParameterGroupsUseTheirOwnOptions) {
  Tensor a = param0();
  Tensor b = param0();
  optim::SGDOptions fast, slow;
  fast.lr = 0.1;
  slow.lr = 0.01;
  slow.momentum = 0.9;
  optim::SGD opt({{{a}, fast}, {{b}, slow}});
  ASSERT_EQ(opt.num_groups(), 2u);
  a.set_grad(grad_at(1));
  b.set_grad(grad_at(1));
  opt.step();
  std::vector<double> g = optim_golden::grad(1), want_a, want_b;
  for (size_t i = 0; i < g.size(); ++i) {
    want_a.push_back(optim_golden::kP0[i] - 0.1 * g[i]);
    want_b.push_back(optim_golden::kP0[i] - 0.01 * g[i]);
  }
  EXPECT_TRUE(near_values(a, want_a, 1e-15));
  EXPECT_TRUE(near_values(b, want_b, 1e-15));
  EXPECT_TRUE(opt.momentum_buffer(1).defined());
  EXPECT_FALSE(opt.momentum_buffer(0).defined());
  // A group added later, and its state dict entry.
  Tensor c = param0();
  opt.add_param_group({{c}, fast});
  EXPECT_EQ(opt.state_dict().scalars.at("param_groups.2.lr"), 0.1);
}

TEST(Optim, ZeroGradAndParametersWithoutGradients) {
  Tensor a = param0();
  Tensor b = param0();
  optim::SGDOptions o;
  o.lr = 1;
  optim::SGD opt({a, b}, o);
  a.set_grad(grad_at(1));
  opt.step();  // b has no gradient: left alone
  EXPECT_TRUE(near_values(b, optim_golden::kP0, 0));
  opt.zero_grad(false);
  ASSERT_TRUE(a.grad().defined());
  EXPECT_TRUE(near_values(a.grad(), {0, 0, 0, 0}, 0));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Optim, GradientAccumulationMatchesOneBigBatch) {
  // Two micro-batches with backward() each, then one step, equal one step on
  // the summed gradient: d/dp sum(p * x) = x.
  Tensor x1 = Tensor::from_vector(std::vector<double>{1, 2, 3, 4});
  Tensor x2 = Tensor::from_vector(std::vector<double>{-0.5, 0.5, 0.25, 0});
  Tensor p = param0();
  optim::AdamOptions o;
  o.lr = 0.1;
  optim::Adam opt({p}, o);
  (p * x1).sum().backward();
  (p * x2).sum().backward();
  EXPECT_TRUE(near_values(p.grad(), {0.5, 2.5, 3.25, 4}, 1e-15));
  opt.step();
  Tensor q = param0();
  optim::Adam ref({q}, o);
  q.set_grad(x1 + x2);
  ref.step();
  EXPECT_TRUE(near_values(p, prism_test::values(q), 0));
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
}

TEST(Optim, InvalidOptionsAreErrors) {
  Tensor p = param0();
  optim::SGDOptions bad;
  bad.lr = -1;
  EXPECT_TRUE(throws_with([&] { optim::SGD({p}, bad); }, {"SGD", "learning rate"}));
  optim::SGDOptions nesterov;
  nesterov.nesterov = true;
  EXPECT_TRUE(throws_with([&] { optim::SGD({p}, nesterov); }, {"nesterov"}));
  optim::AdamOptions betas;
  betas.beta2 = 1.0;
  EXPECT_TRUE(throws_with([&] { optim::Adam({p}, betas); }, {"betas"}));
  // A gradient of the wrong shape is reported by the update op.
  optim::SGDOptions o;
  o.lr = 0.1;
  optim::SGD opt({p}, o);
  Tensor q = Tensor::zeros({2}, prism::kFloat64).requires_grad_();
  optim::SGD opt2({q}, o);
  q.set_grad(Tensor::zeros({2}, prism::kFloat64));
  EXPECT_NO_THROW(opt2.step());
}

// ---- LR schedulers --------------------------------------------------------------------------------

struct SchedRun {
  std::vector<double> lr, momentum;
};

template <typename Make>
SchedRun run_scheduler(Make make, size_t steps) {
  Tensor p = Tensor::zeros({1}).requires_grad_();
  optim::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  optim::SGD opt({p}, o);
  auto sched = make(opt);
  SchedRun r;
  r.lr.push_back(opt.lr(0));
  r.momentum.push_back(opt.momentum(0));
  for (size_t i = 0; i < steps; ++i) {
    opt.step();
    sched->step();
    r.lr.push_back(opt.lr(0));
    r.momentum.push_back(opt.momentum(0));
  }
  return r;
}

void expect_sequence(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "epoch " << i;
}

TEST(LRScheduler, StepLRMatchesPyTorch) {
  auto r = run_scheduler([](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 3, 0.5); },
                         optim_golden::k_step_lr_lr.size() - 1);
  expect_sequence(r.lr, optim_golden::k_step_lr_lr, 1e-15);
}

TEST(LRScheduler, CosineAnnealingMatchesPyTorchPastTMax) {
  auto r = run_scheduler(
      [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 10, 0.001); },
      optim_golden::k_cosine_lr.size() - 1);
  expect_sequence(r.lr, optim_golden::k_cosine_lr, 1e-15);
}

TEST(LRScheduler, LinearWarmupMatchesPyTorch) {
  auto r =
      run_scheduler([](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o, 0.25, 1.0, 4); },
                    optim_golden::k_linear_lr.size() - 1);
  expect_sequence(r.lr, optim_golden::k_linear_lr, 1e-15);
}

TEST(LRScheduler, OneCycleMatchesPyTorchLrAndMomentum) {
  auto r = run_scheduler([](optim::Optimizer& o) { return std::make_unique<optim::OneCycleLR>(o, 1.0, 20); },
                         optim_golden::k_one_cycle_lr.size() - 1);
  expect_sequence(r.lr, optim_golden::k_one_cycle_lr, 1e-14);
  expect_sequence(r.momentum, optim_golden::k_one_cycle_momentum, 1e-14);
  optim::OneCycleOptions three;
  three.pct_start = 0.4;
  three.cos_anneal = false;
  three.three_phase = true;
  auto r3 = run_scheduler(
      [&](optim::Optimizer& o) { return std::make_unique<optim::OneCycleLR>(o, 0.5, 10, three); },
      optim_golden::k_one_cycle_linear3_lr.size() - 1);
  expect_sequence(r3.lr, optim_golden::k_one_cycle_linear3_lr, 1e-14);
  expect_sequence(r3.momentum, optim_golden::k_one_cycle_linear3_momentum, 1e-14);
}

TEST(LRScheduler, OneCyclePastTotalStepsIsAnError) {
  Tensor p = Tensor::zeros({1}).requires_grad_();
  optim::SGDOptions o;
  o.momentum = 0.9;
  optim::SGD opt({p}, o);
  optim::OneCycleLR sched(opt, 1.0, 2);
  sched.step();
  sched.step();
  EXPECT_TRUE(throws_with([&] { sched.step(); }, {"OneCycleLR", "total_steps 2"}));
}

TEST(LRScheduler, ReduceLROnPlateauMatchesPyTorch) {
  Tensor p = Tensor::zeros({1}).requires_grad_();
  optim::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  optim::SGD opt({p}, o);
  optim::PlateauOptions po;
  po.factor = 0.5;
  po.patience = 2;
  po.threshold = 0.01;
  po.cooldown = 1;
  po.min_lr = 0.01;
  optim::ReduceLROnPlateau sched(opt, po);
  std::vector<double> lrs = {opt.lr(0)};
  for (double m : optim_golden::kPlateauMetrics) {
    sched.step(m);
    lrs.push_back(opt.lr(0));
  }
  expect_sequence(lrs, optim_golden::k_plateau_lr, 1e-15);
}

TEST(LRScheduler, SchedulersDriveEveryGroupAndAdamBeta1) {
  Tensor a = Tensor::zeros({1}).requires_grad_();
  Tensor b = Tensor::zeros({1}).requires_grad_();
  optim::AdamOptions o1, o2;
  o1.lr = 0.1;
  o2.lr = 0.2;
  optim::Adam opt({{{a}, o1}, {{b}, o2}});
  optim::StepLR sched(opt, 1, 0.5);
  sched.step();
  EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{0.05, 0.1}));
  optim::OneCycleLR cycle(opt, 1.0, 10);
  EXPECT_DOUBLE_EQ(opt.momentum(0), 0.95);  // beta1 cycles
  EXPECT_NEAR(opt.lr(1), 1.0 / 25, 1e-15);  // max_lr / div_factor
}

}  // namespace
