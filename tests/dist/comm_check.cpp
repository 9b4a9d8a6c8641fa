// comm_check.cpp — prism-comm-check: every collective × dtype × size × layout (and sub-groups) against a host
// reference, run under `prism run -n N`.
//
// Usage: prism run -n N prism-comm-check [--backend gloo|mpi|nccl|rccl] [--big] [--device DEV] [--on DEV]
//                                         [--smoke]
//   --big      adds a size of at least 16 MiB per dtype
//   --device   also checks tensors on DEV (e.g. "emu": staged through host memory)
//   --on       runs every check on tensors of DEV (e.g. "cuda:0" with nccl: device-native collectives;
//              "cuda:local": index = this rank's local rank)
//   --smoke    one all_reduce and a barrier only (does the backend work at all)
// With nccl/rccl, reductions on int16 must be refused (the engine has no 16-bit integer type).
// Modes for the fault tests (tests/dist/CMakeLists.txt):
//   --die-rank R    rank R exits (SIGKILL itself) just before a large all_reduce
//   --expect-error  this run must end in a dist error (printed); exit 0 if it did
//   --mismatch      rank 1 passes one element more than the others
//
// Every rank builds every rank's input from (rank, index), so it knows the
// exact expected result; values are small integers, exact in every dtype.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "prism/prism.hpp"

namespace dist = prism::distributed;
using prism::Dtype;
using prism::Tensor;

namespace {

int g_rank = 0, g_size = 1, g_failures = 0, g_checks = 0;
bool g_no_int16_reductions = false;  // nccl, rccl

const Dtype kDtypes[] = {prism::kBool,  prism::kUInt8,   prism::kInt8,     prism::kInt16,   prism::kInt32,
                         prism::kInt64, prism::kFloat16, prism::kBFloat16, prism::kFloat32, prism::kFloat64};

const char* name_of(Dtype d) {
  return prism_dtype_name(static_cast<prism_dtype>(d));
}

bool is_float(Dtype d) {
  return d == prism::kFloat16 || d == prism::kBFloat16 || d == prism::kFloat32 || d == prism::kFloat64;
}

// Input values repeat with this period along the index: every expected
// result is computed once per residue (sizes reach 16 Mi elements).
int period(Dtype d, int salt) {
  if (d == prism::kBool) return 2;
  if (salt == static_cast<int>(dist::ReduceOp::Prod)) return 3;  // products of 4 ranks <= 81
  if (d == prism::kUInt8 || d == prism::kInt8) return 11;        // sums of 4 ranks <= 44
  if (d == prism::kBFloat16) return 61;                          // integers exact up to 256
  return 251;
}

// Input element i of rank r: 1..period (bool: 0/1), exact in every dtype.
double value(int r, int64_t i, Dtype d, int salt) {
  const int p = period(d, salt);
  if (d == prism::kBool) return static_cast<double>((r + i + salt) % 2);
  return static_cast<double>((r * 7 + i * 5 + salt) % p + 1);
}

Tensor make(const std::vector<double>& v, Dtype d, const std::string& device) {
  Tensor t =
      Tensor::from_data(v.empty() ? nullptr : v.data(), {static_cast<int64_t>(v.size())}, prism::kFloat64);
  t = t.to(d);
  if (!device.empty()) t = t.to(prism::Device(device));
  return t;
}

std::vector<double> host(const Tensor& t) {
  Tensor f = t.to(prism::Device("cpu")).to(prism::kFloat64).contiguous();
  std::vector<double> out(static_cast<size_t>(f.numel()));
  if (!out.empty()) f.copy_to_host(out.data(), out.size() * sizeof(double));
  return out;
}

void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    if (g_failures <= 20) std::fprintf(stderr, "FAIL rank %d: %s\n", g_rank, what.c_str());
  }
}

bool same(const std::vector<double>& got, const std::vector<double>& want, double tol, std::string* where) {
  if (got.size() != want.size()) {
    *where = "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    return false;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > tol * std::max(1.0, std::fabs(want[i]))) {
      *where = "element " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", expected " +
               std::to_string(want[i]);
      return false;
    }
  }
  return true;
}

