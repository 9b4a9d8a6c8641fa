// safetensors_test.cpp — safetensors round trips, the PyTorch-written fixture, and every reader error.
#include "core/io/safetensors.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/safetensors_content.hpp"
#include "tests/unit/test_util.hpp"

namespace prism {
namespace {

using io::SafetensorsFile;
using test::cpu;
using test::expect_error;
using test::tensor;
using test::values;

std::string fixture_dir() {
  std::string here = __FILE__;  // .../tests/unit/safetensors_test.cpp
  return here.substr(0, here.rfind("/unit/")) + "/data/safetensors/";
}

// The bytes of a file with `header` (padded to 8) followed by `data`.
std::vector<unsigned char> make_file(std::string header, const std::vector<unsigned char>& data = {},
                                     uint64_t header_len = UINT64_MAX) {
  while (header.size() % 8 != 0) header.push_back(' ');
  uint64_t n = header_len == UINT64_MAX ? header.size() : header_len;
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::shared_ptr<SafetensorsFile> parse(const std::vector<unsigned char>& b) {
  return SafetensorsFile::from_memory(b.data(), b.size(), "test.safetensors");
}

void expect_bad(const std::vector<unsigned char>& b, std::initializer_list<const char*> needles) {
  expect_error([&] { parse(b); }, PRISM_ERROR_INVALID_ARGUMENT, needles);
}

std::vector<Tensor> interop_prism_tensors() {
  std::vector<Tensor> ts;
  for (const auto& t : test::interop_tensors()) {
    std::vector<double> v = test::interop_values(t);
    Tensor d = from_host(v.data(), Dims{static_cast<int64_t>(v.size())}, PRISM_DTYPE_F64, cpu());
    Dims sizes = Dims::from(t.shape.data(), static_cast<int32_t>(t.shape.size()));
    ts.push_back(reshape(to_dtype(d, t.dtype), sizes));
  }
  return ts;
}

void expect_interop_content(const SafetensorsFile& f) {
  const auto& want = test::interop_tensors();
  ASSERT_EQ(f.entries().size(), want.size());
  for (const auto& w : want) {
    SCOPED_TRACE(w.name);
    Tensor t = f.tensor(w.name, cpu());
    EXPECT_EQ(t->dtype, w.dtype);
    EXPECT_EQ(std::vector<int64_t>(t->sizes.begin(), t->sizes.end()), w.shape);
    EXPECT_EQ(values(t), test::interop_values(w));
  }
  EXPECT_EQ(f.metadata(), test::interop_metadata());
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { PRISM_REQUIRE_CPU(); }
};

TEST_F(SafetensorsTest, ReadsTheFileWrittenByPyTorch) {
  auto f = SafetensorsFile::open(fixture_dir() + "torch_written.safetensors");
  expect_interop_content(*f);
}

TEST_F(SafetensorsTest, ReadsTheFileWrittenByTheSafetensorsPackage) {
  // safetensors.torch.save_file (the reference implementation) orders the header differently.
  auto f = SafetensorsFile::open(fixture_dir() + "reference_written.safetensors");
  expect_interop_content(*f);
}

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndMetadata) {
  std::vector<std::string> names;
  for (const auto& t : test::interop_tensors()) names.emplace_back(t.name);
  std::vector<unsigned char> bytes =
      io::serialize_safetensors(names, interop_prism_tensors(), test::interop_metadata());
  auto f = SafetensorsFile::from_memory(bytes.data(), bytes.size());
  expect_interop_content(*f);
}

TEST_F(SafetensorsTest, WritesTheReferenceLayout) {
  // Sorted by element size then name, so each tensor is aligned; header padded to 8.
  Tensor a = tensor<float>({1, 2}, Dims{2});
  Tensor b = tensor<double>({3}, Dims{1});
  Tensor c = tensor<uint8_t>({4, 5, 6}, Dims{3});
  std::vector<unsigned char> bytes = io::serialize_safetensors({"c", "a", "b"}, {c, a, b}, {});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  EXPECT_EQ(n % 8, 0u);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);  // written only when given
  auto f = SafetensorsFile::from_memory(bytes.data(), bytes.size());
  ASSERT_EQ(f->entries().size(), 3u);
  EXPECT_EQ(f->entries()[0].name, "b");
  EXPECT_EQ(f->entries()[1].name, "a");
  EXPECT_EQ(f->entries()[2].name, "c");
  EXPECT_EQ(f->entries()[1].begin, 8u);
  double d = 0;
  std::memcpy(&d, bytes.data() + 8 + n, 8);
  EXPECT_EQ(d, 3.0);
  EXPECT_EQ(bytes.size(), 8 + n + 8 + 8 + 3);
}

TEST_F(SafetensorsTest, WritesViewsRowMajorAndSavesToDisk) {
  Tensor base = tensor<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Dims{3, 4});
  Tensor v = slice(transpose(base, 0, 1), 0, 1, 4, 2);  // (2, 3) strided view
  std::string path = ::testing::TempDir() + "prism_safetensors_view.safetensors";
  io::save_safetensors(path, {"v"}, {v}, {{"k", "v"}});
  auto f = SafetensorsFile::open(path);
  Tensor back = f->tensor("v", cpu());
  EXPECT_EQ(back->sizes, (Dims{2, 3}));
  EXPECT_EQ(values(back), values(contiguous(v)));
  EXPECT_EQ(f->metadata().size(), 1u);
  std::remove(path.c_str());
}

