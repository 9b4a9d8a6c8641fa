/* capi_test.c — the pure-C99 test of the Prism user ABI: calls every function in prism.h and checks values.
 */

/*
 * Note [C ABI test]
 * -----------------
 * This file is compiled as C99 with -pedantic -Werror and links only the
 * shared libprism, exactly as a C user would. Every function declared in
 * prism.h is called at least once (tests/capi/check_coverage.cmake checks
 * that), and results are checked by value, not only by status. A failed
 * expectation prints file:line and carries on, so one run lists every
 * problem; the exit code is the number of failures (capped at 255).
 */

#include <dlpack/dlpack.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../prism_require_devices.h"
#include "prism/plugin.h"
#include "prism/prism.h"

#ifndef PRISM_TEST_PLUGIN_DIR
#define PRISM_TEST_PLUGIN_DIR "."
#endif

/* ===========================================================================
 * A tiny assertion kit
 * ======================================================================== */

static int g_failures = 0;
static const char* g_section = "";

#define EXPECT(cond)                                                                            \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      fprintf(stderr, "%s:%d: [%s] EXPECT(%s) failed\n", __FILE__, __LINE__, g_section, #cond); \
      ++g_failures;                                                                             \
    }                                                                                           \
  } while (0)

#define EXPECT_OK(call)                                                                   \
  do {                                                                                    \
    prism_status s_ = (call);                                                             \
    if (s_ != PRISM_OK) {                                                                 \
      fprintf(stderr, "%s:%d: [%s] %s -> %s: %s\n", __FILE__, __LINE__, g_section, #call, \
              prism_status_name(s_), prism_last_error());                                 \
      ++g_failures;                                                                       \
    }                                                                                     \
  } while (0)

#define EXPECT_STATUS(call, want)                                                                         \
  do {                                                                                                    \
    prism_status s_ = (call);                                                                             \
    if (s_ != (want)) {                                                                                   \
      fprintf(stderr, "%s:%d: [%s] %s -> %s, expected %s (message: %s)\n", __FILE__, __LINE__, g_section, \
              #call, prism_status_name(s_), prism_status_name(want), prism_last_error());                 \
      ++g_failures;                                                                                       \
    }                                                                                                     \
  } while (0)

/* The last error message contains `needle`. */
#define EXPECT_MSG_HAS(needle)                                                                               \
  do {                                                                                                       \
    if (strstr(prism_last_error(), (needle)) == NULL) {                                                      \
      fprintf(stderr, "%s:%d: [%s] message lacks \"%s\": \"%s\"\n", __FILE__, __LINE__, g_section, (needle), \
              prism_last_error());                                                                           \
      ++g_failures;                                                                                          \
    }                                                                                                        \
  } while (0)

#define I64S(...) ((const int64_t[]){__VA_ARGS__})
#define F64S(...) ((const double[]){__VA_ARGS__})
#define F32S(...) ((const float[]){__VA_ARGS__})
#define I32S(...) ((const int32_t[]){__VA_ARGS__})

#define EXPECT_VALUES(t, want, n, tol) check_values((t), (want), (n), (tol), __LINE__)
#define EXPECT_SIZES(t, ndim, want) check_sizes((t), (ndim), (want), __LINE__)
#define EXPECT_STRIDES(t, ndim, want) check_strides((t), (ndim), (want), __LINE__)

/* Copies any tensor to host as float64 (through prism_to_dtype). Returns 0 on failure. */
static int read_f64(prism_tensor_t t, double* dst, int64_t n) {
  prism_tensor_t d = NULL;
  int ok = 0;
  if (prism_tensor_numel(t) != n) return 0;
  if (prism_to_dtype(t, PRISM_DTYPE_F64, &d) != PRISM_OK) return 0;
  ok = prism_tensor_copy_to_host(d, dst, (size_t)n * sizeof(double)) == PRISM_OK;
  prism_tensor_release(d);
  return ok;
}

static void check_values(prism_tensor_t t, const double* want, int64_t n, double tol, int line) {
  double got[256];
  int64_t i;
  if (n > 256 || !read_f64(t, got, n)) {
    fprintf(stderr, "%s:%d: [%s] could not read %lld values (numel %lld): %s\n", __FILE__, line, g_section,
            (long long)n, (long long)prism_tensor_numel(t), prism_last_error());
    ++g_failures;
    return;
  }
  for (i = 0; i < n; ++i) {
    int same = (isnan(want[i]) && isnan(got[i])) || got[i] == want[i] || fabs(got[i] - want[i]) <= tol;
    if (!same) {
      fprintf(stderr, "%s:%d: [%s] value %lld: got %.9g, expected %.9g\n", __FILE__, line, g_section,
              (long long)i, got[i], want[i]);
      ++g_failures;
      return;
    }
  }
}

static void check_sizes(prism_tensor_t t, int32_t ndim, const int64_t* want, int line) {
  int64_t got[PRISM_MAX_DIMS];
  int32_t i;
  if (prism_tensor_ndim(t) != ndim || prism_tensor_sizes(t, got, PRISM_MAX_DIMS) != PRISM_OK) {
    fprintf(stderr, "%s:%d: [%s] ndim %d, expected %d\n", __FILE__, line, g_section, prism_tensor_ndim(t),
            ndim);
    ++g_failures;
    return;
  }
  for (i = 0; i < ndim; ++i) {
    if (got[i] != want[i]) {
      fprintf(stderr, "%s:%d: [%s] size[%d] = %lld, expected %lld\n", __FILE__, line, g_section, i,
              (long long)got[i], (long long)want[i]);
      ++g_failures;
      return;
    }
  }
}

static void check_strides(prism_tensor_t t, int32_t ndim, const int64_t* want, int line) {
  int64_t got[PRISM_MAX_DIMS];
  int32_t i;
  if (prism_tensor_ndim(t) != ndim || prism_tensor_strides(t, got, PRISM_MAX_DIMS) != PRISM_OK) {
    fprintf(stderr, "%s:%d: [%s] strides: ndim %d, expected %d\n", __FILE__, line, g_section,
            prism_tensor_ndim(t), ndim);
    ++g_failures;
    return;
  }
  for (i = 0; i < ndim; ++i) {
    if (got[i] != want[i]) {
      fprintf(stderr, "%s:%d: [%s] stride[%d] = %lld, expected %lld\n", __FILE__, line, g_section, i,
              (long long)got[i], (long long)want[i]);
      ++g_failures;
      return;
    }
  }
}

/* A new tensor from host data (NULL on failure, which is counted). */
static prism_tensor_t make(const void* data, prism_dtype dtype, const int64_t* sizes, int32_t ndim) {
  prism_tensor_t t = NULL;
  prism_status s = prism_from_data(data, sizes, ndim, dtype, "cpu", &t);
  if (s != PRISM_OK) {
    fprintf(stderr, "[%s] prism_from_data failed: %s\n", g_section, prism_last_error());
    ++g_failures;
  }
  return t;
}

/* 0, 1, ..., n-1 as float32 viewed with `sizes`. */
static prism_tensor_t iota(const int64_t* sizes, int32_t ndim) {
  prism_tensor_t flat = NULL, out = NULL;
  int64_t n = 1;
  int32_t i;
  for (i = 0; i < ndim; ++i) n *= sizes[i];
  EXPECT_OK(prism_arange(0, (double)n, 1, PRISM_DTYPE_F32, "cpu", &flat));
  EXPECT_OK(prism_view(flat, sizes, ndim, &out));
  prism_tensor_release(flat);
  return out;
}

/* Releases a handle and forgets it, so a second release is a no-op. */
#define rel(t)               \
  do {                       \
    prism_tensor_release(t); \
    (t) = NULL;              \
  } while (0)

/* 1 when a and b view the same memory (compared through their DLPack exports). */
static int shares_storage(prism_tensor_t a, prism_tensor_t b) {
  DLManagedTensor *da = NULL, *db = NULL;
  int same = 0;
  if (prism_to_dlpack(a, &da) == PRISM_OK && prism_to_dlpack(b, &db) == PRISM_OK) {
    same = (char*)da->dl_tensor.data + da->dl_tensor.byte_offset ==
           (char*)db->dl_tensor.data + db->dl_tensor.byte_offset;
  }
  if (da) da->deleter(da);
  if (db) db->deleter(db);
  return same;
}

/* Accepts "2, 3", "2,3" or "2x3" for a shape in a message. */
static int has_shape(const char* msg, const char* comma_form) {
  char compact[64], times[64];
  size_t i, j = 0, k = 0;
  for (i = 0; comma_form[i] && j < sizeof(compact) - 1; ++i) {
    if (comma_form[i] == ' ') continue;
    compact[j++] = comma_form[i];
    times[k++] = comma_form[i] == ',' ? 'x' : comma_form[i];
  }
  compact[j] = '\0';
  times[k] = '\0';
  return strstr(msg, comma_form) != NULL || strstr(msg, compact) != NULL || strstr(msg, times) != NULL;
}

/* ===========================================================================
 * Errors, versions, dtypes
 * ======================================================================== */

static void test_errors_and_versions(void) {
  uint32_t major = 0, minor = 99;
  g_section = "versions";
  EXPECT(prism_version() != NULL && prism_version()[0] >= '0' && prism_version()[0] <= '9');
  prism_plugin_abi_version(&major, &minor);
  EXPECT(major == PRISM_PLUGIN_ABI_MAJOR);
  EXPECT(minor == PRISM_PLUGIN_ABI_MINOR);
  prism_plugin_abi_version(NULL, NULL); /* both pointers may be NULL */

  EXPECT(strcmp(prism_status_name(PRISM_OK), "OK") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_INVALID_ARGUMENT), "INVALID_ARGUMENT") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_UNIMPLEMENTED), "UNIMPLEMENTED") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_OUT_OF_MEMORY), "OUT_OF_MEMORY") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_UNAVAILABLE), "UNAVAILABLE") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_DEVICE_LOST), "DEVICE_LOST") == 0);
  EXPECT(strcmp(prism_status_name(PRISM_ERROR_INTERNAL), "INTERNAL") == 0);
  EXPECT(strcmp(prism_status_name((prism_status)77), "UNKNOWN") == 0);

  /* A failing call sets the thread's last error; clear resets it. */
  EXPECT_STATUS(prism_tensor_retain(NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_last_status() == PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(strlen(prism_last_error()) > 0);
  prism_clear_error();
  EXPECT(prism_last_status() == PRISM_OK);
  EXPECT(prism_last_error() != NULL && prism_last_error()[0] == '\0');
}

static void test_dtypes(void) {
  prism_dtype out = PRISM_DTYPE_BOOL;
  g_section = "dtypes";
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_BOOL), "bool") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_U8), "uint8") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_I8), "int8") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_I16), "int16") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_I32), "int32") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_I64), "int64") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_F16), "float16") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_BF16), "bfloat16") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_F32), "float32") == 0);
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_F64), "float64") == 0);
  EXPECT(strcmp(prism_dtype_name((prism_dtype)42), "invalid") == 0);

  EXPECT(prism_dtype_size(PRISM_DTYPE_BOOL) == 1);
  EXPECT(prism_dtype_size(PRISM_DTYPE_U8) == 1);
  EXPECT(prism_dtype_size(PRISM_DTYPE_I16) == 2);
  EXPECT(prism_dtype_size(PRISM_DTYPE_I32) == 4);
  EXPECT(prism_dtype_size(PRISM_DTYPE_I64) == 8);
  EXPECT(prism_dtype_size(PRISM_DTYPE_F16) == 2);
  EXPECT(prism_dtype_size(PRISM_DTYPE_BF16) == 2);
  EXPECT(prism_dtype_size(PRISM_DTYPE_F32) == 4);
  EXPECT(prism_dtype_size(PRISM_DTYPE_F64) == 8);
  EXPECT(prism_dtype_size((prism_dtype)42) == 0);

  /* torch.promote_types spot checks. */
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_I32, PRISM_DTYPE_F32, &out));
  EXPECT(out == PRISM_DTYPE_F32);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_U8, PRISM_DTYPE_I8, &out));
  EXPECT(out == PRISM_DTYPE_I16);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_F16, PRISM_DTYPE_BF16, &out));
  EXPECT(out == PRISM_DTYPE_F32);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_BOOL, PRISM_DTYPE_U8, &out));
  EXPECT(out == PRISM_DTYPE_U8);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_I64, PRISM_DTYPE_F16, &out));
  EXPECT(out == PRISM_DTYPE_F16);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_I8, PRISM_DTYPE_I64, &out));
  EXPECT(out == PRISM_DTYPE_I64);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_F32, PRISM_DTYPE_F64, &out));
  EXPECT(out == PRISM_DTYPE_F64);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_BOOL, PRISM_DTYPE_BOOL, &out));
  EXPECT(out == PRISM_DTYPE_BOOL);
  out = PRISM_DTYPE_I64;
  EXPECT_STATUS(prism_promote_types((prism_dtype)42, PRISM_DTYPE_F32, &out), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(out == PRISM_DTYPE_I64); /* untouched on error */
}

/* ===========================================================================
 * Plugins, load report, devices
 * ======================================================================== */

static void test_plugins_and_devices(void) {
  size_t n = 0, i;
  int found_loaded = 0, found_missing = 0, found_cpu = 0;
  int32_t count = 0, d;
  const char* missing = "/nonexistent/dir/libprism-missing.so";
  prism_load_report_row row;
  prism_device_info info;
  g_section = "plugins";

  EXPECT_OK(prism_plugins_load_default());
  EXPECT_OK(prism_plugins_load_default());                                /* later calls are no-ops */
  EXPECT_OK(prism_plugin_load(PRISM_TEST_PLUGIN_DIR "/libprism-cpu.so")); /* already loaded: no-op */
  EXPECT_STATUS(prism_plugin_load(missing), PRISM_ERROR_UNAVAILABLE);
  EXPECT(strlen(prism_last_error()) > 0);
  EXPECT_STATUS(prism_plugin_load(NULL), PRISM_ERROR_INVALID_ARGUMENT);

  EXPECT_OK(prism_load_report_count(&n));
  EXPECT(n >= 2);
  for (i = 0; i < n; ++i) {
    memset(&row, 0, sizeof(row));
    row.struct_size = sizeof(row);
    EXPECT_OK(prism_load_report_get(i, &row));
    EXPECT(row.path != NULL && row.plugin_name != NULL && row.reason != NULL);
    if (row.path == NULL || row.plugin_name == NULL || row.reason == NULL) continue;
    if (row.loaded && row.device_count > 0) {
      found_loaded = 1;
      EXPECT(row.abi_major == PRISM_PLUGIN_ABI_MAJOR);
      EXPECT(strlen(row.plugin_name) > 0);
    }
    if (strcmp(row.path, missing) == 0) {
      found_missing = 1;
      EXPECT(row.loaded == 0);
      EXPECT(row.device_count == 0);
      EXPECT(strlen(row.reason) > 0);
    }
  }
  EXPECT(found_loaded);
  EXPECT(found_missing);
  row.struct_size = sizeof(row);
  EXPECT_STATUS(prism_load_report_get(n, &row), PRISM_ERROR_INVALID_ARGUMENT);

  g_section = "devices";
  EXPECT_OK(prism_device_count(&count));
  EXPECT(count >= 1);
  for (d = 0; d < count; ++d) {
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    EXPECT_OK(prism_device_info_get(d, &info));
    EXPECT(info.device && info.plugin && info.name && info.vendor && info.stable_id);
    if (info.device && strcmp(info.device, "cpu:0") == 0) {
      found_cpu = 1;
      EXPECT((info.dtype_mask & PRISM_DTYPE_BIT(PRISM_DTYPE_F32)) != 0);
      EXPECT((info.dtype_mask & PRISM_DTYPE_BIT(PRISM_DTYPE_F64)) != 0);
      EXPECT((info.capabilities & PRISM_DEVICE_CAP_HOST_MEMORY) != 0);
      EXPECT(strlen(info.stable_id) > 0);
    }
  }
  EXPECT(found_cpu);
  info.struct_size = sizeof(info);
  EXPECT_STATUS(prism_device_info_get(count, &info), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_device_info_get(-1, &info), PRISM_ERROR_INVALID_ARGUMENT);

  EXPECT_OK(prism_synchronize("cpu"));
  EXPECT_OK(prism_synchronize(NULL)); /* NULL means "cpu" */
  EXPECT(prism_synchronize("nosuchdevice:3") != PRISM_OK);
  EXPECT_MSG_HAS("nosuchdevice");
}

/* ===========================================================================
 * Fallback policy, memory statistics
 * ======================================================================== */

/* Note [Memory limits]: a per-device cap turns an allocation beyond it into
 * OUT_OF_MEMORY; the other tensors stay intact and the program goes on. */