// The engine refuses reductions of this dtype: the call must fail naming it.
template <typename F>
bool refused_reduction(Dtype d, const std::string& what, F&& call) {
  if (!(g_no_int16_reductions && d == prism::kInt16)) return false;
  try {
    call();
    expect(false, what + ": expected a refusal (no 16-bit integer type in the engine), got success");
  } catch (const prism::Error& e) {
    expect(std::strstr(e.what(), "int16") != nullptr, what + ": refusal does not name int16: " + e.what());
  }
  return true;
}

double reduce(dist::ReduceOp op, Dtype d, const std::vector<double>& xs, int n) {
  double acc = xs[0];
  for (size_t k = 1; k < xs.size(); ++k) {
    switch (op) {
      case dist::ReduceOp::Max:
        acc = std::max(acc, xs[k]);
        break;
      case dist::ReduceOp::Min:
        acc = std::min(acc, xs[k]);
        break;
      case dist::ReduceOp::Prod:
        acc *= xs[k];
        break;
      default:
        acc += xs[k];
    }
  }
  if (d == prism::kBool) {
    bool any = op == dist::ReduceOp::Sum || op == dist::ReduceOp::Max;
    bool r = acc != 0;
    if (!any) {
      r = true;
      for (double x : xs) r = r && x != 0;
    }
    return r ? 1 : 0;
  }
  if (op == dist::ReduceOp::Avg) return is_float(d) ? acc / n : std::trunc(acc / n);
  return acc;
}

const char* op_name(dist::ReduceOp op) {
  switch (op) {
    case dist::ReduceOp::Sum:
      return "sum";
    case dist::ReduceOp::Avg:
      return "avg";
    case dist::ReduceOp::Max:
      return "max";
    case dist::ReduceOp::Min:
      return "min";
    default:
      return "prod";
  }
}

// A strided view: column 0 of an (n, 2) tensor whose column 1 is a guard.
Tensor strided(const std::vector<double>& v, Dtype d, const std::string& device, Tensor* base) {
  std::vector<double> two(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    two[2 * i] = v[i];
    two[2 * i + 1] = d == prism::kBool ? 1 : 2;
  }
  Tensor b = Tensor::from_data(two.empty() ? nullptr : two.data(), {static_cast<int64_t>(v.size()), 2},
                               prism::kFloat64)
                 .to(d);
  if (!device.empty()) b = b.to(prism::Device(device));
  *base = b;
  return b.select(1, 0);
}

bool guard_intact(const Tensor& base, Dtype d) {
  std::vector<double> all = host(base);
  for (size_t i = 1; i < all.size(); i += 2)
    if (all[i] != (d == prism::kBool ? 1 : 2)) return false;
  return true;
}

