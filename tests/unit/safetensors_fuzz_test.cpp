// safetensors_fuzz_test.cpp — mutates valid safetensors files (bit flips, truncation, header lengths, JSON
// edits) and loads each: every outcome must be a tensor or a prism::Error, never a crash or an out-of-bounds
// read.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/io/safetensors.hpp"
#include "tests/unit/safetensors_content.hpp"
#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

// Note [Safetensors fuzzing]
// Seeds are valid files written by the Prism writer and one written by the
// reference implementation. Each iteration applies one to three mutations
// drawn from: bit flips (biased towards the header), truncation, a new header
// length (random, off by a little, or huge), JSON token edits (digits,
// structural characters, numbers replaced by extreme values, keys renamed),
// and appended or removed bytes. The mutated buffer goes through the
// in-memory entry point (no disk I/O), and every tensor of a file that parses
// is read onto the CPU. The build runs it under AddressSanitizer too
// (scripts/test.sh, asan preset), so a read outside the buffer fails the
// run. PRISM_FUZZ_ITERATIONS and PRISM_FUZZ_SEED override the defaults.

std::vector<std::vector<unsigned char>> seeds() {
  Device* cpu = test::cpu();
  std::vector<std::vector<unsigned char>> out;
  // The interop tensors: every dtype, a 0-d and an empty tensor, metadata.
  std::vector<std::string> names;
  std::vector<Tensor> ts;
  for (const auto& t : test::interop_tensors()) {
    std::vector<double> v = test::interop_values(t);
    Tensor d = from_host(v.data(), Dims{static_cast<int64_t>(v.size())}, PRISM_DTYPE_F64, cpu);
    names.emplace_back(t.name);
    ts.push_back(
        reshape(to_dtype(d, t.dtype), Dims::from(t.shape.data(), static_cast<int32_t>(t.shape.size()))));
  }
  out.push_back(io::serialize_safetensors(names, ts, test::interop_metadata()));
  // A small file with two tensors and no metadata.
  std::vector<float> a = {1, 2, 3, 4};
  std::vector<int64_t> b = {5, 6};
  out.push_back(io::serialize_safetensors(
      {"w", "b"}, {test::tensor(a, Dims{2, 2}, cpu), test::tensor(b, Dims{2}, cpu)}, {}));
  // An empty file ("{}").
  out.push_back(io::serialize_safetensors({}, {}, {}));
  // The file written by the reference implementation (safetensors.torch.save_file).
  std::string here = __FILE__;
  std::ifstream in(here.substr(0, here.rfind("/unit/")) + "/data/safetensors/reference_written.safetensors",
                   std::ios::binary);
  std::vector<unsigned char> ref((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!ref.empty()) out.push_back(std::move(ref));
  return out;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::vector<unsigned char> mutate(std::vector<unsigned char> f) {
    const int rounds = 1 + static_cast<int>(below(3));
    for (int r = 0; r < rounds; ++r) {
      switch (below(9)) {
        case 0:
        case 1:
          flip_bits(f);
          break;
        case 2:
          truncate(f);
          break;
        case 3:
          set_header_length(f);
          break;
        case 4:
        case 5:
          edit_number(f);
          break;
        case 6:
          edit_char(f);
          break;
        case 7:
          resize_data(f);
          break;
        default:
          rename_key(f);
          break;
      }
    }
    return f;
  }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  size_t header_end(const std::vector<unsigned char>& f) {
    if (f.size() < 8) return f.size();
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | f[static_cast<size_t>(i)];
    return n > f.size() - 8 ? f.size() : static_cast<size_t>(8 + n);
  }

  void flip_bits(std::vector<unsigned char>& f) {
    if (f.empty()) return;
    const int n = 1 + static_cast<int>(below(4));
    for (int i = 0; i < n; ++i) {
      // Three quarters of the flips hit the length or the header.
      size_t limit = below(4) != 0 ? header_end(f) : f.size();
      size_t pos = below(limit == 0 ? f.size() : limit);
      f[pos] ^= static_cast<unsigned char>(1u << below(8));
    }
  }

  void truncate(std::vector<unsigned char>& f) { f.resize(below(f.size() + 1)); }

  void set_header_length(std::vector<unsigned char>& f) {
    if (f.size() < 8) return;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | f[static_cast<size_t>(i)];
    switch (below(4)) {
      case 0:
        n = rng_();
        break;
      case 1:
        n += below(17) - 8;
        break;
      case 2:
        n = f.size() - 8 + below(3);
        break;
      default:
        n = UINT64_MAX - below(16);
        break;
    }
    for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  }

  // Replaces one run of digits in the header by another number.
  void edit_number(std::vector<unsigned char>& f) {
    size_t end = header_end(f);
    if (end <= 8) return;
    size_t pos = 8 + below(end - 8);
    size_t start = pos;
    while (start < end && (f[start] < '0' || f[start] > '9')) ++start;
    if (start >= end) return;
    size_t stop = start;
    while (stop < end && f[stop] >= '0' && f[stop] <= '9') ++stop;
    static const char* const kNumbers[] = {"0",
                                           "1",
                                           "2",
                                           "7",
                                           "8",
                                           "9",
                                           "4294967296",
                                           "-1",
                                           "1e3",
                                           "18446744073709551615",
                                           "18446744073709551616",
                                           "65",
                                           "9223372036854775807",
                                           "3.5",
                                           "16",
                                           "24"};
    std::string rep =
        below(3) == 0 ? std::to_string(below(64)) : kNumbers[below(sizeof kNumbers / sizeof *kNumbers)];
    f.erase(f.begin() + static_cast<long>(start), f.begin() + static_cast<long>(stop));
    f.insert(f.begin() + static_cast<long>(start), rep.begin(), rep.end());
    if (below(2) == 0) fix_header_length(f, end + rep.size() - (stop - start));
  }

  // Replaces, inserts or deletes one character of the header.
  void edit_char(std::vector<unsigned char>& f) {
    size_t end = header_end(f);
    if (end <= 8) return;
    static const char kChars[] = "{}[]\":, 0123456789-.eE\\ua\x01\xff";
    size_t pos = 8 + below(end - 8);
    auto c = static_cast<unsigned char>(kChars[below(sizeof kChars - 1)]);
    switch (below(3)) {
      case 0:
        f[pos] = c;
        break;
      case 1:
        f.insert(f.begin() + static_cast<long>(pos), c);
        if (below(2) == 0) fix_header_length(f, end + 1);
        break;
      default:
        f.erase(f.begin() + static_cast<long>(pos));
        if (below(2) == 0) fix_header_length(f, end - 1);
        break;
    }
  }

  // Adds or removes bytes at the end of the data region.
  void resize_data(std::vector<unsigned char>& f) {
    if (below(2) == 0) {
      size_t n = 1 + below(16);
      for (size_t i = 0; i < n; ++i) f.push_back(static_cast<unsigned char>(rng_()));
    } else {
      size_t n = below(16);
      f.resize(f.size() > n ? f.size() - n : 0);
    }
  }

  // Renames a key to one the reader treats specially.
  void rename_key(std::vector<unsigned char>& f) {
    size_t end = header_end(f);
    std::string header(f.begin() + (end > 8 ? 8 : static_cast<long>(end)),
                       f.begin() + static_cast<long>(end));
    static const char* const kFrom[] = {"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"",
                                        "\"I64\"",   "\"BOOL\"",  "\"format\""};
    static const char* const kTo[] = {"\"__metadata__\"", "\"dtype\"", "\"shape\"",
                                      "\"data_offsets\"", "\"BOOL\"",  "\"F64\"",
                                      "\"U8\"",           "\"x\"",     "\"F8_E5M2\""};
    std::string from = kFrom[below(sizeof kFrom / sizeof *kFrom)];
    size_t at = header.find(from);
    if (at == std::string::npos) return;
    std::string to = kTo[below(sizeof kTo / sizeof *kTo)];
    header.replace(at, from.size(), to);
    std::vector<unsigned char> out(f.begin(), f.begin() + 8);
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), f.begin() + static_cast<long>(end), f.end());
    f = std::move(out);
    if (f.size() >= 8 && below(4) != 0) fix_header_length(f, 8 + header.size());
  }

  static void fix_header_length(std::vector<unsigned char>& f, size_t end) {
    if (f.size() < 8 || end < 8) return;
    uint64_t n = end - 8;
    for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  }

  std::mt19937_64 rng_;
};

