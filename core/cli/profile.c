/* profile.c — `prism profile [--out trace.json] [--no-summary] -- program [args...]`: runs the program
 * with PRISM_PROFILE set so libprism records every op and writes a Chrome trace at exit. */
#define _POSIX_C_SOURCE 200809L
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Note [prism profile]
 * --------------------
 * The tool does not load the program: it sets PRISM_PROFILE=<out> (and
 * PRISM_PROFILE_SUMMARY=1 unless --no-summary) in the environment, runs the
 * program as a child and waits. libprism, loaded by the program (a C or C++
 * binary, or Python through `import prism`), reads the variable at load time,
 * records from then on and writes the trace when the program exits normally
 * (Note [PRISM_PROFILE] in core/profiler/profiler.cpp). Its summary table goes
 * to the program's stderr. The tool exits with the program's status, and
 * with 1 when the program exited 0 but left no trace (it did not use Prism,
 * or ended through _exit or a signal).
 */

static void profile_usage(FILE* out) {
  fprintf(out,
          "usage: prism profile [--out PATH] [--no-summary] [--] program [args...]\n"
          "  runs program with every Prism op recorded; writes a Chrome trace (JSON, open it in\n"
          "  chrome://tracing or ui.perfetto.dev) when the program exits and prints the summary\n"
          "  table (ops by total time, with counts) on stderr\n"
          "  --out PATH      trace file (default prism_trace.json); %%p in it becomes the pid\n"
          "  --no-summary    do not print the summary table\n");
}

int prism_cli_profile(int argc, char** argv) {
  const char* out = "prism_trace.json";
  int summary = 1, i = 0, status = 0;
  pid_t pid;
  struct stat st;
  while (i < argc && argv[i][0] == '-') {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "prism profile: %s needs a path\n\n", argv[i]);
        profile_usage(stderr);
        return 2;
      }
      out = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--no-summary") == 0) {
      summary = 0;
      ++i;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      profile_usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "prism profile: unknown option '%s'\n\n", argv[i]);
      profile_usage(stderr);
      return 2;
    }
  }
  if (i == argc) {
    fprintf(stderr, "prism profile: no program given\n\n");
    profile_usage(stderr);
    return 2;
  }
  if (setenv("PRISM_PROFILE", out, 1) != 0 || setenv("PRISM_PROFILE_SUMMARY", summary ? "1" : "0", 1) != 0) {
    fprintf(stderr, "prism profile: setenv: %s\n", strerror(errno));
    return 1;
  }
  if (strstr(out, "%p") == NULL) remove(out); /* a stale trace must not pass for a new one */
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "prism profile: fork: %s\n", strerror(errno));
    return 1;
  }
  if (pid == 0) {
    execvp(argv[i], argv + i);
    fprintf(stderr, "prism profile: cannot run '%s': %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "prism profile: waitpid: %s\n", strerror(errno));
      return 1;
    }
  }
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "prism profile: '%s' was killed by signal %d (no trace written)\n", argv[i],
            WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  status = WEXITSTATUS(status);
  if (strstr(out, "%p") != NULL) return status;
  if (stat(out, &st) != 0) {
    fprintf(stderr, "prism profile: '%s' exited with %d and wrote no trace to %s (does it use Prism?)\n",
            argv[i], status, out);
    return status != 0 ? status : 1;
  }
  fprintf(stderr, "prism profile: trace written to %s (%lld bytes)\n", out, (long long)st.st_size);
  return status;
}