TEST_F(SafetensorsTest, WriterRejectsBadNames) {
  Tensor a = tensor<float>({1}, Dims{1});
  expect_error(
      [&] {
        io::serialize_safetensors({"x", "x"}, {a, a}, {});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"'x'", "twice"});
  expect_error([&] { io::serialize_safetensors({"__metadata__"}, {a}, {}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"reserved"});
  expect_error([&] { io::serialize_safetensors({""}, {a}, {}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"empty name"});
  expect_error(
      [&] {
        io::serialize_safetensors({"a"}, {a, a}, {});
      },
      PRISM_ERROR_INVALID_ARGUMENT, {"1 names for 2 tensors"});
  expect_error([&] { io::serialize_safetensors({"bad\xff"}, {a}, {}); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"UTF-8"});
  // File-system failures are I/O errors (Note [Atomic checkpoint save]).
  expect_error([&] { io::save_safetensors("/nonexistent/dir/x.safetensors", {"a"}, {a}, {}); },
               PRISM_ERROR_IO, {"/nonexistent/dir/x.safetensors"});
}

// ---- reader errors: each names the source and, where there is one, the tensor ----

const std::vector<unsigned char> k8Bytes = {0, 0, 128, 63, 0, 0, 0, 64};  // float32 {1, 2}

TEST_F(SafetensorsTest, AcceptsAMinimalFileAndEmptyTensors) {
  auto f = parse(make_file("{}"));
  EXPECT_TRUE(f->entries().empty());
  f = parse(make_file(R"({"e":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},)"
                      R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                      k8Bytes));
  EXPECT_EQ(f->tensor("e", cpu())->numel(), 0);
  EXPECT_EQ(values(f->tensor("x", cpu())), (std::vector<double>{1, 2}));
}

TEST_F(SafetensorsTest, RejectsTruncatedFilesAndBadHeaderLengths) {
  expect_bad({}, {"test.safetensors", "truncated"});
  expect_bad({1, 2, 3}, {"truncated"});
  expect_bad(make_file("{}", {}, 1000), {"header length 1000", "past the end"});
  expect_bad(make_file("{}", {}, uint64_t{1} << 62), {"exceeds the limit"});
  expect_bad(make_file("{}", {}, 0), {"must start with '{'"});
  expect_bad(make_file(" {}"), {"must start with '{'"});
  std::vector<unsigned char> f =
      make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", k8Bytes);
  f.pop_back();
  expect_bad(f, {"'x'", "run past the end", "truncated"});
}

TEST_F(SafetensorsTest, RejectsBadJson) {
  expect_bad(make_file("{\"x\": "), {"not valid JSON"});
  expect_bad(make_file("{}x"), {"not valid JSON"});
  expect_bad(make_file("{\"a\":1,\"a\":2}"), {"'a'", "twice"});
  expect_bad(make_file("{\"x\":[[[[[1]]]]]}"), {"nests too deeply"});
  expect_bad(make_file("{\"\xff\":1}"), {"not valid JSON"});
}

TEST_F(SafetensorsTest, RejectsBadEntries) {
  auto entry = [](const std::string& body) { return make_file("{\"x\":" + body + "}", k8Bytes); };
  expect_bad(entry("3"), {"'x'", "expected an object"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2]})"), {"'x'", "needs the fields"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1})"),
             {"unknown field 'extra'"});
  expect_bad(entry(R"({"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]})"),
             {"'x'", "unsupported dtype \"F8_E4M3\""});
  expect_bad(entry(R"({"dtype":7,"shape":[2],"data_offsets":[0,8]})"), {"dtype must be a string"});
  expect_bad(entry(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), {"shape must be an array"});
  expect_bad(entry(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), {"non-negative integers"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), {"non-negative integers"});
  expect_bad(
      entry(
          R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})"),
      {"dims"});
  expect_bad(entry(R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]})"),
             {"too many elements"});
  expect_bad(entry(R"({"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})"),
             {"too many elements"});
  expect_bad(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"),
             {"'x'", "shape [3] of F32 needs 12 bytes", "hold 8"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"),
             {"data_offsets must be [begin, end]"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), {"end before they begin"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})"), {"run past the end"});
  expect_bad(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]})"),
             {"run past the end"});
}

TEST_F(SafetensorsTest, RejectsOverlapsGapsAndLeftovers) {
  std::vector<unsigned char> data(16, 0);
  expect_bad(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       data),
             {"'b'", "overlapping"});
  expect_bad(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                       data),
             {"'b'", "a gap"});
  expect_bad(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
             {"cover 8 bytes", "holds 16", "trailing"});
  expect_bad(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                       k8Bytes),
             {"overlapping"});
}

TEST_F(SafetensorsTest, RejectsBadMetadataAndBoolBytes) {
  expect_bad(make_file(R"({"__metadata__":{"k":1}})"), {"__metadata__ entry 'k' must be a string"});
  expect_bad(make_file(R"({"__metadata__":[1]})"), {"__metadata__ must be an object"});
  auto f = parse(make_file(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", {1, 2}));
  expect_error([&] { f->tensor("m", cpu()); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"'m'", "BOOL element 1 holds byte 2"});
  expect_error([&] { f->tensor("missing", cpu()); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"test.safetensors", "no tensor named 'missing'"});
}

TEST_F(SafetensorsTest, OpenNamesAMissingFile) {
  expect_error([&] { SafetensorsFile::open("/nonexistent/model.safetensors"); }, PRISM_ERROR_INVALID_ARGUMENT,
               {"/nonexistent/model.safetensors", "cannot open"});
  expect_error([&] { SafetensorsFile::open("/"); }, PRISM_ERROR_INVALID_ARGUMENT, {"'/'"});
}

}  // namespace
}  // namespace prism
