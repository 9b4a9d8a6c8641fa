/* capi_hardening_test.c — hostile and careless use of the C ABI: overflow, overlap, handle misuse,
 * checkpoints, plugin faults and signal dispositions. */

/*
 * Note [Hardening tests]
 * ----------------------
 * Each section is one ctest entry (`capi_hardening_test <section>`): the
 * sections run in fresh processes, so a handle table, a signal disposition
 * or a plugin loaded by one never hides a fault in another. Everything goes
 * through prism.h, as a C user's program would; each check could fail
 * before the matching fix (it crashed, corrupted memory or returned OK).
 */

#define _DEFAULT_SOURCE /* mknod, makedev */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "prism/prism.h"

#ifndef PRISM_TEST_BROKEN_PLUGIN_DIR
#define PRISM_TEST_BROKEN_PLUGIN_DIR "."
#endif

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

#define EXPECT_MSG_HAS(needle)                                                                               \
  do {                                                                                                       \
    if (strstr(prism_last_error(), (needle)) == NULL) {                                                      \
      fprintf(stderr, "%s:%d: [%s] message lacks \"%s\": \"%s\"\n", __FILE__, __LINE__, g_section, (needle), \
              prism_last_error());                                                                           \
      ++g_failures;                                                                                          \
    }                                                                                                        \
  } while (0)

#define I64S(...) ((const int64_t[]){__VA_ARGS__})

static prism_tensor_t arange_f32(int64_t n) {
  prism_tensor_t t = NULL;
  EXPECT_OK(prism_arange(0.0, (double)n, 1.0, PRISM_DTYPE_F32, "cpu", &t));
  return t;
}

static void read_f32(prism_tensor_t t, float* out, size_t n) {
  EXPECT_OK(prism_tensor_copy_to_host(t, out, n * sizeof(float)));
}

/* ===========================================================================
 * overflow: checked size/stride/offset arithmetic; expand, slice, full
 * ======================================================================== */

