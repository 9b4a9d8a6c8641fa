// idx_test.cpp — the IDX reader: every dtype's byte order, and each malformed-file error.
#include "core/io/idx.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using test::cpu;
using test::expect_error;
using test::values;
using Bytes = std::vector<unsigned char>;

Tensor parse(const Bytes& b) {
  return io::parse_idx(b.data(), b.size(), "test.idx", cpu());
}

void expect_bad(const Bytes& b, std::initializer_list<const char*> needles) {
  expect_error([&] { parse(b); }, PRISM_ERROR_INVALID_ARGUMENT, needles);
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

TEST_F(IdxTest, ConvertsBigEndianData) {
  Tensor i32 = parse({0, 0, 0x0C, 1, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFE, 0x01, 0x02, 0x03, 0x04});
  EXPECT_EQ(i32->dtype, PRISM_DTYPE_I32);
  EXPECT_EQ(values(i32), (std::vector<double>{-2, 0x01020304}));
  Tensor f64 = parse({0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(values(f64), (std::vector<double>{1.5}));
  Tensor i8 = parse({0, 0, 0x09, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0x7F});
  EXPECT_EQ(i8->sizes, (Dims{1, 2}));
  EXPECT_EQ(values(i8), (std::vector<double>{-1, 127}));
  Tensor empty = parse({0, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 5});
  EXPECT_EQ(empty->numel(), 0);
}

TEST_F(IdxTest, RejectsMalformedFiles) {
  expect_bad({}, {"test.idx", "truncated"});
  expect_bad({1, 0, 8, 1}, {"not an IDX file"});
  expect_bad({0, 0, 0x0A, 1, 0, 0, 0, 0}, {"unknown IDX type code 0xa"});
  expect_bad({0, 0, 8, 0}, {"0 dims"});
  expect_bad({0, 0, 8, 200}, {"200 dims"});
  expect_bad({0, 0, 8, 2, 0, 0, 0, 1}, {"truncated inside its 2-dim header"});
  expect_bad({0, 0, 8, 1, 0, 0, 0, 3, 1, 2}, {"uint8[3] needs 3 data bytes", "has 2", "truncated"});
  expect_bad({0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, {"trailing bytes"});
  expect_bad({0, 0, 0x0E, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
             {"too large"});
}

TEST_F(IdxTest, RejectsDamagedGzipFiles) {
  std::string here = __FILE__;
  std::string gz = here.substr(0, here.rfind("/unit/")) + "/data/idx/tiny-floats-idx2-float.gz";
  std::ifstream in(gz, std::ios::binary);
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 30u);
  const std::string path = ::testing::TempDir() + "prism_idx_damaged.gz";
  auto write = [&](const Bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  write(Bytes(bytes.begin(), bytes.begin() + 25));  // cut inside the deflate stream
  expect_error([&] { io::load_idx(path, cpu()); }, PRISM_ERROR_INVALID_ARGUMENT, {path.c_str()});
  Bytes flipped = bytes;
  flipped[flipped.size() - 6] ^= 0xFF;  // the CRC no longer matches
  write(flipped);
  expect_error([&] { io::load_idx(path, cpu()); }, PRISM_ERROR_INVALID_ARGUMENT, {path.c_str()});
  write(bytes);
  EXPECT_EQ(io::load_idx(path, cpu())->numel(), 6);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace prism