TEST(SafetensorsFuzz, MutatedFilesGiveTensorsOrErrors) {
  PRISM_REQUIRE_CPU();
  long iterations = 100000;
  if (const char* env = std::getenv("PRISM_FUZZ_ITERATIONS")) iterations = std::atol(env);
  const std::vector<std::vector<unsigned char>> base = seeds();
  uint64_t seed = 0x5afe7e45u;
  if (const char* env = std::getenv("PRISM_FUZZ_SEED")) seed = std::strtoull(env, nullptr, 10);
  Mutator mutator(seed);
  Device* cpu = test::cpu();
  long parsed = 0, rejected = 0, tensors = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iterations; ++it) {
    std::vector<unsigned char> f = mutator.mutate(base[static_cast<size_t>(it) % base.size()]);
    try {
      auto file = io::SafetensorsFile::from_memory(f.data(), f.size(), "fuzz");
      ++parsed;
      for (const auto& e : file->entries()) {
        Tensor t = file->tensor(e.name, cpu);
        ASSERT_EQ(static_cast<uint64_t>(t->numel()) * t->element_size(), e.end - e.begin);
        ++tensors;
      }
    } catch (const Error& e) {
      ASSERT_EQ(e.status(), PRISM_ERROR_INVALID_ARGUMENT) << "iteration " << it << ": " << e.what();
      ASSERT_NE(std::string(e.what()).find("safetensors"), std::string::npos) << e.what();
      ++rejected;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("safetensors fuzz: %ld mutated files in %.2f s: %ld parsed (%ld tensors read), %ld rejected\n",
              iterations, secs, parsed, tensors, rejected);
  if (iterations >= 1000) {
    EXPECT_GT(parsed, 0);
    EXPECT_GT(rejected, iterations / 2);
  }
}

}  // namespace
}  // namespace prism