static void test_overflow(void) {
  g_section = "overflow";
  prism_tensor_t x = arange_f32(8), v = NULL;
  /* (3 - 1) * 2^62 wraps to a negative max index: the view passed the bounds check. */
  EXPECT_STATUS(prism_as_strided(x, I64S(3), I64S(INT64_C(1) << 62), 1, 0, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(v == NULL);
  EXPECT_STATUS(prism_as_strided(x, I64S(2, 2), I64S(INT64_MAX, 1), 2, 0, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_as_strided(x, I64S(2), I64S(1), 1, INT64_MAX, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_as_strided(x, I64S(INT64_MAX, 2), I64S(0, 1), 2, 0, &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_as_strided(x, I64S(INT64_C(1) << 40, 2), I64S(0, 1), 2, 0, &v)); /* stride 0: in bounds */
  prism_tensor_release(v);
  v = NULL;
  /* from_blob: the span of a huge stride wrapped and made a small storage. */
  float blob[4] = {0, 1, 2, 3};
  EXPECT_STATUS(prism_from_blob(blob, I64S(3), I64S(INT64_C(1) << 62), 1, PRISM_DTYPE_F32, NULL, NULL, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_from_blob(blob, I64S(INT64_C(1) << 62, 8), NULL, 2, PRISM_DTYPE_F32, NULL, NULL, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  /* expand whose element count overflows: numel() was 0, silently. */
  prism_tensor_t one = NULL;
  EXPECT_OK(prism_ones(I64S(1), 1, PRISM_DTYPE_F32, "cpu", &one));
  EXPECT_STATUS(prism_expand(one, I64S(INT64_C(1) << 40, INT64_C(1) << 40), 2, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("overflow");
  EXPECT_STATUS(prism_expand(one, I64S(INT64_C(1) << 31, INT64_C(1) << 31, 4), 3, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  /* reshape/view of an empty tensor to a shape whose strides overflow. */
  prism_tensor_t e = NULL;
  EXPECT_OK(prism_zeros(I64S(0), 1, PRISM_DTYPE_F32, "cpu", &e));
  EXPECT_STATUS(prism_reshape(e, I64S(INT64_C(1) << 32, INT64_C(1) << 32, 0), 3, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_view(e, I64S(INT64_C(1) << 40, INT64_C(1) << 40, 0), 3, &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_empty(I64S(INT64_C(1) << 40, INT64_C(1) << 40, 0), 3, PRISM_DTYPE_F32, "cpu", &v),
                PRISM_ERROR_INVALID_ARGUMENT);
  /* slice with step INT64_MAX: one element (size was -1). */
  EXPECT_OK(prism_slice(x, 0, 1, 8, INT64_MAX, &v));
  EXPECT(prism_tensor_numel(v) == 1);
  if (prism_tensor_numel(v) == 1) {
    double d = -1;
    EXPECT_OK(prism_tensor_item_double(v, &d));
    EXPECT(d == 1.0);
  }
  prism_tensor_release(v);
  v = NULL;
  EXPECT_OK(prism_slice(x, 0, 0, INT64_MAX, INT64_MAX - 1, &v));
  EXPECT(prism_tensor_numel(v) == 1);
  prism_tensor_release(v);
  v = NULL;
  /* narrow/select offsets through a stride near the limit. */
  prism_tensor_t big = NULL;
  EXPECT_OK(prism_as_strided(x, I64S(1, 2), I64S(INT64_C(1) << 62, 1), 2, 0, &big));
  EXPECT_STATUS(prism_unsqueeze(big, 0, &v), PRISM_OK);
  prism_tensor_release(v);
  v = NULL;
  /* full: NaN / Inf / out of range into integer dtypes (PyTorch refuses). */
  EXPECT_STATUS(prism_full(I64S(2), 1, NAN, PRISM_DTYPE_I32, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("cannot be converted to type int32");
  EXPECT_STATUS(prism_full(I64S(2), 1, INFINITY, PRISM_DTYPE_I64, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_full(I64S(2), 1, 1e10, PRISM_DTYPE_I32, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_full(I64S(2), 1, 300.0, PRISM_DTYPE_U8, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_full(I64S(2), 1, 1e300, PRISM_DTYPE_F32, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_scalar(NAN, PRISM_DTYPE_I16, "cpu", &v), PRISM_ERROR_INVALID_ARGUMENT);
  prism_tensor_t i32 = NULL;
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_I32, "cpu", &i32));
  EXPECT_STATUS(prism_fill_(i32, NAN), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_full_like(i32, -INFINITY, &v), PRISM_ERROR_INVALID_ARGUMENT);
  /* What PyTorch accepts stays accepted: truncation, u8 wrap of small negatives, NaN/Inf into floats, bool.
   */
  EXPECT_OK(prism_full(I64S(1), 1, 3.7, PRISM_DTYPE_I32, "cpu", &v));
  {
    int64_t got = 0;
    EXPECT_OK(prism_tensor_item_int64(v, &got));
    EXPECT(got == 3);
  }
  prism_tensor_release(v);
  EXPECT_OK(prism_full(I64S(1), 1, -1.0, PRISM_DTYPE_U8, "cpu", &v));
  {
    int64_t got = 0;
    EXPECT_OK(prism_tensor_item_int64(v, &got));
    EXPECT(got == 255);
  }
  prism_tensor_release(v);
  EXPECT_OK(prism_full(I64S(1), 1, NAN, PRISM_DTYPE_F32, "cpu", &v));
  prism_tensor_release(v);
  EXPECT_OK(prism_full(I64S(1), 1, INFINITY, PRISM_DTYPE_F16, "cpu", &v));
  prism_tensor_release(v);
  EXPECT_OK(prism_full(I64S(1), 1, NAN, PRISM_DTYPE_BOOL, "cpu", &v));
  prism_tensor_release(v);
  EXPECT_OK(prism_full(I64S(1), 1, 2147483647.0, PRISM_DTYPE_I32, "cpu", &v));
  prism_tensor_release(v);
  /* The source tensor is intact after all of that. */
  float got[8];
  read_f32(x, got, 8);
  for (int i = 0; i < 8; ++i) EXPECT(got[i] == (float)i);
  prism_tensor_release(i32);
  prism_tensor_release(big);
  prism_tensor_release(e);
  prism_tensor_release(one);
  prism_tensor_release(x);
}

/* ===========================================================================
 * overlap: in-place writes whose output partially overlaps an input
 * ======================================================================== */

static void test_overlap(void) {
  g_section = "overlap";
  prism_tensor_t x = arange_f32(8), a = NULL, b = NULL;
  EXPECT_OK(prism_narrow(x, 0, 1, 6, &a)); /* x[1:7] */
  EXPECT_OK(prism_narrow(x, 0, 0, 6, &b)); /* x[0:6] */
  EXPECT_STATUS(prism_copy_(a, b), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("refer to a single memory location");
  EXPECT_STATUS(prism_add_(a, b, 1.0), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_mul_(b, a), PRISM_ERROR_INVALID_ARGUMENT);
  float got[8];
  read_f32(x, got, 8);
  for (int i = 0; i < 8; ++i) EXPECT(got[i] == (float)i); /* nothing was written */
  /* Element-for-element identical aliasing is allowed: x.add_(x), x.copy_(x). */
  EXPECT_OK(prism_add_(x, x, 1.0));
  EXPECT_OK(prism_copy_(x, x));
  read_f32(x, got, 8);
  for (int i = 0; i < 8; ++i) EXPECT(got[i] == 2.0f * (float)i);
  /* Disjoint halves of one storage are fine. */
  prism_tensor_t lo = NULL, hi = NULL;
  EXPECT_OK(prism_narrow(x, 0, 0, 4, &lo));
  EXPECT_OK(prism_narrow(x, 0, 4, 4, &hi));
  EXPECT_OK(prism_copy_(lo, hi));
  read_f32(x, got, 8);
  EXPECT(got[0] == 8.0f && got[3] == 14.0f && got[4] == 8.0f);
  /* Writes into an expanded view whose elements share memory. */
  prism_tensor_t one = NULL, ex = NULL, src = arange_f32(4);
  EXPECT_OK(prism_ones(I64S(1), 1, PRISM_DTYPE_F32, "cpu", &one));
  EXPECT_OK(prism_expand(one, I64S(4), 1, &ex));
  EXPECT_STATUS(prism_copy_(ex, src), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("more than one element of the written-to tensor");
  EXPECT_STATUS(prism_add_(ex, src, 1.0), PRISM_ERROR_INVALID_ARGUMENT);
  double v1 = 0;
  EXPECT_OK(prism_tensor_item_double(one, &v1));
  EXPECT(v1 == 1.0);
  /* fill_ of an expanded view writes one value: allowed, as in PyTorch. */
  EXPECT_OK(prism_fill_(ex, 5.0));
  EXPECT_OK(prism_tensor_item_double(one, &v1));
  EXPECT(v1 == 5.0);
  /* Transposed (same range, other strides) is a partial overlap too. */
  prism_tensor_t m = NULL, mt = NULL;
  EXPECT_OK(prism_reshape(x, I64S(2, 4), 2, &m));
  prism_tensor_t sq = NULL;
  EXPECT_OK(prism_narrow(x, 0, 0, 4, &sq));
  prism_tensor_t sq2 = NULL;
  EXPECT_OK(prism_reshape(sq, I64S(2, 2), 2, &sq2));
  EXPECT_OK(prism_t(sq2, &mt));
  EXPECT_STATUS(prism_copy_(sq2, mt), PRISM_ERROR_INVALID_ARGUMENT);
  prism_tensor_release(sq2);
  prism_tensor_release(sq);
  prism_tensor_release(m);
  prism_tensor_release(mt);
  prism_tensor_release(src);
  prism_tensor_release(ex);
  prism_tensor_release(one);
  prism_tensor_release(lo);
  prism_tensor_release(hi);
  prism_tensor_release(a);
  prism_tensor_release(b);
  prism_tensor_release(x);
}

/* ===========================================================================
 * handles: use after release, double release, garbage, retain after release
 * ======================================================================== */

static void test_handles(void) {
  g_section = "handles";
  prism_tensor_t t = arange_f32(4), out = NULL;
  EXPECT_OK(prism_tensor_release(t));
  EXPECT_STATUS(prism_tensor_release(t), PRISM_ERROR_INVALID_ARGUMENT); /* double release */
  EXPECT_MSG_HAS("released");
  EXPECT_STATUS(prism_tensor_retain(t), PRISM_ERROR_INVALID_ARGUMENT); /* retain after release */
  EXPECT_STATUS(prism_add(t, t, 1.0, &out), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_tensor_numel(t) == 0);
  EXPECT(prism_last_status() == PRISM_ERROR_INVALID_ARGUMENT);
  /* The slot is reused by a new tensor: the stale handle still fails. */
  prism_tensor_t u = arange_f32(3);
  EXPECT_STATUS(prism_tensor_retain(t), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT(prism_tensor_numel(u) == 3);
  /* Garbage values. */
  union {
    uintptr_t bits;
    prism_tensor_t h;
  } g;
  const uintptr_t garbage[] = {
      1,           0xdeadbeef,       (uintptr_t)0xdeadbeefcafef00dull,   (uintptr_t)&g,
      UINTPTR_MAX, (uintptr_t)u + 1, (uintptr_t)u ^ ((uintptr_t)1 << 40)};
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; ++i) {
    g.bits = garbage[i];
    EXPECT_STATUS(prism_tensor_retain(g.h), PRISM_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(prism_tensor_release(g.h), PRISM_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(prism_neg(g.h, &out), PRISM_ERROR_INVALID_ARGUMENT);
  }
  EXPECT_MSG_HAS("not a valid tensor handle");
  /* Retained handles survive one release; the value is unchanged. */
  EXPECT_OK(prism_tensor_retain(u));
  EXPECT_OK(prism_tensor_release(u));
  EXPECT(prism_tensor_numel(u) == 3);
  EXPECT_OK(prism_tensor_release(u));
  EXPECT_STATUS(prism_tensor_release(u), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_tensor_release(NULL)); /* NULL stays a no-op */
  /* Many handles: the table grows and every one stays valid. */
  enum { kMany = 5000 };
  static prism_tensor_t many[kMany];
  for (int i = 0; i < kMany; ++i) EXPECT_OK(prism_scalar((double)i, PRISM_DTYPE_F32, "cpu", &many[i]));
  for (int i = 0; i < kMany; i += 97) {
    double d = -1;
    EXPECT_OK(prism_tensor_item_double(many[i], &d));
    EXPECT(d == (double)i);
  }
  for (int i = 0; i < kMany; ++i) EXPECT_OK(prism_tensor_release(many[i]));
  EXPECT_STATUS(prism_tensor_release(many[kMany - 1]), PRISM_ERROR_INVALID_ARGUMENT);
  /* Safetensors handles: closed twice, garbage. */
  prism_safetensors_t f = NULL;
  static const unsigned char kEmpty[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  EXPECT_OK(prism_safetensors_open_memory(kEmpty, sizeof kEmpty, &f));
  size_t n = 99;
  EXPECT_OK(prism_safetensors_count(f, &n));
  EXPECT(n == 0);
  EXPECT_OK(prism_safetensors_close(f));
  EXPECT_STATUS(prism_safetensors_close(f), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_safetensors_count(f, &n), PRISM_ERROR_INVALID_ARGUMENT);
}

/* ===========================================================================
 * plugin_alloc: an allocation that "succeeds" with NULL; misaligned from_blob
 * ======================================================================== */

static void test_plugin_alloc(void) {
  g_section = "plugin_alloc";
  const char* path = PRISM_TEST_BROKEN_PLUGIN_DIR "/libbroken-nullalloc.so";
  EXPECT_OK(prism_plugin_load(path));
  prism_tensor_t t = NULL;
  EXPECT_STATUS(prism_zeros(I64S(4), 1, PRISM_DTYPE_F32, "nullalloc:0", &t), PRISM_ERROR_INTERNAL);
  EXPECT_MSG_HAS("plugin 'nullalloc'");
  EXPECT_MSG_HAS("NULL");
  EXPECT(t == NULL);
  /* The CPU device is unaffected. */
  EXPECT_OK(prism_zeros(I64S(4), 1, PRISM_DTYPE_F32, "cpu", &t));
  prism_tensor_release(t);
  t = NULL;
  /* from_blob: a pointer not aligned to the element size. */
  static double storage[8];
  char* base = (char*)storage;
  EXPECT_STATUS(prism_from_blob(base + 1, I64S(2), NULL, 1, PRISM_DTYPE_F32, NULL, NULL, &t),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("aligned");
  EXPECT_STATUS(prism_from_blob(base + 2, I64S(2), NULL, 1, PRISM_DTYPE_I64, NULL, NULL, &t),
                PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_OK(prism_from_blob(base + 4, I64S(2), NULL, 1, PRISM_DTYPE_F32, NULL, NULL, &t));
  prism_tensor_release(t);
  EXPECT_OK(prism_from_blob(base + 1, I64S(2), NULL, 1, PRISM_DTYPE_U8, NULL, NULL, &t));
  prism_tensor_release(t);
}

/* ===========================================================================
 * save: the temp file never follows a planted symlink, failures keep the old
 * file, disk full is an I/O error, two threads saving one path
 * ======================================================================== */

static char g_dir[256];

static int file_bytes(const char* path, unsigned char* buf, size_t cap, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return 0;
  *n = fread(buf, 1, cap, f);
  fclose(f);
  return 1;
}

static int save_one(const char* path, prism_tensor_t t) {
  const char* names[1] = {"w"};
  return prism_safetensors_save(path, names, &t, 1, NULL, NULL, 0);
}

static int loads_ok(const char* path, double want0) {
  prism_safetensors_t f = NULL;
  if (prism_safetensors_open(path, &f) != PRISM_OK) return 0;
  prism_tensor_t w = NULL;
  int ok = prism_safetensors_get(f, "w", "cpu", &w) == PRISM_OK;
  double d = -1;
  if (ok) {
    prism_tensor_t first = NULL;
    ok = prism_select(w, 0, 0, &first) == PRISM_OK && prism_tensor_item_double(first, &d) == PRISM_OK &&
         d == want0;
    prism_tensor_release(first);
  }
  prism_tensor_release(w);
  prism_safetensors_close(f);
  return ok;
}

static void count_temp_files(int* n) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c tmp", g_dir);
  FILE* p = popen(cmd, "r");
  *n = -1;
  if (p != NULL) {
    if (fscanf(p, "%d", n) != 1) *n = -1;
    pclose(p);
  }
}

struct writer {
  const char* path;
  double value;
  int status;
};

static void* writer_main(void* arg) {
  struct writer* w = (struct writer*)arg;
  prism_tensor_t mine = NULL;
  w->status = prism_full(I64S(1 << 16), 1, w->value, PRISM_DTYPE_F32, "cpu", &mine);
  for (int r = 0; r < 10 && w->status == PRISM_OK; ++r) w->status = save_one(w->path, mine);
  prism_tensor_release(mine);
  return NULL;
}

static void test_save(void) {
  g_section = "save";
  snprintf(g_dir, sizeof g_dir, "/tmp/prism-save-XXXXXX");
  EXPECT(mkdtemp(g_dir) != NULL);
  char path[400], victim[400], link[512];
  snprintf(path, sizeof path, "%s/ckpt.safetensors", g_dir);
  snprintf(victim, sizeof victim, "%s/victim", g_dir);
  prism_tensor_t t = NULL;
  EXPECT_OK(prism_full(I64S(1024), 1, 1.0, PRISM_DTYPE_F32, "cpu", &t));
  EXPECT_OK(save_one(path, t));
  EXPECT(loads_ok(path, 1.0));

  /* A symlink planted at the old temp name (<path>.tmp<pid>) is never followed. */
  FILE* vf = fopen(victim, "w");
  EXPECT(vf != NULL);
  if (vf != NULL) {
    fputs("precious", vf);
    fclose(vf);
  }
  snprintf(link, sizeof link, "%s.tmp%ld", path, (long)getpid());
  EXPECT(symlink(victim, link) == 0);
  prism_tensor_t t2 = NULL;
  EXPECT_OK(prism_full(I64S(1024), 1, 2.0, PRISM_DTYPE_F32, "cpu", &t2));
  EXPECT_OK(save_one(path, t2));
  EXPECT(loads_ok(path, 2.0));
  unsigned char buf[64];
  size_t n = 0;
  EXPECT(file_bytes(victim, buf, sizeof buf, &n) && n == 8 && memcmp(buf, "precious", 8) == 0);
  unlink(link);

  /* Non-regular targets are refused: a directory, a FIFO, /dev/null. */
  char odd[512];
  snprintf(odd, sizeof odd, "%s/adir", g_dir);
  EXPECT(mkdir(odd, 0700) == 0);
  EXPECT_STATUS(save_one(odd, t), PRISM_ERROR_IO);
  snprintf(odd, sizeof odd, "%s/afifo", g_dir);
  EXPECT(mkfifo(odd, 0600) == 0);
  EXPECT_STATUS(save_one(odd, t), PRISM_ERROR_IO);
  EXPECT_MSG_HAS("not a regular file");
  /* A device node: a private one (never /dev/null itself: a broken writer would replace it). */
  snprintf(odd, sizeof odd, "%s/anull", g_dir);
  if (mknod(odd, S_IFCHR | 0600, makedev(1, 3)) == 0) {
    EXPECT_STATUS(save_one(odd, t), PRISM_ERROR_IO);
    struct stat dst;
    EXPECT(stat(odd, &dst) == 0 && S_ISCHR(dst.st_mode));
  } else {
    printf("[save] skipped: device-node target (cannot mknod here)\n");
  }
  EXPECT_STATUS(save_one("/nonexistent-dir-prism/x.safetensors", t), PRISM_ERROR_IO);

  /* A symlink as the final path is followed (as numpy/PyTorch do): its target is replaced. */
  char target[512], alias[512];
  snprintf(target, sizeof target, "%s/real.safetensors", g_dir);
  snprintf(alias, sizeof alias, "%s/alias.safetensors", g_dir);
  EXPECT_OK(save_one(target, t));
  EXPECT(symlink("real.safetensors", alias) == 0);
  EXPECT_OK(save_one(alias, t2));
  struct stat st;
  EXPECT(lstat(alias, &st) == 0 && S_ISLNK(st.st_mode));
  EXPECT(loads_ok(target, 2.0));

  /* File too large (RLIMIT_FSIZE): an I/O error, SIGXFSZ does not kill us, the old file stays. */
  prism_tensor_t huge = NULL;
  EXPECT_OK(prism_full(I64S(1 << 20), 1, 3.0, PRISM_DTYPE_F32, "cpu", &huge));
  struct rlimit old_lim, lim;
  EXPECT(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
  lim = old_lim;
  lim.rlim_cur = 64 * 1024;
  EXPECT(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  EXPECT_STATUS(save_one(path, huge), PRISM_ERROR_IO);
  EXPECT_MSG_HAS("ckpt.safetensors");
  EXPECT(setrlimit(RLIMIT_FSIZE, &old_lim) == 0);
  EXPECT(loads_ok(path, 2.0));
  {
    struct sigaction sa;
    EXPECT(sigaction(SIGXFSZ, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL); /* left as found */
  }

  /* Disk full on a small tmpfs, when this process may mount one (root in CI). */
  char mnt[300];
  snprintf(mnt, sizeof mnt, "%s/small", g_dir);
  EXPECT(mkdir(mnt, 0700) == 0);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", mnt);
  if (system(cmd) == 0) {
    char full[600];
    snprintf(full, sizeof full, "%s/c.safetensors", mnt);
    EXPECT_OK(save_one(full, t));
    EXPECT_STATUS(save_one(full, huge), PRISM_ERROR_IO);
    EXPECT_MSG_HAS("No space left on device");
    EXPECT(loads_ok(full, 1.0));
    char ls[700];
    snprintf(ls, sizeof ls, "test $(ls -A '%s' | wc -l) -eq 1", mnt);
    EXPECT(system(ls) == 0); /* no temp file left behind */
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    EXPECT(system(cmd) == 0);
  } else {
    printf("[save] skipped: disk-full case (cannot mount a tmpfs here)\n");
  }
  rmdir(mnt);

  /* Threads of one process saving one path (they shared one temp name): each save returns OK and the
   * file that stays is one of theirs, whole. */
  enum { kWriters = 4 };
  pthread_t th[kWriters];
  struct writer ws[kWriters];
  for (int w = 0; w < kWriters; ++w) {
    ws[w].path = path;
    ws[w].value = (double)(10 + w);
    ws[w].status = -1;
    EXPECT(pthread_create(&th[w], NULL, writer_main, &ws[w]) == 0);
  }
  for (int w = 0; w < kWriters; ++w) {
    EXPECT(pthread_join(th[w], NULL) == 0);
    EXPECT(ws[w].status == PRISM_OK);
  }
  {
    int ok = 0;
    for (int w = 0; w < kWriters; ++w) ok |= loads_ok(path, (double)(10 + w));
    EXPECT(ok);
  }
  int temps = 0;
  count_temp_files(&temps);
  EXPECT(temps == 0);

  prism_tensor_release(huge);
  prism_tensor_release(t2);
  prism_tensor_release(t);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  EXPECT(system(cmd) == 0);
}

/* ===========================================================================
 * plugins: discovery problems are explained in the load report; a third-party
 * "cpu" plugin never takes cpu:0; a FIFO is refused without hanging; a plugin
 * reporting millions of devices is capped
 * ======================================================================== */

static const char* report_reason(const char* path_part, int* loaded) {
  static char reason[1024];
  size_t n = 0;
  EXPECT_OK(prism_load_report_count(&n));
  for (size_t i = 0; i < n; ++i) {
    prism_load_report_row row;
    memset(&row, 0, sizeof row);
    row.struct_size = sizeof row;
    if (prism_load_report_get(i, &row) != PRISM_OK || row.path == NULL) continue;
    if (strstr(row.path, path_part) == NULL) continue;
    snprintf(reason, sizeof reason, "%s", row.reason != NULL ? row.reason : "");
    *loaded = row.loaded;
    return reason;
  }
  return NULL;
}

#define EXPECT_ROW(part, want_loaded, needle)                                                             \
  do {                                                                                                    \
    int loaded_ = -1;                                                                                     \
    const char* r_ = report_reason((part), &loaded_);                                                     \
    if (r_ == NULL || loaded_ != (want_loaded) || strstr(r_, (needle)) == NULL) {                         \
      fprintf(stderr, "%s:%d: [%s] load report row for '%s': loaded=%d reason=\"%s\", expected \"%s\"\n", \
              __FILE__, __LINE__, g_section, (part), loaded_, r_ != NULL ? r_ : "(no row)", (needle));    \
      ++g_failures;                                                                                       \
    }                                                                                                     \
  } while (0)

static void test_plugins(void) {
  g_section = "plugins";
  char dir[] = "/tmp/prism-plugins-XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char p[512], file_entry[512], env[2048];
  snprintf(p, sizeof p, "%s/libprism-adir.so", dir);
  EXPECT(mkdir(p, 0700) == 0);
  snprintf(p, sizeof p, "%s/libprism-gone.so", dir);
  EXPECT(symlink("/nonexistent/libprism-gone.so", p) == 0);
  snprintf(p, sizeof p, "%s/libprism-fifo.so", dir);
  EXPECT(mkfifo(p, 0600) == 0);
  snprintf(p, sizeof p, "%s/libprism-aaa.so", dir); /* sorts before libprism-cpu.so */
  EXPECT(symlink(PRISM_TEST_BROKEN_PLUGIN_DIR "/libbroken-fakecpu.so", p) == 0);
  snprintf(p, sizeof p, "%s/libprism-many.so", dir);
  EXPECT(symlink(PRISM_TEST_BROKEN_PLUGIN_DIR "/libbroken-many.so", p) == 0);
  snprintf(file_entry, sizeof file_entry, "%s/a-file", dir);
  FILE* f = fopen(file_entry, "w");
  if (f != NULL) fclose(f);
  /* dir first (its fake cpu plugin is found before the built-in one), then an
   * empty entry, a missing one, a file, and the real plugin directory. */
  const char* real = getenv("PRISM_PLUGIN_PATH");
  snprintf(env, sizeof env, "%s::/nonexistent-prism-plugin-dir:%s:%s", dir, file_entry,
           real != NULL ? real : "");
  EXPECT(setenv("PRISM_PLUGIN_PATH", env, 1) == 0);
  alarm(60); /* a hang fails the test instead of stalling it */
  EXPECT_OK(prism_plugins_load_default());

  EXPECT_ROW("libprism-adir.so", 0, "a directory");
  EXPECT_ROW("libprism-gone.so", 0, "dangling symbolic link");
  EXPECT_ROW("libprism-fifo.so", 0, "a FIFO");
  EXPECT_ROW("/nonexistent-prism-plugin-dir", 0, "does not exist");
  EXPECT_ROW("a-file", 0, "not a directory");
  EXPECT_ROW("PRISM_PLUGIN_PATH entry 2", 0, "is empty");
  EXPECT_ROW("libbroken-fakecpu.so", 1, "claims device type 'cpu'");
  EXPECT_ROW("libbroken-many.so", 1, "5000000 devices");

  /* cpu:0 is the built-in CPU plugin; the third-party one is cpu:1. */
  int32_t n = 0, many = 0;
  EXPECT_OK(prism_device_count(&n));
  int saw_fake = 0;
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(prism_device_info_get(i, &info));
    if (strcmp(info.device, "cpu:0") == 0) EXPECT(strcmp(info.plugin, "cpu") == 0);
    if (strcmp(info.plugin, "fakecpu") == 0) {
      EXPECT(strcmp(info.device, "cpu:1") == 0);
      saw_fake = 1;
    }
    if (strcmp(info.plugin, "many") == 0) ++many;
  }
  EXPECT(saw_fake);
  EXPECT(many == 1024);
  prism_tensor_t t = NULL;
  EXPECT_OK(prism_zeros(I64S(2), 1, PRISM_DTYPE_F32, "cpu", &t));
  EXPECT(t != NULL && strcmp(prism_tensor_device(t), "cpu:0") == 0);
  prism_tensor_release(t);

  /* prism_plugin_load on a FIFO (no writer): refused before dlopen, no hang. */
  snprintf(p, sizeof p, "%s/plain-fifo", dir);
  EXPECT(mkfifo(p, 0600) == 0);
  EXPECT_STATUS(prism_plugin_load(p), PRISM_ERROR_UNAVAILABLE);
  EXPECT_MSG_HAS("a FIFO");
  alarm(0);

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  EXPECT(system(cmd) == 0);
}

/* ===========================================================================
 * loaders: headers are checked before the data is read; a gzip bomb costs
 * only the size its header declares
 * ======================================================================== */

static long max_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void test_loaders(void) {
  g_section = "loaders";
  char dir[] = "/tmp/prism-load-XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char path[256];
  prism_tensor_t t = NULL;
  prism_safetensors_t f = NULL;
  EXPECT_OK(prism_zeros(I64S(4), 1, PRISM_DTYPE_U8, "cpu", &t)); /* plugins loaded before the baseline */
  prism_tensor_release(t);
  t = NULL;
  const long base = max_rss_kib();

  /* A 1 GiB sparse safetensors file whose header is not JSON. */
  snprintf(path, sizeof path, "%s/big.safetensors", dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  EXPECT(fd >= 0);
  static const unsigned char bad[24] = {16,  0,   0,   0,   0,   0,   0,   0,   '{', 'n', 'o', 't',
                                        ' ', 'j', 's', 'o', 'n', '!', '!', '!', '!', '!', '!', '!'};
  EXPECT(write(fd, bad, sizeof bad) == (ssize_t)sizeof bad);
  EXPECT(ftruncate(fd, (off_t)1 << 30) == 0);
  close(fd);
  EXPECT_STATUS(prism_safetensors_open(path, &f), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("not valid JSON");
  /* ... and one whose header length runs past the end of the file. */
  fd = open(path, O_WRONLY);
  static const unsigned char huge_len[8] = {0, 0, 0, 0, 0, 1, 0, 0};
  EXPECT(pwrite(fd, huge_len, 8, 0) == 8);
  close(fd);
  EXPECT_STATUS(prism_safetensors_open(path, &f), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("exceeds the limit");
  /* A valid header describing less data than the file holds: refused (trailing bytes) after the header. */
  static const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  unsigned char lenb[8] = {0};
  lenb[0] = (unsigned char)(sizeof hdr - 1);
  fd = open(path, O_WRONLY);
  EXPECT(pwrite(fd, lenb, 8, 0) == 8);
  EXPECT(pwrite(fd, hdr, sizeof hdr - 1, 8) == (ssize_t)(sizeof hdr - 1));
  close(fd);
  EXPECT_STATUS(prism_safetensors_open(path, &f), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("trailing bytes");
  unlink(path);

  /* IDX gzip bomb: the header declares 10 bytes, the stream inflates to 256 MiB. */
  snprintf(path, sizeof path, "%s/bomb-idx1-ubyte.gz", dir);
  gzFile gz = gzopen(path, "wb1");
  EXPECT(gz != NULL);
  if (gz != NULL) {
    static const unsigned char idx_hdr[8] = {0, 0, 8, 1, 0, 0, 0, 10};
    static unsigned char zeros[1 << 16];
    EXPECT(gzwrite(gz, idx_hdr, sizeof idx_hdr) == (int)sizeof idx_hdr);
    for (int i = 0; i < (256 << 20) / (int)sizeof zeros; ++i) gzwrite(gz, zeros, sizeof zeros);
    gzclose(gz);
  }
  struct timeval t0, t1;
  gettimeofday(&t0, NULL);
  EXPECT_STATUS(prism_load_idx(path, "cpu", &t), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("trailing bytes");
  gettimeofday(&t1, NULL);
  const double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec);
  EXPECT(secs < 2.0);
  /* The same file with a header declaring too much for any machine. */
  gz = gzopen(path, "wb");
  if (gz != NULL) {
    static const unsigned char idx_big[16] = {0,    0,    0x0E, 3,    0xFF, 0xFF, 0xFF, 0xFF,
                                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    EXPECT(gzwrite(gz, idx_big, sizeof idx_big) == (int)sizeof idx_big);
    gzclose(gz);
  }
  EXPECT_STATUS(prism_load_idx(path, "cpu", &t), PRISM_ERROR_INVALID_ARGUMENT);
  unlink(path);
  /* A FIFO is refused without blocking. */
  snprintf(path, sizeof path, "%s/fifo", dir);
  EXPECT(mkfifo(path, 0600) == 0);
  EXPECT_STATUS(prism_safetensors_open(path, &f), PRISM_ERROR_INVALID_ARGUMENT);
  EXPECT_STATUS(prism_load_idx(path, "cpu", &t), PRISM_ERROR_INVALID_ARGUMENT);
  unlink(path);

  const long grew = max_rss_kib() - base;
  fprintf(stderr, "[loaders] peak RSS grew by %ld KiB; the bomb took %.3f s\n", grew, secs);
  EXPECT(grew < 64 * 1024);
  rmdir(dir);
}

/* ===========================================================================
 * signals: a user's integer division by zero still raises SIGFPE after every
 * plugin has loaded and run a kernel
 * ======================================================================== */

static volatile int g_zero = 0;

/* The user's own integer division: never instrumented, so that a UBSan build
 * traps in hardware like a plain one. */
#if defined(__clang__)
#define NO_UBSAN __attribute__((no_sanitize("undefined")))
#elif defined(__GNUC__)
#define NO_UBSAN __attribute__((no_sanitize_undefined))
#else
#define NO_UBSAN
#endif
NO_UBSAN static int user_divides(int a, int b) {
  return a / b;
}

static int child_divides(void) {
  struct sigaction before, after;
  if (sigaction(SIGFPE, NULL, &before) != 0) return 16;
  prism_plugins_load_default();
  int32_t n = 0;
  if (prism_device_count(&n) != PRISM_OK || n <= 0) return 10;
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (prism_device_info_get(i, &info) != PRISM_OK) return 11;
    prism_tensor_t a = NULL, b = NULL, c = NULL;
    if (prism_ones(I64S(4), 1, PRISM_DTYPE_F32, info.device, &a) != PRISM_OK) continue; /* e.g. no f32 */
    if (prism_add(a, a, 1.0, &b) == PRISM_OK && prism_mul(b, b, &c) == PRISM_OK) {
      float got[4];
      if (prism_tensor_copy_to_host(c, got, sizeof got) != PRISM_OK || got[0] != 4.0f) return 12;
    }
    prism_tensor_release(a);
    prism_tensor_release(b);
    prism_tensor_release(c);
    fprintf(stderr, "[signals] ran kernels on %s\n", info.device);
  }
  /* Prism's own integer division by zero: an error, never a signal. */
  prism_tensor_t x = NULL, z = NULL, q = NULL;
  if (prism_full(I64S(2), 1, 7.0, PRISM_DTYPE_I32, "cpu", &x) != PRISM_OK) return 13;
  if (prism_zeros(I64S(2), 1, PRISM_DTYPE_I32, "cpu", &z) != PRISM_OK) return 14;
  if (prism_div_mode(x, z, PRISM_ROUNDING_TRUNC, &q) != PRISM_ERROR_INVALID_ARGUMENT) return 15;
  /* Every disposition Prism's plugins touched is back: SIGFPE's in particular. */
  if (sigaction(SIGFPE, NULL, &after) != 0 || after.sa_handler != before.sa_handler) return 17;
  if (before.sa_handler != SIG_DFL) return 0; /* a sanitizer owns SIGFPE: the parent says "skipped" */
  volatile int r = user_divides(7, g_zero);   /* must raise SIGFPE */
  fprintf(stderr, "[signals] 7 / 0 returned %d: the SIGFPE disposition was changed\n", r);
  return 0;
}

static void test_signals(void) {
  g_section = "signals";
  struct sigaction before;
  EXPECT(sigaction(SIGFPE, NULL, &before) == 0);
  const int sanitizer_owns_sigfpe = before.sa_handler != SIG_DFL;
  pid_t kid = fork();
  if (kid == 0) {
    alarm(120);
    _exit(child_divides());
  }
  int status = 0;
  EXPECT(waitpid(kid, &status, 0) == kid);
  if (WIFEXITED(status)) fprintf(stderr, "[signals] child exited with %d\n", WEXITSTATUS(status));
  if (sanitizer_owns_sigfpe) {
    /* Under a sanitizer SIGFPE has its handler from the start: the child checked that it is unchanged. */
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf(
        "[signals] skipped: death by SIGFPE (the process started with a SIGFPE handler, e.g. a "
        "sanitizer's)\n");
  } else {
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGFPE);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s overflow|overlap|handles|plugin_alloc|plugins|save|loaders|signals\n",
            argv[0]);
    return 2;
  }
  const char* s = argv[1];
  if (strcmp(s, "overflow") == 0) {
    test_overflow();
  } else if (strcmp(s, "overlap") == 0) {
    test_overlap();
  } else if (strcmp(s, "handles") == 0) {
    test_handles();
  } else if (strcmp(s, "plugin_alloc") == 0) {
    test_plugin_alloc();
  } else if (strcmp(s, "save") == 0) {
    test_save();
  } else if (strcmp(s, "plugins") == 0) {
    test_plugins();
  } else if (strcmp(s, "loaders") == 0) {
    test_loaders();
  } else if (strcmp(s, "signals") == 0) {
    test_signals();
  } else {
    fprintf(stderr, "unknown section '%s'\n", s);
    return 2;
  }
  if (g_failures != 0) fprintf(stderr, "%d failure(s)\n", g_failures);
  return g_failures > 255 ? 255 : g_failures;
}
