/* conformance.h — the Prism plugin conformance suite, entered by one call. */
#ifndef PRISM_CONFORMANCE_INCLUDE_PRISM_CONFORMANCE_H_
#define PRISM_CONFORMANCE_INCLUDE_PRISM_CONFORMANCE_H_

/*
 * Note [Conformance entry point]
 * ------------------------------
 * A plugin author outside this repository runs the suite either with the
 * `prism-conformance` executable or by linking libprism_conformance and
 * calling prism_conformance_run() from their own test program. The suite
 * loads the plugin file itself (dlopen + prism_plugin_entry with its own host
 * table), so the `abi`, `ops`, `rng`, `support` and `perf` modes test the
 * plugin's kernels directly against the float64 reference kernels of
 * conformance/, never against another plugin. The `grad` and `async` modes
 * go through the user C ABI (prism.h) on the plugin's device.
 *
 * Every field of the options is borrowed for the call; NULL strings take the
 * documented default. struct_size lets the options grow: set it to
 * sizeof(prism_conformance_options).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PRISM_CONFORMANCE_API __declspec(dllexport)
#else
#define PRISM_CONFORMANCE_API __attribute__((visibility("default")))
#endif

typedef struct prism_conformance_options {
  size_t struct_size;
  const char* plugin_path; /* required: the plugin file */
  int32_t device;          /* device index within the plugin (default 0) */
  const char* op_regex;    /* ECMAScript regex matched against op names; NULL = every op */
  const char* dtypes;      /* comma list ("f32,i64"); NULL = every dtype the plugin claims */
  const char* modes;       /* comma list of abi,ops,grad,rng,async,support,perf;
                              NULL = "abi,ops,rng,support" */
  const char* report_json; /* JSON report path; NULL = none */
  const char* junit_xml;   /* JUnit XML report path; NULL = none */
  uint64_t seed;           /* input generator seed (default used when 0) */
  double case_timeout_s;   /* per-case time limit in seconds; <= 0 means 60 */
  int32_t verbose;         /* 1: print every case, not only failures */
  int32_t quiet;           /* 1: no progress line and no table (reports only) */
  /* Appended fields (check struct_size): */
  const char* tier;        /* case budget of the ops mode: "quick", "default" (NULL) or
                              "full" (Note [Conformance tiers] in conformance/src/suite.cpp) */
  int64_t case_index;      /* >= 0: run only case number case_index of each selected op and
                              dtype (the "--case" of a failure's reproducer line); -1 = all */
  int32_t stop_on_failure; /* 1: stop the ops/rng modes at the first failing case */
  const char* replay;      /* a log written with PRISM_RECORD=FILE: mode "replay" checks the
                              plugin on every distinct recorded kernel call (the default mode
                              when set); NULL = none. With it, case_index selects the call
                              whose "seq" is case_index */
} prism_conformance_options;

/* Exit status of a run (also the process exit code of prism-conformance). */
#define PRISM_CONFORMANCE_PASSED 0
#define PRISM_CONFORMANCE_FAILED 1
#define PRISM_CONFORMANCE_USAGE 2    /* bad options, or a report could not be written */
#define PRISM_CONFORMANCE_NOT_RUN 77 /* nothing could run (e.g. zero devices): never a pass */

/* Runs the suite; prints the console table to stdout and writes the reports.
 * Returns one of PRISM_CONFORMANCE_*. */
PRISM_CONFORMANCE_API int prism_conformance_run(const prism_conformance_options* options);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PRISM_CONFORMANCE_INCLUDE_PRISM_CONFORMANCE_H_ */
