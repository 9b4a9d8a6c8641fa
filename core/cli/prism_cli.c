/* prism_cli.c — the `prism` command-line tool: plugin load report, device table, version (C ABI only). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"
#include "prism/plugin.h" /* PRISM_DEVICE_CAP_* and PRISM_PLUGIN_ABI_* (plain C constants) */
#include "prism/prism.h"
#include "profile.h"

/*
 * Note [prism CLI]
 * ----------------
 * The tool links libprism and uses nothing but prism.h, so it sees exactly
 * what any user program sees: `prism info` is the first thing to run when a
 * plugin does not show up. Plugins are found by prism_plugins_load_default()
 * (PRISM_PLUGIN_PATH, the install's plugin directory, then the directory of
 * libprism, which in a build tree is ${build}/lib). Exit codes: 0 success,
 * 1 a runtime call failed, 2 bad usage.
 */

/* ===========================================================================
 * A small aligned-text table
 * ======================================================================== */

#define TABLE_MAX_COLS 8
#define CELL_MAX 512

typedef struct table {
  int n_cols;
  const char* headers[TABLE_MAX_COLS];
  size_t widths[TABLE_MAX_COLS];
  size_t n_rows;
  size_t cap_rows;
  char** cells; /* n_rows * n_cols strings, each malloc'd */
} table;

static void table_init(table* t, int n_cols, const char* const* headers) {
  int c;
  memset(t, 0, sizeof(*t));
  t->n_cols = n_cols;
  for (c = 0; c < n_cols; ++c) {
    t->headers[c] = headers[c];
    t->widths[c] = strlen(headers[c]);
  }
}

static char* dup_string(const char* s) {
  size_t n = strlen(s);
  char* d = (char*)malloc(n + 1);
  if (d == NULL) {
    fprintf(stderr, "prism: out of memory\n");
    exit(1);
  }
  memcpy(d, s, n + 1);
  return d;
}

/* Appends one row; `cells` has n_cols strings (NULL is printed as "-"). */
static void table_add(table* t, const char* const* cells) {
  int c;
  if (t->n_rows == t->cap_rows) {
    size_t cap = t->cap_rows ? 2 * t->cap_rows : 8;
    char** grown = (char**)realloc(t->cells, cap * (size_t)t->n_cols * sizeof(char*));
    if (grown == NULL) {
      fprintf(stderr, "prism: out of memory\n");
      exit(1);
    }
    t->cells = grown;
    t->cap_rows = cap;
  }
  for (c = 0; c < t->n_cols; ++c) {
    const char* s = (cells[c] != NULL && cells[c][0] != '\0') ? cells[c] : "-";
    size_t len = strlen(s);
    t->cells[t->n_rows * (size_t)t->n_cols + (size_t)c] = dup_string(s);
    if (len > t->widths[c]) t->widths[c] = len;
  }
  ++t->n_rows;
}

static void print_padded(FILE* out, const char* s, size_t width, int last) {
  if (last) {
    fprintf(out, "%s\n", s);
  } else {
    fprintf(out, "%-*s  ", (int)width, s);
  }
}

static void table_print(const table* t, FILE* out) {
  size_t r;
  int c;
  for (c = 0; c < t->n_cols; ++c) print_padded(out, t->headers[c], t->widths[c], c == t->n_cols - 1);
  for (c = 0; c < t->n_cols; ++c) {
    size_t i;
    for (i = 0; i < t->widths[c]; ++i) fputc('-', out);
    fputs(c == t->n_cols - 1 ? "\n" : "  ", out);
  }
  for (r = 0; r < t->n_rows; ++r) {
    for (c = 0; c < t->n_cols; ++c) {
      print_padded(out, t->cells[r * (size_t)t->n_cols + (size_t)c], t->widths[c], c == t->n_cols - 1);
    }
  }
}

static void table_free(table* t) {
  size_t i;
  for (i = 0; i < t->n_rows * (size_t)t->n_cols; ++i) free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof(*t));
}

/* ===========================================================================
 * Formatting helpers
 * ======================================================================== */

static void append(char* buf, size_t cap, const char* fmt, ...) {
  size_t len = strlen(buf);
  va_list ap;
  if (len + 1 >= cap) return;
  va_start(ap, fmt);
  vsnprintf(buf + len, cap - len, fmt, ap);
  va_end(ap);
}

