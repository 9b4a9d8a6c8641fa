// allreduce_prism.cpp — all-reduce bus bandwidth (f32, 1 KiB..256 MiB) over Prism's communicator, one JSON
// line per size and round (run under `prism run -n N`).
//
// Bus bandwidth = bytes * 2 (n - 1) / n / seconds (NCCL-tests' definition), so
// it is comparable across world sizes. Each size runs `rounds` blocks; a block
// repeats the all-reduce until at least `min_s` seconds (and 3 repetitions)
// passed and prints every repetition's time. bench/dist/allreduce_torch.py
// measures torch.distributed (gloo) the same way.
//
// Note [Interleaved blocks]
// bench/dist/run.sh starts this program and its torch peer at once and makes
// them take turns through FIFOs: before each block, rank 0 waits for a byte on
// `--turn-in`.0 and hands one to every other rank r on `--turn-in`.r; after
// the block it writes one to `--turn-out`.0, the other side's rank 0. Prism
// and torch blocks of the same size therefore alternate (P T P T ...), so a
// change of machine load hits both sides alike, and the script compares
// medians over all repetitions of a size. Every rank of the side that is not
// timing sits in read(2): not in a collective, whose engine thread could
// poll the socket and take CPU time from the side being timed. Without
// --turn-in the program runs alone.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "prism/prism.hpp"

namespace dist = prism::distributed;

namespace {

// One end of the turn-taking FIFOs (Note [Interleaved blocks]); -1 when unused.
int open_fifo(const std::string& path) {
  if (path.empty()) return -1;
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) {
    std::perror(path.c_str());
    std::exit(2);
  }
  return fd;
}

void take_turn(int fd) {
  char b = 0;
  if (fd >= 0 && ::read(fd, &b, 1) != 1) {
    std::perror("turn-in");
    std::exit(2);
  }
}

void give_turn(int fd) {
  char b = 'x';
  if (fd >= 0 && ::write(fd, &b, 1) != 1) {
    std::perror("turn-out");
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t max_bytes = int64_t{256} << 20;
  double min_s = 0.1;
  int rounds = 1;
  std::string turn_in, turn_out;
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--max-bytes") max_bytes = std::atoll(argv[i + 1]);
    if (a == "--min-seconds") min_s = std::atof(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (a == "--turn-in") turn_in = argv[i + 1];
    if (a == "--turn-out") turn_out = argv[i + 1];
  }
  dist::init_process_group("gloo");
  const int n = dist::get_world_size(), rank = dist::get_rank();
  // Note [Interleaved blocks]: this rank's FIFO; rank 0 also holds the other ranks' and the peer's.
  const int fd_in = turn_in.empty() ? -1 : open_fifo(turn_in + "." + std::to_string(rank));
  std::vector<int> fd_ranks;
  if (rank == 0 && !turn_in.empty())
    for (int r = 1; r < n; ++r) fd_ranks.push_back(open_fifo(turn_in + "." + std::to_string(r)));
  const int fd_out = rank == 0 && !turn_out.empty() ? open_fifo(turn_out + ".0") : -1;
  for (int64_t bytes = 1024; bytes <= max_bytes; bytes *= 4) {
    prism::Tensor t = prism::ones({bytes / 4}, prism::kFloat32);
    for (int r = 0; r < rounds; ++r) {
      take_turn(fd_in);
      for (int fd : fd_ranks) give_turn(fd);
      dist::barrier();
      if (r == 0) dist::all_reduce(t);  // warm-up
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
      dist::barrier();
      if (rank == 0) {
        std::string list;
        for (double s : times) list += (list.empty() ? "" : ", ") + std::to_string(s);
        std::printf("{\"impl\": \"prism\", \"bytes\": %lld, \"round\": %d, \"times\": [%s]}\n",
                    static_cast<long long>(bytes), r, list.c_str());
        std::fflush(stdout);
        give_turn(fd_out);
      }
    }
  }
  dist::destroy_process_group();
  return 0;
}