static void test_memory_limit(void) {
  uint64_t limit = 99;
  prism_tensor_t keep = NULL, a = NULL, b = NULL, huge = NULL;
  prism_memory_stats s;
  double v = 0;
  g_section = "memory limit";
  memset(&s, 0, sizeof(s));
  s.struct_size = sizeof(s);
  EXPECT_OK(prism_memory_get_limit("cpu", &limit));
  EXPECT(limit == 0); /* PRISM_MEMORY_LIMIT is unset in this test */
  EXPECT_STATUS(prism_memory_get_limit("cpu", NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_memory_set_limit("nosuchdevice", 1) != PRISM_OK);
  EXPECT_OK(prism_full(I64S(1024), 1, 3.0, PRISM_DTYPE_F32, "cpu", &keep)); /* 4 KiB, before the cap */
  EXPECT_OK(prism_memory_stats_get("cpu", &s));
  /* room for 256 KiB beyond what is held now */
  EXPECT_OK(prism_memory_set_limit(NULL, s.allocated + (256u << 10)));
  EXPECT_OK(prism_memory_get_limit("cpu:0", &limit));
  EXPECT(limit == s.allocated + (256u << 10));
  EXPECT_OK(prism_zeros(I64S(32, 1024), 2, PRISM_DTYPE_F32, "cpu", &a)); /* 128 KiB fits */
  EXPECT_STATUS(prism_zeros(I64S(64, 1024), 2, PRISM_DTYPE_F32, "cpu", &b), PRISM_ERROR_OUT_OF_MEMORY);
  EXPECT(b == NULL);
  EXPECT_MSG_HAS("cpu:0");
  EXPECT_MSG_HAS("memory limit");
  EXPECT_OK(prism_sum(keep, NULL, 0, 0, &huge)); /* small ops still run */
  EXPECT_OK(prism_tensor_item_double(huge, &v));
  EXPECT(v == 3.0 * 1024);
  rel(huge);
  rel(a);
  EXPECT_OK(prism_zeros(I64S(64, 1024), 2, PRISM_DTYPE_F32, "cpu", &b)); /* fits once a is gone */
  rel(b);
  EXPECT_OK(prism_memory_set_limit("cpu", 0));
  EXPECT_OK(prism_memory_get_limit("cpu", &limit));
  EXPECT(limit == 0);
  /* beyond the device's memory (2^60 bytes): refused before the plugin sees it */
  EXPECT_STATUS(prism_empty(I64S((int64_t)1 << 60), 1, PRISM_DTYPE_U8, "cpu", &huge),
                PRISM_ERROR_OUT_OF_MEMORY);
  EXPECT(huge == NULL);
  EXPECT_OK(prism_sum(keep, NULL, 0, 0, &huge));
  EXPECT_OK(prism_tensor_item_double(huge, &v));
  EXPECT(v == 3.0 * 1024);
  rel(huge);
  rel(keep);
}

static void test_fallback_and_memory(void) {
  prism_fallback_policy policy = PRISM_FALLBACK_ERROR;
  uint64_t count = 99;
  prism_memory_stats before, during, after;
  prism_tensor_t big = NULL;
  g_section = "fallback";

  EXPECT_OK(prism_fallback_get_policy(&policy));
  EXPECT(policy == PRISM_FALLBACK_WARN); /* the default when PRISM_FALLBACK is unset */
  EXPECT_OK(prism_fallback_set_policy(PRISM_FALLBACK_ERROR));
  EXPECT_OK(prism_fallback_get_policy(&policy));
  EXPECT(policy == PRISM_FALLBACK_ERROR);
  EXPECT_STATUS(prism_fallback_set_policy((prism_fallback_policy)9), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_fallback_set_policy(PRISM_FALLBACK_WARN));
  EXPECT_OK(prism_fallback_reset());
  EXPECT_OK(prism_fallback_count(NULL, &count));
  EXPECT(count == 0);
  count = 99;
  EXPECT_OK(prism_fallback_count("add", &count));
  EXPECT(count == 0); /* the CPU plugin runs add itself */

  g_section = "memory";
  memset(&before, 0, sizeof(before));
  before.struct_size = sizeof(before);
  during = before;
  after = before;
  EXPECT_OK(prism_memory_stats_get("cpu", &before));
  EXPECT(before.reserved >= before.allocated);
  EXPECT_OK(prism_zeros(I64S(256, 1024), 2, PRISM_DTYPE_F32, "cpu", &big)); /* 1 MiB */
  EXPECT_OK(prism_memory_stats_get("cpu", &during));
  EXPECT(during.allocated >= before.allocated + (1u << 20));
  EXPECT(during.peak_allocated >= during.allocated);
  EXPECT(during.reserved >= during.allocated);
  EXPECT(during.num_device_allocs + during.num_cache_hits > before.num_device_allocs + before.num_cache_hits);
  rel(big);
  EXPECT_OK(prism_memory_stats_get("cpu", &after));
  EXPECT(after.allocated == before.allocated);
  EXPECT(after.peak_allocated >= during.allocated);
  EXPECT_OK(prism_memory_reset_peak("cpu"));
  EXPECT_OK(prism_memory_stats_get("cpu", &after));
  EXPECT(after.peak_allocated == after.allocated);
  EXPECT_OK(prism_memory_empty_cache("cpu"));
  EXPECT_OK(prism_memory_stats_get("cpu", &after));
  EXPECT(after.reserved == after.allocated); /* nothing cached any more */
  EXPECT(prism_memory_stats_get("nosuchdevice", &after) != PRISM_OK);
  test_memory_limit();
}

/* ===========================================================================
 * Handles, metadata, creation
 * ======================================================================== */

static void test_metadata_and_creation(void) {
  prism_tensor_t z = NULL, o = NULL, f = NULL, s = NULL, e = NULL, a = NULL, l = NULL, like = NULL, em = NULL;
  prism_tensor_t keep = NULL;
  int64_t size = 0, sizes[PRISM_MAX_DIMS], iv = 0;
  double dv = 0;
  int16_t i16[4] = {-300, 7, 0, 32000}, back16[4] = {0, 0, 0, 0};
  g_section = "metadata";

  EXPECT_OK(prism_zeros(I64S(2, 3), 2, PRISM_DTYPE_F32, "cpu", &z));
  EXPECT(prism_tensor_ndim(z) == 2);
  EXPECT(prism_tensor_numel(z) == 6);
  EXPECT(prism_tensor_dtype(z) == PRISM_DTYPE_F32);
  EXPECT(strcmp(prism_tensor_device(z), "cpu:0") == 0);
  EXPECT(prism_tensor_storage_offset(z) == 0);
  EXPECT(prism_tensor_is_contiguous(z) == 1);
  EXPECT_OK(prism_tensor_size(z, -1, &size));
  EXPECT(size == 3);
  EXPECT_OK(prism_tensor_size(z, 0, &size));
  EXPECT(size == 2);
  size = 77;
  EXPECT_STATUS(prism_tensor_size(z, 2, &size), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(size == 77);
  EXPECT_SIZES(z, 2, I64S(2, 3));
  EXPECT_STRIDES(z, 2, I64S(3, 1));
  EXPECT_STATUS(prism_tensor_sizes(z, sizes, 1), PRISM_ERROR_INVALID_ARGUMENT); /* capacity < ndim */
  EXPECT_VALUES(z, F64S(0, 0, 0, 0, 0, 0), 6, 0);

  /* Plain queries on NULL return 0 / bool / "" and set the last error. */
  prism_clear_error();
  EXPECT(prism_tensor_ndim(NULL) == 0);
  EXPECT(prism_last_status() == PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_tensor_numel(NULL) == 0);
  EXPECT(prism_tensor_dtype(NULL) == PRISM_DTYPE_BOOL);
  EXPECT(prism_tensor_device(NULL) != NULL && prism_tensor_device(NULL)[0] == '\0');
  EXPECT(prism_tensor_storage_offset(NULL) == 0);
  EXPECT(prism_tensor_is_contiguous(NULL) == 0);

  /* retain / release: the tensor lives until the last reference goes. */
  EXPECT_OK(prism_tensor_retain(z));
  EXPECT_OK(prism_tensor_release(z));
  EXPECT(prism_tensor_numel(z) == 6);
  EXPECT_OK(prism_tensor_release(NULL)); /* a no-op */

  g_section = "creation";
  EXPECT_OK(prism_ones(I64S(3), 1, PRISM_DTYPE_I32, "cpu", &o));
  EXPECT(prism_tensor_dtype(o) == PRISM_DTYPE_I32);
  EXPECT_VALUES(o, F64S(1, 1, 1), 3, 0);
  EXPECT_OK(prism_full(I64S(2, 2), 2, 2.5, PRISM_DTYPE_F64, NULL, &f));
  EXPECT_VALUES(f, F64S(2.5, 2.5, 2.5, 2.5), 4, 0);
  EXPECT(strcmp(prism_tensor_device(f), "cpu:0") == 0); /* NULL device = cpu */
  EXPECT_OK(prism_scalar(7, PRISM_DTYPE_I64, "cpu", &s));
  EXPECT(prism_tensor_ndim(s) == 0);
  EXPECT(prism_tensor_numel(s) == 1);
  EXPECT_OK(prism_tensor_item_int64(s, &iv));
  EXPECT(iv == 7);
  EXPECT_OK(prism_tensor_item_double(s, &dv));
  EXPECT(dv == 7.0);
  dv = -1;
  EXPECT_STATUS(prism_tensor_item_double(f, &dv), PRISM_ERROR_INVALID_ARGUMENT); /* 4 elements */
  EXPECT(dv == -1);
  EXPECT_OK(prism_empty(I64S(4, 0), 2, PRISM_DTYPE_F32, "cpu", &em));
  EXPECT(prism_tensor_numel(em) == 0);
  rel(em);
  em = NULL;
  EXPECT_OK(prism_empty(I64S(5), 1, PRISM_DTYPE_U8, "cpu", &em));
  EXPECT(prism_tensor_numel(em) == 5 && prism_tensor_dtype(em) == PRISM_DTYPE_U8);
  keep = em;
  EXPECT_STATUS(prism_empty(I64S(-2), 1, PRISM_DTYPE_F32, "cpu", &em), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(em == keep); /* out untouched on error */
  EXPECT_STATUS(prism_zeros(I64S(2), 1, (prism_dtype)42, "cpu", &em), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "nosuchdevice:0", &em) != PRISM_OK);
  EXPECT(em == keep);

  EXPECT_OK(prism_eye(2, 3, PRISM_DTYPE_F32, "cpu", &e));
  EXPECT_SIZES(e, 2, I64S(2, 3));
  EXPECT_VALUES(e, F64S(1, 0, 0, 0, 1, 0), 6, 0);
  rel(e);
  EXPECT_OK(prism_eye(3, -1, PRISM_DTYPE_I64, "cpu", &e));
  EXPECT_SIZES(e, 2, I64S(3, 3));
  EXPECT_VALUES(e, F64S(1, 0, 0, 0, 1, 0, 0, 0, 1), 9, 0);

  EXPECT_OK(prism_arange(0, 5, 1, PRISM_DTYPE_I64, "cpu", &a));
  EXPECT_SIZES(a, 1, I64S(5));
  EXPECT_VALUES(a, F64S(0, 1, 2, 3, 4), 5, 0);
  rel(a);
  EXPECT_OK(prism_arange(1, 2, 0.25, PRISM_DTYPE_F32, "cpu", &a));
  EXPECT_VALUES(a, F64S(1, 1.25, 1.5, 1.75), 4, 0);
  rel(a);
  EXPECT_OK(prism_arange(5, 0, -2, PRISM_DTYPE_F64, "cpu", &a));
  EXPECT_VALUES(a, F64S(5, 3, 1), 3, 0);
  keep = a;
  EXPECT_STATUS(prism_arange(0, 5, 0, PRISM_DTYPE_F32, "cpu", &a), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_arange(0, 5, -1, PRISM_DTYPE_F32, "cpu", &a), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(a == keep);

  EXPECT_OK(prism_linspace(0, 1, 5, PRISM_DTYPE_F32, "cpu", &l));
  EXPECT_VALUES(l, F64S(0, 0.25, 0.5, 0.75, 1), 5, 0);
  rel(l);
  EXPECT_OK(prism_linspace(-1, 1, 1, PRISM_DTYPE_F64, "cpu", &l));
  EXPECT_VALUES(l, F64S(-1), 1, 0);
  rel(l);
  EXPECT_OK(prism_linspace(3, 4, 0, PRISM_DTYPE_F64, "cpu", &l));
  EXPECT(prism_tensor_numel(l) == 0);
  rel(l);
  EXPECT_OK(prism_linspace(10, 0, 3, PRISM_DTYPE_F64, "cpu", &l));
  EXPECT_VALUES(l, F64S(10, 5, 0), 3, 0);

  EXPECT_OK(prism_empty_like(f, &like));
  EXPECT_SIZES(like, 2, I64S(2, 2));
  EXPECT(prism_tensor_dtype(like) == PRISM_DTYPE_F64);
  rel(like);
  EXPECT_OK(prism_zeros_like(o, &like));
  EXPECT(prism_tensor_dtype(like) == PRISM_DTYPE_I32);
  EXPECT_VALUES(like, F64S(0, 0, 0), 3, 0);
  rel(like);
  EXPECT_OK(prism_ones_like(f, &like));
  EXPECT_VALUES(like, F64S(1, 1, 1, 1), 4, 0);
  rel(like);
  EXPECT_OK(prism_full_like(o, -4, &like));
  EXPECT(prism_tensor_dtype(like) == PRISM_DTYPE_I32);
  EXPECT_VALUES(like, F64S(-4, -4, -4), 3, 0);
  rel(like);

  /* from_data copies; copy_to_host gives the same bytes back. */
  like = NULL;
  EXPECT_OK(prism_from_data(i16, I64S(2, 2), 2, PRISM_DTYPE_I16, "cpu", &like));
  i16[0] = 1; /* a copy: the tensor does not change */
  EXPECT_OK(prism_tensor_copy_to_host(like, back16, sizeof(back16)));
  EXPECT(back16[0] == -300 && back16[1] == 7 && back16[2] == 0 && back16[3] == 32000);
  EXPECT_STATUS(prism_tensor_copy_to_host(like, back16, 3), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_from_data(NULL, I64S(2), 1, PRISM_DTYPE_F32, "cpu", &a), PRISM_ERROR_INVALID_ARGUMENT);
  rel(like);

  rel(z);
  rel(o);
  rel(f);
  rel(s);
  rel(e);
  rel(a);
  rel(l);
  rel(em);
}

/* ===========================================================================
 * from_blob and DLPack: zero copy, deleters run exactly once
 * ======================================================================== */

static int g_blob_deleted = 0;
static void* g_blob_deleted_ptr = NULL;
static void count_blob_delete(void* data, void* ctx) {
  ++g_blob_deleted;
  g_blob_deleted_ptr = data;
  EXPECT(ctx == (void*)&g_blob_deleted);
}

static void test_from_blob(void) {
  float buf[6] = {0, 1, 2, 3, 4, 5};
  prism_tensor_t t = NULL, tr = NULL, cm = NULL, bad = NULL;
  g_section = "from_blob";
  g_blob_deleted = 0;
  EXPECT_OK(
      prism_from_blob(buf, I64S(2, 3), NULL, 2, PRISM_DTYPE_F32, count_blob_delete, &g_blob_deleted, &t));
  EXPECT(strncmp(prism_tensor_device(t), "cpu", 3) == 0);
  EXPECT_VALUES(t, F64S(0, 1, 2, 3, 4, 5), 6, 0);
  buf[0] = 42; /* zero copy: the tensor sees the caller's memory */
  EXPECT_VALUES(t, F64S(42, 1, 2, 3, 4, 5), 6, 0);
  EXPECT_OK(prism_fill_(t, -1));
  EXPECT(buf[0] == -1 && buf[5] == -1);

  EXPECT_OK(prism_transpose(t, 0, 1, &tr));
  rel(t); /* the view keeps the memory alive */
  EXPECT(g_blob_deleted == 0);
  EXPECT_VALUES(tr, F64S(-1, -1, -1, -1, -1, -1), 6, 0);
  rel(tr);
  EXPECT(g_blob_deleted == 1);
  EXPECT(g_blob_deleted_ptr == (void*)buf);

  /* Explicit strides: column-major 2x3 over the same memory. */
  buf[0] = 0;
  buf[1] = 1;
  buf[2] = 2;
  buf[3] = 3;
  buf[4] = 4;
  buf[5] = 5;
  EXPECT_OK(prism_from_blob(buf, I64S(2, 3), I64S(1, 2), 2, PRISM_DTYPE_F32, NULL, NULL, &cm));
  EXPECT(prism_tensor_is_contiguous(cm) == 0);
  EXPECT_VALUES(cm, F64S(0, 2, 4, 1, 3, 5), 6, 0);
  rel(cm);
  EXPECT(g_blob_deleted == 1); /* NULL deleter: nothing called */

  /* On error the deleter is not called. */
  g_blob_deleted = 0;
  EXPECT_STATUS(
      prism_from_blob(NULL, I64S(2), NULL, 1, PRISM_DTYPE_F32, count_blob_delete, &g_blob_deleted, &bad),
      PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(
      prism_from_blob(buf, I64S(2), NULL, 1, (prism_dtype)42, count_blob_delete, &g_blob_deleted, &bad),
      PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(bad == NULL);
  EXPECT(g_blob_deleted == 0);
}

static int g_dl_deleted = 0;
static void count_dl_delete(DLManagedTensor* self) {
  ++g_dl_deleted;
  EXPECT(self->manager_ctx == (void*)&g_dl_deleted);
}

static void test_dlpack(void) {
  static double data[4] = {1.5, 2.5, 3.5, 4.5};
  int64_t shape[2] = {2, 2};
  DLManagedTensor mine;
  DLManagedTensor* exported = NULL;
  prism_tensor_t t = NULL, view = NULL, src = NULL, back = NULL;
  float* p;
  g_section = "dlpack";

  /* Import caller memory: Prism calls the deleter once, after the last view. */
  memset(&mine, 0, sizeof(mine));
  mine.dl_tensor.data = data;
  mine.dl_tensor.device.device_type = kDLCPU;
  mine.dl_tensor.device.device_id = 0;
  mine.dl_tensor.ndim = 2;
  mine.dl_tensor.dtype.code = kDLFloat;
  mine.dl_tensor.dtype.bits = 64;
  mine.dl_tensor.dtype.lanes = 1;
  mine.dl_tensor.shape = shape;
  mine.dl_tensor.strides = NULL;
  mine.dl_tensor.byte_offset = 0;
  mine.manager_ctx = &g_dl_deleted;
  mine.deleter = count_dl_delete;
  g_dl_deleted = 0;
  EXPECT_OK(prism_from_dlpack(&mine, &t));
  EXPECT(prism_tensor_dtype(t) == PRISM_DTYPE_F64);
  EXPECT_SIZES(t, 2, I64S(2, 2));
  EXPECT_VALUES(t, F64S(1.5, 2.5, 3.5, 4.5), 4, 0);
  data[3] = 9; /* zero copy */
  EXPECT_VALUES(t, F64S(1.5, 2.5, 3.5, 9), 4, 0);
  EXPECT_OK(prism_select(t, 0, 1, &view));
  rel(t);
  EXPECT(g_dl_deleted == 0);
  EXPECT_VALUES(view, F64S(3.5, 9), 2, 0);
  rel(view);
  EXPECT(g_dl_deleted == 1);

  /* A device Prism cannot import: error, and the caller still owns it. */
  g_dl_deleted = 0;
  mine.dl_tensor.device.device_type = kDLCUDA;
  t = NULL;
  EXPECT(prism_from_dlpack(&mine, &t) != PRISM_OK);
  EXPECT(t == NULL);
  EXPECT(g_dl_deleted == 0);
  EXPECT_STATUS(prism_from_dlpack(NULL, &t), PRISM_ERROR_INVALID_ARGUMENT);

  /* Export: zero copy, storage lives until the DLPack deleter runs. */
  src = iota(I64S(2, 3), 2);
  EXPECT_OK(prism_to_dlpack(src, &exported));
  EXPECT(exported != NULL);
  if (exported != NULL) {
    EXPECT(exported->dl_tensor.ndim == 2);
    EXPECT(exported->dl_tensor.shape[0] == 2 && exported->dl_tensor.shape[1] == 3);
    EXPECT(exported->dl_tensor.dtype.code == kDLFloat && exported->dl_tensor.dtype.bits == 32 &&
           exported->dl_tensor.dtype.lanes == 1);
    EXPECT(exported->dl_tensor.device.device_type == kDLCPU);
    EXPECT(exported->dl_tensor.strides == NULL ||
           (exported->dl_tensor.strides[0] == 3 && exported->dl_tensor.strides[1] == 1));
    p = (float*)((char*)exported->dl_tensor.data + exported->dl_tensor.byte_offset);
    EXPECT(p[0] == 0 && p[5] == 5);
    p[1] = 100; /* writes are visible to Prism */
    EXPECT_VALUES(src, F64S(0, 100, 2, 3, 4, 5), 6, 0);

    /* Round trip: import what was exported, both share one storage. */
    EXPECT_OK(prism_from_dlpack(exported, &back));
    EXPECT_SIZES(back, 2, I64S(2, 3));
    EXPECT_OK(prism_fill_(back, 8));
    EXPECT_VALUES(src, F64S(8, 8, 8, 8, 8, 8), 6, 0);
    rel(src);
    EXPECT_VALUES(back, F64S(8, 8, 8, 8, 8, 8), 6, 0); /* still alive through DLPack */
    rel(back);                                         /* runs exported->deleter */
  }
  EXPECT_STATUS(prism_to_dlpack(NULL, &exported), PRISM_ERROR_INVALID_ARGUMENT);
}

/* ===========================================================================
 * Copies, casts, devices
 * ======================================================================== */

static void test_copies(void) {
  prism_tensor_t a = NULL, same = NULL, cast = NULL, tr = NULL, c = NULL, cl = NULL, dst = NULL, src = NULL,
                 bad = NULL;
  g_section = "copies";
  a = make(F64S(1.7, -1.7, 2.5, 0), PRISM_DTYPE_F64, I64S(2, 2), 2);
  /* Already there: a new reference to the same tensor (same storage). */
  EXPECT_OK(prism_to_device(a, "cpu", &same));
  EXPECT(shares_storage(a, same));
  rel(same);
  EXPECT_OK(prism_to_device(a, "cpu:0", &same));
  EXPECT(shares_storage(a, same));
  rel(same);
  same = NULL;
  EXPECT(prism_to_device(a, "nosuchdevice:0", &same) != PRISM_OK);
  EXPECT_MSG_HAS("nosuchdevice");
  EXPECT(same == NULL);
  /* Pinning for a device that addresses host memory is a no-op (same tensor);
   * the pinned path itself is covered on emu:0 (emu_user_test). */
  EXPECT_OK(prism_pin_memory(a, "cpu", &same));
  EXPECT(shares_storage(a, same));
  EXPECT(prism_tensor_is_pinned(same) == 0);
  rel(same);
  same = NULL;
  EXPECT(prism_pin_memory(NULL, "cpu", &same) == PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_pin_memory(a, "nosuchdevice:0", &same) != PRISM_OK);
  EXPECT_MSG_HAS("nosuchdevice");
  EXPECT(same == NULL);
  EXPECT(prism_tensor_is_pinned(NULL) == 0);

  EXPECT_OK(prism_to_dtype(a, PRISM_DTYPE_I32, &cast));
  EXPECT(prism_tensor_dtype(cast) == PRISM_DTYPE_I32);
  EXPECT_VALUES(cast, F64S(1, -1, 2, 0), 4, 0); /* truncation toward zero */
  rel(cast);
  EXPECT_OK(prism_to_dtype(a, PRISM_DTYPE_BOOL, &cast));
  EXPECT_VALUES(cast, F64S(1, 1, 1, 0), 4, 0);
  rel(cast);
  EXPECT_OK(prism_to_dtype(a, PRISM_DTYPE_F16, &cast));
  EXPECT_VALUES(cast, F64S(1.7001953125, -1.7001953125, 2.5, 0), 4, 0);
  rel(cast);
  EXPECT_OK(prism_to_dtype(a, PRISM_DTYPE_BF16, &cast));
  EXPECT_VALUES(cast, F64S(1.703125, -1.703125, 2.5, 0), 4, 0);
  rel(cast);

  EXPECT_OK(prism_contiguous(a, &c));
  EXPECT(shares_storage(a, c)); /* already contiguous: no copy */
  rel(c);
  EXPECT_OK(prism_transpose(a, 0, 1, &tr));
  EXPECT_OK(prism_contiguous(tr, &c));
  EXPECT(!shares_storage(tr, c));
  EXPECT(prism_tensor_is_contiguous(c) == 1);
  EXPECT_STRIDES(c, 2, I64S(2, 1));
  EXPECT_VALUES(c, F64S(1.7, 2.5, -1.7, 0), 4, 0);
  rel(c);

  EXPECT_OK(prism_clone(a, &cl));
  EXPECT(!shares_storage(a, cl));
  EXPECT_OK(prism_fill_(cl, 3));
  EXPECT_VALUES(a, F64S(1.7, -1.7, 2.5, 0), 4, 0); /* the clone owns new memory */
  rel(cl);

  /* copy_ broadcasts and casts. */
  EXPECT_OK(prism_zeros(I64S(2, 3), 2, PRISM_DTYPE_F32, "cpu", &dst));
  src = make(I32S(1, 2, 3), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_OK(prism_copy_(dst, src));
  EXPECT_VALUES(dst, F64S(1, 2, 3, 1, 2, 3), 6, 0);
  bad = make(F32S(1, 2), PRISM_DTYPE_F32, I64S(2), 1);
  EXPECT_STATUS(prism_copy_(dst, bad), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_VALUES(dst, F64S(1, 2, 3, 1, 2, 3), 6, 0); /* unchanged */
  EXPECT_STATUS(prism_copy_(NULL, src), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_fill_(dst, 0.5));
  EXPECT_VALUES(dst, F64S(0.5, 0.5, 0.5, 0.5, 0.5, 0.5), 6, 0);
  EXPECT_STATUS(prism_fill_(NULL, 1), PRISM_ERROR_INVALID_ARGUMENT);

  rel(a);
  rel(tr);
  rel(dst);
  rel(src);
  rel(bad);
}

/* ===========================================================================
 * Views
 * ======================================================================== */

static void test_views(void) {
  prism_tensor_t base = NULL, v = NULL, row = NULL, tr = NULL, r = NULL, keep = NULL, p = NULL, x = NULL,
                 e = NULL;
  prism_tensor_t sq = NULL, n = NULL, s = NULL, fl = NULL, u = NULL, as = NULL, d = NULL;
  g_section = "views";

  EXPECT_OK(prism_arange(0, 12, 1, PRISM_DTYPE_F32, "cpu", &base));
  EXPECT_OK(prism_view(base, I64S(3, -1), 2, &v)); /* one -1 is inferred */
  EXPECT_SIZES(v, 2, I64S(3, 4));
  EXPECT_STRIDES(v, 2, I64S(4, 1));
  /* Views share storage: fill a row of the view, read the base. */
  EXPECT_OK(prism_select(v, 0, 1, &row));
  EXPECT_OK(prism_fill_(row, 9));
  EXPECT_VALUES(base, F64S(0, 1, 2, 3, 9, 9, 9, 9, 8, 9, 10, 11), 12, 0);
  rel(row);
  keep = r = v;
  EXPECT_STATUS(prism_view(base, I64S(-1, -1), 2, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_view(base, I64S(5, -1), 2, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_view(base, I64S(5, 3), 2, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(r == keep);

  /* reshape: a view when possible, else a copy. */
  EXPECT_OK(prism_transpose(v, 0, 1, &tr));
  EXPECT_SIZES(tr, 2, I64S(4, 3));
  EXPECT_STRIDES(tr, 2, I64S(1, 4));
  EXPECT(prism_tensor_is_contiguous(tr) == 0);
  EXPECT_OK(prism_reshape(tr, I64S(12), 1, &r));
  EXPECT_VALUES(r, F64S(0, 9, 8, 1, 9, 9, 2, 9, 10, 3, 9, 11), 12, 0);
  EXPECT_OK(prism_fill_(r, -5)); /* a copy: base untouched */
  EXPECT_VALUES(base, F64S(0, 1, 2, 3, 9, 9, 9, 9, 8, 9, 10, 11), 12, 0);
  rel(r);
  EXPECT_OK(prism_reshape(base, I64S(2, 2, 3), 3, &r));
  EXPECT_OK(prism_fill_(r, 1)); /* a view: base changes */
  EXPECT_VALUES(base, F64S(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 12, 0);
  rel(r);
  rel(base);
  rel(v);
  rel(tr);

  x = iota(I64S(2, 3, 4), 3);
  EXPECT_OK(prism_permute(x, I64S(2, 0, 1), 3, &p));
  EXPECT_SIZES(p, 3, I64S(4, 2, 3));
  EXPECT_STRIDES(p, 3, I64S(1, 12, 4));
  keep = r = p;
  EXPECT_STATUS(prism_permute(x, I64S(0, 0, 1), 3, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_permute(x, I64S(0, 1), 2, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(r == keep);
  rel(p);
  EXPECT_STATUS(prism_t(x, &r), PRISM_ERROR_INVALID_ARGUMENT); /* 3-D */
  EXPECT_STATUS(prism_transpose(x, 0, 3, &r), PRISM_ERROR_INVALID_ARGUMENT);

  /* flatten (1, 2): (2, 3, 4) -> (2, 12), a view of a contiguous tensor */
  EXPECT_OK(prism_flatten(x, 1, 2, &fl));
  EXPECT_SIZES(fl, 2, I64S(2, 12));
  rel(fl);
  EXPECT_OK(prism_flatten(x, 0, -1, &fl));
  EXPECT_SIZES(fl, 1, I64S(24));
  rel(fl);
  rel(x);

  /* t of a 2-D tensor; t of a 1-D tensor is itself. */
  x = iota(I64S(2, 3), 2);
  EXPECT_OK(prism_t(x, &tr));
  EXPECT_SIZES(tr, 2, I64S(3, 2));
  EXPECT_VALUES(tr, F64S(0, 3, 1, 4, 2, 5), 6, 0);
  rel(tr);

  /* expand: size-1 dims grow with stride 0, new leading dims allowed, -1 keeps. */
  e = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3, 1), 2);
  EXPECT_OK(prism_expand(e, I64S(2, -1, 4), 3, &r));
  EXPECT_SIZES(r, 3, I64S(2, 3, 4));
  EXPECT_STRIDES(r, 3, I64S(0, 1, 0));
  EXPECT_VALUES(r, F64S(1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), 24, 0);
  rel(r);
  keep = r = e;
  EXPECT_STATUS(prism_expand(e, I64S(4, 4), 2, &r), PRISM_ERROR_INVALID_ARGUMENT); /* 3 cannot grow */
  EXPECT(r == keep);

  /* squeeze / unsqueeze */
  EXPECT_OK(prism_unsqueeze(e, 0, &u));
  EXPECT_SIZES(u, 3, I64S(1, 3, 1));
  EXPECT_OK(prism_squeeze(u, &sq));
  EXPECT_SIZES(sq, 1, I64S(3));
  rel(sq);
  EXPECT_OK(prism_squeeze_dim(u, 0, &sq));
  EXPECT_SIZES(sq, 2, I64S(3, 1));
  rel(sq);
  EXPECT_OK(prism_squeeze_dim(u, 1, &sq)); /* size 3: unchanged */
  EXPECT_SIZES(sq, 3, I64S(1, 3, 1));
  rel(sq);
  EXPECT_OK(prism_squeeze_dim(u, -1, &sq));
  EXPECT_SIZES(sq, 2, I64S(1, 3));
  rel(sq);
  rel(u);
  EXPECT_OK(prism_unsqueeze(e, -1, &u));
  EXPECT_SIZES(u, 3, I64S(3, 1, 1));
  rel(u);
  EXPECT_STATUS(prism_unsqueeze(e, 3, &u), PRISM_ERROR_INVALID_ARGUMENT);
  rel(e);
  rel(x);

  /* narrow / select / slice / unfold / as_strided / diagonal */
  EXPECT_OK(prism_arange(0, 10, 1, PRISM_DTYPE_F32, "cpu", &x));
  EXPECT_OK(prism_narrow(x, 0, 2, 3, &n));
  EXPECT_VALUES(n, F64S(2, 3, 4), 3, 0);
  EXPECT(prism_tensor_storage_offset(n) == 2);
  rel(n);
  EXPECT_STATUS(prism_narrow(x, 0, 8, 3, &n), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_select(x, 0, -1, &s));
  EXPECT(prism_tensor_ndim(s) == 0);
  EXPECT_VALUES(s, F64S(9), 1, 0);
  rel(s);
  EXPECT_OK(prism_slice(x, 0, 1, 8, 3, &s));
  EXPECT_VALUES(s, F64S(1, 4, 7), 3, 0);
  EXPECT_STRIDES(s, 1, I64S(3));
  rel(s);
  EXPECT_OK(prism_slice(x, 0, -3, 100, 1, &s)); /* clamped as Python does */
  EXPECT_VALUES(s, F64S(7, 8, 9), 3, 0);
  rel(s);
  EXPECT_OK(prism_slice(x, 0, 6, 2, 1, &s)); /* empty */
  EXPECT(prism_tensor_numel(s) == 0);
  rel(s);
  s = NULL;
  EXPECT_STATUS(prism_slice(x, 0, 0, 5, 0, &s), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(s == NULL);
  rel(x);

  EXPECT_OK(prism_arange(0, 7, 1, PRISM_DTYPE_F32, "cpu", &x));
  EXPECT_OK(prism_unfold(x, 0, 3, 2, &u));
  EXPECT_SIZES(u, 2, I64S(3, 3));
  EXPECT_STRIDES(u, 2, I64S(2, 1));
  EXPECT_VALUES(u, F64S(0, 1, 2, 2, 3, 4, 4, 5, 6), 9, 0);
  rel(u);
  EXPECT_OK(prism_as_strided(x, I64S(2, 2), I64S(3, 1), 2, 1, &as));
  EXPECT_VALUES(as, F64S(1, 2, 4, 5), 4, 0);
  EXPECT(prism_tensor_storage_offset(as) == 1);
  rel(as);
  as = NULL;
  EXPECT_STATUS(prism_as_strided(x, I64S(2, 2), I64S(3, 1), 2, 4, &as), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(as == NULL);
  rel(x);

  x = iota(I64S(3, 3), 2);
  EXPECT_OK(prism_diagonal(x, 0, 0, 1, &d));
  EXPECT_VALUES(d, F64S(0, 4, 8), 3, 0);
  EXPECT_STRIDES(d, 1, I64S(4));
  rel(d);
  EXPECT_OK(prism_diagonal(x, 1, 0, 1, &d));
  EXPECT_VALUES(d, F64S(1, 5), 2, 0);
  rel(d);
  EXPECT_OK(prism_diagonal(x, -1, 0, 1, &d));
  EXPECT_VALUES(d, F64S(3, 7), 2, 0);
  EXPECT_OK(prism_fill_(d, -1)); /* shares storage */
  EXPECT_VALUES(x, F64S(0, 1, 2, -1, 4, 5, 6, -1, 8), 9, 0);
  rel(d);
  rel(x);
}

/* ===========================================================================
 * Elementwise ops
 * ======================================================================== */

typedef prism_status (*unary_fn)(prism_tensor_t, prism_tensor_t*);
typedef prism_status (*unary_inplace_fn)(prism_tensor_t);
typedef double (*ref_fn)(double);

static double ref_neg(double x) {
  return -x;
}
static double ref_sign(double x) {
  return (double)((x > 0) - (x < 0));
}
static double ref_rsqrt(double x) {
  return 1.0 / sqrt(x);
}
static double ref_reciprocal(double x) {
  return 1.0 / x;
}
static double ref_square(double x) {
  return x * x;
}
static double ref_sigmoid(double x) {
  return 1.0 / (1.0 + exp(-x));
}
static double ref_relu(double x) {
  return x > 0 ? x : 0;
}
static double ref_gelu(double x) {
  return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}
static double ref_silu(double x) {
  return x / (1.0 + exp(-x));
}
static double ref_round(double x) {
  return nearbyint(x);
} /* half to even */

struct unary_case {
  const char* name;
  unary_fn fn;
  unary_inplace_fn fn_;
  ref_fn ref;
  int positive_only;
};

static void test_unary(void) {
  static const struct unary_case cases[] = {
      {"neg", prism_neg, prism_neg_, ref_neg, 0},
      {"abs", prism_abs, prism_abs_, fabs, 0},
      {"sign", prism_sign, prism_sign_, ref_sign, 0},
      {"exp", prism_exp, prism_exp_, exp, 0},
      {"log", prism_log, prism_log_, log, 1},
      {"log1p", prism_log1p, prism_log1p_, log1p, 1},
      {"expm1", prism_expm1, prism_expm1_, expm1, 0},
      {"sqrt", prism_sqrt, prism_sqrt_, sqrt, 1},
      {"rsqrt", prism_rsqrt, prism_rsqrt_, ref_rsqrt, 1},
      {"reciprocal", prism_reciprocal, prism_reciprocal_, ref_reciprocal, 1},
      {"square", prism_square, prism_square_, ref_square, 0},
      {"sin", prism_sin, prism_sin_, sin, 0},
      {"cos", prism_cos, prism_cos_, cos, 0},
      {"tanh", prism_tanh, prism_tanh_, tanh, 0},
      {"sigmoid", prism_sigmoid, prism_sigmoid_, ref_sigmoid, 0},
      {"relu", prism_relu, prism_relu_, ref_relu, 0},
      {"gelu", prism_gelu, prism_gelu_, ref_gelu, 0},
      {"silu", prism_silu, prism_silu_, ref_silu, 0},
      {"floor", prism_floor, prism_floor_, floor, 0},
      {"ceil", prism_ceil, prism_ceil_, ceil, 0},
      {"round", prism_round, prism_round_, ref_round, 0},
  };
  const double mixed[5] = {-1.5, -0.25, 0.0, 0.5, 2.5};
  const double positive[5] = {0.25, 0.5, 1.0, 2.5, 4.0};
  size_t i;
  int k;
  char section[64];
  prism_tensor_t x = NULL, y = NULL, ints = NULL, ye = NULL, b = NULL;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    const double* in = cases[i].positive_only ? positive : mixed;
    double want[5];
    sprintf(section, "unary %s", cases[i].name);
    g_section = section;
    for (k = 0; k < 5; ++k) want[k] = cases[i].ref(in[k]);
    x = make(in, PRISM_DTYPE_F64, I64S(5), 1);
    y = NULL;
    EXPECT_OK(cases[i].fn(x, &y));
    EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F64);
    EXPECT_VALUES(y, want, 5, 1e-10);
    EXPECT_OK(cases[i].fn_(x)); /* in place */
    EXPECT_VALUES(x, want, 5, 1e-10);
    rel(x);
    rel(y);
  }

  g_section = "unary dtypes";
  ints = make(I32S(-2, 0, 3), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_OK(prism_exp(ints, &ye)); /* integer input of a float op -> float32 */
  EXPECT(prism_tensor_dtype(ye) == PRISM_DTYPE_F32);
  EXPECT_VALUES(ye, F64S(exp(-2.0), 1, exp(3.0)), 3, 1e-4);
  rel(ye);
  EXPECT_OK(prism_abs(ints, &ye)); /* integer op keeps the dtype */
  EXPECT(prism_tensor_dtype(ye) == PRISM_DTYPE_I32);
  EXPECT_VALUES(ye, F64S(2, 0, 3), 3, 0);
  rel(ye);
  EXPECT_STATUS(prism_sqrt_(ints), PRISM_ERROR_INVALID_ARGUMENT); /* i32 cannot hold the result */
  EXPECT_VALUES(ints, F64S(-2, 0, 3), 3, 0);
  EXPECT_OK(prism_neg_(ints));
  EXPECT_VALUES(ints, F64S(2, 0, -3), 3, 0);
  EXPECT_STATUS(prism_neg(NULL, &ye), PRISM_ERROR_INVALID_ARGUMENT);
  rel(ints);

  b = make((const uint8_t[]){1, 0, 1}, PRISM_DTYPE_BOOL, I64S(3), 1);
  EXPECT_OK(prism_logical_not(b, &ye));
  EXPECT(prism_tensor_dtype(ye) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(ye, F64S(0, 1, 0), 3, 0);
  rel(ye);
  rel(b);

  /* f16 computes in f32 and rounds once. */
  x = make(F32S(0.1f, 1.0f, 2.0f), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_to_dtype(x, PRISM_DTYPE_F16, &ints));
  EXPECT_OK(prism_sqrt(ints, &ye));
  EXPECT(prism_tensor_dtype(ye) == PRISM_DTYPE_F16);
  EXPECT_VALUES(ye, F64S(0.31616210937500, 1, 1.4140625), 3, 1e-9);
  rel(ye);
  rel(ints);
  rel(x);
}

/* Reads an int64 tensor exactly and compares it with want (no trip through double). */
static void check_i64(prism_tensor_t t, const int64_t* want, int64_t n, int line) {
  int64_t got[16];
  int64_t i;
  if (n > 16 || prism_tensor_dtype(t) != PRISM_DTYPE_I64 || prism_tensor_numel(t) != n ||
      prism_tensor_copy_to_host(t, got, (size_t)n * sizeof(int64_t)) != PRISM_OK) {
    fprintf(stderr, "%s:%d: [%s] not an int64 tensor of %lld elements: %s\n", __FILE__, line, g_section,
            (long long)n, prism_last_error());
    ++g_failures;
    return;
  }
  for (i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      fprintf(stderr, "%s:%d: [%s] value %lld: got %lld, expected %lld\n", __FILE__, line, g_section,
              (long long)i, (long long)got[i], (long long)want[i]);
      ++g_failures;
      return;
    }
  }
}
#define EXPECT_I64(t, want, n) check_i64((t), (want), (n), __LINE__)

typedef prism_status (*binary_fn)(prism_tensor_t, prism_tensor_t, prism_tensor_t*);
typedef prism_status (*binary_inplace_fn)(prism_tensor_t, prism_tensor_t);

/* Math and bitwise ops the array API standard needs; expected values are NumPy 1.24's. */
static void test_math_ops(void) {
  static const struct {
    const char* name;
    unary_fn fn;
    unary_inplace_fn fn_;
    int domain; /* 0: x in (-1, 1); 1: x >= 1 */
    double want[5];
  } unary_cases[] = {
      {"tan",
       prism_tan,
       prism_tan_,
       0,
       {-0.9315964599440725, -0.25534192122103627, 0.0, 0.5463024898437905, 1.197421629234348}},
      {"asin",
       prism_asin,
       prism_asin_,
       0,
       {-0.8480620789814809, -0.25268025514207865, 0.0, 0.5235987755982989, 1.0654358165107394}},
      {"acos",
       prism_acos,
       prism_acos_,
       0,
       {2.4188584057763776, 1.8234765819369751, 1.5707963267948966, 1.0471975511965976, 0.5053605102841573}},
      {"atan",
       prism_atan,
       prism_atan_,
       0,
       {-0.6435011087932844, -0.24497866312686414, 0.0, 0.4636476090008061, 0.7188299996216245}},
      {"sinh",
       prism_sinh,
       prism_sinh_,
       0,
       {-0.8223167319358299, -0.2526123168081683, 0.0, 0.5210953054937474, 0.9910066371442947}},
      {"cosh",
       prism_cosh,
       prism_cosh_,
       0,
       {1.2946832846768446, 1.031413099879573, 1.0, 1.1276259652063807, 1.4078686568228032}},
      {"asinh",
       prism_asinh,
       prism_asinh_,
       0,
       {-0.6931471805599453, -0.24746646154726346, 0.0, 0.48121182505960347, 0.790168725412397}},
      {"atanh",
       prism_atanh,
       prism_atanh_,
       0,
       {-0.9729550745276566, -0.25541281188299536, 0.0, 0.5493061443340549, 1.354025100551105}},
      {"acosh",
       prism_acosh,
       prism_acosh_,
       1,
       {0.0, 0.9624236501192069, 1.3169578969248168, 2.993222846126381, 14.508657738523969}},
      {"log2",
       prism_log2,
       prism_log2_,
       1,
       {0.0, 0.5849625007211562, 1.0, 3.321928094887362, 19.931568569324174}},
      {"log10", prism_log10, prism_log10_, 1, {0.0, 0.17609125905568124, 0.3010299956639812, 1.0, 6.0}},
  };
  static const struct {
    const char* name;
    binary_fn fn;
    binary_inplace_fn fn_;
    double tol; /* 0 where the result is exact */
    double want[6];
  } binary_cases[] = {
      {"atan2",
       prism_atan2,
       prism_atan2_,
       1e-13,
       {0.46364760900080615, -1.8157749899217608, 3.141592653589793, -0.0, 2.498091544796509,
        1.5707963267948966}},
      {"hypot",
       prism_hypot,
       prism_hypot_,
       1e-13,
       {2.23606797749979, 2.0615528128088303, 1.0, 1.0, 5.0, INFINITY}},
      {"copysign", prism_copysign, prism_copysign_, 0, {1.0, -2.0, -0.0, 0.0, -3.0, INFINITY}},
      {"logaddexp",
       prism_logaddexp,
       prism_logaddexp_,
       1e-13,
       {2.313261687518223, -0.29858672201724756, 0.31326168751822286, 1.3132616875182228, 3.000911466453774,
        INFINITY}},
      {"nextafter",
       prism_nextafter,
       prism_nextafter_,
       0,
       {1.0000000000000002, -1.9999999999999998, -5e-324, 5e-324, 2.9999999999999996,
        1.7976931348623157e+308}},
  };
  const double small[5] = {-0.75, -0.25, 0.0, 0.5, 0.875};
  const double big[5] = {1.0, 1.5, 2.0, 10.0, 1e6};
  size_t i;
  char section[64];
  prism_tensor_t x = NULL, y = NULL, a = NULL, b = NULL, c = NULL, s = NULL, k = NULL;
  uint8_t flags[6];
  for (i = 0; i < sizeof(unary_cases) / sizeof(unary_cases[0]); ++i) {
    sprintf(section, "math %s", unary_cases[i].name);
    g_section = section;
    x = make(unary_cases[i].domain ? big : small, PRISM_DTYPE_F64, I64S(5), 1);
    EXPECT_OK(unary_cases[i].fn(x, &y));
    EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F64);
    EXPECT_VALUES(y, unary_cases[i].want, 5, 1e-13);
    EXPECT_OK(unary_cases[i].fn_(x));
    EXPECT_VALUES(x, unary_cases[i].want, 5, 1e-13);
    rel(x);
    rel(y);
  }
  g_section = "math trunc";
  x = make(F64S(-2.5, -0.5, 0.5, 1.99, 3.0), PRISM_DTYPE_F64, I64S(5), 1);
  EXPECT_OK(prism_trunc(x, &y));
  EXPECT_VALUES(y, F64S(-2, -0.0, 0, 1, 3), 5, 0);
  EXPECT_OK(prism_trunc_(x));
  EXPECT_VALUES(x, F64S(-2, -0.0, 0, 1, 3), 5, 0);
  rel(y);
  rel(x);
  x = make(I64S(INT64_MIN, -7, INT64_MAX), PRISM_DTYPE_I64, I64S(3), 1);
  EXPECT_OK(prism_trunc(x, &y)); /* integers are unchanged and keep their dtype */
  EXPECT_I64(y, I64S(INT64_MIN, -7, INT64_MAX), 3);
  rel(y);
  EXPECT_OK(prism_tan(x, &y)); /* integer input of a float-only op -> float32 */
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F32);
  rel(y);
  rel(x);

  for (i = 0; i < sizeof(binary_cases) / sizeof(binary_cases[0]); ++i) {
    sprintf(section, "math %s", binary_cases[i].name);
    g_section = section;
    a = make(F64S(1.0, -2.0, 0.0, -0.0, 3.0, INFINITY), PRISM_DTYPE_F64, I64S(6), 1);
    b = make(F64S(2.0, -0.5, -1.0, 1.0, -4.0, 2.0), PRISM_DTYPE_F64, I64S(6), 1);
    EXPECT_OK(binary_cases[i].fn(a, b, &c));
    EXPECT_VALUES(c, binary_cases[i].want, 6, binary_cases[i].tol);
    rel(c);
    EXPECT_OK(binary_cases[i].fn_(a, b));
    EXPECT_VALUES(a, binary_cases[i].want, 6, binary_cases[i].tol);
    rel(a);
    rel(b);
  }
  g_section = "math signed zeros";
  a = make(F64S(0.0, -0.0, 1.0), PRISM_DTYPE_F64, I64S(3), 1);
  b = make(F64S(-1.0, 1.0, -0.0), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_copysign(a, b, &c));
  EXPECT_OK(prism_signbit(c, &s));
  EXPECT(prism_tensor_copy_to_host(s, flags, 3) == PRISM_OK && flags[0] == 1 && flags[1] == 0 &&
         flags[2] == 1);
  rel(s);
  rel(c);
  rel(a);
  rel(b);
  g_section = "math logaddexp infinities";
  a = make(F64S(-INFINITY, INFINITY, 1000.0), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_logaddexp(a, a, &c));
  EXPECT_VALUES(c, F64S(-INFINITY, INFINITY, 1000.6931471805599), 3, 1e-12);
  rel(c);
  rel(a);

  g_section = "predicates";
  x = make(F64S(NAN, -INFINITY, -0.0, 0.0, -1.5, 2.0), PRISM_DTYPE_F64, I64S(6), 1);
  EXPECT_OK(prism_isnan(x, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(y, F64S(1, 0, 0, 0, 0, 0), 6, 0);
  rel(y);
  EXPECT_OK(prism_isinf(x, &y));
  EXPECT_VALUES(y, F64S(0, 1, 0, 0, 0, 0), 6, 0);
  rel(y);
  EXPECT_OK(prism_isfinite(x, &y));
  EXPECT_VALUES(y, F64S(0, 0, 1, 1, 1, 1), 6, 0);
  rel(y);
  EXPECT_OK(prism_signbit(x, &y));
  EXPECT_VALUES(y, F64S(0, 1, 1, 0, 1, 0), 6, 0);
  rel(y);
  rel(x);
  x = make(I32S(-3, 0, 5), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_OK(prism_isfinite(x, &y));
  EXPECT_VALUES(y, F64S(1, 1, 1), 3, 0);
  rel(y);
  EXPECT_OK(prism_signbit(x, &y));
  EXPECT_VALUES(y, F64S(1, 0, 0), 3, 0);
  rel(y);
  rel(x);

  g_section = "bitwise int64 (exact)";
  a = make(I64S(INT64_C(0x7FFFFFFFFFFFFFFE), INT64_MIN, INT64_C(0x123456789ABCDEF0), -5), PRISM_DTYPE_I64,
           I64S(4), 1);
  b = make(I64S(INT64_C(0x0F0F0F0F0F0F0F0F), 3, -1, 7), PRISM_DTYPE_I64, I64S(4), 1);
  EXPECT_OK(prism_bitwise_and(a, b, &c));
  EXPECT_I64(c, I64S(INT64_C(1085102592571150094), 0, INT64_C(1311768467463790320), 3), 4);
  rel(c);
  EXPECT_OK(prism_bitwise_or(a, b, &c));
  EXPECT_I64(c, I64S(INT64_MAX, INT64_C(-9223372036854775805), -1, -1), 4);
  rel(c);
  EXPECT_OK(prism_bitwise_xor(a, b, &c));
  EXPECT_I64(
      c, I64S(INT64_C(8138269444283625713), INT64_C(-9223372036854775805), INT64_C(-1311768467463790321), -4),
      4);
  rel(c);
  EXPECT_OK(prism_bitwise_not(a, &c));
  EXPECT_I64(c, I64S(INT64_C(-9223372036854775807), INT64_MAX, INT64_C(-1311768467463790321), 4), 4);
  rel(c);
  EXPECT_OK(prism_bitwise_xor_(a, b)); /* in place, twice, restores a */
  EXPECT_OK(prism_bitwise_xor_(a, b));
  EXPECT_I64(a, I64S(INT64_C(0x7FFFFFFFFFFFFFFE), INT64_MIN, INT64_C(0x123456789ABCDEF0), -5), 4);
  EXPECT_OK(prism_bitwise_and_(a, b));
  EXPECT_OK(prism_bitwise_or_(a, b));
  EXPECT_OK(prism_bitwise_not_(a));
  rel(a);
  rel(b);

  g_section = "shifts int64 (exact)";
  s = make(I64S(1, -8, INT64_C(0x4000000000000001), 5, -1), PRISM_DTYPE_I64, I64S(5), 1);
  k = make(I64S(62, 1, 1, 64, 70), PRISM_DTYPE_I64, I64S(5), 1);
  EXPECT_OK(prism_bitwise_left_shift(s, k, &c));
  EXPECT_I64(c, I64S(INT64_C(4611686018427387904), -16, INT64_C(-9223372036854775806), 0, 0), 5);
  rel(c);
  rel(s);
  s = make(I64S(INT64_MIN, -8, 5, 5, -1), PRISM_DTYPE_I64, I64S(5), 1);
  EXPECT_OK(prism_bitwise_right_shift(s, k, &c));
  EXPECT_I64(c, I64S(-2, -4, 2, 0, -1), 5);
  rel(c);
  EXPECT_OK(prism_bitwise_left_shift_(s, k));
  EXPECT_OK(prism_bitwise_right_shift_(s, k));
  rel(s);
  rel(k);

  g_section = "bitwise small dtypes";
  a = make((const uint8_t[]){200, 0, 255}, PRISM_DTYPE_U8, I64S(3), 1);
  b = make((const uint8_t[]){1, 1, 1}, PRISM_DTYPE_U8, I64S(3), 1);
  EXPECT_OK(prism_bitwise_left_shift(a, b, &c));
  EXPECT_VALUES(c, F64S(144, 0, 254), 3, 0);
  rel(c);
  EXPECT_OK(prism_bitwise_not(a, &c));
  EXPECT_VALUES(c, F64S(55, 255, 0), 3, 0);
  rel(c);
  rel(a);
  rel(b);
  a = make((const int8_t[]){-128, 127, 5}, PRISM_DTYPE_I8, I64S(3), 1);
  EXPECT_OK(prism_bitwise_not(a, &c));
  EXPECT_VALUES(c, F64S(127, -128, -6), 3, 0);
  rel(c);
  rel(a);
  a = make((const uint8_t[]){1, 0, 1}, PRISM_DTYPE_BOOL, I64S(3), 1);
  b = make((const uint8_t[]){1, 1, 0}, PRISM_DTYPE_BOOL, I64S(3), 1);
  EXPECT_OK(prism_bitwise_xor(a, b, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(c, F64S(0, 1, 1), 3, 0);
  rel(c);
  EXPECT_OK(prism_bitwise_not(a, &c));
  EXPECT_VALUES(c, F64S(0, 1, 0), 3, 0);
  rel(c);
  EXPECT_STATUS(prism_bitwise_left_shift(a, b, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("bitwise_left_shift");
  rel(a);
  rel(b);
  g_section = "bitwise refuses floats";
  x = make(F64S(1.0, 2.0), PRISM_DTYPE_F64, I64S(2), 1);
  EXPECT_STATUS(prism_bitwise_and(x, x, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("bitwise_and");
  EXPECT_STATUS(prism_bitwise_not(x, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_isnan(NULL, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_VALUES(x, F64S(1.0, 2.0), 2, 0);
  rel(x);
}

static void test_binary(void) {
  prism_tensor_t a = NULL, b = NULL, c = NULL, i32 = NULL, f32 = NULL, u8 = NULL, i8 = NULL, s = NULL,
                 keep = NULL;
  prism_tensor_t x = NULL, y = NULL, cond = NULL, w = NULL, nan = NULL, bo = NULL;
  double lo = 0.5, hi = 2.0;
  g_section = "add/sub";
  a = make(F32S(1, 2, 3, 4, 5, 6), PRISM_DTYPE_F32, I64S(2, 3), 2);
  b = make(F32S(10, 20, 30), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_add(a, b, 1, &c));
  EXPECT_SIZES(c, 2, I64S(2, 3));
  EXPECT_VALUES(c, F64S(11, 22, 33, 14, 25, 36), 6, 0);
  rel(c);
  EXPECT_OK(prism_add(a, b, 2, &c)); /* a + alpha * b */
  EXPECT_VALUES(c, F64S(21, 42, 63, 24, 45, 66), 6, 0);
  rel(c);
  EXPECT_OK(prism_sub(a, b, 0.5, &c));
  EXPECT_VALUES(c, F64S(-4, -8, -12, -1, -5, -9), 6, 0);
  rel(c);
  EXPECT_OK(prism_add_(a, b, 1));
  EXPECT_VALUES(a, F64S(11, 22, 33, 14, 25, 36), 6, 0);
  EXPECT_OK(prism_sub_(a, b, 1));
  EXPECT_VALUES(a, F64S(1, 2, 3, 4, 5, 6), 6, 0);

  g_section = "broadcasting";
  x = iota(I64S(2, 1, 3), 3);
  y = make(F32S(100, 200, 300, 400), PRISM_DTYPE_F32, I64S(4, 1), 2);
  EXPECT_OK(prism_add(x, y, 1, &c));
  EXPECT_SIZES(c, 3, I64S(2, 4, 3));
  EXPECT_VALUES(c,
                F64S(100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402, 103, 104, 105, 203, 204, 205,
                     303, 304, 305, 403, 404, 405),
                24, 0);
  rel(c);
  /* In place: the first argument's shape must be the result shape. */
  EXPECT_STATUS(prism_add_(y, x, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_SIZES(y, 2, I64S(4, 1));
  EXPECT_VALUES(y, F64S(100, 200, 300, 400), 4, 0);
  rel(x);
  rel(y);

  g_section = "promotion";
  i32 = make(I32S(1, 2, 3), PRISM_DTYPE_I32, I64S(3), 1);
  f32 = make(F32S(0.5f, 0.5f, 0.5f), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_add(i32, f32, 1, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_F32);
  EXPECT_VALUES(c, F64S(1.5, 2.5, 3.5), 3, 0);
  rel(c);
  u8 = make((const uint8_t[]){200, 10, 255}, PRISM_DTYPE_U8, I64S(3), 1);
  i8 = make((const int8_t[]){-100, -20, 100}, PRISM_DTYPE_I8, I64S(3), 1);
  EXPECT_OK(prism_add(u8, i8, 1, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_I16);
  EXPECT_VALUES(c, F64S(100, -10, 355), 3, 0);
  rel(c);
  /* A 0-d tensor changes the category, never the width. */
  EXPECT_OK(prism_scalar(2.5, PRISM_DTYPE_F64, "cpu", &s));
  EXPECT_OK(prism_mul(f32, s, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_F32);
  rel(c);
  EXPECT_OK(prism_mul(i32, s, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_F64);
  EXPECT_VALUES(c, F64S(2.5, 5, 7.5), 3, 0);
  rel(c);
  rel(s);
  EXPECT_OK(prism_scalar(3, PRISM_DTYPE_I64, "cpu", &s));
  EXPECT_OK(prism_add(i8, s, 1, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_I8);
  rel(c);
  rel(s);
  /* In place: the first argument's dtype must hold the result. */
  EXPECT_STATUS(prism_add_(i32, f32, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_tensor_dtype(i32) == PRISM_DTYPE_I32);
  EXPECT_VALUES(i32, F64S(1, 2, 3), 3, 0);
  EXPECT_OK(prism_add_(f32, i32, 1)); /* f32 holds f32 + i32 */
  EXPECT_VALUES(f32, F64S(1.5, 2.5, 3.5), 3, 0);

  g_section = "mul/div/remainder/pow";
  x = make(F64S(-7, 7, -7, 7), PRISM_DTYPE_F64, I64S(4), 1);
  y = make(F64S(2, 2, -2, -2), PRISM_DTYPE_F64, I64S(4), 1);
  EXPECT_OK(prism_mul(x, y, &c));
  EXPECT_VALUES(c, F64S(-14, 14, 14, -14), 4, 0);
  rel(c);
  EXPECT_OK(prism_div(x, y, &c));
  EXPECT_VALUES(c, F64S(-3.5, 3.5, 3.5, -3.5), 4, 0);
  rel(c);
  EXPECT_OK(prism_remainder(x, y, &c)); /* sign of the divisor, as Python % */
  EXPECT_VALUES(c, F64S(1, 1, -1, -1), 4, 0);
  rel(c);
  EXPECT_OK(prism_div_mode(x, y, PRISM_ROUNDING_FLOOR, &c));
  EXPECT_VALUES(c, F64S(-4, 3, 3, -4), 4, 0);
  rel(c);
  EXPECT_OK(prism_div_mode(x, y, PRISM_ROUNDING_TRUNC, &c));
  EXPECT_VALUES(c, F64S(-3, 3, 3, -3), 4, 0);
  rel(c);
  EXPECT_OK(prism_div_mode(x, y, PRISM_ROUNDING_NONE, &c));
  EXPECT_VALUES(c, F64S(-3.5, 3.5, 3.5, -3.5), 4, 0);
  rel(c);
  EXPECT_OK(prism_pow(y, y, &c));
  EXPECT_VALUES(c, F64S(4, 4, 0.25, 0.25), 4, 0);
  rel(c);
  EXPECT_OK(prism_mul_(x, y));
  EXPECT_VALUES(x, F64S(-14, 14, 14, -14), 4, 0);
  EXPECT_OK(prism_div_(x, y));
  EXPECT_VALUES(x, F64S(-7, 7, -7, 7), 4, 0);
  EXPECT_OK(prism_remainder_(x, y));
  EXPECT_VALUES(x, F64S(1, 1, -1, -1), 4, 0);
  EXPECT_OK(prism_pow_(y, y));
  EXPECT_VALUES(y, F64S(4, 4, 0.25, 0.25), 4, 0);
  rel(x);
  rel(y);

  /* Integer true division gives float32; floor division keeps integers. */
  x = make(I32S(-7, 7, 1), PRISM_DTYPE_I32, I64S(3), 1);
  y = make(I32S(2, 2, 2), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_OK(prism_div(x, y, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_F32);
  EXPECT_VALUES(c, F64S(-3.5, 3.5, 0.5), 3, 0);
  rel(c);
  EXPECT_OK(prism_div_mode(x, y, PRISM_ROUNDING_FLOOR, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_I32);
  EXPECT_VALUES(c, F64S(-4, 3, 0), 3, 0);
  rel(c);
  EXPECT_OK(prism_remainder(x, y, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_I32);
  EXPECT_VALUES(c, F64S(1, 1, 1), 3, 0);
  rel(c);
  EXPECT_STATUS(prism_pow(y, x, &c), PRISM_ERROR_INVALID_ARGUMENT); /* integer 2 ** -7: an error */
  EXPECT_STATUS(prism_div_(x, y), PRISM_ERROR_INVALID_ARGUMENT);    /* i32 cannot hold true division */
  EXPECT_VALUES(x, F64S(-7, 7, 1), 3, 0);
  rel(y);
  y = make(I32S(2, 0, 2), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_STATUS(prism_div_mode(x, y, PRISM_ROUNDING_FLOOR, &c), PRISM_ERROR_INVALID_ARGUMENT); /* by zero */
  EXPECT_STATUS(prism_remainder(x, y, &c), PRISM_ERROR_INVALID_ARGUMENT);
  rel(x);
  rel(y);

  g_section = "maximum/minimum";
  x = make(F64S(1, NAN, 3), PRISM_DTYPE_F64, I64S(3), 1);
  y = make(F64S(2, 0, NAN), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_maximum(x, y, &c));
  EXPECT_VALUES(c, F64S(2, NAN, NAN), 3, 0);
  rel(c);
  EXPECT_OK(prism_minimum(x, y, &c));
  EXPECT_VALUES(c, F64S(1, NAN, NAN), 3, 0);
  rel(c);
  EXPECT_OK(prism_maximum_(x, y));
  EXPECT_VALUES(x, F64S(2, NAN, NAN), 3, 0);
  EXPECT_OK(prism_minimum_(y, y));
  EXPECT_VALUES(y, F64S(2, 0, NAN), 3, 0);
  rel(x);
  rel(y);

  g_section = "comparisons";
  x = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3), 1);
  y = make(I32S(2), PRISM_DTYPE_I32, I64S(1), 1);
  EXPECT_OK(prism_eq(x, y, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(c, F64S(0, 1, 0), 3, 0);
  rel(c);
  EXPECT_OK(prism_ne(x, y, &c));
  EXPECT_VALUES(c, F64S(1, 0, 1), 3, 0);
  rel(c);
  EXPECT_OK(prism_lt(x, y, &c));
  EXPECT_VALUES(c, F64S(1, 0, 0), 3, 0);
  rel(c);
  EXPECT_OK(prism_le(x, y, &c));
  EXPECT_VALUES(c, F64S(1, 1, 0), 3, 0);
  rel(c);
  EXPECT_OK(prism_gt(x, y, &c));
  EXPECT_VALUES(c, F64S(0, 0, 1), 3, 0);
  rel(c);
  EXPECT_OK(prism_ge(x, y, &c));
  EXPECT_VALUES(c, F64S(0, 1, 1), 3, 0);
  rel(c);
  nan = make(F64S(NAN), PRISM_DTYPE_F64, I64S(1), 1);
  EXPECT_OK(prism_eq(nan, nan, &c)); /* NaN != NaN */
  EXPECT_VALUES(c, F64S(0), 1, 0);
  rel(c);
  rel(nan);
  rel(x);
  rel(y);

  g_section = "logical";
  x = make(F32S(0, 0, 2, -1), PRISM_DTYPE_F32, I64S(4), 1);
  y = make(I32S(0, 5, 0, 5), PRISM_DTYPE_I32, I64S(4), 1);
  EXPECT_OK(prism_logical_and(x, y, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(c, F64S(0, 0, 0, 1), 4, 0);
  rel(c);
  EXPECT_OK(prism_logical_or(x, y, &c));
  EXPECT_VALUES(c, F64S(0, 1, 1, 1), 4, 0);
  rel(c);
  EXPECT_OK(prism_logical_xor(x, y, &c));
  EXPECT_VALUES(c, F64S(0, 1, 1, 0), 4, 0);
  rel(c);
  rel(x);
  rel(y);

  g_section = "where";
  cond = make((const uint8_t[]){1, 0}, PRISM_DTYPE_BOOL, I64S(2, 1), 2);
  x = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(1, 3), 2);
  EXPECT_OK(prism_scalar(-1, PRISM_DTYPE_F32, "cpu", &s));
  EXPECT_OK(prism_where(cond, x, s, &w));
  EXPECT_SIZES(w, 2, I64S(2, 3));
  EXPECT_VALUES(w, F64S(1, 2, 3, -1, -1, -1), 6, 0);
  rel(w);
  w = NULL;
  EXPECT_STATUS(prism_where(x, x, s, &w), PRISM_ERROR_INVALID_ARGUMENT); /* cond must be bool */
  EXPECT(w == NULL);
  rel(cond);
  rel(s);
  rel(x);

  g_section = "clamp";
  x = make(F32S(0, 1, 3), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_clamp(x, &lo, &hi, &c));
  EXPECT_VALUES(c, F64S(0.5, 1, 2), 3, 0);
  rel(c);
  EXPECT_OK(prism_clamp(x, &lo, NULL, &c));
  EXPECT_VALUES(c, F64S(0.5, 1, 3), 3, 0);
  rel(c);
  EXPECT_OK(prism_clamp(x, NULL, &hi, &c));
  EXPECT_VALUES(c, F64S(0, 1, 2), 3, 0);
  rel(c);
  keep = c = x;
  EXPECT_STATUS(prism_clamp(x, NULL, NULL, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(c == keep);
  EXPECT_OK(prism_clamp_(x, &lo, &hi));
  EXPECT_VALUES(x, F64S(0.5, 1, 2), 3, 0);
  rel(x);

  g_section = "bool arithmetic";
  bo = make((const uint8_t[]){1, 0, 1}, PRISM_DTYPE_BOOL, I64S(3), 1);
  EXPECT_OK(prism_add(bo, bo, 1, &c));
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_BOOL); /* add on bool is or */
  EXPECT_VALUES(c, F64S(1, 0, 1), 3, 0);
  rel(c);
  rel(bo);

  rel(a);
  rel(b);
  rel(i32);
  rel(f32);
  rel(u8);
  rel(i8);
}

/* ===========================================================================
 * Reductions
 * ======================================================================== */

static void test_reductions(void) {
  prism_tensor_t x = NULL, r = NULL, v = NULL, idx = NULL, i = NULL, b = NULL, big = NULL, e = NULL,
                 keep = NULL;
  g_section = "reductions";
  x = iota(I64S(2, 3), 2); /* [[0,1,2],[3,4,5]] */
  EXPECT_OK(prism_sum(x, NULL, 0, 0, &r));
  EXPECT(prism_tensor_ndim(r) == 0);
  EXPECT_VALUES(r, F64S(15), 1, 0);
  rel(r);
  EXPECT_OK(prism_sum(x, I64S(0), 1, 0, &r));
  EXPECT_SIZES(r, 1, I64S(3));
  EXPECT_VALUES(r, F64S(3, 5, 7), 3, 0);
  rel(r);
  EXPECT_OK(prism_sum(x, I64S(-1), 1, 1, &r));
  EXPECT_SIZES(r, 2, I64S(2, 1));
  EXPECT_VALUES(r, F64S(3, 12), 2, 0);
  rel(r);
  EXPECT_OK(prism_sum(x, I64S(0, 1), 2, 1, &r));
  EXPECT_SIZES(r, 2, I64S(1, 1));
  EXPECT_VALUES(r, F64S(15), 1, 0);
  rel(r);
  keep = r;
  EXPECT_STATUS(prism_sum(x, I64S(2), 1, 0, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(r == keep);
  EXPECT_OK(prism_prod(x, I64S(1), 1, 0, &r));
  EXPECT_VALUES(r, F64S(0, 60), 2, 0);
  rel(r);
  EXPECT_OK(prism_mean(x, I64S(1), 1, 0, &r));
  EXPECT_VALUES(r, F64S(1, 4), 2, 0);
  rel(r);
  EXPECT_OK(prism_amax(x, I64S(0), 1, 0, &r));
  EXPECT_VALUES(r, F64S(3, 4, 5), 3, 0);
  rel(r);
  EXPECT_OK(prism_amin(x, NULL, 0, 1, &r));
  EXPECT_SIZES(r, 2, I64S(1, 1));
  EXPECT_VALUES(r, F64S(0), 1, 0);
  rel(r);
  EXPECT_OK(prism_all(x, I64S(1), 1, 0, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(r, F64S(0, 1), 2, 0);
  rel(r);
  EXPECT_OK(prism_any(x, I64S(0), 1, 0, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_BOOL);
  EXPECT_VALUES(r, F64S(1, 1, 1), 3, 0);
  rel(r);

  /* Integer and bool sums accumulate in int64. */
  i = make(I32S(2000000000, 2000000000), PRISM_DTYPE_I32, I64S(2), 1);
  EXPECT_OK(prism_sum(i, NULL, 0, 0, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_I64);
  EXPECT_VALUES(r, F64S(4000000000.0), 1, 0);
  rel(r);
  EXPECT_OK(prism_prod(i, NULL, 0, 0, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_I64);
  EXPECT_VALUES(r, F64S(4e18), 1, 0);
  rel(r);
  b = make((const uint8_t[]){1, 0, 1, 1}, PRISM_DTYPE_BOOL, I64S(4), 1);
  EXPECT_OK(prism_sum(b, NULL, 0, 0, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_I64);
  EXPECT_VALUES(r, F64S(3), 1, 0);
  rel(r);

  /* var / std with Bessel correction. */
  v = make(F64S(1, 2, 3, 4), PRISM_DTYPE_F64, I64S(4), 1);
  EXPECT_OK(prism_var(v, NULL, 0, 1, 0, &r));
  EXPECT_VALUES(r, F64S(5.0 / 3.0), 1, 1e-12);
  rel(r);
  EXPECT_OK(prism_var(v, NULL, 0, 0, 0, &r));
  EXPECT_VALUES(r, F64S(1.25), 1, 1e-12);
  rel(r);
  EXPECT_OK(prism_std(v, I64S(0), 1, 1, 1, &r));
  EXPECT_SIZES(r, 1, I64S(1));
  EXPECT_VALUES(r, F64S(sqrt(5.0 / 3.0)), 1, 1e-12);
  rel(r);

  /* norm p variants */
  rel(v);
  v = make(F64S(3, -4, 0), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_norm(v, 2, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(5), 1, 1e-12);
  rel(r);
  EXPECT_OK(prism_norm(v, 1, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(7), 1, 1e-12);
  rel(r);
  EXPECT_OK(prism_norm(v, INFINITY, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(4), 1, 0);
  rel(r);
  EXPECT_OK(prism_norm(v, -INFINITY, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(0), 1, 0);
  rel(r);
  EXPECT_OK(prism_norm(v, 0, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(2), 1, 0);
  rel(r);
  EXPECT_OK(prism_norm(v, 3, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(pow(91.0, 1.0 / 3.0)), 1, 1e-12);
  rel(r);

  /* logsumexp stays finite for large inputs. */
  big = make(F32S(1000, 1000), PRISM_DTYPE_F32, I64S(2), 1);
  EXPECT_OK(prism_logsumexp(big, NULL, 0, 0, &r));
  EXPECT_VALUES(r, F64S(1000 + log(2.0)), 1, 1e-3);
  rel(r);

  /* max / min / argmax / argmin (first occurrence wins) */
  rel(i);
  i = make(F32S(1, 3, 3, 2, 2, 0), PRISM_DTYPE_F32, I64S(2, 3), 2);
  rel(v);
  EXPECT_OK(prism_max(i, &r));
  EXPECT(prism_tensor_ndim(r) == 0);
  EXPECT_VALUES(r, F64S(3), 1, 0);
  rel(r);
  EXPECT_OK(prism_min(i, &r));
  EXPECT_VALUES(r, F64S(0), 1, 0);
  rel(r);
  EXPECT_OK(prism_max_dim(i, 1, 0, &v, &idx));
  EXPECT_VALUES(v, F64S(3, 2), 2, 0);
  EXPECT(prism_tensor_dtype(idx) == PRISM_DTYPE_I64);
  EXPECT_VALUES(idx, F64S(1, 0), 2, 0);
  rel(v);
  rel(idx);
  EXPECT_OK(prism_min_dim(i, 0, 1, &v, &idx));
  EXPECT_SIZES(v, 2, I64S(1, 3));
  EXPECT_VALUES(v, F64S(1, 2, 0), 3, 0);
  EXPECT_VALUES(idx, F64S(0, 1, 1), 3, 0);
  rel(v);
  rel(idx);
  EXPECT_OK(prism_argmax(i, PRISM_DIM_NONE, 0, &r));
  EXPECT(prism_tensor_ndim(r) == 0);
  EXPECT_VALUES(r, F64S(1), 1, 0);
  rel(r);
  EXPECT_OK(prism_argmax(i, 1, 1, &r));
  EXPECT_SIZES(r, 2, I64S(2, 1));
  EXPECT_VALUES(r, F64S(1, 0), 2, 0);
  rel(r);
  EXPECT_OK(prism_argmin(i, 0, 0, &r));
  EXPECT_VALUES(r, F64S(0, 1, 1), 3, 0);
  rel(r);
  EXPECT_OK(prism_empty(I64S(0), 1, PRISM_DTYPE_F32, "cpu", &e));
  keep = r;
  EXPECT_STATUS(prism_max(e, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(r == keep);
  EXPECT_STATUS(prism_argmax(i, 2, 0, &r), PRISM_ERROR_INVALID_ARGUMENT);

  rel(x);
  rel(i);
  rel(b);
  rel(v);
  rel(big);
  rel(e);
}

/* ===========================================================================
 * Linear algebra, joining, splitting, comparing
 * ======================================================================== */

static void test_matmul(void) {
  prism_tensor_t a = NULL, b = NULL, c = NULL, v = NULL, w = NULL, n1 = NULL, n2 = NULL, keep = NULL;
  g_section = "matmul";
  v = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3), 1);
  w = make(F32S(4, 5, 6), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_matmul(v, w, &c)); /* 1-D . 1-D = dot, 0-d */
  EXPECT(prism_tensor_ndim(c) == 0);
  EXPECT_VALUES(c, F64S(32), 1, 0);
  rel(c);
  a = iota(I64S(2, 3), 2);
  b = iota(I64S(3, 2), 2);
  EXPECT_OK(prism_matmul(a, b, &c));
  EXPECT_SIZES(c, 2, I64S(2, 2));
  EXPECT_VALUES(c, F64S(10, 13, 28, 40), 4, 0);
  rel(c);
  EXPECT_OK(prism_matmul(a, v, &c)); /* (2,3) . (3) = (2) */
  EXPECT_SIZES(c, 1, I64S(2));
  EXPECT_VALUES(c, F64S(8, 26), 2, 0);
  rel(c);
  EXPECT_OK(prism_matmul(v, b, &c)); /* (3) . (3,2) = (2) */
  EXPECT_SIZES(c, 1, I64S(2));
  EXPECT_VALUES(c, F64S(16, 22), 2, 0);
  rel(c);
  n1 = iota(I64S(2, 1, 3, 4), 4);
  n2 = iota(I64S(5, 4, 2), 3);
  EXPECT_OK(prism_matmul(n1, n2, &c)); /* batch dims broadcast */
  EXPECT_SIZES(c, 4, I64S(2, 5, 3, 2));
  rel(c);
  keep = c = v;
  EXPECT_STATUS(prism_matmul(a, a, &c), PRISM_ERROR_INVALID_ARGUMENT); /* (2,3) . (2,3) */
  EXPECT(c == keep);
  EXPECT(has_shape(prism_last_error(), "2, 3"));
  rel(n1);
  rel(n2);

  g_section = "bmm";
  n1 = iota(I64S(2, 2, 3), 3);
  n2 = iota(I64S(2, 3, 1), 3);
  EXPECT_OK(prism_bmm(n1, n2, &c));
  EXPECT_SIZES(c, 3, I64S(2, 2, 1));
  EXPECT_VALUES(c, F64S(5, 14, 86, 122), 4, 0);
  rel(c);
  EXPECT_STATUS(prism_bmm(a, b, &c), PRISM_ERROR_INVALID_ARGUMENT); /* 2-D */
  rel(n1);
  rel(n2);
  rel(a);
  rel(b);
  rel(v);
  rel(w);
}

static void test_join_split(void) {
  prism_tensor_t a = NULL, b = NULL, c = NULL, i = NULL, x = NULL, keep = NULL;
  prism_tensor_t parts[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  prism_tensor_t list[3];
  size_t n = 0, k;
  int32_t result = -1;
  g_section = "cat/stack";
  a = iota(I64S(2, 2), 2);
  b = make(F32S(7, 8), PRISM_DTYPE_F32, I64S(1, 2), 2);
  list[0] = a;
  list[1] = b;
  EXPECT_OK(prism_cat(list, 2, 0, &c));
  EXPECT_SIZES(c, 2, I64S(3, 2));
  EXPECT_VALUES(c, F64S(0, 1, 2, 3, 7, 8), 6, 0);
  rel(c);
  keep = c = a;
  EXPECT_STATUS(prism_cat(list, 2, 1, &c), PRISM_ERROR_INVALID_ARGUMENT); /* sizes differ in dim 0 */
  EXPECT_STATUS(prism_cat(list, 0, 0, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(c == keep);
  i = make(I32S(5, 6), PRISM_DTYPE_I32, I64S(1, 2), 2);
  list[1] = i;
  EXPECT_OK(prism_cat(list, 2, 0, &c)); /* dtypes promote */
  EXPECT(prism_tensor_dtype(c) == PRISM_DTYPE_F32);
  EXPECT_VALUES(c, F64S(0, 1, 2, 3, 5, 6), 6, 0);
  rel(c);
  rel(b);
  b = make(F32S(4, 5, 6, 7), PRISM_DTYPE_F32, I64S(2, 2), 2);
  list[1] = b;
  EXPECT_OK(prism_stack(list, 2, 0, &c));
  EXPECT_SIZES(c, 3, I64S(2, 2, 2));
  EXPECT_VALUES(c, F64S(0, 1, 2, 3, 4, 5, 6, 7), 8, 0);
  rel(c);
  EXPECT_OK(prism_stack(list, 2, -1, &c));
  EXPECT_SIZES(c, 3, I64S(2, 2, 2));
  EXPECT_VALUES(c, F64S(0, 4, 1, 5, 2, 6, 3, 7), 8, 0);
  rel(c);
  list[1] = i;
  c = NULL;
  EXPECT_STATUS(prism_stack(list, 2, 0, &c), PRISM_ERROR_INVALID_ARGUMENT); /* shapes differ */
  EXPECT(c == NULL);

  g_section = "split/chunk";
  EXPECT_OK(prism_arange(0, 5, 1, PRISM_DTYPE_F32, "cpu", &x));
  EXPECT_OK(prism_split(x, 2, 0, parts, 8, &n));
  EXPECT(n == 3);
  if (n == 3) {
    EXPECT_VALUES(parts[0], F64S(0, 1), 2, 0);
    EXPECT_VALUES(parts[1], F64S(2, 3), 2, 0);
    EXPECT_VALUES(parts[2], F64S(4), 1, 0);
    EXPECT_OK(prism_fill_(parts[2], 40)); /* views */
    EXPECT_VALUES(x, F64S(0, 1, 2, 3, 40), 5, 0);
  }
  for (k = 0; k < n && k < 8; ++k) rel(parts[k]);
  n = 0;
  parts[0] = NULL;
  EXPECT(prism_split(x, 2, 0, parts, 2, &n) != PRISM_OK); /* capacity too small: only n written */
  EXPECT(n == 3);
  EXPECT(parts[0] == NULL);
  EXPECT_OK(prism_split_sizes(x, I64S(1, 4), 2, 0, parts, 8, &n));
  EXPECT(n == 2);
  if (n == 2) {
    EXPECT_SIZES(parts[0], 1, I64S(1));
    EXPECT_SIZES(parts[1], 1, I64S(4));
    rel(parts[0]);
    rel(parts[1]);
  }
  EXPECT_STATUS(prism_split_sizes(x, I64S(1, 3), 2, 0, parts, 8, &n), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_chunk(x, 3, 0, parts, 8, &n)); /* ceil(5/3) = 2: sizes 2, 2, 1 */
  EXPECT(n == 3);
  if (n == 3) {
    EXPECT_SIZES(parts[0], 1, I64S(2));
    EXPECT_SIZES(parts[2], 1, I64S(1));
    for (k = 0; k < 3; ++k) rel(parts[k]);
  }
  rel(x);
  EXPECT_OK(prism_arange(0, 6, 1, PRISM_DTYPE_F32, "cpu", &x));
  EXPECT_OK(prism_chunk(x, 4, 0, parts, 8, &n)); /* ceil(6/4) = 2: only 3 pieces */
  EXPECT(n == 3);
  for (k = 0; k < n && k < 8; ++k) rel(parts[k]);
  EXPECT_STATUS(prism_chunk(x, 0, 0, parts, 8, &n), PRISM_ERROR_INVALID_ARGUMENT);
  rel(x);

  g_section = "equal/allclose";
  rel(b);
  EXPECT_OK(prism_clone(a, &b));
  EXPECT_OK(prism_equal(a, b, &result));
  EXPECT(result == 1);
  rel(b);
  b = make(I32S(0, 1, 2, 3), PRISM_DTYPE_I32, I64S(2, 2), 2);
  EXPECT_OK(prism_equal(a, b, &result)); /* dtypes promote */
  EXPECT(result == 1);
  rel(b);
  b = make(F32S(0, 1, 2, 3), PRISM_DTYPE_F32, I64S(4), 1);
  result = -1;
  EXPECT_OK(prism_equal(a, b, &result)); /* different sizes: false, not an error */
  EXPECT(result == 0);
  rel(b);
  b = make(F32S(0, 1, 2, 3.00001f), PRISM_DTYPE_F32, I64S(2, 2), 2);
  EXPECT_OK(prism_equal(a, b, &result));
  EXPECT(result == 0);
  EXPECT_OK(prism_allclose(a, b, 1e-5, 1e-8, 0, &result));
  EXPECT(result == 1);
  EXPECT_OK(prism_allclose(a, b, 0, 1e-7, 0, &result));
  EXPECT(result == 0);
  rel(b);
  b = make(F64S(NAN, 1), PRISM_DTYPE_F64, I64S(2), 1);
  EXPECT_OK(prism_allclose(b, b, 1e-5, 1e-8, 0, &result));
  EXPECT(result == 0);
  EXPECT_OK(prism_allclose(b, b, 1e-5, 1e-8, 1, &result));
  EXPECT(result == 1);
  rel(b);

  rel(a);
  rel(i);
}

/* ===========================================================================
 * Random numbers
 * ======================================================================== */

static void test_random(void) {
  prism_tensor_t r1 = NULL, r2 = NULL, r3 = NULL, m = NULL, lo = NULL, hi = NULL, p = NULL, keep = NULL;
  int32_t same = 0;
  int64_t perm[10];
  int seen[10] = {0};
  int k, ok = 1;
  double dv = 0;
  g_section = "random";

  EXPECT_OK(prism_manual_seed(42));
  EXPECT_OK(prism_rand(I64S(1000), 1, PRISM_DTYPE_F32, "cpu", &r1));
  EXPECT_OK(prism_manual_seed(42));
  EXPECT_OK(prism_rand(I64S(1000), 1, PRISM_DTYPE_F32, "cpu", &r2));
  EXPECT_OK(prism_equal(r1, r2, &same));
  EXPECT(same == 1); /* same seed, same bits */
  EXPECT_OK(prism_rand(I64S(1000), 1, PRISM_DTYPE_F32, "cpu", &r3));
  EXPECT_OK(prism_equal(r1, r3, &same));
  EXPECT(same == 0); /* the generator advanced */
  EXPECT_OK(prism_amin(r1, NULL, 0, 0, &lo));
  EXPECT_OK(prism_amax(r1, NULL, 0, 0, &hi));
  EXPECT_OK(prism_tensor_item_double(lo, &dv));
  EXPECT(dv >= 0);
  EXPECT_OK(prism_tensor_item_double(hi, &dv));
  EXPECT(dv < 1);
  EXPECT_OK(prism_mean(r1, NULL, 0, 0, &m));
  EXPECT_OK(prism_tensor_item_double(m, &dv));
  EXPECT(fabs(dv - 0.5) < 0.05);
  rel(m);
  rel(lo);
  rel(hi);
  rel(r1);
  rel(r2);
  rel(r3);

  EXPECT_OK(prism_randn(I64S(4000), 1, PRISM_DTYPE_F64, "cpu", &r1));
  EXPECT_OK(prism_mean(r1, NULL, 0, 0, &m));
  EXPECT_OK(prism_tensor_item_double(m, &dv));
  EXPECT(fabs(dv) < 0.1);
  rel(m);
  EXPECT_OK(prism_std(r1, NULL, 0, 1, 0, &m));
  EXPECT_OK(prism_tensor_item_double(m, &dv));
  EXPECT(fabs(dv - 1) < 0.1);
  rel(m);
  rel(r1);

  EXPECT_OK(prism_randint(-3, 5, I64S(20, 20), 2, PRISM_DTYPE_I32, "cpu", &r1));
  EXPECT(prism_tensor_dtype(r1) == PRISM_DTYPE_I32);
  EXPECT_OK(prism_amin(r1, NULL, 0, 0, &lo));
  EXPECT_OK(prism_amax(r1, NULL, 0, 0, &hi));
  EXPECT_OK(prism_tensor_item_double(lo, &dv));
  EXPECT(dv == -3); /* 400 draws from 8 values: both ends appear */
  EXPECT_OK(prism_tensor_item_double(hi, &dv));
  EXPECT(dv == 4);
  rel(lo);
  rel(hi);
  rel(r1);
  keep = r1;
  EXPECT_STATUS(prism_randint(5, 5, I64S(2), 1, PRISM_DTYPE_I64, "cpu", &r1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_rand(I64S(2), 1, PRISM_DTYPE_I32, "cpu", &r1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(r1 == keep);

  EXPECT_OK(prism_randperm(10, PRISM_DTYPE_I64, "cpu", &r1));
  EXPECT(prism_tensor_dtype(r1) == PRISM_DTYPE_I64);
  EXPECT_OK(prism_tensor_copy_to_host(r1, perm, sizeof(perm)));
  for (k = 0; k < 10; ++k) {
    if (perm[k] < 0 || perm[k] > 9 || seen[perm[k]])
      ok = 0;
    else
      seen[perm[k]] = 1;
  }
  EXPECT(ok);
  rel(r1);

  p = make(F32S(0, 1, 0, 1), PRISM_DTYPE_F32, I64S(4), 1);
  EXPECT_OK(prism_bernoulli(p, &r1));
  EXPECT(prism_tensor_dtype(r1) == PRISM_DTYPE_F32);
  EXPECT_VALUES(r1, F64S(0, 1, 0, 1), 4, 0);
  rel(r1);
  rel(p);
  EXPECT_OK(prism_bernoulli_scalar(I64S(3), 1, 1.0, PRISM_DTYPE_F32, "cpu", &r1));
  EXPECT_VALUES(r1, F64S(1, 1, 1), 3, 0);
  rel(r1);
  EXPECT_OK(prism_bernoulli_scalar(I64S(2000), 1, 0.25, PRISM_DTYPE_F32, "cpu", &r1));
  EXPECT_OK(prism_mean(r1, NULL, 0, 0, &m));
  EXPECT_OK(prism_tensor_item_double(m, &dv));
  EXPECT(fabs(dv - 0.25) < 0.05);
  rel(m);
  rel(r1);
}

/* ===========================================================================
 * Autograd: the canonical examples, graph inspection, grad modes, hooks,
 * anomaly mode and the failures a user meets (Note [C ABI autograd test])
 * ======================================================================== */

/*
 * Note [C ABI autograd test]
 * --------------------------
 * Each case below is a PyTorch example written against prism.h, checked by
 * value: y = x*x + 3x + 1 has dy/dx = 7 at x = 2; sum(a*b) gives a.grad == b;
 * gradients accumulate across backward calls until zeroed; detach and no_grad
 * record nothing; an in-place change to a saved tensor, backward on a
 * non-scalar without a gradient, on a tensor that does not require grad, and
 * twice through a freed graph each fail with a message saying why (and the
 * process carries on); a hook replaces a gradient; anomaly mode names the
 * backward function that produced a NaN/Inf.
 */

/* A float64 leaf that requires grad (NULL on failure, which is counted). */
static prism_tensor_t grad_leaf(const double* data, const int64_t* sizes, int32_t ndim) {
  prism_tensor_t t = make(data, PRISM_DTYPE_F64, sizes, ndim);
  EXPECT_OK(prism_tensor_set_requires_grad(t, 1));
  return t;
}

/* A float64 0-d tensor. */
static prism_tensor_t scalar64(double v) {
  prism_tensor_t t = NULL;
  EXPECT_OK(prism_scalar(v, PRISM_DTYPE_F64, "cpu", &t));
  return t;
}

/* The grad_fn name of t equals `want`. */
#define EXPECT_GRAD_FN(t, want)                                                                          \
  do {                                                                                                   \
    const char* n_ = prism_tensor_grad_fn_name(t);                                                       \
    if (n_ == NULL || strcmp(n_, (want)) != 0) {                                                         \
      fprintf(stderr, "%s:%d: [%s] grad_fn is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, g_section, \
              n_ ? n_ : "(null)", (want));                                                               \
      ++g_failures;                                                                                      \
    }                                                                                                    \
  } while (0)

/* t's gradient has the n values `want` (and exists). */
static void check_grad(prism_tensor_t t, const double* want, int64_t n, int line) {
  prism_tensor_t g = NULL;
  if (prism_tensor_grad(t, &g) != PRISM_OK || g == NULL) {
    fprintf(stderr, "%s:%d: [%s] no gradient: %s\n", __FILE__, line, g_section, prism_last_error());
    ++g_failures;
    return;
  }
  check_values(g, want, n, 1e-9, line);
  prism_tensor_release(g);
}
#define EXPECT_GRAD(t, want, n) check_grad((t), (want), (n), __LINE__)

/* t has no gradient (.grad is None). */
static void check_no_grad(prism_tensor_t t, int line) {
  prism_tensor_t g = (prism_tensor_t)&g_failures; /* must be overwritten with NULL */
  prism_status s = prism_tensor_grad(t, &g);
  if (s != PRISM_OK || g != NULL) {
    fprintf(stderr, "%s:%d: [%s] expected no gradient (status %s)\n", __FILE__, line, g_section,
            prism_status_name(s));
    ++g_failures;
    if (s == PRISM_OK) prism_tensor_release(g);
  }
}
#define EXPECT_NO_GRAD(t) check_no_grad((t), __LINE__)

static void test_autograd_canonical(void) {
  prism_tensor_t x = NULL, three = NULL, one = NULL, xx = NULL, tx = NULL, s = NULL, y = NULL;
  prism_tensor_t a = NULL, b = NULL, ab = NULL, loss = NULL, g = NULL, bad = NULL;
  const char* names[4] = {NULL, NULL, NULL, NULL};
  size_t n = 0;
  double v = 0;
  g_section = "autograd canonical";

  /* y = x*x + 3x + 1 at x = 2: y = 11, dy/dx = 2x + 3 = 7. */
  x = scalar64(2.0);
  EXPECT(prism_tensor_requires_grad(x) == 0);
  EXPECT_OK(prism_tensor_set_requires_grad(x, 1));
  EXPECT(prism_tensor_requires_grad(x) == 1);
  EXPECT(prism_tensor_is_leaf(x) == 1);
  EXPECT_GRAD_FN(x, "");
  EXPECT_NO_GRAD(x);
  three = scalar64(3.0);
  one = scalar64(1.0);
  EXPECT_OK(prism_mul(x, x, &xx));
  EXPECT_OK(prism_mul(three, x, &tx));
  EXPECT_OK(prism_add(xx, tx, 1.0, &s));
  EXPECT_OK(prism_add(s, one, 1.0, &y));
  EXPECT_OK(prism_tensor_item_double(y, &v));
  EXPECT(v == 11.0);
  EXPECT(prism_tensor_requires_grad(y) == 1);
  EXPECT(prism_tensor_is_leaf(y) == 0);
  EXPECT(prism_tensor_is_leaf(three) == 1);
  EXPECT(prism_tensor_requires_grad(three) == 0);
  EXPECT_GRAD_FN(xx, "MulBackward");
  EXPECT_GRAD_FN(y, "AddBackward");
  /* next functions: one per input; "" for the constant, AccumulateGrad for the leaf. */
  EXPECT_OK(prism_tensor_grad_fn_next(y, names, 4, &n));
  EXPECT(n == 2);
  EXPECT(n == 2 && strcmp(names[0], "AddBackward") == 0 && strcmp(names[1], "") == 0);
  EXPECT_OK(prism_tensor_grad_fn_next(xx, names, 4, &n));
  EXPECT(n == 2 && strcmp(names[0], "AccumulateGrad") == 0 && strcmp(names[1], "AccumulateGrad") == 0);
  EXPECT_OK(prism_tensor_grad_fn_next(tx, names, 4, &n));
  EXPECT(n == 2 && strcmp(names[0], "") == 0 && strcmp(names[1], "AccumulateGrad") == 0);
  EXPECT_OK(prism_tensor_grad_fn_next(x, names, 4, &n)); /* a leaf has no grad_fn */
  EXPECT(n == 0);
  EXPECT_STATUS(prism_tensor_grad_fn_next(y, names, 1, &n), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("capacity");
  EXPECT_OK(prism_backward(y, NULL, 0));
  EXPECT_GRAD(x, F64S(7), 1);
  /* Intermediate results keep no .grad unless asked (retain_grad). */
  EXPECT_NO_GRAD(xx);
  EXPECT_NO_GRAD(three);

  /* sum(a*b): a.grad == b and b.grad == a. */
  a = grad_leaf(F64S(1, 2, 3), I64S(3), 1);
  b = grad_leaf(F64S(4, 5, 6), I64S(3), 1);
  EXPECT_OK(prism_mul(a, b, &ab));
  EXPECT_OK(prism_sum(ab, NULL, 0, 0, &loss));
  EXPECT_GRAD_FN(loss, "SumBackward");
  EXPECT_OK(prism_tensor_grad_fn_next(loss, names, 4, &n));
  EXPECT(n == 1 && strcmp(names[0], "MulBackward") == 0);
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_GRAD(a, F64S(4, 5, 6), 3);
  EXPECT_GRAD(b, F64S(1, 2, 3), 3);

  /* A second forward/backward adds to .grad ... */
  rel(ab);
  rel(loss);
  EXPECT_OK(prism_mul(a, b, &ab));
  EXPECT_OK(prism_sum(ab, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_GRAD(a, F64S(8, 10, 12), 3);
  EXPECT_GRAD(b, F64S(2, 4, 6), 3);
  /* ... until zeroed: in place (the tensor stays), or dropped (set_to_none). */
  EXPECT_OK(prism_tensor_grad(a, &g));
  EXPECT_OK(prism_tensor_zero_grad(a, 0));
  EXPECT_GRAD(a, F64S(0, 0, 0), 3);
  EXPECT_VALUES(g, F64S(0, 0, 0), 3, 0); /* the same gradient tensor was zeroed */
  rel(g);
  EXPECT_OK(prism_tensor_zero_grad(a, 1));
  EXPECT_NO_GRAD(a);
  EXPECT_OK(prism_tensor_zero_grad(a, 1)); /* no gradient: a no-op */
  EXPECT_OK(prism_tensor_zero_grad(a, 0));
  EXPECT_NO_GRAD(a);
  rel(ab);
  rel(loss);
  EXPECT_OK(prism_mul(a, b, &ab));
  EXPECT_OK(prism_sum(ab, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_GRAD(a, F64S(4, 5, 6), 3); /* fresh after set_to_none */

  /* set_grad replaces .grad (same shape, dtype, device), NULL clears it. */
  g = make(F64S(-1, -2, -3), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_tensor_set_grad(a, g));
  EXPECT_GRAD(a, F64S(-1, -2, -3), 3);
  bad = make(F64S(1, 2), PRISM_DTYPE_F64, I64S(2), 1);
  EXPECT_STATUS(prism_tensor_set_grad(a, bad), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(has_shape(prism_last_error(), "2,") || strstr(prism_last_error(), "shape") != NULL);
  EXPECT_GRAD(a, F64S(-1, -2, -3), 3); /* unchanged by the failed call */
  rel(bad);
  bad = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_STATUS(prism_tensor_set_grad(a, bad), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("dtype");
  EXPECT_OK(prism_tensor_set_grad(a, NULL));
  EXPECT_NO_GRAD(a);

  rel(bad);
  rel(g);
  rel(x);
  rel(three);
  rel(one);
  rel(xx);
  rel(tx);
  rel(s);
  rel(y);
  rel(a);
  rel(b);
  rel(ab);
  rel(loss);
}

static void test_autograd_modes(void) {
  prism_tensor_t x = NULL, two = NULL, d = NULL, dd = NULL, z = NULL, h = NULL, i = NULL, sq = NULL,
                 loss = NULL;
  const char* names[2] = {NULL, NULL};
  size_t n = 0;
  g_section = "autograd detach/no_grad";

  x = grad_leaf(F64S(1, 2, 3), I64S(3), 1);
  two = scalar64(2.0);

  /* detach: same storage, no history, does not require grad. */
  EXPECT_OK(prism_detach(x, &d));
  EXPECT(prism_tensor_requires_grad(d) == 0);
  EXPECT(prism_tensor_is_leaf(d) == 1);
  EXPECT_GRAD_FN(d, "");
  EXPECT(shares_storage(d, x));
  EXPECT_OK(prism_mul(d, two, &dd));
  EXPECT(prism_tensor_requires_grad(dd) == 0);
  EXPECT_GRAD_FN(dd, "");
  EXPECT_OK(prism_tensor_grad_fn_next(dd, names, 2, &n));
  EXPECT(n == 0);
  EXPECT(prism_tensor_requires_grad(x) == 1); /* the original is untouched */
  rel(dd);

  /* no_grad: nothing is recorded; enter/exit pairs nest. */
  EXPECT(prism_is_grad_enabled() == 1);
  EXPECT_OK(prism_no_grad_enter());
  EXPECT(prism_is_grad_enabled() == 0);
  EXPECT_OK(prism_mul(x, two, &z));
  EXPECT(prism_tensor_requires_grad(z) == 0);
  EXPECT_GRAD_FN(z, "");
  EXPECT(prism_tensor_is_leaf(z) == 1);
  EXPECT_OK(prism_no_grad_enter());
  EXPECT_OK(prism_no_grad_exit());
  EXPECT(prism_is_grad_enabled() == 0); /* still inside the outer no_grad */
  /* The SGD update pattern: in place on a leaf is allowed under no_grad. */
  EXPECT_OK(prism_sub_(x, two, 0.5));
  EXPECT_VALUES(x, F64S(0, 1, 2), 3, 0);
  EXPECT_OK(prism_no_grad_exit());
  EXPECT(prism_is_grad_enabled() == 1);
  EXPECT_STATUS(prism_no_grad_exit(), PRISM_ERROR_INVALID_ARGUMENT); /* unbalanced */
  EXPECT_MSG_HAS("no_grad_enter");
  EXPECT(prism_is_grad_enabled() == 1);
  /* ... and refused outside no_grad: the leaf's history would be lost. */
  EXPECT_STATUS(prism_add_(x, two, 1.0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("leaf");
  EXPECT_MSG_HAS("in-place");
  EXPECT_VALUES(x, F64S(0, 1, 2), 3, 0);
  rel(z);

  /* detach_ cuts a result out of the graph in place. */
  EXPECT_OK(prism_mul(x, two, &h));
  EXPECT(prism_tensor_requires_grad(h) == 1);
  EXPECT_OK(prism_detach_(h));
  EXPECT(prism_tensor_requires_grad(h) == 0);
  EXPECT(prism_tensor_is_leaf(h) == 1);
  EXPECT_GRAD_FN(h, "");
  EXPECT_VALUES(h, F64S(0, 2, 4), 3, 0);
  rel(h);

  /* requires_grad: floating point only; cannot be turned off on a non-leaf. */
  EXPECT_OK(prism_arange(0, 3, 1, PRISM_DTYPE_I64, "cpu", &i));
  EXPECT_STATUS(prism_tensor_set_requires_grad(i, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("floating point");
  EXPECT(prism_tensor_requires_grad(i) == 0);
  EXPECT_OK(prism_tensor_set_requires_grad(i, 0)); /* turning it off is always fine on a leaf */
  EXPECT_OK(prism_mul(x, two, &h));
  EXPECT_STATUS(prism_tensor_set_requires_grad(h, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("detach");
  EXPECT(prism_tensor_requires_grad(h) == 1);

  /* retain_grad keeps a non-leaf's .grad; without it there is none. */
  EXPECT_OK(prism_tensor_retain_grad(h));
  EXPECT_OK(prism_mul(h, h, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_GRAD(h, F64S(0, 4, 8), 3);  /* d/dh sum(h^2) = 2h */
  EXPECT_GRAD(x, F64S(0, 8, 16), 3); /* chain rule: 2h * 2 */
  EXPECT_NO_GRAD(sq);
  EXPECT_STATUS(prism_tensor_retain_grad(i), PRISM_ERROR_INVALID_ARGUMENT); /* does not require grad */
  EXPECT_MSG_HAS("requires_grad");

  rel(x);
  rel(two);
  rel(d);
  rel(i);
  rel(h);
  rel(sq);
  rel(loss);
}

static void test_autograd_failures(void) {
  prism_tensor_t x = NULL, two = NULL, h = NULL, z = NULL, loss = NULL, y = NULL, plain = NULL, ones = NULL;
  prism_tensor_t wrong = NULL, sq = NULL;
  g_section = "autograd failures";

  x = grad_leaf(F64S(1, 2, 3), I64S(3), 1);
  two = scalar64(2.0);

  /* An in-place change to a tensor saved for backward: backward refuses. */
  EXPECT_OK(prism_mul(x, two, &h)); /* h = 2x */
  EXPECT_OK(prism_mul(h, h, &z));   /* MulBackward saves h */
  EXPECT_OK(prism_sum(z, NULL, 0, 0, &loss));
  EXPECT_OK(prism_add_(h, two, 1.0)); /* allowed on a non-leaf, bumps its version */
  EXPECT_VALUES(h, F64S(4, 6, 8), 3, 0);
  EXPECT_STATUS(prism_backward(loss, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("modified by an inplace operation");
  EXPECT_MSG_HAS("MulBackward");
  EXPECT_NO_GRAD(x);
  rel(h);
  rel(z);
  rel(loss);

  /* Backward on a non-scalar needs an explicit gradient. */
  EXPECT_OK(prism_mul(x, two, &y));
  EXPECT_STATUS(prism_backward(y, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("scalar outputs");
  EXPECT(has_shape(prism_last_error(), "3,") || strstr(prism_last_error(), "[3]") != NULL);
  wrong = make(F64S(1, 1), PRISM_DTYPE_F64, I64S(2), 1);
  EXPECT_STATUS(prism_backward(y, wrong, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("shape");
  EXPECT_NO_GRAD(x);
  ones = make(F64S(1, 10, 100), PRISM_DTYPE_F64, I64S(3), 1);
  EXPECT_OK(prism_backward(y, ones, 0)); /* vector-Jacobian product: 2 * v */
  EXPECT_GRAD(x, F64S(2, 20, 200), 3);
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  rel(y);

  /* Backward on a tensor that does not require grad. */
  plain = make(F64S(1), PRISM_DTYPE_F64, I64S(1), 1);
  EXPECT_STATUS(prism_backward(plain, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("does not require grad");
  EXPECT_STATUS(prism_backward(NULL, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);

  /* Twice through a freed graph; retain_graph keeps it for a second pass. */
  EXPECT_OK(prism_mul(x, x, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 1));
  EXPECT_GRAD(x, F64S(2, 4, 6), 3);
  EXPECT_OK(prism_backward(loss, NULL, 0)); /* the graph was retained: accumulates */
  EXPECT_GRAD(x, F64S(4, 8, 12), 3);
  EXPECT_STATUS(prism_backward(loss, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("second time");
  EXPECT_MSG_HAS("retain_graph");
  EXPECT_GRAD(x, F64S(4, 8, 12), 3); /* the failed call added nothing */

  rel(x);
  rel(two);
  rel(loss);
  rel(plain);
  rel(ones);
  rel(wrong);
  rel(sq);
}

static void test_autograd_grad_fn(void) {
  prism_tensor_t x = NULL, u = NULL, sq = NULL, y = NULL, ones = NULL;
  prism_tensor_t outs[1], ins[2], gouts[1], res[2] = {NULL, NULL};
  g_section = "autograd grad()";

  x = grad_leaf(F64S(1, 2, 3), I64S(3), 1);
  u = grad_leaf(F64S(5), I64S(1), 1); /* not used by the outputs */
  EXPECT_OK(prism_mul(x, x, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &y));

  outs[0] = y;
  ins[0] = x;
  ins[1] = u;
  /* An unused input is an error unless allow_unused (then NULL). */
  EXPECT_STATUS(prism_autograd_grad(outs, 1, NULL, ins, 2, 1, 0, res), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("allow_unused");
  EXPECT(res[0] == NULL && res[1] == NULL);
  EXPECT_OK(prism_autograd_grad(outs, 1, NULL, ins, 2, 1, 1, res));
  EXPECT_VALUES(res[0], F64S(2, 4, 6), 3, 0);
  EXPECT(res[1] == NULL);
  EXPECT_NO_GRAD(x); /* grad() leaves .grad alone */
  rel(res[0]);

  /* Non-scalar outputs take grad_outputs. */
  ones = make(F64S(1, 1, 1), PRISM_DTYPE_F64, I64S(3), 1);
  outs[0] = sq;
  gouts[0] = ones;
  EXPECT_STATUS(prism_autograd_grad(outs, 1, NULL, ins, 1, 1, 0, res), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("scalar outputs");
  EXPECT_OK(prism_autograd_grad(outs, 1, gouts, ins, 1, 1, 0, res));
  EXPECT_VALUES(res[0], F64S(2, 4, 6), 3, 0);
  rel(res[0]);
  /* The retained graph still backpropagates into .grad. */
  EXPECT_OK(prism_backward(y, NULL, 0));
  EXPECT_GRAD(x, F64S(2, 4, 6), 3);

  /* Argument checks. */
  EXPECT_STATUS(prism_autograd_grad(NULL, 0, NULL, ins, 1, 0, 0, res), PRISM_ERROR_INVALID_ARGUMENT);
  outs[0] = y;
  EXPECT_STATUS(prism_autograd_grad(outs, 1, NULL, NULL, 0, 0, 0, res), PRISM_ERROR_INVALID_ARGUMENT);
  outs[0] = ones; /* does not require grad */
  EXPECT_STATUS(prism_autograd_grad(outs, 1, NULL, ins, 1, 0, 0, res), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("does not require grad");

  rel(x);
  rel(u);
  rel(sq);
  rel(y);
  rel(ones);
}

/* Hook context: how often it ran and by what it scales the gradient (0 = observe only). */
typedef struct hook_ctx {
  int calls;
  double scale;
  prism_status fail_with;
} hook_ctx;

static prism_status scale_hook(prism_tensor_t grad, void* ctx, prism_tensor_t* replacement) {
  hook_ctx* c = (hook_ctx*)ctx;
  prism_tensor_t k = NULL;
  prism_status s;
  ++c->calls;
  if (c->fail_with != PRISM_OK) return c->fail_with;
  if (c->scale == 0) return PRISM_OK; /* leave *replacement NULL: keep the gradient */
  s = prism_scalar(c->scale, prism_tensor_dtype(grad), "cpu", &k);
  if (s == PRISM_OK) s = prism_mul(grad, k, replacement);
  prism_tensor_release(k);
  return s;
}

static void test_autograd_hooks(void) {
  prism_tensor_t x = NULL, plain = NULL, h = NULL, sq = NULL, loss = NULL, r = NULL, x0 = NULL;
  hook_ctx leaf_ctx = {0, 10.0, PRISM_OK}, mid_ctx = {0, 0.0, PRISM_OK},
           fail_ctx = {0, 0.0, PRISM_ERROR_INTERNAL};
  int32_t hl = -1, hm = -1, hf = -1, unused = -1;
  double v = 0;
  g_section = "autograd hooks";

  x = grad_leaf(F64S(1, 2, 3), I64S(3), 1);

  /* A hook on a leaf replaces the gradient that is accumulated. */
  EXPECT_OK(prism_tensor_register_hook(x, scale_hook, &leaf_ctx, &hl));
  EXPECT_OK(prism_mul(x, x, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT(leaf_ctx.calls == 1);
  EXPECT_GRAD(x, F64S(20, 40, 60), 3); /* 10 * 2x */
  rel(sq);
  rel(loss);

  /* Removed: the next backward is not scaled. */
  EXPECT_OK(prism_tensor_remove_hook(x, hl));
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  EXPECT_OK(prism_mul(x, x, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT(leaf_ctx.calls == 1);
  EXPECT_GRAD(x, F64S(2, 4, 6), 3);
  rel(sq);
  rel(loss);
  EXPECT_OK(prism_tensor_zero_grad(x, 1));

  /* A hook on an intermediate sees its gradient; one that writes nothing keeps it. */
  EXPECT_OK(prism_add(x, x, 1.0, &h)); /* h = 2x */
  EXPECT_OK(prism_tensor_register_hook(h, scale_hook, &mid_ctx, &hm));
  EXPECT(hm != hl);
  EXPECT_OK(prism_mul(h, h, &sq));
  EXPECT_OK(prism_sum(sq, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 1));
  EXPECT(mid_ctx.calls == 1);
  EXPECT_GRAD(x, F64S(8, 16, 24), 3); /* 2h * 2 = 8x */
  /* ... and one that replaces it changes everything upstream. */
  EXPECT_OK(prism_tensor_remove_hook(h, hm));
  mid_ctx.scale = 0.5;
  EXPECT_OK(prism_tensor_register_hook(h, scale_hook, &mid_ctx, &hm));
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  EXPECT_OK(prism_backward(loss, NULL, 1));
  EXPECT(mid_ctx.calls == 2);
  EXPECT_GRAD(x, F64S(4, 8, 12), 3);
  EXPECT_OK(prism_tensor_remove_hook(h, hm));

  /* A failing hook aborts backward with its status; nothing is accumulated. */
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  EXPECT_OK(prism_tensor_register_hook(h, scale_hook, &fail_ctx, &hf));
  EXPECT_STATUS(prism_backward(loss, NULL, 1), PRISM_ERROR_INTERNAL);
  EXPECT_MSG_HAS("hook");
  EXPECT(fail_ctx.calls == 1);
  EXPECT_NO_GRAD(x);
  EXPECT_OK(prism_tensor_remove_hook(h, hf));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_GRAD(x, F64S(8, 16, 24), 3);
  EXPECT(fail_ctx.calls == 1);

  /* Hooks need a tensor that requires grad, and a function. */
  plain = make(F64S(1), PRISM_DTYPE_F64, I64S(1), 1);
  EXPECT_STATUS(prism_tensor_register_hook(plain, scale_hook, &leaf_ctx, &unused),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("require");
  EXPECT_STATUS(prism_tensor_register_hook(x, NULL, NULL, &unused), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(unused == -1);

  /* Anomaly mode: sqrt(0) has an infinite gradient; the error names SqrtBackward. */
  g_section = "autograd anomaly";
  x0 = grad_leaf(F64S(0), I64S(1), 1);
  rel(sq);
  EXPECT_OK(prism_sqrt(x0, &sq));
  EXPECT_GRAD_FN(sq, "SqrtBackward");
  EXPECT_OK(prism_set_anomaly_enabled(1));
  EXPECT_STATUS(prism_backward(sq, NULL, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("SqrtBackward");
  EXPECT_MSG_HAS("sqrt");
  EXPECT_MSG_HAS("nan or inf");
  EXPECT_OK(prism_set_anomaly_enabled(0));
  /* Without anomaly mode the infinity simply lands in .grad. */
  EXPECT_OK(prism_backward(sq, NULL, 0));
  EXPECT_OK(prism_tensor_grad(x0, &r));
  EXPECT(r != NULL && prism_tensor_item_double(r, &v) == PRISM_OK && isinf(v) && v > 0);

  rel(x);
  rel(plain);
  rel(h);
  rel(sq);
  rel(loss);
  rel(r);
  rel(x0);
}

/* ===========================================================================
 * Optimizer updates
 * ======================================================================== */

static void test_optimizer_updates(void) {
  prism_tensor_t p = NULL, g = NULL, buf = NULL, m = NULL, v = NULL, vmax = NULL, small = NULL;
  double b1c, b2c, denom;
  g_section = "optimizer updates";
  EXPECT_OK(prism_from_data(F32S(1, -2), I64S(2), 1, PRISM_DTYPE_F32, "cpu", &p));
  EXPECT_OK(prism_from_data(F32S(0.5f, 0.25f), I64S(2), 1, PRISM_DTYPE_F32, "cpu", &g));
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &buf));
  /* Step 1 (buffer = d = g + 0.1 p), step 2 (buffer = 0.9 buf + d): lr 0.1. */
  EXPECT_OK(prism_sgd_update(p, g, buf, 0.1, 0.9, 0, 0.1, PRISM_SGD_INIT_BUFFER));
  EXPECT_VALUES(buf, F64S(0.6, 0.05), 2, 1e-6);
  EXPECT_VALUES(p, F64S(0.94, -2.005), 2, 1e-6);
  EXPECT_OK(prism_sgd_update(p, g, NULL, 0.5, 0, 0, 0, PRISM_SGD_MAXIMIZE));
  EXPECT_VALUES(p, F64S(1.19, -1.88), 2, 1e-6);
  /* Adam step 1 from zero state: the update is lr * sign(g) (up to eps). */
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &m));
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &v));
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &vmax));
  EXPECT_OK(prism_adam_update(p, g, m, v, vmax, 0.01, 0.9, 0.999, 1e-8, 0, 1, PRISM_ADAM_AMSGRAD));
  EXPECT_VALUES(p, F64S(1.18, -1.89), 2, 1e-6);
  EXPECT_VALUES(m, F64S(0.05, 0.025), 2, 1e-7);
  EXPECT_VALUES(vmax, F64S(0.00025, 0.0000625), 2, 1e-9);
  /* AdamW step 2: decay first, then the moment update. */
  EXPECT_OK(
      prism_adam_update(p, g, m, v, NULL, 0.01, 0.9, 0.999, 1e-8, 0.5, 2, PRISM_ADAM_DECOUPLED_WEIGHT_DECAY));
  b1c = 1 - 0.9 * 0.9;
  b2c = sqrt(1 - 0.999 * 0.999);
  denom = sqrt(0.999 * 0.00025 + 0.001 * 0.25) / b2c + 1e-8;
  EXPECT_VALUES(m, F64S(0.095, 0.0475), 2, 1e-7);
  {
    double want0 = 1.18 * (1 - 0.005) - 0.01 / b1c * 0.095 / denom;
    double got[2];
    EXPECT(read_f64(p, got, 2) && fabs(got[0] - want0) < 1e-5);
  }
  /* Errors name the op and the mismatch; nothing changes. */
  EXPECT_OK(prism_zeros(I64S(3), 1, PRISM_DTYPE_F32, "cpu", &small));
  EXPECT_STATUS(prism_sgd_update(p, small, NULL, 0.1, 0, 0, 0, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("sgd_update");
  EXPECT_STATUS(prism_sgd_update(p, g, NULL, 0.1, 0.9, 0, 0, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("momentum_buffer");
  EXPECT_STATUS(prism_adam_update(p, g, m, v, NULL, 0.1, 0.9, 0.999, 1e-8, 0, 0, 0),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("step");
  EXPECT_STATUS(prism_adam_update(p, g, m, NULL, NULL, 0.1, 0.9, 0.999, 1e-8, 0, 1, 0),
                PRISM_ERROR_INVALID_ARGUMENT);
  prism_tensor_release(p);
  prism_tensor_release(g);
  prism_tensor_release(buf);
  prism_tensor_release(m);
  prism_tensor_release(v);
  prism_tensor_release(vmax);
  prism_tensor_release(small);
}

/* ===========================================================================
 * Checkpoints (safetensors)
 * ======================================================================== */

static void test_safetensors(void) {
  const char* path = "capi_test_checkpoint.safetensors";
  const char* names[2] = {"w", "steps"};
  const char* keys[1] = {"format"};
  const char* vals[1] = {"pt"};
  prism_tensor_t ts[2] = {NULL, NULL};
  prism_tensor_t w_t = NULL, back = NULL, steps = NULL;
  prism_safetensors_t f = NULL, bad = NULL;
  size_t n = 0;
  const char* name = NULL;
  const char* key = NULL;
  const char* value = NULL;
  int64_t sizes[4] = {0, 0, 0, 0};
  int32_t ndim = 0;
  prism_dtype dt = PRISM_DTYPE_BOOL;
  unsigned char junk[16];
  g_section = "safetensors";

  EXPECT_OK(prism_from_data(F32S(1, 2, 3, 4, 5, 6), I64S(2, 3), 2, PRISM_DTYPE_F32, "cpu", &ts[0]));
  EXPECT_OK(prism_from_data(I32S(7, 8), I64S(2), 1, PRISM_DTYPE_I32, "cpu", &ts[1]));
  /* A transposed view is written row-major. */
  EXPECT_OK(prism_t(ts[0], &w_t));
  prism_tensor_release(ts[0]);
  ts[0] = w_t;
  EXPECT_OK(prism_safetensors_save(path, names, ts, 2, keys, vals, 1));
  EXPECT_OK(prism_safetensors_open(path, &f));
  EXPECT_OK(prism_safetensors_count(f, &n));
  EXPECT(n == 2);
  EXPECT_OK(prism_safetensors_name(f, 0, &name));
  EXPECT(name != NULL && strcmp(name, "steps") == 0); /* both 4-byte dtypes: by name */
  EXPECT_OK(prism_safetensors_info(f, "w", &dt, sizes, 4, &ndim));
  EXPECT(dt == PRISM_DTYPE_F32 && ndim == 2 && sizes[0] == 3 && sizes[1] == 2);
  EXPECT_OK(prism_safetensors_get(f, "w", "cpu", &back));
  EXPECT_VALUES(back, F64S(1, 4, 2, 5, 3, 6), 6, 0);
  EXPECT_OK(prism_safetensors_get(f, "steps", NULL, &steps));
  EXPECT(prism_tensor_dtype(steps) == PRISM_DTYPE_I32);
  EXPECT_VALUES(steps, F64S(7, 8), 2, 0);
  EXPECT_OK(prism_safetensors_metadata_count(f, &n));
  EXPECT(n == 1);
  EXPECT_OK(prism_safetensors_metadata_get(f, 0, &key, &value));
  EXPECT(key != NULL && value != NULL && strcmp(key, "format") == 0 && strcmp(value, "pt") == 0);

  /* Errors name the file and the tensor; nothing is written on failure. */
  EXPECT_STATUS(prism_safetensors_get(f, "nope", "cpu", &back), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("nope");
  EXPECT_STATUS(prism_safetensors_name(f, 5, &name), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_safetensors_info(f, "w", &dt, sizes, 1, &ndim), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_safetensors_metadata_get(f, 3, &key, &value), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_safetensors_count(NULL, &n), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_safetensors_save(path, names, ts, 2, NULL, NULL, 1), PRISM_ERROR_INVALID_ARGUMENT);
  names[1] = "w";
  EXPECT_STATUS(prism_safetensors_save(path, names, ts, 2, NULL, NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("used twice");
  EXPECT_STATUS(prism_safetensors_open("/nonexistent/dir/x.safetensors", &bad), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("/nonexistent/dir/x.safetensors");
  EXPECT(bad == NULL);
  /* A header length far past the end of a 16-byte buffer. */
  memset(junk, 0, sizeof junk);
  junk[0] = 0xff;
  junk[8] = '{';
  EXPECT_STATUS(prism_safetensors_open_memory(junk, sizeof junk, &bad), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("header length");
  /* The smallest valid file: "{}" padded to 8 bytes. */
  memset(junk, ' ', sizeof junk);
  memset(junk, 0, 8);
  junk[0] = 8;
  junk[8] = '{';
  junk[9] = '}';
  EXPECT_OK(prism_safetensors_open_memory(junk, sizeof junk, &bad));
  EXPECT_OK(prism_safetensors_count(bad, &n));
  EXPECT(n == 0);

  EXPECT_OK(prism_safetensors_close(bad));
  EXPECT_OK(prism_safetensors_close(f));
  EXPECT_OK(prism_safetensors_close(NULL));
  remove(path);
  prism_tensor_release(ts[0]);
  prism_tensor_release(ts[1]);
  prism_tensor_release(back);
  prism_tensor_release(steps);
}

static void test_load_idx(void) {
  /* A 2 x 3 int16 IDX file written by hand: big-endian header and data. */
  static const unsigned char kIdx[] = {0, 0, 0x0B, 2, 0,    0,    0, 2, 0,    0,    0,    3,
                                       0, 1, 0,    2, 0xFF, 0xFD, 1, 0, 0x7F, 0xFF, 0x80, 0};
  const char* path = "capi_test_data.idx";
  prism_tensor_t t = NULL;
  FILE* f = NULL;
  g_section = "load_idx";
  f = fopen(path, "wb");
  EXPECT(f != NULL);
  if (f == NULL) return;
  EXPECT(fwrite(kIdx, 1, sizeof kIdx, f) == sizeof kIdx);
  fclose(f);
  EXPECT_OK(prism_load_idx(path, "cpu", &t));
  EXPECT(prism_tensor_dtype(t) == PRISM_DTYPE_I16);
  EXPECT_SIZES(t, 2, I64S(2, 3));
  EXPECT_VALUES(t, F64S(1, 2, -3, 256, 32767, -32768), 6, 0);
  prism_tensor_release(t);
  /* Truncated: the last element is cut off. */
  f = fopen(path, "wb");
  EXPECT(f != NULL);
  if (f == NULL) return;
  EXPECT(fwrite(kIdx, 1, sizeof kIdx - 1, f) == sizeof kIdx - 1);
  fclose(f);
  t = NULL;
  EXPECT_STATUS(prism_load_idx(path, NULL, &t), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("truncated");
  EXPECT(t == NULL);
  EXPECT_STATUS(prism_load_idx(NULL, NULL, &t), PRISM_ERROR_INVALID_ARGUMENT);
  remove(path);
}

/* ===========================================================================
 * Error paths: NULL handles, messages, nothing changes on failure
 * ======================================================================== */

static void test_error_paths(void) {
  prism_tensor_t a = NULL, b = NULL, c = NULL, tr = NULL, v = NULL, keep = NULL;
  int32_t result = 0;
  int32_t count = 0, d;
  prism_device_info info;
  g_section = "errors";

  a = iota(I64S(2, 3), 2);
  b = make(F32S(1, 2, 3, 4), PRISM_DTYPE_F32, I64S(4), 1);

  /* NULL handles */
  keep = c = a;
  EXPECT_STATUS(prism_add(NULL, b, 1, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_add(a, NULL, 1, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_view(NULL, I64S(1), 1, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_sum(NULL, NULL, 0, 0, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_matmul(NULL, a, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_clone(NULL, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_add(a, b, 1, NULL), PRISM_ERROR_INVALID_ARGUMENT); /* NULL out-parameter */
  EXPECT_STATUS(prism_tensor_copy_to_host(NULL, &result, 4), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_equal(NULL, a, &result), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(c == keep);

  /* Non-broadcastable add: the message names both shapes and the dimension. */
  EXPECT_STATUS(prism_add(a, b, 1, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(c == keep);
  EXPECT(has_shape(prism_last_error(), "2, 3"));
  EXPECT(strstr(prism_last_error(), "4") != NULL);
  EXPECT(strstr(prism_last_error(), "dim") != NULL);
  if (!has_shape(prism_last_error(), "2, 3"))
    fprintf(stderr, "  broadcast message: %s\n", prism_last_error());
  /* ... and the in-place form leaves `a` intact. */
  EXPECT_STATUS(prism_add_(a, b, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_SIZES(a, 2, I64S(2, 3));
  EXPECT_VALUES(a, F64S(0, 1, 2, 3, 4, 5), 6, 0);
  EXPECT_VALUES(b, F64S(1, 2, 3, 4), 4, 0);

  /* view of a non-contiguous tensor: says why and suggests reshape. */
  EXPECT_OK(prism_transpose(a, 0, 1, &tr));
  v = tr;
  EXPECT_STATUS(prism_view(tr, I64S(6), 1, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(v == tr);
  EXPECT_MSG_HAS("reshape");
  EXPECT(strstr(prism_last_error(), "contiguous") != NULL || strstr(prism_last_error(), "stride") != NULL);

  /* index out of range names the index and the size. */
  EXPECT_STATUS(prism_select(a, 1, 5, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(c == keep);
  EXPECT_MSG_HAS("5");
  EXPECT_MSG_HAS("3");
  EXPECT(strstr(prism_last_error(), "range") != NULL || strstr(prism_last_error(), "index") != NULL ||
         strstr(prism_last_error(), "bounds") != NULL);
  EXPECT_STATUS(prism_select(a, 0, -3, &c), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_narrow(a, 5, 0, 1, &c), PRISM_ERROR_INVALID_ARGUMENT); /* bad dim */

  /* The failing calls changed nothing. */
  EXPECT_SIZES(a, 2, I64S(2, 3));
  EXPECT_STRIDES(a, 2, I64S(3, 1));
  EXPECT_VALUES(a, F64S(0, 1, 2, 3, 4, 5), 6, 0);
  EXPECT_SIZES(tr, 2, I64S(3, 2));
  EXPECT_VALUES(tr, F64S(0, 3, 1, 4, 2, 5), 6, 0);

  /* Mixing devices names both devices (only when a second device exists). */
  EXPECT_OK(prism_device_count(&count));
  for (d = 0; d < count; ++d) {
    info.struct_size = sizeof(info);
    if (prism_device_info_get(d, &info) != PRISM_OK || strncmp(info.device, "cpu", 3) == 0) continue;
    v = NULL;
    if (prism_to_device(a, info.device, &v) == PRISM_OK) {
      EXPECT(prism_add(a, v, 1, &c) != PRISM_OK);
      EXPECT_MSG_HAS(info.device);
      EXPECT_MSG_HAS("cpu");
      rel(v);
    }
    break;
  }

  rel(a);
  rel(b);
  rel(tr);
}

/* ===========================================================================
 * Neural-network ops
 * ======================================================================== */

static void test_nn(void) {
  prism_tensor_t x = NULL, t = NULL, w = NULL, b = NULL, o = NULL, keep = NULL, rm = NULL, rv = NULL,
                 g = NULL, s = NULL;
  const double ln3 = 1.0986122886681098;
  g_section = "nn";
  x = make(F32S(0, 1.0986122886681098f, 1.0986122886681098f, 0), PRISM_DTYPE_F32, I64S(2, 2), 2);
  EXPECT_OK(prism_softmax(x, -1, &o));
  EXPECT_VALUES(o, F64S(0.25, 0.75, 0.75, 0.25), 4, 1e-6);
  rel(o);
  EXPECT_OK(prism_log_softmax(x, 1, &o));
  EXPECT_VALUES(o, F64S(-1.3862944, -0.2876821, -0.2876821, -1.3862944), 4, 1e-6);
  rel(o);
  /* cross_entropy with class indices, and its gradient softmax - onehot. */
  t = make(I64S(1, 1), PRISM_DTYPE_I64, I64S(2), 1);
  EXPECT_OK(prism_cross_entropy(x, t, NULL, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_NONE, &o));
  EXPECT_VALUES(o, F64S(0.2876821, 1.3862944), 2, 1e-6);
  rel(o);
  w = make(F32S(1, 3), PRISM_DTYPE_F32, I64S(2), 1);
  EXPECT_OK(prism_cross_entropy(x, t, w, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_SUM, &o));
  EXPECT_VALUES(o, F64S(3 * (0.2876821 + 1.3862944)), 1, 1e-5);
  rel(o);
  EXPECT_OK(prism_tensor_set_requires_grad(x, 1));
  EXPECT_OK(prism_cross_entropy(x, t, NULL, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_MEAN, &o));
  EXPECT_VALUES(o, F64S((0.2876821 + 1.3862944) / 2), 1, 1e-6);
  EXPECT_OK(prism_backward(o, NULL, 0));
  EXPECT_OK(prism_tensor_grad(x, &g));
  EXPECT_VALUES(g, F64S(0.125, -0.125, 0.375, -0.375), 4, 1e-6);
  rel(g);
  rel(o);
  EXPECT_OK(prism_tensor_set_requires_grad(x, 0));
  rel(t);
  t = make(I64S(12, 0), PRISM_DTYPE_I64, I64S(2), 1);
  keep = o = x;
  EXPECT_STATUS(prism_cross_entropy(x, t, NULL, -100, 0.0, PRISM_REDUCTION_MEAN, &o),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("Target 12 is out of bounds.");
  EXPECT(o == keep);
  rel(t);
  t = make(I64S(0, 1), PRISM_DTYPE_I64, I64S(2), 1);
  rel(x);
  x = make(F32S(-1, -2, -3, -4), PRISM_DTYPE_F32, I64S(2, 2), 2);
  EXPECT_OK(prism_nll_loss(x, t, NULL, PRISM_IGNORE_INDEX_DEFAULT, PRISM_REDUCTION_MEAN, &o));
  EXPECT_VALUES(o, F64S(2.5), 1, 1e-6);
  rel(o);
  rel(x);
  rel(t);
  rel(w);
  /* Binary cross-entropy on logits, regression losses. */
  x = make(F32S(0), PRISM_DTYPE_F32, I64S(1), 1);
  t = make(F32S(1), PRISM_DTYPE_F32, I64S(1), 1);
  w = make(F32S(2), PRISM_DTYPE_F32, I64S(1), 1);
  EXPECT_OK(prism_binary_cross_entropy_with_logits(x, t, NULL, w, PRISM_REDUCTION_MEAN, &o));
  EXPECT_VALUES(o, F64S(2 * 0.6931472), 1, 1e-6);
  rel(o);
  rel(x);
  rel(t);
  rel(w);
  x = make(F32S(0.5, 2), PRISM_DTYPE_F32, I64S(2), 1);
  t = make(F32S(0, 0), PRISM_DTYPE_F32, I64S(2), 1);
  EXPECT_OK(prism_mse_loss(x, t, PRISM_REDUCTION_MEAN, &o));
  EXPECT_VALUES(o, F64S(2.125), 1, 1e-6);
  rel(o);
  EXPECT_OK(prism_l1_loss(x, t, PRISM_REDUCTION_SUM, &o));
  EXPECT_VALUES(o, F64S(2.5), 1, 1e-6);
  rel(o);
  EXPECT_OK(prism_huber_loss(x, t, 1.0, PRISM_REDUCTION_NONE, &o));
  EXPECT_VALUES(o, F64S(0.125, 1.5), 2, 1e-6);
  rel(o);
  EXPECT_OK(prism_smooth_l1_loss(x, t, 2.0, PRISM_REDUCTION_NONE, &o));
  EXPECT_VALUES(o, F64S(0.0625, 1.0), 2, 1e-6);
  rel(o);
  EXPECT_STATUS(prism_mse_loss(NULL, t, PRISM_REDUCTION_MEAN, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("mse_loss");
  rel(x);
  rel(t);
  /* linear, dropout */
  x = make(F32S(1, 2), PRISM_DTYPE_F32, I64S(1, 2), 2);
  w = make(F32S(3, 4), PRISM_DTYPE_F32, I64S(1, 2), 2);
  b = make(F32S(5), PRISM_DTYPE_F32, I64S(1), 1);
  EXPECT_OK(prism_linear(x, w, b, &o));
  EXPECT_VALUES(o, F64S(16), 1, 0);
  rel(o);
  EXPECT_OK(prism_dropout(x, 0.0, 1, &o));
  EXPECT_VALUES(o, F64S(1, 2), 2, 0);
  rel(o);
  EXPECT_OK(prism_dropout(x, 1.0, 1, &o));
  EXPECT_VALUES(o, F64S(0, 0), 2, 0);
  rel(o);
  EXPECT_STATUS(prism_dropout(x, 2.0, 1, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("dropout");
  rel(x);
  rel(w);
  rel(b);
  /* layer_norm, batch_norm (running statistics updated in place) */
  x = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(1, 3), 2);
  EXPECT_OK(prism_layer_norm(x, I64S(3), 1, NULL, NULL, 0.0, &o));
  EXPECT_VALUES(o, F64S(-1.2247449, 0, 1.2247449), 3, 1e-5);
  rel(o);
  EXPECT_STATUS(prism_layer_norm(x, NULL, 0, NULL, NULL, 0.0, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("normalized_shape");
  rel(x);
  x = make(F32S(1, 3), PRISM_DTYPE_F32, I64S(2, 1), 2);
  rm = make(F32S(0), PRISM_DTYPE_F32, I64S(1), 1);
  rv = make(F32S(1), PRISM_DTYPE_F32, I64S(1), 1);
  EXPECT_OK(prism_batch_norm(x, rm, rv, NULL, NULL, 1, 0.5, 0.0, &o));
  EXPECT_VALUES(o, F64S(-1, 1), 2, 1e-6);
  EXPECT_VALUES(rm, F64S(1), 1, 1e-6);
  EXPECT_VALUES(rv, F64S(1.5), 1, 1e-6);
  rel(o);
  EXPECT_OK(prism_batch_norm(x, rm, rv, NULL, NULL, 0, 0.5, 0.0, &o));
  EXPECT_VALUES(o, F64S(0, 2 / 1.2247449), 2, 1e-5);
  rel(o);
  rel(x);
  rel(rm);
  rel(rv);
  /* conv2d and pooling */
  x = iota(I64S(1, 1, 3, 3), 4);
  w = make(F32S(1, 1, 1, 1), PRISM_DTYPE_F32, I64S(1, 1, 2, 2), 4);
  b = make(F32S(1), PRISM_DTYPE_F32, I64S(1), 1);
  EXPECT_OK(prism_conv2d(x, w, b, NULL, NULL, NULL, 1, &o));
  EXPECT_SIZES(o, 4, I64S(1, 1, 2, 2));
  EXPECT_VALUES(o, F64S(9, 13, 21, 25), 4, 0);
  rel(o);
  EXPECT_OK(prism_conv2d(x, w, NULL, I64S(2, 2), I64S(1, 1), I64S(1, 1), 1, &o));
  EXPECT_SIZES(o, 4, I64S(1, 1, 2, 2));
  EXPECT_VALUES(o, F64S(0, 3, 9, 24), 4, 0);
  rel(o);
  rel(w);
  w = make(F32S(1, 1, 1, 1, 1, 1, 1, 1), PRISM_DTYPE_F32, I64S(1, 2, 2, 2), 4);
  EXPECT_STATUS(prism_conv2d(x, w, NULL, NULL, NULL, NULL, 1, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("expected input[1, 1, 3, 3] to have 2 channels");
  rel(w);
  rel(x);
  rel(b);
  x = iota(I64S(1, 1, 4, 4), 4);
  EXPECT_OK(prism_max_pool2d(x, I64S(2, 2), NULL, NULL, &o));
  EXPECT_VALUES(o, F64S(5, 7, 13, 15), 4, 0);
  rel(o);
  EXPECT_OK(prism_avg_pool2d(x, I64S(2, 2), I64S(2, 2), I64S(0, 0), 1, &o));
  EXPECT_VALUES(o, F64S(2.5, 4.5, 10.5, 12.5), 4, 0);
  rel(o);
  EXPECT_OK(prism_avg_pool2d(x, I64S(3, 3), I64S(3, 3), I64S(1, 1), 0, &o));
  EXPECT_VALUES(o, F64S(2.5, 4.5, 10.5, 12.5), 4, 1e-6);
  rel(o);
  EXPECT_STATUS(prism_max_pool2d(x, NULL, NULL, NULL, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("kernel_size");
  EXPECT_STATUS(prism_softmax(NULL, 0, &o), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("softmax");
  EXPECT_STATUS(prism_softmax(x, 0, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  /* The gradient of a pooled sum reaches every window's maximum once. */
  EXPECT_OK(prism_tensor_set_requires_grad(x, 1));
  EXPECT_OK(prism_max_pool2d(x, I64S(2, 2), NULL, NULL, &o));
  EXPECT_OK(prism_sum(o, NULL, 0, 0, &s));
  EXPECT_OK(prism_backward(s, NULL, 0));
  EXPECT_OK(prism_tensor_grad(x, &g));
  EXPECT_VALUES(g, F64S(0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1), 16, 0);
  rel(g);
  rel(s);
  rel(o);
  rel(x);
  (void)ln3;
}

/* ===========================================================================
 * Indexing
 * ======================================================================== */

static prism_tensor_index idx_entry(prism_index_kind kind) {
  prism_tensor_index e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.kind = kind;
  return e;
}
static prism_tensor_index idx_int(int64_t v) {
  prism_tensor_index e = idx_entry(PRISM_INDEX_INT);
  e.value = v;
  return e;
}
static prism_tensor_index idx_slice(int64_t start, int64_t stop, int64_t step) {
  prism_tensor_index e = idx_entry(PRISM_INDEX_SLICE);
  e.start = start;
  e.stop = stop;
  e.step = step;
  return e;
}
static prism_tensor_index idx_tensor(prism_tensor_t t) {
  prism_tensor_index e = idx_entry(PRISM_INDEX_TENSOR);
  e.tensor = t;
  return e;
}

static void test_indexing(void) {
  prism_tensor_t x = NULL, y = NULL, i = NULL, m = NULL, s = NULL, v = NULL, vals = NULL, inds = NULL;
  prism_tensor_t w = NULL, g = NULL, loss = NULL, z = NULL, src = NULL;
  prism_tensor_index sub[4];
  g_section = "indexing";
  x = iota(I64S(3, 4), 2); /* float32 0 .. 11 */

  /* Subscripts without tensors are views: x[1, 0::2], x[..., None, -1]. */
  sub[0] = idx_int(1);
  sub[1] = idx_slice(0, PRISM_SLICE_END, 2);
  EXPECT_OK(prism_index(x, sub, 2, &y));
  EXPECT_SIZES(y, 1, I64S(2));
  EXPECT_VALUES(y, F64S(4, 6), 2, 0);
  EXPECT(prism_tensor_storage_offset(y) == 4);
  rel(y);
  sub[0] = idx_entry(PRISM_INDEX_ELLIPSIS);
  sub[1] = idx_entry(PRISM_INDEX_NONE);
  sub[2] = idx_int(-1);
  EXPECT_OK(prism_index(x, sub, 3, &y));
  EXPECT_SIZES(y, 2, I64S(3, 1));
  EXPECT_VALUES(y, F64S(3, 7, 11), 3, 0);
  rel(y);
  sub[0] = idx_slice(0, 3, -1);
  EXPECT_STATUS(prism_index(x, sub, 1, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("step must be greater than zero");
  sub[0] = idx_int(0);
  sub[0].struct_size = 3;
  EXPECT_STATUS(prism_index(x, sub, 1, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("struct_size");
  EXPECT_STATUS(prism_index(x, NULL, 1, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(y == NULL);

  /* Advanced indexing: rows [2, 0]; an out-of-range index names the dim and its size. */
  i = make(I64S(2, 0), PRISM_DTYPE_I64, I64S(2), 1);
  sub[0] = idx_tensor(i);
  EXPECT_OK(prism_index(x, sub, 1, &y));
  EXPECT_SIZES(y, 2, I64S(2, 4));
  EXPECT_VALUES(y, F64S(8, 9, 10, 11, 0, 1, 2, 3), 8, 0);
  rel(y);
  sub[0] = idx_entry(PRISM_INDEX_SLICE);
  sub[0].stop = PRISM_SLICE_END;
  sub[0].step = 1;
  sub[1] = idx_tensor(i);
  EXPECT_OK(prism_index(x, sub, 2, &y)); /* x[:, [2, 0]] */
  EXPECT_SIZES(y, 2, I64S(3, 2));
  EXPECT_VALUES(y, F64S(2, 0, 6, 4, 10, 8), 6, 0);
  rel(y);
  sub[1] = idx_int(7);
  EXPECT_STATUS(prism_index(x, sub, 2, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("index 7 is out of bounds for dimension 1 with size 4");

  /* t[mask] = -1, then the functional index_put with accumulate. */
  EXPECT_OK(prism_scalar(9.5, PRISM_DTYPE_F32, "cpu", &s));
  EXPECT_OK(prism_gt(x, s, &m));
  rel(s);
  EXPECT_OK(prism_scalar(-1, PRISM_DTYPE_F32, "cpu", &s));
  sub[0] = idx_tensor(m);
  EXPECT_OK(prism_index_put_(x, sub, 1, s, 0));
  EXPECT_VALUES(x, F64S(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1), 12, 0);
  EXPECT_OK(prism_index_put(x, &i, 1, s, 1, &y));
  EXPECT_VALUES(y, F64S(-1, 0, 1, 2, 4, 5, 6, 7, 7, 8, -2, -2), 12, 0);
  rel(y);
  EXPECT_STATUS(prism_index_put(x, &i, 0, s, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  rel(m);
  rel(s);
  rel(x);

  /* index_select / index_add / index_fill along dim 1 of a 2 x 3 tensor. */
  x = iota(I64S(2, 3), 2);
  EXPECT_OK(prism_index_select(x, 1, i, &y)); /* i = [2, 0] */
  EXPECT_VALUES(y, F64S(2, 0, 5, 3), 4, 0);
  EXPECT_OK(prism_index_add(x, 1, i, y, 2.0, &z));
  EXPECT_VALUES(z, F64S(0, 1, 6, 9, 4, 15), 6, 0);
  rel(z);
  EXPECT_OK(prism_index_add_(x, 1, i, y, 1.0));
  EXPECT_VALUES(x, F64S(0, 1, 4, 6, 4, 10), 6, 0);
  rel(y);
  EXPECT_OK(prism_index_fill(x, 1, i, 7, &y));
  EXPECT_VALUES(y, F64S(7, 1, 7, 7, 4, 7), 6, 0);
  rel(y);
  EXPECT_STATUS(prism_index_fill_(x, 0, i, -3), PRISM_ERROR_INVALID_ARGUMENT); /* 2 is out of range */
  EXPECT_MSG_HAS("index 2 is out of bounds for dimension 0 with size 2");
  rel(i);
  i = make(I64S(-1), PRISM_DTYPE_I64, I64S(1), 1);
  EXPECT_OK(prism_index_fill_(x, 0, i, -3));
  EXPECT_VALUES(x, F64S(0, 1, 4, -3, -3, -3), 6, 0);
  EXPECT_STATUS(prism_index_select(x, 0, i, &y), PRISM_ERROR_INVALID_ARGUMENT); /* no wrapping here */
  rel(i);
  rel(x);

  /* gather / scatter: out[i][j] = x[index[i][j]][j]. */
  x = iota(I64S(3, 2), 2);
  i = make(I64S(2, 0, 1, 2), PRISM_DTYPE_I64, I64S(2, 2), 2);
  EXPECT_OK(prism_gather(x, 0, i, &y));
  EXPECT_VALUES(y, F64S(4, 1, 2, 5), 4, 0);
  EXPECT_OK(prism_zeros(I64S(3, 2), 2, PRISM_DTYPE_F32, "cpu", &z));
  EXPECT_OK(prism_scatter(z, 0, i, y, &v));
  EXPECT_VALUES(v, F64S(0, 1, 2, 0, 4, 5), 6, 0);
  rel(v);
  EXPECT_STATUS(prism_scatter_value(z, 1, i, 3, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("index 2 is out of bounds for dimension 1 with size 2");
  EXPECT_OK(prism_scatter_value(z, 0, i, 3, &v));
  EXPECT_VALUES(v, F64S(0, 3, 3, 0, 3, 3), 6, 0);
  rel(v);
  EXPECT_OK(prism_scatter_add(z, 0, i, y, &v));
  EXPECT_VALUES(v, F64S(0, 1, 2, 0, 4, 5), 6, 0);
  rel(v);
  EXPECT_OK(prism_scatter_(z, 0, i, y));
  EXPECT_OK(prism_scatter_add_(z, 0, i, y));
  EXPECT_VALUES(z, F64S(0, 2, 4, 0, 8, 10), 6, 0);
  EXPECT_OK(prism_scatter_value_(z, 0, i, 1));
  EXPECT_VALUES(z, F64S(0, 1, 1, 0, 1, 1), 6, 0);
  EXPECT_OK(prism_scatter_reduce(z, 0, i, y, PRISM_SCATTER_REDUCE_AMAX, 1, &v)); /* y = [[4, 1], [2, 5]] */
  EXPECT_VALUES(v, F64S(0, 1, 2, 0, 4, 5), 6, 0);
  rel(v);
  EXPECT_OK(prism_scatter_reduce(z, 0, i, y, PRISM_SCATTER_REDUCE_PROD, 0, &v));
  EXPECT_VALUES(v, F64S(0, 1, 2, 0, 4, 5), 6, 0);
  rel(v);
  EXPECT_STATUS(prism_scatter_reduce(z, 0, i, y, (prism_scatter_reduce_op)7, 1, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_gather(NULL, 0, i, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_gather(x, 0, y, &v), PRISM_ERROR_INVALID_ARGUMENT); /* float index */
  EXPECT_MSG_HAS("int64");
  rel(y);
  rel(z);
  rel(i);

  /* masked ops, take, nonzero on x = [[0, 1], [2, 3], [4, 5]]. */
  EXPECT_OK(prism_scalar(2.5, PRISM_DTYPE_F32, "cpu", &s));
  EXPECT_OK(prism_gt(x, s, &m));
  EXPECT_OK(prism_masked_fill(x, m, -1, &y));
  EXPECT_VALUES(y, F64S(0, 1, 2, -1, -1, -1), 6, 0);
  EXPECT_OK(prism_masked_fill_(y, m, -2));
  EXPECT_VALUES(y, F64S(0, 1, 2, -2, -2, -2), 6, 0);
  EXPECT_OK(prism_masked_fill_tensor(x, m, s, &z));
  EXPECT_VALUES(z, F64S(0, 1, 2, 2.5, 2.5, 2.5), 6, 0);
  EXPECT_OK(prism_masked_fill_tensor_(y, m, s));
  EXPECT_VALUES(y, F64S(0, 1, 2, 2.5, 2.5, 2.5), 6, 0);
  EXPECT_STATUS(prism_masked_fill(x, x, 0, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("bool");
  rel(y);
  rel(z);
  EXPECT_OK(prism_masked_select(x, m, &y));
  EXPECT_VALUES(y, F64S(3, 4, 5), 3, 0);
  rel(y);
  EXPECT_OK(prism_nonzero(m, &y));
  EXPECT_SIZES(y, 2, I64S(3, 2));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_I64);
  EXPECT_VALUES(y, F64S(1, 1, 2, 0, 2, 1), 6, 0);
  rel(y);
  i = make(I64S(5, -6, 2), PRISM_DTYPE_I64, I64S(3), 1);
  EXPECT_OK(prism_take(x, i, &y));
  EXPECT_VALUES(y, F64S(5, 0, 2), 3, 0);
  rel(y);
  rel(i);
  rel(m);
  rel(s);

  /* tril / triu, cumsum / cumprod. */
  EXPECT_OK(prism_tril(x, 0, &y));
  EXPECT_VALUES(y, F64S(0, 0, 2, 3, 4, 5), 6, 0);
  rel(y);
  EXPECT_OK(prism_triu(x, 1, &y));
  EXPECT_VALUES(y, F64S(0, 1, 0, 0, 0, 0), 6, 0);
  rel(y);
  EXPECT_OK(prism_cumsum(x, 0, &y));
  EXPECT_VALUES(y, F64S(0, 1, 2, 4, 6, 9), 6, 0);
  rel(y);
  EXPECT_OK(prism_to_dtype(x, PRISM_DTYPE_I32, &z));
  EXPECT_OK(prism_cumprod(z, 1, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_I64);
  EXPECT_VALUES(y, F64S(0, 0, 2, 6, 4, 20), 6, 0);
  rel(y);
  rel(z);

  /* sort / topk of [3, 1, 2, 1]. */
  EXPECT_OK(prism_from_data(F32S(3, 1, 2, 1), I64S(4), 1, PRISM_DTYPE_F32, "cpu", &v));
  EXPECT_OK(prism_sort(v, 0, 0, 1, &vals, &inds));
  EXPECT_VALUES(vals, F64S(1, 1, 2, 3), 4, 0);
  EXPECT_VALUES(inds, F64S(1, 3, 2, 0), 4, 0);
  rel(vals);
  rel(inds);
  EXPECT_OK(prism_topk(v, 2, -1, 1, 1, &vals, &inds));
  EXPECT_VALUES(vals, F64S(3, 2), 2, 0);
  EXPECT_VALUES(inds, F64S(0, 2), 2, 0);
  rel(vals);
  rel(inds);
  EXPECT_STATUS(prism_topk(v, 5, 0, 1, 1, &vals, &inds), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(vals == NULL && inds == NULL);
  rel(v);
  rel(x);

  /* one_hot and embedding (with its gradient; padding row 0 gets none). */
  i = make(I64S(2, 0, 2), PRISM_DTYPE_I64, I64S(3), 1);
  EXPECT_OK(prism_one_hot(i, -1, &y));
  EXPECT_SIZES(y, 2, I64S(3, 3));
  EXPECT_VALUES(y, F64S(0, 0, 1, 1, 0, 0, 0, 0, 1), 9, 0);
  rel(y);
  w = iota(I64S(3, 2), 2);
  EXPECT_OK(prism_tensor_set_requires_grad(w, 1));
  EXPECT_OK(prism_embedding(w, i, 0, &y));
  EXPECT_SIZES(y, 2, I64S(3, 2));
  EXPECT_VALUES(y, F64S(4, 5, 0, 1, 4, 5), 6, 0);
  EXPECT(strcmp(prism_tensor_grad_fn_name(y), "EmbeddingBackward") == 0);
  EXPECT_OK(prism_sum(y, NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT_OK(prism_tensor_grad(w, &g));
  EXPECT_VALUES(g, F64S(0, 0, 0, 0, 2, 2), 6, 0);
  EXPECT_STATUS(prism_embedding(w, i, 3, &src), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("padding_idx");
  EXPECT_OK(prism_embedding(w, i, PRISM_PADDING_IDX_NONE, &src));
  rel(src);
  rel(g);
  rel(loss);
  rel(y);
  rel(w);
  rel(i);
}

/* Distributed API in one process (a world of 1 over the Gloo plugin): every
 * call, the NULL rules and the errors before init and on bad arguments. */
static void test_distributed(void) {
  prism_tensor_t t = NULL, out = NULL, in = NULL;
  prism_work_t work = NULL;
  prism_process_group_t g = NULL;
  int32_t v = -1, done = 0;
  const char* name = NULL;
  g_section = "distributed";
  EXPECT(prism_dist_is_initialized() == 0);
  EXPECT_STATUS(prism_dist_rank(NULL, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("not initialized");
  EXPECT_STATUS(prism_dist_init_with("no-such-engine", 0, 1, "127.0.0.1", 29677, 20000),
                PRISM_ERROR_UNAVAILABLE);
  EXPECT_MSG_HAS("no-such-engine");
  EXPECT_STATUS(prism_dist_init_with("gloo", 3, 2, "127.0.0.1", 29677, 20000), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("rank 3");
  EXPECT_STATUS(prism_work_wait(NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_work_is_completed(NULL, &done), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_work_release(NULL));
  EXPECT_OK(prism_process_group_release(NULL));
  if (prism_dist_init_with("gloo", 0, 1, "127.0.0.1", 29677, 20000) != PRISM_OK) {
    /* A build without the Gloo plugin: the distributed calls cannot run. */
    printf("capi_test: distributed part skipped: %s\n", prism_last_error());
    EXPECT(prism_dist_init(NULL, 0) != PRISM_OK);
    EXPECT_OK(prism_dist_finalize());
    return;
  }
  EXPECT(prism_dist_is_initialized() == 1);
  EXPECT_STATUS(prism_dist_init(NULL, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("already initialized");
  EXPECT_OK(prism_dist_rank(NULL, &v));
  EXPECT(v == 0);
  EXPECT_OK(prism_dist_world_size(NULL, &v));
  EXPECT(v == 1);
  EXPECT_OK(prism_dist_backend(&name));
  EXPECT(name != NULL && strcmp(name, "gloo") == 0);

  t = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_dist_all_reduce(NULL, t, PRISM_REDUCE_SUM, NULL));
  EXPECT_VALUES(t, F64S(1, 2, 3), 3, 0);
  EXPECT_OK(prism_dist_all_reduce(NULL, t, PRISM_REDUCE_AVG, &work));
  EXPECT_OK(prism_work_wait(work, 0));
  EXPECT_OK(prism_work_is_completed(work, &done));
  EXPECT(done == 1);
  EXPECT_OK(prism_work_release(work));
  EXPECT_VALUES(t, F64S(1, 2, 3), 3, 0);
  EXPECT_STATUS(prism_dist_all_reduce(NULL, NULL, PRISM_REDUCE_SUM, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_dist_all_reduce(NULL, t, (prism_reduce_op)9, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_dist_broadcast(NULL, t, 0, NULL));
  EXPECT_STATUS(prism_dist_broadcast(NULL, t, 1, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("root 1");
  EXPECT_OK(prism_zeros(I64S(3), 1, PRISM_DTYPE_F32, "cpu", &out));
  EXPECT_OK(prism_dist_all_gather(NULL, out, t, NULL));
  EXPECT_VALUES(out, F64S(1, 2, 3), 3, 0);
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &in));
  EXPECT_STATUS(prism_dist_all_gather(NULL, in, t, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("expected world size 1");
  EXPECT_OK(prism_dist_reduce_scatter(NULL, out, t, PRISM_REDUCE_MAX, NULL));
  EXPECT_VALUES(out, F64S(1, 2, 3), 3, 0);
  EXPECT_OK(prism_dist_barrier(NULL, NULL));
  EXPECT_STATUS(prism_dist_send(NULL, t, 0, 0, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_dist_recv(NULL, t, 0, 0, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_dist_new_group(I32S(0), 1, &g));
  EXPECT(g != NULL);
  EXPECT_OK(prism_dist_rank(g, &v));
  EXPECT(v == 0);
  EXPECT_OK(prism_dist_all_reduce(g, t, PRISM_REDUCE_PROD, NULL));
  EXPECT_VALUES(t, F64S(1, 2, 3), 3, 0);
  EXPECT_OK(prism_process_group_release(g));
  EXPECT_STATUS(prism_dist_new_group(I32S(1), 1, &g), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_dist_finalize());
  EXPECT(prism_dist_is_initialized() == 0);
  rel(t);
  rel(out);
  rel(in);
}

/* ===========================================================================
 * Op forms (prism.h's "Op forms" section). Expected values are PyTorch
 * 1.13's (torch.clamp with tensors, F.gelu(approximate='tanh'), F.pad,
 * F.conv2d(padding='same'), torch.mm, dtype= reductions).
 * ======================================================================== */

/* Backward of sum(t * (1, 2, ..., n)) into the leaves of t's graph. */
static void backward_weighted(prism_tensor_t t) {
  prism_tensor_t w = NULL, flat = NULL;
  int64_t sizes[PRISM_MAX_DIMS];
  int32_t nd = prism_tensor_ndim(t);
  EXPECT_OK(prism_tensor_sizes(t, sizes, PRISM_MAX_DIMS));
  EXPECT_OK(prism_arange(1, (double)prism_tensor_numel(t) + 1, 1, PRISM_DTYPE_F64, "cpu", &flat));
  EXPECT_OK(prism_view(flat, sizes, nd, &w));
  EXPECT_OK(prism_backward(t, w, 0));
  rel(w);
  rel(flat);
}

static void test_op_forms(void) {
  prism_tensor_t x = NULL, lo = NULL, hi = NULL, y = NULL, w = NULL, a = NULL, b = NULL, keep = NULL;
  prism_tensor_t parts[2] = {NULL, NULL};
  prism_tensor_t g = NULL;
  g_section = "op_forms clamp_tensor";
  x = grad_leaf(F64S(-2, -0.5, 0.5, 1, 2, 3), I64S(2, 3), 2);
  lo = grad_leaf(F64S(-1, 0, 1), I64S(3), 1);
  hi = grad_leaf(F64S(0, 2.5), I64S(2, 1), 2);
  EXPECT_OK(prism_clamp_tensor(x, lo, hi, &y));
  EXPECT_SIZES(y, 2, I64S(2, 3));
  EXPECT_VALUES(y, F64S(-1, 0, 0, 1, 2, 2.5), 6, 0);
  EXPECT_GRAD_FN(y, "ClampBackward");
  backward_weighted(y);
  EXPECT_GRAD(x, F64S(0, 0, 0, 4, 5, 0), 6);
  EXPECT_GRAD(lo, F64S(1, 0, 0), 3);
  EXPECT_GRAD(hi, F64S(3, 6), 2);
  rel(y);
  EXPECT_OK(prism_clamp_tensor(x, NULL, hi, &y)); /* max only */
  EXPECT_VALUES(y, F64S(-2, -0.5, 0, 1, 2, 2.5), 6, 0);
  rel(y);
  keep = y = x;
  EXPECT_STATUS(prism_clamp_tensor(x, NULL, NULL, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(y == keep);
  EXPECT_MSG_HAS("at least one of 'min' or 'max'");
  rel(lo);
  lo = iota(I64S(4), 1);
  EXPECT_STATUS(prism_clamp_tensor(x, lo, NULL, &y), PRISM_ERROR_INVALID_ARGUMENT); /* [2, 3] vs [4] */
  EXPECT_MSG_HAS("[2, 3]");
  EXPECT_MSG_HAS("[4]");
  rel(lo);
  rel(hi);
  rel(x);

  g_section = "op_forms gelu tanh";
  x = grad_leaf(F64S(-3, -1, -0.1, 0, 0.5, 2), I64S(6), 1);
  EXPECT_OK(prism_gelu_approximate(x, PRISM_GELU_APPROXIMATE_TANH, &y));
  EXPECT_VALUES(y, F64S(-0.003637392082, -0.158808009392, -0.046017248955, 0, 0.345714009825, 1.954597694088),
                6, 1e-9);
  EXPECT_GRAD_FN(y, "GeluBackward");
  rel(y);
  EXPECT_OK(prism_gelu_approximate(x, PRISM_GELU_APPROXIMATE_TANH, &y));
  backward_weighted(y); /* weights 1..6; divide back below */
  {
    const double want[6] = {-0.011584166631 * 1, -0.082964083846 * 2, 0.420478210728 * 3, 0.5 * 4,
                            0.867369903535 * 5,  1.086099256624 * 6};
    prism_tensor_t gr = NULL;
    EXPECT_OK(prism_tensor_grad(x, &gr));
    EXPECT_VALUES(gr, want, 6, 1e-9);
    rel(gr);
  }
  rel(y);
  EXPECT_OK(prism_gelu_approximate(x, PRISM_GELU_APPROXIMATE_NONE, &y));
  EXPECT_VALUES(y, F64S(-0.004049694095, -0.158655253931, -0.046017216272, 0, 0.345731230637, 1.954499736104),
                6, 1e-9);
  rel(y);
  EXPECT_STATUS(prism_gelu_approximate(x, (prism_gelu_approximation)7, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("approximate");
  rel(x);

  g_section = "op_forms pad";
  x = grad_leaf(F64S(0, 1, 2, 3, 4, 5), I64S(1, 2, 3), 3);
  EXPECT_OK(prism_pad(x, I64S(2, 1), 2, PRISM_PAD_REFLECT, 0, &y));
  EXPECT_SIZES(y, 3, I64S(1, 2, 6));
  EXPECT_VALUES(y, F64S(2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4), 12, 0);
  backward_weighted(y);
  EXPECT_GRAD(x, F64S(3, 12, 6, 9, 30, 18), 6);
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  rel(y);
  EXPECT_OK(prism_pad(x, I64S(1, 2, 1, 0), 4, PRISM_PAD_REPLICATE, 0, &y));
  EXPECT_SIZES(y, 3, I64S(1, 3, 6));
  EXPECT_VALUES(y, F64S(0, 0, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2, 3, 3, 4, 5, 5, 5), 18, 0);
  backward_weighted(y);
  EXPECT_GRAD(x, F64S(18, 12, 48, 27, 15, 51), 6);
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  rel(y);
  EXPECT_OK(prism_pad(x, I64S(1, 1), 2, PRISM_PAD_CIRCULAR, 0, &y));
  EXPECT_VALUES(y, F64S(2, 0, 1, 2, 0, 5, 3, 4, 5, 3), 10, 0);
  backward_weighted(y);
  EXPECT_GRAD(x, F64S(7, 3, 5, 17, 8, 15), 6);
  EXPECT_OK(prism_tensor_zero_grad(x, 1));
  rel(y);
  EXPECT_OK(prism_pad(x, I64S(1, -1, 0, 1), 4, PRISM_PAD_CONSTANT, 9, &y)); /* negative pad crops */
  EXPECT_SIZES(y, 3, I64S(1, 3, 3));
  EXPECT_VALUES(y, F64S(9, 0, 1, 9, 3, 4, 9, 9, 9), 9, 0);
  EXPECT_GRAD_FN(y, "ConstantPadNdBackward");
  backward_weighted(y);
  EXPECT_GRAD(x, F64S(2, 3, 0, 5, 6, 0), 6);
  rel(y);
  keep = y = x;
  EXPECT_STATUS(prism_pad(x, I64S(3, 0), 2, PRISM_PAD_REFLECT, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(y == keep);
  EXPECT_MSG_HAS("reflect");
  EXPECT_MSG_HAS("[1, 2, 3]");
  EXPECT_STATUS(prism_pad(x, I64S(1, 1, 1), 3, PRISM_PAD_CONSTANT, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("divisible by 2");
  EXPECT_STATUS(prism_pad(x, I64S(1, 1, 1, 1, 1, 1, 1, 1), 8, PRISM_PAD_CONSTANT, 0, &y),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("too large");
  EXPECT_STATUS(prism_pad(x, I64S(1, 1), 2, (prism_pad_mode)9, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("mode");
  EXPECT_STATUS(prism_pad(x, I64S(-2, -2), 2, PRISM_PAD_CONSTANT, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("negative output size");
  EXPECT_STATUS(prism_pad(x, NULL, 2, PRISM_PAD_CONSTANT, 0, &y), PRISM_ERROR_INVALID_ARGUMENT);
  rel(x);

  g_section = "op_forms conv2d padding";
  x = iota(I64S(1, 1, 3, 3), 4);
  w = make(F32S(1, 2, 3, 4), PRISM_DTYPE_F32, I64S(1, 1, 2, 2), 4);
  EXPECT_OK(prism_conv2d_padding(x, w, NULL, NULL, PRISM_CONV_PADDING_SAME, NULL, 1, &y)); /* even kernel */
  EXPECT_SIZES(y, 4, I64S(1, 1, 3, 3));
  EXPECT_VALUES(y, F64S(27, 37, 17, 57, 67, 29, 20, 23, 8), 9, 1e-4);
  rel(y);
  EXPECT_OK(prism_conv2d_padding(x, w, NULL, NULL, PRISM_CONV_PADDING_SAME, I64S(2, 2), 1, &y));
  EXPECT_VALUES(y, F64S(16, 29, 12, 30, 54, 22, 8, 13, 4), 9, 1e-4);
  rel(y);
  EXPECT_OK(prism_conv2d_padding(x, w, NULL, NULL, PRISM_CONV_PADDING_VALID, NULL, 1, &y));
  EXPECT_SIZES(y, 4, I64S(1, 1, 2, 2));
  EXPECT_VALUES(y, F64S(27, 37, 57, 67), 4, 1e-4);
  rel(y);
  EXPECT_STATUS(prism_conv2d_padding(x, w, NULL, I64S(2, 2), PRISM_CONV_PADDING_SAME, NULL, 1, &y),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("strided");
  rel(w);
  rel(x);

  g_section = "op_forms mm";
  a = iota(I64S(2, 3), 2);
  b = iota(I64S(3, 2), 2);
  EXPECT_OK(prism_mm(a, b, &y));
  EXPECT_VALUES(y, F64S(10, 13, 28, 40), 4, 0);
  rel(y);
  keep = y = a;
  EXPECT_STATUS(prism_mm(a, a, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(y == keep);
  EXPECT_MSG_HAS("2x3 and 2x3");
  rel(b);
  b = iota(I64S(3), 1);
  EXPECT_STATUS(prism_mm(a, b, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("matrix");
  rel(b);
  rel(a);

  g_section = "op_forms dtype=";
  x = make(I32S(100, 100, 27), PRISM_DTYPE_I32, I64S(3), 1);
  EXPECT_OK(prism_sum_dtype(x, NULL, 0, 0, PRISM_DTYPE_I16, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_I16);
  EXPECT_VALUES(y, F64S(227), 1, 0);
  rel(y);
  EXPECT_OK(prism_prod_dtype(x, NULL, 0, 0, PRISM_DTYPE_F64, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F64);
  EXPECT_VALUES(y, F64S(270000), 1, 0);
  rel(y);
  EXPECT_OK(prism_mean_dtype(x, I64S(0), 1, 1, PRISM_DTYPE_F32, &y)); /* integer input, float dtype */
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F32);
  EXPECT_SIZES(y, 1, I64S(1));
  EXPECT_VALUES(y, F64S(75.666664123535), 1, 1e-5);
  rel(y);
  EXPECT_STATUS(prism_mean_dtype(x, NULL, 0, 0, PRISM_DTYPE_I64, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("could not infer output dtype");
  rel(x);
  x = make(F32S(1, 2, 3), PRISM_DTYPE_F32, I64S(3), 1);
  EXPECT_OK(prism_softmax_dtype(x, 0, PRISM_DTYPE_F64, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_F64);
  EXPECT_VALUES(y, F64S(0.090030573170, 0.244728471055, 0.665240955775), 3, 1e-9);
  rel(y);
  EXPECT_OK(prism_log_softmax_dtype(x, -1, PRISM_DTYPE_F64, &y));
  EXPECT_VALUES(y, F64S(-2.407605964444, -1.407605964444, -0.407605964444), 3, 1e-9);
  rel(y);
  EXPECT_STATUS(prism_softmax_dtype(x, 0, PRISM_DTYPE_I32, &y), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("floating point");
  rel(x);

  g_section = "op_forms cat of empties";
  parts[0] = grad_leaf(F64S(0), I64S(0), 1);
  parts[1] = grad_leaf(F64S(0), I64S(0), 1);
  EXPECT_OK(prism_cat(parts, 2, 0, &y));
  EXPECT_SIZES(y, 1, I64S(0));
  EXPECT_GRAD_FN(y, "CatBackward");
  {
    prism_tensor_t s = NULL;
    EXPECT_OK(prism_sum(y, NULL, 0, 0, &s));
    EXPECT_OK(prism_backward(s, NULL, 0));
    rel(s);
  }
  EXPECT_OK(prism_tensor_grad(parts[0], &g));
  EXPECT(g != NULL && prism_tensor_numel(g) == 0);
  rel(g);
  EXPECT_OK(prism_tensor_grad(parts[1], &g));
  EXPECT(g != NULL && prism_tensor_numel(g) == 0);
  rel(g);
  rel(y);
  rel(parts[0]);
  rel(parts[1]);

  g_section = "op_forms empty index dtypes";
  x = iota(I64S(3, 4), 2);
  a = make(I32S(0), PRISM_DTYPE_I16, I64S(3, 0), 2);
  EXPECT_OK(prism_gather(x, 1, a, &y)); /* empty int16 index: accepted as PyTorch */
  EXPECT_SIZES(y, 2, I64S(3, 0));
  rel(y);
  rel(a);
  a = make(I32S(0), PRISM_DTYPE_I8, I64S(0), 1);
  EXPECT_OK(prism_index_select(x, 1, a, &y));
  EXPECT_SIZES(y, 2, I64S(3, 0));
  rel(y);
  rel(a);
  a = make(I32S(0, 0, 0), PRISM_DTYPE_I16, I64S(3, 1), 2);
  EXPECT_STATUS(prism_gather(x, 1, a, &y), PRISM_ERROR_INVALID_ARGUMENT); /* non-empty int16 */
  EXPECT_MSG_HAS("int16");
  rel(a);
  rel(x);
}

/* ===========================================================================
 * Mixed precision: autocast scopes and the gradient-scaler ops
 * ======================================================================== */

/* 1 when `device` is loaded (prism_device_info_get over every device). */
static int device_loaded(const char* device) {
  int32_t n = 0, i;
  if (prism_device_count(&n) != PRISM_OK) return 0;
  for (i = 0; i < n; ++i) {
    prism_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (prism_device_info_get(i, &info) == PRISM_OK && strcmp(info.device, device) == 0) return 1;
  }
  return 0;
}

static void amp_autocast_on(const char* device, const char* type) {
  prism_tensor_t x = NULL, w = NULL, y = NULL, s = NULL, ce = NULL, tgt = NULL, g = NULL, xb = NULL;
  prism_tensor_t parts[2];
  int32_t on = -1;
  prism_dtype dt = PRISM_DTYPE_F32;
  /* x (2, 3) @ w (3, 2): exact in bf16 (small integers). */
  EXPECT_OK(prism_from_data(F32S(1, 2, 3, -1, 0, 2), I64S(2, 3), 2, PRISM_DTYPE_F32, device, &x));
  EXPECT_OK(prism_from_data(F32S(1, 0, 0, 1, 1, 1), I64S(3, 2), 2, PRISM_DTYPE_F32, device, &w));
  EXPECT_OK(prism_tensor_set_requires_grad(w, 1));
  EXPECT_OK(prism_autocast_enter(type, PRISM_DTYPE_BF16, 1));
  EXPECT_OK(prism_autocast_is_enabled(type, &on));
  EXPECT(on == 1);
  EXPECT_OK(prism_autocast_get_dtype(type, &dt));
  EXPECT(dt == PRISM_DTYPE_BF16);
  EXPECT_OK(prism_matmul(x, w, &y));
  EXPECT(prism_tensor_dtype(y) == PRISM_DTYPE_BF16); /* low-precision list */
  EXPECT_VALUES(y, F64S(4, 5, 1, 2), 4, 0);
  /* A loss on a bf16 input runs in f32. */
  EXPECT_OK(prism_from_data(I64S(1, 0), I64S(2), 1, PRISM_DTYPE_I64, device, &tgt));
  EXPECT_OK(prism_cross_entropy(y, tgt, NULL, PRISM_IGNORE_INDEX_DEFAULT, 0.0, PRISM_REDUCTION_MEAN, &ce));
  EXPECT(prism_tensor_dtype(ce) == PRISM_DTYPE_F32);
  /* softmax: f32 on the CUDA-style list (non-CPU device types), the input's dtype on "cpu". */
  EXPECT_OK(prism_softmax(y, 1, &s));
  EXPECT(prism_tensor_dtype(s) == (strcmp(type, "cpu") == 0 ? PRISM_DTYPE_BF16 : PRISM_DTYPE_F32));
  /* cat promotes to the widest input. */
  EXPECT_OK(prism_to_dtype(x, PRISM_DTYPE_BF16, &xb));
  parts[0] = xb;
  parts[1] = x;
  prism_tensor_release(s);
  EXPECT_OK(prism_cat(parts, 2, 0, &s));
  EXPECT(prism_tensor_dtype(s) == PRISM_DTYPE_F32);
  /* enabled = 0 nested inside switches it off until its exit. */
  prism_tensor_release(s);
  EXPECT_OK(prism_autocast_enter(type, PRISM_DTYPE_BF16, 0));
  EXPECT_OK(prism_matmul(x, w, &s));
  EXPECT(prism_tensor_dtype(s) == PRISM_DTYPE_F32);
  EXPECT_OK(prism_autocast_exit());
  /* The cast is recorded: w's gradient is f32 (x^T · dL/dy). */
  EXPECT_OK(prism_backward(ce, NULL, 0));
  EXPECT_OK(prism_tensor_grad(w, &g));
  EXPECT(g != NULL && prism_tensor_dtype(g) == PRISM_DTYPE_F32);
  EXPECT_OK(prism_autocast_exit());
  EXPECT_OK(prism_autocast_is_enabled(type, &on));
  EXPECT(on == 0);
  /* Under no_grad (inference) too. */
  prism_tensor_release(s);
  EXPECT_OK(prism_no_grad_enter());
  EXPECT_OK(prism_autocast_enter(type, PRISM_DTYPE_F16, 1));
  EXPECT_OK(prism_matmul(x, w, &s));
  EXPECT(prism_tensor_dtype(s) == PRISM_DTYPE_F16);
  EXPECT_OK(prism_autocast_exit());
  EXPECT_OK(prism_no_grad_exit());
  prism_tensor_release(x);
  prism_tensor_release(w);
  prism_tensor_release(y);
  prism_tensor_release(s);
  prism_tensor_release(ce);
  prism_tensor_release(tgt);
  prism_tensor_release(g);
  prism_tensor_release(xb);
}

/* PyTorch's GradScaler rules by hand: 65536, an overflow halves it and
 * restarts the growth count; growth_interval clean steps double it. */
static void amp_scaler_on(const char* device) {
  prism_tensor_t grad = NULL, found = NULL, inv = NULL, scale = NULL, tracker = NULL;
  double v[3];
  int i;
  EXPECT_OK(prism_from_data(F32S(65536, -131072, 32768), I64S(3), 1, PRISM_DTYPE_F32, device, &grad));
  EXPECT_OK(prism_zeros(I64S(1), 1, PRISM_DTYPE_F32, device, &found));
  EXPECT_OK(prism_from_data(F32S(1.0f / 65536), I64S(1), 1, PRISM_DTYPE_F32, device, &inv));
  EXPECT_OK(prism_from_data(F32S(65536), I64S(1), 1, PRISM_DTYPE_F32, device, &scale));
  EXPECT_OK(prism_from_data(I32S(0), I64S(1), 1, PRISM_DTYPE_I32, device, &tracker));
  EXPECT_OK(prism_amp_unscale_check(grad, found, inv));
  EXPECT_VALUES(grad, F64S(1, -2, 0.5), 3, 0);
  EXPECT_VALUES(found, F64S(0), 1, 0);
  /* A clean step counts: tracker 1, scale unchanged. */
  EXPECT_OK(prism_amp_update_scale(scale, tracker, found, 2.0, 0.5, 3));
  EXPECT_VALUES(scale, F64S(65536), 1, 0);
  EXPECT_VALUES(tracker, F64S(1), 1, 0);
  /* Forced overflow: found_inf = 1, the scale backs off to 32768, tracker 0. */
  prism_tensor_release(grad);
  EXPECT_OK(prism_from_data(F32S(1, INFINITY, 2), I64S(3), 1, PRISM_DTYPE_F32, device, &grad));
  EXPECT_OK(prism_amp_unscale_check(grad, found, inv));
  EXPECT_VALUES(found, F64S(1), 1, 0);
  EXPECT(read_f64(grad, v, 3) && v[0] == 1.0 / 65536 && isinf(v[1]));
  EXPECT_OK(prism_amp_update_scale(scale, tracker, found, 2.0, 0.5, 3));
  EXPECT_VALUES(scale, F64S(32768), 1, 0);
  EXPECT_VALUES(tracker, F64S(0), 1, 0);
  /* Three clean steps (growth_interval 3) double it back to 65536. */
  EXPECT_OK(prism_fill_(found, 0));
  for (i = 0; i < 3; ++i) EXPECT_OK(prism_amp_update_scale(scale, tracker, found, 2.0, 0.5, 3));
  EXPECT_VALUES(scale, F64S(65536), 1, 0);
  EXPECT_VALUES(tracker, F64S(0), 1, 0);
  /* Errors name the op and leave the operands intact. */
  EXPECT_STATUS(prism_amp_unscale_check(grad, tracker, inv), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("amp_unscale_check");
  EXPECT_MSG_HAS("found_inf");
  EXPECT_STATUS(prism_amp_update_scale(scale, tracker, found, 0.5, 0.5, 3), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("growth_factor");
  EXPECT_STATUS(prism_amp_update_scale(scale, tracker, found, 2.0, 0.5, 0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_VALUES(scale, F64S(65536), 1, 0);
  prism_tensor_release(grad);
  prism_tensor_release(found);
  prism_tensor_release(inv);
  prism_tensor_release(scale);
  prism_tensor_release(tracker);
}

static void test_mixed_precision(void) {
  static const char* const devices[][2] = {{"cpu:0", "cpu"}, {"opencl:0", "opencl"}, {"emu:0", "emu"}};
  size_t d;
  g_section = "mixed precision";
  EXPECT_STATUS(prism_autocast_exit(), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("autocast_enter");
  EXPECT_STATUS(prism_autocast_enter("cpu", PRISM_DTYPE_F32, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("float16 or bfloat16");
  EXPECT_STATUS(prism_autocast_enter("cpu:0", PRISM_DTYPE_BF16, 1), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_autocast_enter(NULL, PRISM_DTYPE_BF16, 1), PRISM_ERROR_INVALID_ARGUMENT);
  for (d = 0; d < sizeof devices / sizeof devices[0]; ++d) {
    if (!device_loaded(devices[d][0])) {
      printf("capi_test: mixed precision on %s skipped: no such device loaded\n", devices[d][0]);
      continue;
    }
    amp_autocast_on(devices[d][0], devices[d][1]);
    amp_scaler_on(devices[d][0]);
  }
}

/* ===========================================================================
 * Profiler
 * ======================================================================== */

/* Index of the first non-range event named `name` at or after `from`, or -1. */
static long profiler_find(const char* name, size_t n, size_t from, prism_profiler_event* out) {
  size_t i;
  for (i = from; i < n; ++i) {
    prism_profiler_event e;
    memset(&e, 0, sizeof(e));
    e.struct_size = sizeof(e);
    if (prism_profiler_event_get(i, &e) != PRISM_OK) return -1;
    if (!e.is_range && strcmp(e.name, name) == 0) {
      *out = e;
      return (long)i;
    }
  }
  return -1;
}

static size_t profiler_count(const char* name, size_t n) {
  size_t i, k = 0;
  for (i = 0; i < n; ++i) {
    prism_profiler_event e;
    memset(&e, 0, sizeof(e));
    e.struct_size = sizeof(e);
    if (prism_profiler_event_get(i, &e) == PRISM_OK && strcmp(e.name, name) == 0) ++k;
  }
  return k;
}

/* add, mul (inside a user range), relu on `device`: each recorded once, in order, with its device, dtype,
 * input shapes, bytes and (where the device has events) device time; relu falls back on emu. */
static void test_profiler_on(const char* device) {
  prism_tensor_t h = NULL, a = NULL, b = NULL, s = NULL, p = NULL, r = NULL;
  prism_profiler_options opts;
  prism_profiler_event add, mul, relu, range;
  size_t n = 0, needed = 0;
  long ia, im, ir, irange = -1;
  int32_t on = 0;
  uint64_t fb_before = 0, fb_after = 0;
  char path[64];
  char* text;
  memset(&add, 0, sizeof add);
  memset(&mul, 0, sizeof mul);
  memset(&relu, 0, sizeof relu);
  memset(&range, 0, sizeof range);
  FILE* f;
  long i;
  g_section = "profiler";
  h = make(F32S(1, -2, 3, -4, 5, -6), PRISM_DTYPE_F32, I64S(2, 3), 2);
  EXPECT_OK(prism_to_device(h, device, &a));
  EXPECT_OK(prism_to_device(h, device, &b));
  if (a == NULL || b == NULL) return;
  EXPECT_OK(prism_fallback_count("relu", &fb_before));
  memset(&opts, 0, sizeof(opts));
  opts.struct_size = sizeof(opts);
  opts.record_shapes = 1;
  opts.device_time = 1;
  EXPECT_OK(prism_profiler_start(&opts));
  EXPECT_OK(prism_profiler_is_enabled(&on));
  EXPECT(on == 1);
  EXPECT_OK(prism_add(a, b, 1.0, &s));
  EXPECT_OK(prism_profiler_range_push("block"));
  EXPECT_OK(prism_mul(s, b, &p));
  EXPECT_OK(prism_profiler_range_pop());
  EXPECT_OK(prism_relu(p, &r));
  EXPECT_OK(prism_profiler_stop());
  EXPECT_OK(prism_profiler_is_enabled(&on));
  EXPECT(on == 0);
  EXPECT_OK(prism_fallback_count("relu", &fb_after));
  EXPECT_OK(prism_profiler_event_count(&n));
  EXPECT(n >= 4);
  ia = profiler_find("add", n, 0, &add);
  im = profiler_find("mul", n, 0, &mul);
  ir = profiler_find("relu", n, 0, &relu);
  EXPECT(ia >= 0 && im > ia && ir > im);
  EXPECT(profiler_count("add", n) == 1 && profiler_count("mul", n) == 1 && profiler_count("relu", n) == 1);
  if (ia < 0 || im < 0 || ir < 0) return;
  EXPECT(strcmp(add.device, device) == 0 || (strcmp(device, "cpu") == 0 && strcmp(add.device, "cpu:0") == 0));
  EXPECT(strcmp(add.dtype, "float32") == 0);
  EXPECT(strcmp(add.shapes, "[2, 3], [2, 3]") == 0);
  EXPECT(add.bytes >= 6 * sizeof(float)); /* its output */
  EXPECT(add.host_ns > 0 && add.start_ns >= 0 && add.self_ns <= add.host_ns);
  EXPECT(mul.start_ns >= add.start_ns + add.host_ns);
  if (strncmp(device, "opencl", 6) == 0) {
    EXPECT(add.device_ns > 0); /* events on an asynchronous device */
  } else if (strcmp(device, "cpu") == 0) {
    EXPECT(add.device_ns == -1);
  }
  /* relu has no emu kernel: it runs through the CPU plugin, and the event says so. */
  EXPECT((fb_after > fb_before) == (relu.fallback[0] != '\0'));
  if (strncmp(device, "emu", 3) == 0) EXPECT(strcmp(relu.fallback, "cpu:0") == 0);
  if (strcmp(device, "cpu") == 0) EXPECT(relu.fallback[0] == '\0');
  for (i = 0; i < (long)n; ++i) {
    memset(&range, 0, sizeof(range));
    range.struct_size = sizeof(range);
    EXPECT_OK(prism_profiler_event_get((size_t)i, &range));
    if (range.is_range) {
      irange = i;
      break;
    }
  }
  EXPECT(irange >= 0);
  if (irange >= 0) {
    EXPECT(strcmp(range.name, "block") == 0 && range.device[0] == '\0');
    EXPECT(range.start_ns <= mul.start_ns && range.start_ns + range.host_ns >= mul.start_ns + mul.host_ns);
  }
  /* The summary: one row per op, add among them with 1 call. */
  EXPECT_OK(prism_profiler_summary(0, NULL, 0, &needed));
  EXPECT(needed > 1);
  text = (char*)malloc(needed);
  if (text != NULL) {
    size_t again = 0;
    EXPECT_OK(prism_profiler_summary(0, text, needed, &again));
    EXPECT(again == needed && strlen(text) == needed - 1);
    EXPECT(strstr(text, "Calls") != NULL && strstr(text, "\nadd ") != NULL &&
           strstr(text, "\nblock ") != NULL);
    EXPECT_OK(prism_profiler_summary(0, text, 8, NULL)); /* truncated, NUL-terminated */
    EXPECT(strlen(text) == 7);
    free(text);
  }
  /* The Chrome trace (fully validated by python/tests/test_profiler.py). */
  snprintf(path, sizeof(path), "capi_profiler_trace_%s.json",
           device[0] == 'c'   ? "cpu"
           : device[0] == 'o' ? "ocl"
                              : "emu");
  EXPECT_OK(prism_profiler_export_chrome_trace(path));
  f = fopen(path, "rb");
  EXPECT(f != NULL);
  if (f != NULL) {
    char buf[1 << 14];
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    buf[got] = '\0';
    fclose(f);
    EXPECT(strstr(buf, "\"traceEvents\":[") != NULL);
    EXPECT(strstr(buf, "\"name\":\"add\"") != NULL && strstr(buf, "\"ph\":\"X\"") != NULL);
    remove(path);
  }
  /* Events stay readable after stop and are cleared by the next start. */
  EXPECT_OK(prism_profiler_start(NULL));
  EXPECT_OK(prism_profiler_stop());
  EXPECT_OK(prism_profiler_event_count(&n));
  EXPECT(n == 0);
  rel(h);
  rel(a);
  rel(b);
  rel(s);
  rel(p);
  rel(r);
}

static void test_profiler(void) {
  static const char* const kDevices[] = {"cpu", "opencl:0", "emu:0"};
  prism_profiler_options small;
  prism_profiler_event e;
  size_t k;
  int32_t nd = 0, d;
  g_section = "profiler";
  EXPECT_OK(prism_fallback_set_policy(PRISM_FALLBACK_ALLOW));
  for (k = 0; k < sizeof(kDevices) / sizeof(kDevices[0]); ++k) {
    int found = strcmp(kDevices[k], "cpu") == 0;
    EXPECT_OK(prism_device_count(&nd));
    for (d = 0; d < nd && !found; ++d) {
      prism_device_info info;
      memset(&info, 0, sizeof(info));
      info.struct_size = sizeof(info);
      if (prism_device_info_get(d, &info) == PRISM_OK && strcmp(info.device, kDevices[k]) == 0) found = 1;
    }
    if (!found) {
      if (prism_test_device_required(kDevices[k])) {
        fprintf(stderr, "[profiler] %s is required (PRISM_REQUIRE_DEVICES) but absent\n", kDevices[k]);
        ++g_failures;
      } else {
        printf("capi_test: profiler on %s skipped: no such device\n", kDevices[k]);
      }
      continue;
    }
    test_profiler_on(kDevices[k]);
  }
  EXPECT_OK(prism_fallback_set_policy(PRISM_FALLBACK_WARN));
  /* Bad input. */
  memset(&small, 0, sizeof(small));
  small.struct_size = 4;
  EXPECT_STATUS(prism_profiler_start(&small), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_profiler_is_enabled(NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_profiler_range_push(NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_profiler_range_pop(), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("no range is open");
  memset(&e, 0, sizeof(e));
  e.struct_size = sizeof(e);
  EXPECT_STATUS(prism_profiler_event_get(12345, &e), PRISM_ERROR_INDEX);
  EXPECT_STATUS(prism_profiler_summary(0, NULL, 5, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_profiler_export_chrome_trace("/nonexistent-dir/trace.json"), PRISM_ERROR_IO);
  EXPECT_MSG_HAS("/nonexistent-dir/trace.json");
}

/* ===========================================================================
 * Streams and events (prism.h "Streams and events") on cpu, opencl:0, emu:0
 * ======================================================================== */

static int streams_device_loaded(const char* name) {
  int32_t n = 0, d;
  if (prism_device_count(&n) != PRISM_OK) return 0;
  for (d = 0; d < n; ++d) {
    prism_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (prism_device_info_get(d, &info) == PRISM_OK && strcmp(info.device, name) == 0) return 1;
  }
  return 0;
}

static void test_streams_on(const char* dev) {
  prism_user_stream_t s = NULL, t = NULL, cur = NULL, def = NULL;
  prism_user_event_t e0 = NULL, e1 = NULL, plain = NULL;
  prism_tensor_t x = NULL, y = NULL, host = NULL, pinned = NULL, moved = NULL, empty_pin = NULL;
  const char* name = NULL;
  uint64_t id = 0, def_id = 1;
  int32_t done = -1;
  double ms = -1;
  float vals[256];
  int i;
  EXPECT_OK(prism_stream_create(dev, &s));
  EXPECT_OK(prism_stream_create(dev, &t));
  EXPECT_OK(prism_stream_get_device(s, &name, &id));
  EXPECT(name != NULL && strncmp(name, dev, 3) == 0);
  EXPECT(id != 0);
  EXPECT_OK(prism_stream_get_default(dev, &def));
  EXPECT_OK(prism_stream_get_device(def, &name, &def_id));
  EXPECT(def_id == 0);
  /* work issued while s is current goes to s; t waits for it through an event */
  EXPECT_OK(prism_stream_set_current(s));
  EXPECT_OK(prism_stream_get_current(dev, &cur));
  EXPECT_OK(prism_stream_get_device(cur, &name, &def_id));
  EXPECT(def_id == id);
  EXPECT_OK(prism_event_create(1, &e0));
  EXPECT_OK(prism_event_create(1, &e1));
  EXPECT_OK(prism_event_create(0, &plain));
  EXPECT_OK(prism_event_record(e0, s));
  EXPECT_OK(prism_full(I64S(16, 16), 2, 1.5, PRISM_DTYPE_F32, dev, &x));
  EXPECT_OK(prism_matmul(x, x, &y)); /* every element 16 * 2.25 = 36 */
  EXPECT_OK(prism_event_record(e1, s));
  EXPECT_OK(prism_tensor_record_stream(y, t));
  EXPECT_OK(prism_stream_set_current(t));
  EXPECT_OK(prism_event_wait(e1, t));
  EXPECT_OK(prism_stream_synchronize(t));
  EXPECT_OK(prism_event_synchronize(e1));
  EXPECT_OK(prism_event_query(e1, &done));
  EXPECT(done == 1);
  EXPECT_OK(prism_stream_query(s, &done));
  EXPECT(done == 1);
  EXPECT_OK(prism_event_elapsed_time(e0, e1, &ms));
  EXPECT(ms >= 0.0);
  {
    prism_tensor_t row = NULL, first = NULL;
    EXPECT_OK(prism_select(y, 0, 0, &row));
    EXPECT_OK(prism_narrow(row, 0, 0, 4, &first));
    EXPECT_VALUES(first, F64S(36, 36, 36, 36), 4, 1e-5);
    prism_tensor_release(first);
    prism_tensor_release(row);
  }
  /* non-blocking copy from pinned memory, the source dropped at once */
  for (i = 0; i < 256; ++i) vals[i] = (float)i;
  EXPECT_OK(prism_from_data(vals, I64S(256), 1, PRISM_DTYPE_F32, "cpu", &host));
  EXPECT_OK(prism_pin_memory(host, dev, &pinned));
  EXPECT_OK(prism_to_device_non_blocking(pinned, dev, 1, &moved));
  prism_tensor_release(pinned);
  EXPECT_OK(prism_synchronize(dev));
  {
    prism_tensor_t head = NULL;
    EXPECT_OK(prism_narrow(moved, 0, 0, 4, &head));
    EXPECT_VALUES(head, F64S(0, 1, 2, 3), 4, 0);
    prism_tensor_release(head);
  }
  EXPECT_OK(prism_empty_pinned(I64S(8), 1, PRISM_DTYPE_F32, dev, &empty_pin));
  EXPECT(prism_tensor_numel(empty_pin) == 8);
  /* errors */
  EXPECT_STATUS(prism_event_elapsed_time(plain, e1, &ms), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("enable_timing");
  EXPECT_STATUS(prism_event_record(plain, NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("stream handle");
  EXPECT_STATUS(prism_stream_set_current(NULL), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_event_query(NULL, &done), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_stream_create("nosuchdevice:0", &cur), PRISM_ERROR_UNAVAILABLE);
  EXPECT_MSG_HAS("nosuchdevice");
  EXPECT_OK(prism_stream_set_current(def));
  EXPECT_OK(prism_stream_destroy(NULL));
  EXPECT_OK(prism_event_destroy(NULL));
  prism_tensor_release(empty_pin);
  prism_tensor_release(moved);
  prism_tensor_release(host);
  prism_tensor_release(y);
  prism_tensor_release(x);
  EXPECT_OK(prism_event_destroy(plain));
  EXPECT_OK(prism_event_destroy(e1));
  EXPECT_OK(prism_event_destroy(e0));
  EXPECT_OK(prism_stream_destroy(cur));
  EXPECT_OK(prism_stream_destroy(def));
  EXPECT_OK(prism_stream_destroy(t));
  EXPECT_OK(prism_stream_destroy(s));
}

static void test_streams(void) {
  const char* devs[3] = {"cpu:0", "opencl:0", "emu:0"};
  int i;
  g_section = "streams";
  for (i = 0; i < 3; ++i) {
    if (!streams_device_loaded(devs[i])) {
      printf("capi_test: streams on %s skipped: device not loaded\n", devs[i]);
      continue;
    }
    test_streams_on(devs[i]);
  }
}

/* ===========================================================================
 * Attention, binary cross-entropy, random state, gradient checkpointing
 * ======================================================================== */

typedef struct {
  int calls;
  int released;
  prism_status fail_on_call; /* PRISM_OK: never fail */
} segment_ctx;

/* out[0] = x * x (one input, one output); fails with `fail_on_call`'s status on its second call. */
static prism_status square_segment(const prism_tensor_t* inputs, size_t n_inputs, prism_tensor_t* outputs,
                                   size_t capacity, size_t* n_outputs, void* ctx) {
  segment_ctx* c = (segment_ctx*)ctx;
  ++c->calls;
  if (n_inputs != 1 || capacity < 1) return PRISM_ERROR_INVALID_ARGUMENT;
  if (c->fail_on_call != PRISM_OK && c->calls == 2) return c->fail_on_call;
  *n_outputs = 1;
  return prism_mul(inputs[0], inputs[0], &outputs[0]);
}

static void release_segment(void* ctx) {
  ((segment_ctx*)ctx)->released += 1;
}

static void test_attention_and_checkpoint(void) {
  prism_tensor_t q = NULL, v = NULL, o = NULL, x = NULL, y = NULL, loss = NULL, r1 = NULL, r2 = NULL;
  prism_tensor_t outs[2] = {NULL, NULL};
  size_t n = 0;
  double scale = 1.0, bce = 0;
  uint64_t seed = 0, offset = 0;
  const double e = exp(1.0), a = e / (e + 1.0);
  segment_ctx ok_ctx = {0, 0, PRISM_OK}, bad_ctx = {0, 0, PRISM_ERROR_INTERNAL};
  g_section = "attention and checkpoint";

  /* softmax(Q K^T) V with Q = K = I: row i weighs value i by e/(e+1). */
  q = make(F64S(1, 0, 0, 1), PRISM_DTYPE_F64, I64S(1, 2, 2), 3);
  v = make(F64S(1, 2, 3, 4), PRISM_DTYPE_F64, I64S(1, 2, 2), 3);
  EXPECT_OK(prism_scaled_dot_product_attention(q, q, v, NULL, 0.0, 0, &scale, &o));
  EXPECT_VALUES(o, F64S(a * 1 + (1 - a) * 3, a * 2 + (1 - a) * 4, (1 - a) * 1 + a * 3, (1 - a) * 2 + a * 4),
                4, 1e-12);
  rel(o);
  EXPECT_OK(
      prism_scaled_dot_product_attention(q, q, v, NULL, 0.0, 1, &scale, &o)); /* causal: row 0 sees v0 */
  EXPECT_VALUES(o, F64S(1, 2, (1 - a) * 1 + a * 3, (1 - a) * 2 + a * 4), 4, 1e-12);
  rel(o);
  EXPECT_STATUS(prism_scaled_dot_product_attention(q, v, q, q, 0.0, 1, NULL, &o),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("is_causal");
  EXPECT_STATUS(prism_scaled_dot_product_attention(q, NULL, v, NULL, 0.0, 0, NULL, &o),
                PRISM_ERROR_INVALID_ARGUMENT);

  /* BCE of p = 0.5 against 1 is log 2. */
  x = make(F64S(0.5), PRISM_DTYPE_F64, I64S(1), 1);
  y = make(F64S(1.0), PRISM_DTYPE_F64, I64S(1), 1);
  EXPECT_OK(prism_binary_cross_entropy(x, y, NULL, PRISM_REDUCTION_MEAN, &o));
  EXPECT_OK(prism_tensor_item_double(o, &bce));
  EXPECT(fabs(bce - log(2.0)) < 1e-12);
  rel(o);
  EXPECT_STATUS(prism_binary_cross_entropy(v, y, NULL, PRISM_REDUCTION_MEAN, &o),
                PRISM_ERROR_INVALID_ARGUMENT);
  rel(x);
  rel(y);

  /* The random state read and set back replays the same numbers. */
  EXPECT_OK(prism_random_get_state(&seed, &offset));
  EXPECT_OK(prism_rand(I64S(4), 1, PRISM_DTYPE_F64, "cpu", &r1));
  EXPECT_OK(prism_random_set_state(seed, offset));
  EXPECT_OK(prism_rand(I64S(4), 1, PRISM_DTYPE_F64, "cpu", &r2));
  {
    int32_t same = 0;
    EXPECT_OK(prism_equal(r1, r2, &same));
    EXPECT(same == 1);
  }
  EXPECT_STATUS(prism_random_get_state(NULL, &offset), PRISM_ERROR_INVALID_ARGUMENT);
  rel(r1);
  rel(r2);

  /* Checkpoint: the segment runs in forward and again in backward; the gradient is 2x. */
  x = grad_leaf(F64S(1, 2, 3), I64S(3), 1);
  EXPECT_OK(prism_checkpoint(square_segment, &ok_ctx, release_segment, &x, 1, outs, 2, &n));
  EXPECT(n == 1 && ok_ctx.calls == 1 && ok_ctx.released == 0);
  EXPECT_GRAD_FN(outs[0], "CheckpointBackward");
  EXPECT_OK(prism_sum(outs[0], NULL, 0, 0, &loss));
  EXPECT_OK(prism_backward(loss, NULL, 0));
  EXPECT(ok_ctx.calls == 2);
  EXPECT_GRAD(x, F64S(2, 4, 6), 3);
  rel(loss);
  rel(outs[0]);
  EXPECT(ok_ctx.released == 1); /* the graph let go of the segment */

  /* A segment failing during the recomputation fails backward with its status. */
  EXPECT_OK(prism_checkpoint(square_segment, &bad_ctx, release_segment, &x, 1, outs, 2, &n));
  EXPECT_OK(prism_sum(outs[0], NULL, 0, 0, &loss));
  EXPECT_STATUS(prism_backward(loss, NULL, 0), PRISM_ERROR_INTERNAL);
  EXPECT_MSG_HAS("checkpoint");
  rel(loss);
  rel(outs[0]);
  EXPECT(bad_ctx.released == 1);
  EXPECT_STATUS(prism_checkpoint(NULL, &ok_ctx, NULL, &x, 1, outs, 2, &n), PRISM_ERROR_INVALID_ARGUMENT);
  rel(x);
  rel(q);
  rel(v);
}

/* ===========================================================================
 * Complex dtypes
 * ======================================================================== */

static void test_complex(void) {
  prism_tensor_t z = NULL, w = NULL, r = NULL, f = NULL;
  prism_dtype out = PRISM_DTYPE_BOOL;
  const double zd[4] = {3.0, 4.0, -1.0, 0.5}; /* 3+4i, -1+0.5i */
  double host[4] = {0, 0, 0, 0};
  g_section = "complex";
  EXPECT(strcmp(prism_dtype_name(PRISM_DTYPE_C64), "complex64") == 0);
  EXPECT(prism_dtype_size(PRISM_DTYPE_C64) == 8 && prism_dtype_size(PRISM_DTYPE_C128) == 16);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_C64, PRISM_DTYPE_F64, &out));
  EXPECT(out == PRISM_DTYPE_C128);
  EXPECT_OK(prism_promote_types(PRISM_DTYPE_I64, PRISM_DTYPE_C64, &out));
  EXPECT(out == PRISM_DTYPE_C64);
  z = make(zd, PRISM_DTYPE_C128, I64S(2), 1);
  EXPECT_OK(prism_real(z, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_F64);
  EXPECT_VALUES(r, F64S(3.0, -1.0), 2, 0);
  rel(r);
  EXPECT_OK(prism_imag(z, &r));
  EXPECT_VALUES(r, F64S(4.0, 0.5), 2, 0);
  rel(r);
  EXPECT_OK(prism_abs(z, &r));
  EXPECT(prism_tensor_dtype(r) == PRISM_DTYPE_F64);
  EXPECT_VALUES(r, F64S(5.0, 1.118033988749895), 2, 1e-12);
  rel(r);
  EXPECT_OK(prism_conj(z, &w));
  EXPECT_OK(prism_mul(z, w, &r)); /* z * conj(z) = |z|^2 */
  EXPECT_OK(prism_tensor_copy_to_host(r, host, sizeof host));
  EXPECT(host[0] == 25.0 && host[1] == 0.0 && host[2] == 1.25 && host[3] == 0.0);
  rel(r);
  rel(w);
  EXPECT_OK(prism_exp(z, &w)); /* exp(3+4i) = e^3 (cos 4 + i sin 4) */
  EXPECT_OK(prism_tensor_copy_to_host(w, host, sizeof host));
  EXPECT(fabs(host[0] - exp(3.0) * cos(4.0)) < 1e-12 && fabs(host[1] - exp(3.0) * sin(4.0)) < 1e-12);
  rel(w);
  f = make(F64S(1.5, 2.5), PRISM_DTYPE_F64, I64S(2), 1);
  EXPECT_OK(prism_real(f, &r)); /* a real tensor: itself */
  EXPECT_VALUES(r, F64S(1.5, 2.5), 2, 0);
  rel(r);
  EXPECT_OK(prism_conj(f, &r));
  EXPECT_VALUES(r, F64S(1.5, 2.5), 2, 0);
  rel(r);
  EXPECT_STATUS(prism_imag(f, &r), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("imag");
  EXPECT(prism_lt(z, z, &r) != PRISM_OK); /* no ordering of complex numbers */
  EXPECT_STATUS(prism_real(NULL, &r), PRISM_ERROR_INVALID_ARGUMENT);
  rel(f);
  rel(z);
}

int main(void) {
  test_errors_and_versions();
  test_dtypes();
  test_plugins_and_devices();
  test_fallback_and_memory();
  test_metadata_and_creation();
  test_from_blob();
  test_dlpack();
  test_copies();
  test_views();
  test_unary();
  test_binary();
  test_math_ops();
  test_reductions();
  test_matmul();
  test_nn();
  test_join_split();
  test_random();
  test_autograd_canonical();
  test_autograd_modes();
  test_autograd_failures();
  test_autograd_grad_fn();
  test_autograd_hooks();
  test_error_paths();
  test_safetensors();
  test_load_idx();
  test_optimizer_updates();
  test_indexing();
  test_distributed();
  test_op_forms();
  test_mixed_precision();
  test_profiler();
  test_streams();
  test_attention_and_checkpoint();
  test_complex();
  if (g_failures) {
    fprintf(stderr, "capi_test: %d failure(s)\n", g_failures);
    return g_failures > 255 ? 255 : g_failures;
  }
  printf("capi_test: all checks passed\n");
  return 0;
}