void check_group(const dist::ProcessGroup& g, const std::vector<int>& members, Dtype d, int64_t n_el,
                 bool strided_in, const std::string& device) {
  const int n = static_cast<int>(members.size());
  const int me = g.rank();
  const int world_me = members[static_cast<size_t>(me)];
  const double tol = d == prism::kFloat16 || d == prism::kBFloat16 ? 1e-2 : 1e-6;
  std::string tag = std::string(name_of(d)) + "[" + std::to_string(n_el) + "]" +
                    (strided_in ? " strided" : "") + (device.empty() ? "" : " on " + device) + " group of " +
                    std::to_string(n);
  std::string where;
  // all_reduce, every operator
  for (dist::ReduceOp op : {dist::ReduceOp::Sum, dist::ReduceOp::Avg, dist::ReduceOp::Max,
                            dist::ReduceOp::Min, dist::ReduceOp::Prod}) {
    if (op == dist::ReduceOp::Avg && d == prism::kBool) continue;
    // At >= 16 MiB the operators differ only in the engine's element loop,
    // which the smaller sizes cover: the large size runs sum and avg.
    if (n_el > (1 << 20) && op != dist::ReduceOp::Sum && op != dist::ReduceOp::Avg) continue;
    int salt = static_cast<int>(op);
    std::vector<double> mine(static_cast<size_t>(n_el)), want(static_cast<size_t>(n_el));
    const int p = period(d, salt) * 2;  // a multiple of every residue cycle (bool's too)
    std::vector<double> table(static_cast<size_t>(p));
    for (int64_t i = 0; i < p; ++i) {
      std::vector<double> xs;
      for (int m : members) xs.push_back(value(m, i, d, salt));
      table[static_cast<size_t>(i)] = reduce(op, d, xs, n);
    }
    for (int64_t i = 0; i < n_el; ++i) {
      mine[static_cast<size_t>(i)] = value(world_me, i, d, salt);
      want[static_cast<size_t>(i)] = table[static_cast<size_t>(i % p)];
    }
    Tensor base;
    Tensor t = strided_in ? strided(mine, d, device, &base) : make(mine, d, device);
    if (refused_reduction(d, std::string("all_reduce ") + op_name(op) + " " + tag,
                          [&] { dist::all_reduce(t, op, g); }))
      continue;
    dist::all_reduce(t, op, g);
    expect(same(host(t), want, tol, &where),
           std::string("all_reduce ") + op_name(op) + " " + tag + ": " + where);
    if (strided_in) expect(guard_intact(base, d), "all_reduce wrote outside its view: " + tag);
  }
  // broadcast from the last rank of the group
  {
    int root = n - 1;
    std::vector<double> mine(static_cast<size_t>(n_el)), want(static_cast<size_t>(n_el));
    for (int64_t i = 0; i < n_el; ++i) {
      mine[static_cast<size_t>(i)] = value(world_me, i, d, 5);
      want[static_cast<size_t>(i)] = value(members[static_cast<size_t>(root)], i, d, 5);
    }
    Tensor base;
    Tensor t = strided_in ? strided(mine, d, device, &base) : make(mine, d, device);
    dist::broadcast(t, root, g);
    expect(same(host(t), want, 0, &where), "broadcast " + tag + ": " + where);
    if (strided_in) expect(guard_intact(base, d), "broadcast wrote outside its view: " + tag);
  }
  // all_gather
  {
    std::vector<double> mine(static_cast<size_t>(n_el)), want;
    for (int64_t i = 0; i < n_el; ++i) mine[static_cast<size_t>(i)] = value(world_me, i, d, 6);
    for (int m : members)
      for (int64_t i = 0; i < n_el; ++i) want.push_back(value(m, i, d, 6));
    Tensor base;
    Tensor in = strided_in ? strided(mine, d, device, &base) : make(mine, d, device);
    Tensor out = make(std::vector<double>(want.size(), 0), d, device);
    if (strided_in && n_el > 0) {  // a non-contiguous output too: the transpose of (n_el, n)
      out = make(std::vector<double>(want.size(), 0), d, device).view({static_cast<int64_t>(n_el), n}).t();
    }
    dist::all_gather(out, in, g);
    std::vector<double> got = host(out.contiguous().view({-1}));
    expect(same(got, want, 0, &where), "all_gather " + tag + ": " + where);
  }
  // reduce_scatter (sum)
  {
    std::vector<double> mine(static_cast<size_t>(n_el) * static_cast<size_t>(n)),
        want(static_cast<size_t>(n_el));
    for (size_t i = 0; i < mine.size(); ++i) mine[i] = value(world_me, static_cast<int64_t>(i), d, 7);
    const int p = period(d, 7) * 2;
    std::vector<double> table(static_cast<size_t>(p));
    for (int64_t i = 0; i < p; ++i) {
      std::vector<double> xs;
      for (int m : members) xs.push_back(value(m, i, d, 7));
      table[static_cast<size_t>(i)] = reduce(dist::ReduceOp::Sum, d, xs, n);
    }
    for (int64_t i = 0; i < n_el; ++i)
      want[static_cast<size_t>(i)] = table[static_cast<size_t>((static_cast<int64_t>(me) * n_el + i) % p)];
    Tensor base;
    Tensor in = strided_in ? strided(mine, d, device, &base) : make(mine, d, device);
    Tensor out = make(std::vector<double>(static_cast<size_t>(n_el), 0), d, device);
    if (refused_reduction(d, "reduce_scatter " + tag,
                          [&] { dist::reduce_scatter(out, in, dist::ReduceOp::Sum, g); }))
      return;
    dist::reduce_scatter(out, in, dist::ReduceOp::Sum, g);
    expect(same(host(out), want, tol, &where), "reduce_scatter " + tag + ": " + where);
  }
}

