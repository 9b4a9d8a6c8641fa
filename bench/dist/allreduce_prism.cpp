// allreduce_prism.cpp — all-reduce bus bandwidth (f32, 1 KiB..256 MiB) over Prism's communicator, one JSON
// line per size (run under `prism run -n N`).
//
// Bus bandwidth = bytes * 2 (n - 1) / n / seconds (NCCL-tests' definition), so
// it is comparable across world sizes. Each size runs a warm-up, then repeats
// until at least `min_s` seconds (and 3 repetitions) passed; the median time is
// reported. bench/dist/allreduce_torch.py measures torch.distributed (gloo) the
// same way; bench/dist/run.sh runs both side by side.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "prism/prism.hpp"

namespace dist = prism::distributed;

int main(int argc, char** argv) {
  int64_t max_bytes = int64_t{256} << 20;
  double min_s = 0.3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--max-bytes") max_bytes = std::atoll(argv[i + 1]);
    if (std::string(argv[i]) == "--min-seconds") min_s = std::atof(argv[i + 1]);
  }
  dist::init_process_group("gloo");
  const int n = dist::get_world_size(), rank = dist::get_rank();
  for (int64_t bytes = 1024; bytes <= max_bytes; bytes *= 4) {
    prism::Tensor t = prism::ones({bytes / 4}, prism::kFloat32);
    dist::all_reduce(t);  // warm-up
    std::vector<double> times;
    double total = 0;
    while (total < min_s || times.size() < 3) {
      dist::barrier();
      auto t0 = std::chrono::steady_clock::now();
      dist::all_reduce(t);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      times.push_back(s);
      total += s;
      // every rank takes the same decision: rank 0's total
      prism::Tensor flag = prism::full({1}, total, prism::kFloat64);
      dist::broadcast(flag, 0);
      total = flag.item<double>();
      if (times.size() >= 200) break;
    }
    std::sort(times.begin(), times.end());
    double med = times[times.size() / 2];
    double busbw = static_cast<double>(bytes) * 2.0 * (n - 1) / n / med / 1e9;
    if (rank == 0)
      std::printf(
          "{\"impl\": \"prism\", \"bytes\": %lld, \"seconds\": %.6e, \"busbw_GBps\": %.4f, \"reps\": %zu}\n",
          static_cast<long long>(bytes), med, busbw, times.size());
    std::fflush(stdout);
  }
  dist::destroy_process_group();
  return 0;
}
