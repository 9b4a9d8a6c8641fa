// cpu_plugin_test.cpp — CPU plugin table, device, memory and copies; SDK attributes, dtypes, half floats.
#include <cstdlib>

#include "cpu_test_util.hpp"

extern "C" size_t prism_cpu_test_c99_dtype_size(int32_t dtype);
extern "C" prism_plugin_error* prism_cpu_test_c99_entry(const prism_host_table* host,
                                                        const prism_plugin_table** table,
                                                        const prism_host_table** out_host);

namespace prism_cpu_test {
namespace {

using PluginTest = CpuTest;

TEST_F(PluginTest, TableDescribesTheCpuPlugin) {
  const prism_plugin_table* t = Plugin::get().table();
  EXPECT_EQ(t->abi_major, PRISM_PLUGIN_ABI_MAJOR);
  EXPECT_STREQ(t->name, "cpu");
  EXPECT_STREQ(t->device_type, "cpu");
  EXPECT_EQ(t->kernel_def_size, sizeof(prism_kernel_def));
  EXPECT_EQ(t->event_create, nullptr);
  for (const char* op : {"fill",
                         "copy",
                         "add",
                         "sub",
                         "mul",
                         "div",
                         "remainder",
                         "pow",
                         "maximum",
                         "minimum",
                         "eq",
                         "ne",
                         "lt",
                         "le",
                         "gt",
                         "ge",
                         "logical_and",
                         "logical_or",
                         "logical_xor",
                         "logical_not",
                         "where",
                         "clamp",
                         "sum",
                         "prod",
                         "amax",
                         "amin",
                         "argmax",
                         "argmin",
                         "all",
                         "any",
                         "bmm",
                         "philox_uniform",
                         "philox_normal",
                         "philox_randint",
                         "philox_bernoulli",
                         "neg",
                         "abs",
                         "sign",
                         "exp",
                         "log",
                         "log1p",
                         "expm1",
                         "sqrt",
                         "rsqrt",
                         "reciprocal",
                         "sin",
                         "cos",
                         "tanh",
                         "sigmoid",
                         "gelu",
                         "silu",
                         "square",
                         "relu",
                         "floor",
                         "ceil",
                         "round"}) {
    const prism_kernel_def* k = find_kernel(op);
    ASSERT_NE(k, nullptr) << op;
    EXPECT_NE(k->run, nullptr);
    EXPECT_NE(k->dtype_mask, 0u);
  }
}

TEST_F(PluginTest, OnlyTheEntryPointIsExported) {
  void* h = dlopen(PRISM_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(h, nullptr);
  EXPECT_NE(dlsym(h, "prism_plugin_entry"), nullptr);
  EXPECT_EQ(dlsym(h, "_ZN5prism3cpu6g_hostE"), nullptr);
  dlclose(h);
}

TEST_F(PluginTest, RefusesAnotherAbiMajor) {
  void* h = dlopen(PRISM_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD);
  auto entry = reinterpret_cast<prism_plugin_entry_fn>(dlsym(h, PRISM_PLUGIN_ENTRY_SYMBOL));
  prism_host_table host = Plugin::get().host();
  host.abi_major = 2;
  const prism_plugin_table* table = nullptr;
  Status s = take(entry(&host, &table));
  EXPECT_EQ(s.code, PRISM_ERROR_UNAVAILABLE);
  EXPECT_NE(s.message.find("plugin ABI 1."), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("2."), std::string::npos) << s.message;
  dlclose(h);
}

TEST_F(PluginTest, OneDeviceWithProps) {
  const prism_plugin_table* t = Plugin::get().table();
  int32_t count = 0;
  const char* reason = "x";
  ASSERT_TRUE(take(t->device_count(Plugin::get().ctx(), &count, &reason)).ok());
  EXPECT_EQ(count, 1);
  prism_device_props props{};
  props.struct_size = sizeof(props);
  ASSERT_TRUE(take(t->device_props(Plugin::get().ctx(), 0, &props)).ok());
  EXPECT_STREQ(props.stable_id, "cpu-host");
  ASSERT_NE(props.name, nullptr);
  ASSERT_NE(props.vendor, nullptr);
  EXPECT_GT(props.total_memory, 0u);
  EXPECT_EQ(props.dtype_mask, PRISM_DTYPE_MASK_ALL | PRISM_DTYPE_MASK_COMPLEX);
  EXPECT_TRUE(props.capabilities & PRISM_DEVICE_CAP_HOST_MEMORY);
  EXPECT_TRUE(props.capabilities & PRISM_DEVICE_CAP_FP64);
  EXPECT_TRUE(props.capabilities & PRISM_DEVICE_CAP_FP16);
  EXPECT_FALSE(props.capabilities & PRISM_DEVICE_CAP_ASYNC);
  EXPECT_EQ(take(t->device_props(Plugin::get().ctx(), 1, &props)).code, PRISM_ERROR_INVALID_ARGUMENT);
}

TEST_F(PluginTest, OldPropsStructOnlyGetsItsFields) {
  prism_device_props props{};
  std::memset(&props, 0x5A, sizeof props);
  props.struct_size = offsetof(prism_device_props, vendor);  // a reader that knows only `name`
  ASSERT_TRUE(take(Plugin::get().table()->device_props(Plugin::get().ctx(), 0, &props)).ok());
  EXPECT_NE(props.name, nullptr);
  unsigned char raw[sizeof(void*)];
  std::memcpy(raw, &props.vendor, sizeof raw);
  for (unsigned char b : raw) EXPECT_EQ(b, 0x5A);
}

TEST_F(PluginTest, AllocIsAlignedAndZeroBytesIsValid) {
  const prism_plugin_table* t = Plugin::get().table();
  void* ctx = Plugin::get().ctx();
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{3}, size_t{64}, size_t{1000}, size_t{1} << 20}) {
    void* p = nullptr;
    ASSERT_TRUE(take(t->alloc(ctx, 0, bytes, &p)).ok()) << bytes;
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    if (bytes > 0) std::memset(p, 1, bytes);
    t->free(ctx, 0, p);
  }
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_TRUE(take(t->alloc(ctx, 0, 0, &a)).ok());
  ASSERT_TRUE(take(t->alloc(ctx, 0, 0, &b)).ok());
  EXPECT_NE(a, b);
  t->free(ctx, 0, a);
  t->free(ctx, 0, b);
  t->free(ctx, 0, nullptr);
}

TEST_F(PluginTest, HugeAllocIsOutOfMemory) {
  const prism_plugin_table* t = Plugin::get().table();
  for (size_t bytes : {size_t{1} << 62, ~size_t{0}, ~size_t{0} - 10}) {
    void* p = reinterpret_cast<void*>(1);
    Status s = take(t->alloc(Plugin::get().ctx(), 0, bytes, &p));
    EXPECT_EQ(s.code, PRISM_ERROR_OUT_OF_MEMORY) << bytes;
    EXPECT_EQ(p, nullptr);
  }
}

TEST_F(PluginTest, CopiesRoundTrip) {
  const prism_plugin_table* t = Plugin::get().table();
  void* ctx = Plugin::get().ctx();
  void* buf = nullptr;
  ASSERT_TRUE(take(t->alloc(ctx, 0, 256, &buf)).ok());
  std::vector<uint8_t> src(100), dst(100, 0);
  for (int i = 0; i < 100; ++i) src[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(take(t->copy_from_host(ctx, 0, nullptr, src.data(), buf, 17, 100)).ok());
  ASSERT_TRUE(take(t->synchronize(ctx, 0, nullptr)).ok());
  ASSERT_TRUE(take(t->copy_to_host(ctx, 0, nullptr, buf, 17, dst.data(), 100)).ok());
  EXPECT_EQ(src, dst);
  EXPECT_TRUE(take(t->copy_to_host(ctx, 0, nullptr, buf, 0, nullptr, 0)).ok());
  t->free(ctx, 0, buf);
}

TEST_F(PluginTest, MissingRequiredAttributeNamesOpAndAttr) {
  Tensor out(PRISM_DTYPE_F32, {4});
  Status s = call("fill", {}, {&out});
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("fill"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("value"), std::string::npos) << s.message;
  s = call("philox_uniform", {}, {&out}, {attr_int("seed", 1)});
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("philox_uniform"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("offset"), std::string::npos) << s.message;
  Tensor x(PRISM_DTYPE_F32, {2, 3});
  Tensor idx(PRISM_DTYPE_I64, {2, 1});
  s = call("argmax", {&x}, {&idx});
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("dim"), std::string::npos) << s.message;
}

TEST_F(PluginTest, BadArityAndDtypeAreErrors) {
  Tensor a(PRISM_DTYPE_F32, {4}), b(PRISM_DTYPE_F64, {4}), out(PRISM_DTYPE_F32, {4});
  EXPECT_EQ(call("add", {&a}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(call("add", {&a, &b}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
  Tensor wrong(PRISM_DTYPE_F32, {5});
  EXPECT_EQ(call("add", {&a, &wrong}, {&out}).code, PRISM_ERROR_INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------
// SDK
// ---------------------------------------------------------------------------

// Note [SDK table set-up]: a C99 plugin's table and entry through the SDK.
TEST(SdkTest, TableSetUpAndEntry) {
  prism_host_table host{};
  host.struct_size = sizeof host;
  host.abi_major = PRISM_PLUGIN_ABI_MAJOR;
  host.abi_minor = PRISM_PLUGIN_ABI_MINOR;
  host.error_create = prism_cpu_test::host_error_create;
  const prism_plugin_table* table = nullptr;
  const prism_host_table* stored = nullptr;
  EXPECT_EQ(prism_cpu_test_c99_entry(&host, &table, &stored), nullptr);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(stored, &host);
  EXPECT_EQ(table->struct_size, sizeof(prism_plugin_table));
  EXPECT_EQ(table->abi_major, PRISM_PLUGIN_ABI_MAJOR);
  EXPECT_EQ(table->abi_minor, PRISM_PLUGIN_ABI_MINOR);
  EXPECT_STREQ(table->name, "c99");
  EXPECT_STREQ(table->device_type, "c99");
  EXPECT_STREQ(table->version, "9.9");
  EXPECT_EQ(table->kernel_def_size, sizeof(prism_kernel_def));
  EXPECT_NE(table->init, nullptr);
  EXPECT_NE(table->synchronize, nullptr);
  EXPECT_EQ(table->event_create, nullptr);  // optional slots stay NULL
  EXPECT_EQ(table->host_alloc, nullptr);
  // device_props through prism_sdk_device_props_set: a short struct gets only its fields
  prism_device_props full{};
  full.struct_size = sizeof full;
  ASSERT_EQ(table->device_props(nullptr, 0, &full), nullptr);
  EXPECT_STREQ(full.name, "c99");
  EXPECT_STREQ(full.stable_id, "c99-0");
  EXPECT_EQ(full.total_memory, 1024u);
  EXPECT_EQ(full.capabilities, static_cast<uint32_t>(PRISM_DEVICE_CAP_HOST_MEMORY));
  prism_device_props shorter{};
  shorter.struct_size = offsetof(prism_device_props, stable_id);
  ASSERT_EQ(table->device_props(nullptr, 0, &shorter), nullptr);
  EXPECT_STREQ(shorter.vendor, "sdk");
  EXPECT_EQ(shorter.stable_id, nullptr);
  EXPECT_EQ(shorter.total_memory, 0u);
  // another ABI major: an UNAVAILABLE error naming both versions, no table, host not stored
  host.abi_major = PRISM_PLUGIN_ABI_MAJOR + 1;
  table = reinterpret_cast<const prism_plugin_table*>(&host);
  prism_plugin_error* err = prism_cpu_test_c99_entry(&host, &table, &stored);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->code, PRISM_ERROR_UNAVAILABLE);
  EXPECT_NE(err->message.find("c99: plugin ABI"), std::string::npos) << err->message;
  EXPECT_EQ(table, nullptr);
  EXPECT_EQ(stored, nullptr);
  delete err;
  // no error constructor: nothing can be reported, nothing is set
  host.abi_major = PRISM_PLUGIN_ABI_MAJOR;
  host.error_create = nullptr;
  EXPECT_EQ(prism_cpu_test_c99_entry(&host, &table, &stored), nullptr);
  EXPECT_EQ(stored, nullptr);
}

TEST(SdkTest, DtypeSizesAndNames) {
  const size_t sizes[] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8, 8, 16};
  for (int dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
    EXPECT_EQ(prism_sdk_dtype_size(dt), sizes[dt]);
    EXPECT_EQ(prism_cpu_test_c99_dtype_size(dt), sizes[dt]);
  }
  EXPECT_EQ(prism_sdk_dtype_size(42), 0u);
  EXPECT_STREQ(prism_sdk_dtype_name(PRISM_DTYPE_BF16), "bf16");
  EXPECT_STREQ(prism_sdk_dtype_name(-1), "invalid");
}

TEST(SdkTest, DescNumelAndContiguity) {
  const int64_t sizes[] = {2, 3, 4};
  const int64_t dense[] = {12, 4, 1};
  const int64_t trans[] = {12, 1, 3};
  prism_tensor_desc d{};
  d.struct_size = sizeof d;
  d.ndim = 3;
  d.sizes = sizes;
  d.strides = dense;
  EXPECT_EQ(prism_sdk_desc_numel(&d), 24);
  EXPECT_TRUE(prism_sdk_desc_is_contiguous(&d));
  d.strides = trans;
  EXPECT_FALSE(prism_sdk_desc_is_contiguous(&d));
  d.ndim = 0;
  EXPECT_EQ(prism_sdk_desc_numel(&d), 1);
  EXPECT_TRUE(prism_sdk_desc_is_contiguous(&d));
}

TEST(SdkTest, AttributeLookup) {
  prism_attr attrs[3] = {attr_int("dim", -1), attr_float("p", 0.25), attr_scalar("alpha", 2.5)};
  prism_kernel_call c{};
  c.struct_size = sizeof c;
  c.op = "test_op";
  c.attrs = attrs;
  c.n_attrs = 3;
  EXPECT_EQ(prism_sdk_attr_find(&c, "p"), &attrs[1]);
  EXPECT_EQ(prism_sdk_attr_find(&c, "q"), nullptr);
  EXPECT_EQ(prism_sdk_attr_int(&c, "dim", 7), -1);
  EXPECT_EQ(prism_sdk_attr_int(&c, "missing", 7), 7);
  EXPECT_DOUBLE_EQ(prism_sdk_attr_float(&c, "p", 0), 0.25);
  EXPECT_DOUBLE_EQ(prism_sdk_attr_float(&c, "dim", 0), -1.0);
  int64_t i = 0;
  double f = 0;
  EXPECT_TRUE(prism_sdk_attr_scalar(&c, "alpha", 1, 1.0, &i, &f));
  EXPECT_EQ(i, 2);
  EXPECT_DOUBLE_EQ(f, 2.5);
  EXPECT_FALSE(prism_sdk_attr_scalar(&c, "beta", 1, 1.0, &i, &f));
  EXPECT_EQ(i, 1);
  const prism_attr* out = nullptr;
  prism_host_table host = Plugin::get().host();
  Status s = take(prism_sdk_attr_require(&host, &c, "seed", PRISM_ATTR_INT, &out));
  EXPECT_EQ(s.code, PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(s.message, "test_op: missing required attribute 'seed'");
  EXPECT_TRUE(take(prism_sdk_attr_require(&host, &c, "p", PRISM_ATTR_FLOAT, &out)).ok());
  EXPECT_EQ(out, &attrs[1]);
  s = take(prism_sdk_error(&host, PRISM_ERROR_INTERNAL, "x=%d y=%s", 3, "z"));
  EXPECT_EQ(s.code, PRISM_ERROR_INTERNAL);
  EXPECT_EQ(s.message, "x=3 y=z");
}

TEST(SdkTest, HalfConversions) {
  struct Case {
    float f;
    uint16_t h;
  } cases[] = {{0.0f, 0x0000},     {-0.0f, 0x8000},         {1.0f, 0x3C00},  {-2.0f, 0xC000},
               {65504.0f, 0x7BFF}, {65520.0f, 0x7C00},      {1e10f, 0x7C00}, {5.9604645e-8f, 0x0001},
               {2.9802322e-8f, 0}, {6.1035156e-5f, 0x0400}, {0.1f, 0x2E66},  {1.0009765625f, 0x3C01}};
  for (const Case& c : cases) EXPECT_EQ(prism_sdk_f32_to_f16(c.f), c.h) << c.f;
  // ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10
  EXPECT_EQ(prism_sdk_f32_to_f16(1.0f + 0.00048828125f), 0x3C00);
  EXPECT_EQ(prism_sdk_f32_to_f16(1.0009765625f + 0.00048828125f), 0x3C02);
  // every f16 value round-trips
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = prism_sdk_f16_to_f32(static_cast<uint16_t>(h));
    if (f != f) {
      EXPECT_NE(prism_sdk_f32_to_f16(f) & 0x7FFF, 0x7C00);
      EXPECT_EQ(prism_sdk_f32_to_f16(f) & 0x7C00, 0x7C00);
      continue;
    }
    EXPECT_EQ(prism_sdk_f32_to_f16(f), h) << h;
  }
  EXPECT_TRUE(std::isinf(prism_sdk_f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isnan(prism_sdk_f16_to_f32(prism_sdk_f32_to_f16(NAN))));
}

TEST(SdkTest, BFloat16Conversions) {
  EXPECT_EQ(prism_sdk_f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(prism_sdk_f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(prism_sdk_bf16_to_f32(0x3F80), 1.0f);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even wins
  EXPECT_EQ(prism_sdk_f32_to_bf16(1.00390625f), 0x3F80);
  EXPECT_EQ(prism_sdk_f32_to_bf16(1.01171875f), 0x3F82);
  EXPECT_EQ(prism_sdk_f32_to_bf16(3.4e38f), 0x7F80);  // rounds up to inf
  const uint16_t nan = prism_sdk_f32_to_bf16(NAN);
  EXPECT_TRUE(std::isnan(prism_sdk_bf16_to_f32(nan)));
  const uint16_t snan = prism_sdk_f32_to_bf16(prism_sdk_bits_to_f32(0x7F800001u));  // low payload only
  EXPECT_TRUE(std::isnan(prism_sdk_bf16_to_f32(snan)));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = prism_sdk_bf16_to_f32(static_cast<uint16_t>(b));
    if (f == f) {
      EXPECT_EQ(prism_sdk_f32_to_bf16(f), b);
    }
  }
}

}  // namespace
}  // namespace prism_cpu_test