void check_p2p(Dtype d, int64_t n_el, const std::string& device) {
  if (g_size < 2) return;
  int next = (g_rank + 1) % g_size, prev = (g_rank + g_size - 1) % g_size;
  std::vector<double> mine(static_cast<size_t>(n_el)), want(static_cast<size_t>(n_el));
  for (int64_t i = 0; i < n_el; ++i) {
    mine[static_cast<size_t>(i)] = value(g_rank, i, d, 8);
    want[static_cast<size_t>(i)] = value(prev, i, d, 8);
  }
  Tensor out = make(mine, d, device), in = make(std::vector<double>(mine.size(), 0), d, device);
  // Even ranks send first, odd ranks receive first: no cycle of blocked sends.
  if (g_rank % 2 == 0) {
    dist::send(out, next, 3);
    dist::recv(in, prev, 3);
  } else {
    dist::recv(in, prev, 3);
    dist::send(out, next, 3);
  }
  std::string where;
  expect(same(host(in), want, 0, &where),
         std::string("send/recv ") + name_of(d) + "[" + std::to_string(n_el) + "]: " + where);
}

void check_async(const std::string& device) {
  std::vector<Tensor> ts;
  std::vector<dist::Work> ws;
  for (int k = 0; k < 4; ++k) {
    Tensor t = prism::full({1000}, static_cast<double>(g_rank + k), prism::kFloat32);
    ts.push_back(device.empty() ? t : t.to(prism::Device(device)));
    ws.push_back(dist::all_reduce(ts.back(), dist::ReduceOp::Sum, dist::ProcessGroup(), true));
  }
  for (int k = 0; k < 4; ++k) {
    ws[static_cast<size_t>(k)].wait();
    expect(ws[static_cast<size_t>(k)].is_completed(), "async work not completed after wait");
    double want = 0;
    for (int r = 0; r < g_size; ++r) want += r + k;
    std::string where;
    expect(same(host(ts[static_cast<size_t>(k)]), std::vector<double>(1000, want), 0, &where),
           "async all_reduce " + std::to_string(k) + ": " + where);
  }
  dist::Work b = dist::barrier(dist::ProcessGroup(), true);
  b.wait();
  expect(b.is_completed(), "async barrier not completed after wait");
}

// Blocking and async calls mixed on one group (Note [Blocking collectives]):
// a blocking call issued while async work is still queued or running must
// wait its turn, not run beside it; and blocking calls from two threads,
// each on its own group, run at once without mixing their messages.
void check_mixed(const std::string& device, bool threads) {
  auto on = [&](Tensor t) { return device.empty() ? t : t.to(prism::Device(device)); };
  auto sum_of = [&](double base) {
    double want = 0;
    for (int r = 0; r < g_size; ++r) want += base + r;
    return want;
  };
  for (int round = 0; round < 3; ++round) {
    Tensor big = on(prism::full({1 << 20}, static_cast<double>(g_rank), prism::kFloat32));
    Tensor small = on(prism::full({7}, static_cast<double>(g_rank + 10), prism::kFloat64));
    Tensor last = on(prism::full({33}, static_cast<double>(g_rank + 20), prism::kInt32));
    dist::Work w1 = dist::all_reduce(big, dist::ReduceOp::Sum, dist::ProcessGroup(), true);
    dist::all_reduce(small);  // blocking, queued behind w1
    dist::Work w2 = dist::all_reduce(last, dist::ReduceOp::Max, dist::ProcessGroup(), true);
    Tensor b = on(prism::full({5}, static_cast<double>(g_rank + 30), prism::kFloat32));
    dist::broadcast(b, g_size - 1);  // blocking, behind w2
    w1.wait();
    w2.wait();
    std::string where;
    expect(same(host(big), std::vector<double>(1 << 20, sum_of(0)), 0, &where), "mixed: async big " + where);
    expect(same(host(small), std::vector<double>(7, sum_of(10)), 0, &where),
           "mixed: blocking small " + where);
    expect(same(host(last), std::vector<double>(33, 20 + g_size - 1), 0, &where),
           "mixed: async max " + where);
    expect(same(host(b), std::vector<double>(5, 30 + g_size - 1), 0, &where),
           "mixed: blocking bcast " + where);
  }
  if (!threads) return;
  std::vector<int32_t> all;
  for (int r = 0; r < g_size; ++r) all.push_back(r);
  dist::ProcessGroup g1 = dist::new_group(all), g2 = dist::new_group(all);
  std::string errors[2];
  auto body = [&](int which, dist::ProcessGroup g) {
    try {
      for (int k = 0; k < 40; ++k) {
        Tensor t = on(prism::full({1 + 100 * which + k}, static_cast<double>(g_rank * (which + 1) + k),
                                  prism::kFloat32));
        dist::all_reduce(t, dist::ReduceOp::Sum, g);
        double want = 0;
        for (int r = 0; r < g_size; ++r) want += r * (which + 1) + k;
        std::string where;
        if (!same(host(t), std::vector<double>(static_cast<size_t>(1 + 100 * which + k), want), 0, &where))
          errors[which] = "call " + std::to_string(k) + ": " + where;
      }
    } catch (const prism::Error& e) {
      errors[which] = e.what();
    }
  };
  std::thread t1(body, 0, g1), t2(body, 1, g2);
  t1.join();
  t2.join();
  expect(errors[0].empty(), "blocking calls from two threads, group 1: " + errors[0]);
  expect(errors[1].empty(), "blocking calls from two threads, group 2: " + errors[1]);
}

