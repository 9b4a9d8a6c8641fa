// reference_test.cpp — hand-computed checks of the conformance reference kernels and dtype helpers.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <cmath>
#include <cstring>
#include <vector>

#include "../src/reference.hpp"

namespace prism::conformance {
namespace {

// A contiguous 1-D operand holding `values` of `dtype`.
struct Host {
  View view;
  std::vector<uint8_t> image;
  Host(int32_t dtype, const std::vector<double>& values) {
    view.dtype = dtype;
    view.sizes = {static_cast<int64_t>(values.size())};
    view.strides = {1};
    image.resize(values.size() * dtype_size(dtype) + 8);
    for (size_t i = 0; i < values.size(); ++i)
      store_real(dtype, image.data() + i * dtype_size(dtype), values[i]);
  }
};

RefResult run(const char* op, int32_t out_dtype, std::vector<Host*> ins, std::vector<RefAttr> attrs = {},
              std::vector<int64_t> out_sizes = {}) {
  RefCall c;
  c.op = find_op(op);
  for (Host* h : ins) {
    c.in_views.push_back(h->view);
    c.in_images.push_back(&h->image);
  }
  c.out_view.dtype = out_dtype;
  c.out_view.sizes = out_sizes.empty() ? ins[0]->view.sizes : out_sizes;
  c.out_view.strides.assign(c.out_view.sizes.size(), 1);
  c.attrs = attrs;
  return reference_run(c);
}

TEST(Reference, RoundingAndUlps) {
  EXPECT_EQ(round_to(PRISM_DTYPE_F16, 1.0 + 1.0 / 2048), 1.0);  // tie to even
  EXPECT_EQ(round_to(PRISM_DTYPE_F16, 1.0 + 3.0 / 2048), 1.0 + 2.0 / 1024);
  EXPECT_EQ(round_to(PRISM_DTYPE_BF16, 1.0 + 1.0 / 256), 1.0);
  EXPECT_TRUE(std::isinf(round_to(PRISM_DTYPE_F16, 65520.0)));
  EXPECT_EQ(ulp_distance(PRISM_DTYPE_F32, 1.0, std::nextafter(1.0f, 2.0f)), 1);
  EXPECT_EQ(ulp_distance(PRISM_DTYPE_F32, -0.0, 0.0), 0);
  EXPECT_EQ(ulp_distance(PRISM_DTYPE_F16, 1.0, 1.0 + 2.0 / 1024), 2);
}

TEST(Reference, IntegerWrapAndCopyRule) {
  Host a(PRISM_DTYPE_I8, {127, -128, 5});
  Host b(PRISM_DTYPE_I8, {1, -1, 2});
  RefResult r = run("add", PRISM_DTYPE_I8, {&a, &b});
  EXPECT_EQ(r.values[0].i, -128);  // wraps
  r = run("div", PRISM_DTYPE_I8, {&a, &b}, {{"rounding_mode", PRISM_ATTR_INT, 1, 1.0, {}}});
  EXPECT_EQ(r.values[1].i, -128);  // INT_MIN / -1 wraps
  EXPECT_EQ(r.values[2].i, 2);
  Host f(PRISM_DTYPE_F32, {-1.0, NAN, 300.7});
  r = run("copy", PRISM_DTYPE_U8, {&f});
  EXPECT_EQ(r.values[0].i, 255);  // -1.0 -> u8 is 255
  EXPECT_EQ(r.values[1].i, 0);    // NaN -> 0
  EXPECT_EQ(r.values[2].i, 44);   // 300 wraps modulo 256
}

TEST(Reference, FloorDivisionAndRemainderFollowPython) {
  Host a(PRISM_DTYPE_F64, {-7, 7, INFINITY, -1});
  Host b(PRISM_DTYPE_F64, {2, -2, 2, INFINITY});
  RefResult r = run("div", PRISM_DTYPE_F64, {&a, &b}, {{"rounding_mode", PRISM_ATTR_INT, 1, 1.0, {}}});
  EXPECT_EQ(r.values[0].f, -4);
  EXPECT_EQ(r.values[1].f, -4);
  EXPECT_TRUE(std::isnan(r.values[2].f));  // inf // 2 is nan in Python
  EXPECT_EQ(r.values[3].f, -1);            // -1 // inf is -1
  r = run("remainder", PRISM_DTYPE_F64, {&a, &b});
  EXPECT_EQ(r.values[0].f, 1);
  EXPECT_EQ(r.values[1].f, -1);
}

TEST(Reference, NanRules) {
  Host x(PRISM_DTYPE_F32, {1, NAN, 3, NAN});
  RefResult r = run("sign", PRISM_DTYPE_F32, {&x});
  EXPECT_EQ(r.values[1].f, 0);  // sign(NaN) = 0
  r = run("relu", PRISM_DTYPE_F32, {&x});
  EXPECT_TRUE(std::isnan(r.values[1].f));
  r = run("argmax", PRISM_DTYPE_I64, {&x}, {{"dim", PRISM_ATTR_INT, 0, 0, {}}}, {1});
  EXPECT_EQ(r.values[0].i, 1);  // the first NaN
  r = run("amin", PRISM_DTYPE_F32, {&x}, {}, {1});
  EXPECT_TRUE(std::isnan(r.values[0].f));
}

TEST(Reference, EmptyReductions) {
  Host e(PRISM_DTYPE_F32, {});
  EXPECT_EQ(run("sum", PRISM_DTYPE_F32, {&e}, {}, {1}).values[0].f, 0);
  EXPECT_EQ(run("prod", PRISM_DTYPE_F32, {&e}, {}, {1}).values[0].f, 1);
  EXPECT_EQ(run("all", PRISM_DTYPE_BOOL, {&e}, {}, {1}).values[0].i, 1);
  EXPECT_FALSE(run("amax", PRISM_DTYPE_F32, {&e}, {}, {1}).error.empty());
}

// The kernel ops of docs/ops.md: the `names` in the first cell of every
// table whose header is "| kernel op | ...".
std::set<std::string> docs_kernel_ops() {
  std::ifstream f(PRISM_DOCS_OPS_MD);
  std::set<std::string> ops;
  std::string line;
  bool in_table = false;
  while (std::getline(f, line)) {
    if (line.rfind("| kernel op |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    if (!in_table || line.rfind("|---", 0) == 0) continue;
    const std::string cell = line.substr(1, line.find('|', 1) - 1);
    for (size_t a = cell.find('`'); a != std::string::npos; a = cell.find('`', a + 1)) {
      const size_t b = cell.find('`', a + 1);
      if (b == std::string::npos) break;
      std::istringstream names(cell.substr(a + 1, b - a - 1));
      for (std::string n; names >> n;) ops.insert(n);
      a = b;
    }
  }
  return ops;
}

TEST(Reference, OpTableCoversDocsOps) {
  const std::set<std::string> docs = docs_kernel_ops();
  ASSERT_GE(docs.size(), 70u) << "could not read the kernel-op tables of " << PRISM_DOCS_OPS_MD;
  for (const std::string& op : docs)
    EXPECT_NE(find_op(op), nullptr) << op << " (docs/ops.md) has no reference";
  for (const OpSpec& s : op_table()) EXPECT_EQ(docs.count(s.name), 1u) << s.name << " is not in docs/ops.md";
  EXPECT_EQ(op_table().size(), docs.size());
}

TEST(Reference, BitwiseShiftsAndMath) {
  Host a(PRISM_DTYPE_I8, {-128, 5, -1, 64});
  Host k(PRISM_DTYPE_I8, {1, 2, 8, 1});
  RefResult r = run("bitwise_left_shift", PRISM_DTYPE_I8, {&a, &k});
  EXPECT_EQ(r.values[0].i, 0);  // bits shifted out of int8
  EXPECT_EQ(r.values[1].i, 20);
  EXPECT_EQ(r.values[2].i, 0);     // count >= 8
  EXPECT_EQ(r.values[3].i, -128);  // into the sign bit
  r = run("bitwise_right_shift", PRISM_DTYPE_I8, {&a, &k});
  EXPECT_EQ(r.values[0].i, -64);  // arithmetic
  EXPECT_EQ(r.values[2].i, -1);   // sign fill
  r = run("bitwise_not", PRISM_DTYPE_I8, {&a});
  EXPECT_EQ(r.values[0].i, 127);
  Host t(PRISM_DTYPE_BOOL, {1, 0});
  r = run("bitwise_not", PRISM_DTYPE_BOOL, {&t});
  EXPECT_EQ(r.values[0].i, 0);
  EXPECT_EQ(r.values[1].i, 1);
  Host x(PRISM_DTYPE_F64, {-INFINITY, 1000.0, 0.0});
  r = run("logaddexp", PRISM_DTYPE_F64, {&x, &x});
  EXPECT_EQ(r.values[0].f, -INFINITY);
  EXPECT_NEAR(r.values[1].f, 1000.0 + std::log(2.0), 1e-12);
  Host y(PRISM_DTYPE_F64, {1.0, -1.0, -2.0});
  r = run("remainder", PRISM_DTYPE_F64, {&x, &y});
  EXPECT_TRUE(std::signbit(r.values[2].f));  // 0 % -2 is -0.0, as Python
}

}  // namespace
}  // namespace prism::conformance