/* "float32,int64,..." for a PRISM_DTYPE_BIT mask. */
static void format_dtypes(uint32_t mask, char* buf, size_t cap) {
  int dt;
  buf[0] = '\0';
  for (dt = 0; dt < PRISM_NUM_DTYPES; ++dt) {
    if (mask & PRISM_DTYPE_BIT(dt)) {
      append(buf, cap, "%s%s", buf[0] ? "," : "", prism_dtype_name((prism_dtype)dt));
    }
  }
}

/* "host-memory,async,..." for PRISM_DEVICE_CAP_* flags. */
static void format_capabilities(uint32_t caps, char* buf, size_t cap) {
  static const struct {
    uint32_t bit;
    const char* word;
  } kWords[] = {
      {PRISM_DEVICE_CAP_HOST_MEMORY, "host-memory"},
      {PRISM_DEVICE_CAP_ASYNC, "async"},
      {PRISM_DEVICE_CAP_EVENTS, "events"},
      {PRISM_DEVICE_CAP_FP64, "fp64"},
      {PRISM_DEVICE_CAP_FP16, "fp16"},
  };
  size_t i;
  uint32_t known = 0;
  buf[0] = '\0';
  for (i = 0; i < sizeof(kWords) / sizeof(kWords[0]); ++i) {
    known |= kWords[i].bit;
    if (caps & kWords[i].bit) append(buf, cap, "%s%s", buf[0] ? "," : "", kWords[i].word);
  }
  if (caps & ~known) append(buf, cap, "%s0x%x", buf[0] ? "," : "", (unsigned)(caps & ~known));
}