int run_fault_modes(int argc, char** argv) {
  int die_rank = -1;
  bool expect_error = false, mismatch = false, p2p_mismatch = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--p2p-mismatch") == 0) p2p_mismatch = true;
    if (std::strcmp(argv[i], "--die-rank") == 0 && i + 1 < argc) die_rank = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--expect-error") == 0) expect_error = true;
    if (std::strcmp(argv[i], "--mismatch") == 0) mismatch = true;
  }
  if (die_rank < 0 && !mismatch && !p2p_mismatch) return -1;
  try {
    dist::barrier();
    if (p2p_mismatch) {  // rank 0 sends 12 floats, rank 1 receives 6 (Note [Point-to-point slots])
      if (g_rank == 0) {
        Tensor t = prism::ones({12}, prism::kFloat32);
        dist::send(t, 1, 5);
      } else if (g_rank == 1) {
        Tensor t = prism::zeros({6}, prism::kFloat32);
        dist::recv(t, 0, 5);
      }
      std::printf("rank %d: send/recv finished without error\n", g_rank);
      return expect_error ? 1 : 0;
    }
    if (g_rank == die_rank) {
      std::printf("rank %d: killing itself mid-run\n", g_rank);
      std::fflush(stdout);
      ::kill(::getpid(), SIGKILL);
    }
    int64_t n = mismatch && g_rank == 1 ? 1001 : 1000;
    if (die_rank >= 0) n = 4 << 20;
    for (int k = 0; k < 3; ++k) {
      Tensor t = prism::ones({n}, prism::kFloat32);
      dist::all_reduce(t);
    }
    std::printf("rank %d: collectives finished without error\n", g_rank);
    return expect_error ? 1 : 0;
  } catch (const prism::Error& e) {
    std::printf("rank %d: error: %s\n", g_rank, e.what());
    return expect_error ? 0 : 1;
  }
}

}  // namespace

// --smoke: one all_reduce and a barrier.
int run_smoke() {
  try {
    Tensor t = prism::full({16}, static_cast<double>(g_rank + 1), prism::kFloat32);
    dist::all_reduce(t);
    dist::barrier();
    std::string where;
    expect(same(host(t), std::vector<double>(16, g_size * (g_size + 1) / 2.0), 0, &where),
           "smoke all_reduce: " + where);
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "FAIL rank %d: error: %s\n", g_rank, e.what());
    ++g_failures;
  }
  std::printf("rank %d of %d: %d checks, %d failures\n", g_rank, g_size, g_checks, g_failures);
  std::fflush(stdout);
  if (g_failures > 0) std::_Exit(1);
  dist::destroy_process_group();
  return 0;
}

int main(int argc, char** argv) {
  std::string backend, device, on;
  bool big = false, smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc) backend = argv[++i];
    if (std::strcmp(argv[i], "--big") == 0) big = true;
    if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    if (std::strcmp(argv[i], "--on") == 0 && i + 1 < argc) on = argv[++i];
    if (std::strcmp(argv[i], "--smoke") == 0) smoke = true;
  }
  // "--on cuda:local": this rank's own device (index = PRISM_LOCAL_RANK), as the NCCL plugin picks it.
  const std::string local_suffix = ":local";
  if (on.size() > local_suffix.size() &&
      on.compare(on.size() - local_suffix.size(), local_suffix.size(), local_suffix) == 0) {
    const char* lr = std::getenv("PRISM_LOCAL_RANK");
    on = on.substr(0, on.size() - local_suffix.size()) + ":" + (lr != nullptr && lr[0] != '\0' ? lr : "0");
  }
  const char* env_backend = std::getenv("PRISM_DIST_BACKEND");
  const std::string engine = !backend.empty() ? backend : env_backend != nullptr ? env_backend : "";
  g_no_int16_reductions = engine == "nccl" || engine == "rccl";
  try {
    dist::init_process_group(backend);
    g_rank = dist::get_rank();
    g_size = dist::get_world_size();
  } catch (const prism::Error& e) {
    std::printf("init error: %s\n", e.what());
    return 3;
  }
  if (smoke) return run_smoke();
  int fault = run_fault_modes(argc, argv);
  if (fault >= 0) {
    std::fflush(stdout);
    std::_Exit(fault);  // peers may be gone: no orderly finalize
  }
  try {
    std::vector<int> world;
    for (int r = 0; r < g_size; ++r) world.push_back(r);
    for (Dtype d : kDtypes) {
      std::vector<int64_t> sizes = {0, 1, 1001};
      if (big)
        sizes.push_back(
            std::max<int64_t>(
                (16 << 20) / static_cast<int64_t>(prism_dtype_size(static_cast<prism_dtype>(d))), 1) +
            3);
      for (int64_t n : sizes) check_group(dist::ProcessGroup(), world, d, n, false, on);
      check_group(dist::ProcessGroup(), world, d, 1001, true, on);
      check_p2p(d, 1001, on);
      check_p2p(d, 0, on);
    }
    if (!device.empty()) {
      for (Dtype d : {prism::kFloat32, prism::kInt64}) {
        check_group(dist::ProcessGroup(), world, d, 1001, false, device);
        check_group(dist::ProcessGroup(), world, d, 1001, true, device);
      }
    }
    // Sub-groups: the even ranks, and the odd ones (collective over the world).
    std::vector<int32_t> evens, odds;
    for (int r = 0; r < g_size; ++r) (r % 2 == 0 ? evens : odds).push_back(r);
    bool in_even = false, in_odd = false;
    dist::ProcessGroup ge = dist::new_group(evens, &in_even);
    dist::ProcessGroup go = odds.empty() ? dist::ProcessGroup() : dist::new_group(odds, &in_odd);
    expect(in_even == (g_rank % 2 == 0), "new_group membership (evens)");
    std::vector<int> ev(evens.begin(), evens.end()), od(odds.begin(), odds.end());
    for (Dtype d : {prism::kFloat32, prism::kInt32, prism::kBFloat16}) {
      if (in_even) check_group(ge, ev, d, 1001, false, on);
      if (in_odd) check_group(go, od, d, 1001, true, on);
    }
    check_async(on);
    // The MPI plugin serializes every MPI call of the process (Note [MPI
    // communicator]), so two groups' collectives from two threads can
    // deadlock when the ranks' threads take the lock in different orders.
    if (engine == "mpi" && g_rank == 0)
      std::printf("skipped: blocking calls from two threads (MPI plugin)\n");
    check_mixed(on, engine != "mpi");
    dist::barrier();
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "FAIL rank %d: error: %s\n", g_rank, e.what());
    ++g_failures;
  }
  std::printf("rank %d of %d: %d checks, %d failures\n", g_rank, g_size, g_checks, g_failures);
  std::fflush(stdout);
  if (g_failures > 0) std::_Exit(1);
  dist::destroy_process_group();
  return 0;
}