static void format_memory(uint64_t bytes, char* buf, size_t cap) {
  if (bytes == 0) {
    snprintf(buf, cap, "-");
  } else {
    snprintf(buf, cap, "%.1f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
  }
}

static int fail(const char* what) {
  fprintf(stderr, "prism: %s failed: %s (%s)\n", what, prism_last_error(),
          prism_status_name(prism_last_status()));
  return 1;
}

static const char* fallback_policy_name(prism_fallback_policy p) {
  switch (p) {
    default:  // out-of-range values fall through to the code after the switch
      break;
    case PRISM_FALLBACK_ALLOW:
      return "allow";
    case PRISM_FALLBACK_WARN:
      return "warn";
    case PRISM_FALLBACK_ERROR:
      return "error";
  }
  return "unknown";
}

/* ===========================================================================
 * Subcommands
 * ======================================================================== */

static void print_usage(FILE* out) {
  fprintf(out,
          "usage: prism <command> [options]\n"
          "\n"
          "commands:\n"
          "  info [--plugin PATH]...  plugin load report and device table; each --plugin\n"
          "                           loads that file first (explicit path)\n"
          "  version                  library version and plugin ABI version\n"
          "  run -n N [options] program [args...]\n"
          "                           start N ranks of a distributed job on this host\n"
          "                           (`prism run --help` for the options)\n"
          "  profile [--out PATH] -- program [args...]\n"
          "                           run program with every op recorded: Chrome trace at\n"
          "                           exit + summary table (`prism profile --help`)\n"
          "  help, --help, -h         this text\n"
          "\n"
          "environment:\n"
          "  PRISM_PLUGIN_PATH        colon-separated directories searched for libprism-*.so\n"
          "  PRISM_FALLBACK           allow | warn | error: what a missing kernel does\n"
          "  PRISM_LOG                debug | info | warn | error: lowest log level printed\n"
          "  PRISM_PROFILE            path: record every op, write a Chrome trace there at exit\n");
}

static int cmd_version(void) {
  uint32_t major = 0, minor = 0;
  prism_plugin_abi_version(&major, &minor);
  printf("prism %s (plugin ABI %u.%u)\n", prism_version(), (unsigned)major, (unsigned)minor);
  return 0;
}

static int print_load_report(void) {
  static const char* const kHeaders[] = {"path", "plugin", "kind", "loaded", "abi", "devices", "reason"};
  table t;
  size_t n = 0, i;
  if (prism_load_report_count(&n) != PRISM_OK) return fail("prism_load_report_count");
  printf("plugins (%zu candidate%s)\n", n, n == 1 ? "" : "s");
  if (n == 0) {
    printf("  none found: set PRISM_PLUGIN_PATH to a directory holding libprism-*.so\n");
    return 0;
  }
  table_init(&t, 7, kHeaders);
  for (i = 0; i < n; ++i) {
    prism_load_report_row row;
    char abi[32], devices[32];
    const char* cells[7];
    memset(&row, 0, sizeof(row));
    row.struct_size = sizeof(row);
    if (prism_load_report_get(i, &row) != PRISM_OK) {
      table_free(&t);
      return fail("prism_load_report_get");
    }
    if (row.abi_major == 0 && row.abi_minor == 0) {
      snprintf(abi, sizeof(abi), "-");
    } else {
      snprintf(abi, sizeof(abi), "%u.%u", (unsigned)row.abi_major, (unsigned)row.abi_minor);
    }
    snprintf(devices, sizeof(devices), "%d", (int)row.device_count);
    cells[0] = row.path;
    cells[1] = row.plugin_name;
    cells[2] = row.kind != NULL ? row.kind : "device";
    cells[3] = row.loaded ? "yes" : "no";
    cells[4] = abi;
    cells[5] = devices;
    cells[6] = row.reason;
    table_add(&t, cells);
  }
  table_print(&t, stdout);
  table_free(&t);
  return 0;
}

static int print_devices(void) {
  static const char* const kHeaders[] = {"device", "plugin", "name",        "vendor",
                                         "memory", "dtypes", "capabilities"};
  table t;
  int32_t n = 0, i;
  if (prism_device_count(&n) != PRISM_OK) return fail("prism_device_count");
  printf("devices (%d)\n", (int)n);
  if (n == 0) {
    printf("  none: no loaded plugin exposes a device (see the reasons above)\n");
    return 0;
  }
  table_init(&t, 7, kHeaders);
  for (i = 0; i < n; ++i) {
    prism_device_info info;
    char memory[32], dtypes[CELL_MAX], caps[CELL_MAX];
    const char* cells[7];
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (prism_device_info_get(i, &info) != PRISM_OK) {
      table_free(&t);
      return fail("prism_device_info_get");
    }
    format_memory(info.total_memory, memory, sizeof(memory));
    format_dtypes(info.dtype_mask, dtypes, sizeof(dtypes));
    format_capabilities(info.capabilities, caps, sizeof(caps));
    cells[0] = info.device;
    cells[1] = info.plugin;
    cells[2] = info.name;
    cells[3] = info.vendor;
    cells[4] = memory;
    cells[5] = dtypes;
    cells[6] = caps;
    table_add(&t, cells);
  }
  table_print(&t, stdout);
  table_free(&t);
  return 0;
}

static int cmd_info(int argc, char** argv) {
  int i, rc;
  prism_fallback_policy policy = PRISM_FALLBACK_WARN;
  const char* plugin_path = getenv("PRISM_PLUGIN_PATH");
  for (i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--plugin") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "prism info: --plugin needs a path\n\n");
        print_usage(stderr);
        return 2;
      }
      /* A plugin that fails to load still gets a report row: keep going. */
      if (prism_plugin_load(argv[++i]) != PRISM_OK) {
        fprintf(stderr, "prism: %s\n", prism_last_error());
      }
    } else {
      fprintf(stderr, "prism info: unexpected argument '%s'\n\n", argv[i]);
      print_usage(stderr);
      return 2;
    }
  }
  if (prism_plugins_load_default() != PRISM_OK) return fail("prism_plugins_load_default");

  cmd_version();
  printf("PRISM_PLUGIN_PATH=%s\n", plugin_path ? plugin_path : "(unset)");
  if (prism_fallback_get_policy(&policy) == PRISM_OK) {
    printf("fallback policy: %s\n", fallback_policy_name(policy));
  }
  printf("\n");
  rc = print_load_report();
  if (rc != 0) return rc;
  printf("\n");
  return print_devices();
}

int main(int argc, char** argv) {
  const char* cmd;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  cmd = argv[1];
  if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0) return prism_cli_run(argc - 2, argv + 2);
  if (strcmp(cmd, "profile") == 0) return prism_cli_profile(argc - 2, argv + 2);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    if (argc > 2) {
      fprintf(stderr, "prism version: takes no arguments\n\n");
      print_usage(stderr);
      return 2;
    }
    return cmd_version();
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    print_usage(stdout);
    return 0;
  }
  fprintf(stderr, "prism: unknown command '%s'\n\n", cmd);
  print_usage(stderr);
  return 2;
}
