/* launch.c — `prism run`: starts the local ranks of a distributed job, prefixes their output, stops them all
 * when one fails. */
#define _POSIX_C_SOURCE 200809L
#include "launch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Note [prism run]
 * ----------------
 * `prism run -n N [--nnodes M --node-rank R --master-addr A --master-port P]
 * program args...` is run once per host, as torchrun is: it starts the N
 * local ranks (global ranks R*N .. R*N+N-1 of a world of M*N) and never
 * spawns anything remotely. Each rank gets PRISM_RANK, PRISM_LOCAL_RANK,
 * PRISM_WORLD_SIZE, PRISM_LOCAL_WORLD_SIZE, PRISM_MASTER_ADDR and
 * PRISM_MASTER_PORT, and OMP_NUM_THREADS = cores / N (at least 1) unless the
 * user set OMP_NUM_THREADS: N ranks each running a full-width OpenMP pool on
 * one host would oversubscribe the cores N times over.
 * Every line a rank prints is prefixed "[rank] " (stdout to stdout, stderr to
 * stderr), written whole so ranks never interleave within a line.
 * SIGINT, SIGTERM and SIGHUP are forwarded to every rank. When a rank exits
 * non-zero or is killed, the launcher says which, sends SIGTERM to the
 * others, SIGKILL after a grace period (PRISM_RUN_GRACE seconds, default 5),
 * and exits non-zero: the failing rank's exit code, or 128 + its signal.
 * Each rank runs in its own process group so that its children go with it.
 */

#define MAX_RANKS 1024
#define LINE_MAX_BYTES 65536

typedef struct rank_proc {
  pid_t pid;
  int global_rank;
  int fds[2]; /* stdout, stderr read ends; -1 once closed */
  char* buf[2];
  size_t len[2];
  int exited;
  int status;
} rank_proc;

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) {
  g_signal = sig;
}

static void on_child(int sig) {
  (void)sig; /* only interrupts poll() */
}

static void usage(FILE* out) {
  fprintf(out,
          "usage: prism run -n N [--nnodes M] [--node-rank R] [--master-addr A] [--master-port P]\n"
          "                 [--backend B] [--] program [args...]\n"
          "  -n, --nproc-per-node N  ranks to start on this host (required)\n"
          "  --nnodes M              hosts in the job (default 1); run prism run once on each\n"
          "  --node-rank R           this host's index, 0..M-1 (default 0)\n"
          "  --master-addr A         address of the host running global rank 0 (default 127.0.0.1)\n"
          "  --master-port P         its rendezvous TCP port (default 29500)\n"
          "  --backend B             communicator plugin (sets PRISM_DIST_BACKEND; default gloo)\n"
          "The program is looked up on PATH, then next to the prism executable (and in a build\n"
          "tree's bin/examples/cpp and bin/examples/c).\n");
}

static int parse_int(const char* s, int lo, int hi, const char* what, int* out) {
  char* end = NULL;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "prism run: %s must be an integer in %d..%d, not '%s'\n", what, lo, hi, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static void set_env_int(const char* name, long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%ld", v);
  setenv(name, buf, 1);
}

/* Writes buf[0..n) to `out` as one line with the rank prefix. */
static void emit(FILE* out, int rank, const char* line, size_t n) {
  fprintf(out, "[%d] %.*s\n", rank, (int)n, line);
  fflush(out);
}

/* Reads what is available on stream k of p; emits complete lines. */
static void drain(rank_proc* p, int k, int at_eof) {
  FILE* out = k == 0 ? stdout : stderr;
  char tmp[8192];
  for (;;) {
    ssize_t got = at_eof ? 0 : read(p->fds[k], tmp, sizeof(tmp));
    if (got < 0 && errno == EINTR) continue;
    if (got > 0) {
      char* nb = realloc(p->buf[k], p->len[k] + (size_t)got);
      if (nb == NULL) return;
      p->buf[k] = nb;
      memcpy(p->buf[k] + p->len[k], tmp, (size_t)got);
      p->len[k] += (size_t)got;
    }
    {
      size_t start = 0, i;
      for (i = 0; i < p->len[k]; ++i) {
        if (p->buf[k][i] == '\n' || i - start >= LINE_MAX_BYTES) {
          emit(out, p->global_rank, p->buf[k] + start, i - start);
          start = i + 1;
        }
      }
      if (start > 0) {
        memmove(p->buf[k], p->buf[k] + start, p->len[k] - start);
        p->len[k] -= start;
      }
    }
    if (got <= 0) {
      if (got == 0 || at_eof) {
        if (p->len[k] > 0) emit(out, p->global_rank, p->buf[k], p->len[k]);
        p->len[k] = 0;
        if (p->fds[k] >= 0) close(p->fds[k]);
        p->fds[k] = -1;
      }
      return;
    }
    return; /* one read per poll round keeps ranks fair */
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void signal_all(rank_proc* procs, int n, int sig) {
  int i;
  for (i = 0; i < n; ++i)
    if (!procs[i].exited && procs[i].pid > 0) kill(-procs[i].pid, sig);
}

/* The directory of the running prism executable, or "" (static storage). */
static const char* self_dir(void) {
  static char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
  char* slash;
  if (n <= 0) return "";
  dir[n] = '\0';
  slash = strrchr(dir, '/');
  if (slash == NULL) return "";
  *slash = '\0';
  return dir;
}

int prism_cli_run(int argc, char** argv) {
  int nproc = 0, nnodes = 1, node_rank = 0, port = 29500, i, n_failed_rank = -1, exit_code = 0;
  const char* addr = "127.0.0.1";
  const char* backend = NULL;
  char** prog = NULL;
  rank_proc* procs;
  int threads;
  long cores;
  double kill_deadline = 0;
  double grace = 5.0;
  struct sigaction sa;
  const char* exe_dir;

  for (i = 0; i < argc; ++i) {
    const char* a = argv[i];
    int need = i + 1 < argc;
    if (strcmp(a, "--") == 0) {
      prog = argv + i + 1;
      break;
    } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--nproc-per-node") == 0) && need) {
      if (parse_int(argv[++i], 1, MAX_RANKS, "-n", &nproc) != 0) return 2;
    } else if (strcmp(a, "--nnodes") == 0 && need) {
      if (parse_int(argv[++i], 1, 65536, "--nnodes", &nnodes) != 0) return 2;
    } else if (strcmp(a, "--node-rank") == 0 && need) {
      if (parse_int(argv[++i], 0, 65535, "--node-rank", &node_rank) != 0) return 2;
    } else if (strcmp(a, "--master-addr") == 0 && need) {
      addr = argv[++i];
    } else if (strcmp(a, "--master-port") == 0 && need) {
      if (parse_int(argv[++i], 1, 65535, "--master-port", &port) != 0) return 2;
    } else if (strcmp(a, "--backend") == 0 && need) {
      backend = argv[++i];
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (a[0] == '-') {
      fprintf(stderr, "prism run: unknown option '%s' (or it lacks its value)\n\n", a);
      usage(stderr);
      return 2;
    } else {
      prog = argv + i;
      break;
    }
  }
  if (nproc == 0 || prog == NULL || prog[0] == NULL) {
    fprintf(stderr, "prism run: %s\n\n", nproc == 0 ? "-n N is required" : "no program given");
    usage(stderr);
    return 2;
  }
  if (node_rank >= nnodes) {
    fprintf(stderr, "prism run: --node-rank %d is not below --nnodes %d\n", node_rank, nnodes);
    return 2;
  }
  if (getenv("PRISM_RUN_GRACE") != NULL) grace = atof(getenv("PRISM_RUN_GRACE"));

  cores = sysconf(_SC_NPROCESSORS_ONLN);
  threads = (int)(cores > 0 ? cores / nproc : 1);
  if (threads < 1) threads = 1;
  setenv("PRISM_WORLD_SIZE", "0", 1);
  set_env_int("PRISM_WORLD_SIZE", (long)nproc * nnodes);
  set_env_int("PRISM_LOCAL_WORLD_SIZE", nproc);
  set_env_int("PRISM_NODE_RANK", node_rank);
  setenv("PRISM_MASTER_ADDR", addr, 1);
  set_env_int("PRISM_MASTER_PORT", port);
  if (backend != NULL) setenv("PRISM_DIST_BACKEND", backend, 1);
  if (getenv("OMP_NUM_THREADS") == NULL || getenv("OMP_NUM_THREADS")[0] == '\0')
    set_env_int("OMP_NUM_THREADS", threads);
  exe_dir = self_dir();

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  procs = calloc((size_t)nproc, sizeof(rank_proc));
  if (procs == NULL) {
    fprintf(stderr, "prism run: out of memory\n");
    return 1;
  }
  for (i = 0; i < nproc; ++i) {
    int out_pipe[2], err_pipe[2];
    pid_t pid;
    procs[i].global_rank = node_rank * nproc + i;
    procs[i].fds[0] = procs[i].fds[1] = -1;
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
      fprintf(stderr, "prism run: pipe: %s\n", strerror(errno));
      signal_all(procs, i, SIGKILL);
      return 1;
    }
    pid = fork();
    if (pid < 0) {
      fprintf(stderr, "prism run: fork: %s\n", strerror(errno));
      signal_all(procs, i, SIGKILL);
      return 1;
    }
    if (pid == 0) {
      struct sigaction dfl;
      setpgid(0, 0);
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      sigaction(SIGINT, &dfl, NULL);
      sigaction(SIGTERM, &dfl, NULL);
      sigaction(SIGHUP, &dfl, NULL);
      sigaction(SIGCHLD, &dfl, NULL);
      signal(SIGPIPE, SIG_DFL);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      close(out_pipe[0]);
      close(out_pipe[1]);
      close(err_pipe[0]);
      close(err_pipe[1]);
      set_env_int("PRISM_RANK", procs[i].global_rank);
      set_env_int("PRISM_LOCAL_RANK", i);
      execvp(prog[0], prog);
      if (strchr(prog[0], '/') == NULL && exe_dir[0] != '\0') {
        /* Next to prism, then the build tree's examples (bin/examples/<lang>/). */
        static const char* const kSubdirs[] = {"", "/examples/cpp", "/examples/c"};
        size_t k;
        for (k = 0; k < sizeof(kSubdirs) / sizeof(kSubdirs[0]); ++k) {
          char path[2 * PATH_MAX + 32];
          snprintf(path, sizeof(path), "%s%s/%s", exe_dir, kSubdirs[k], prog[0]);
          execv(path, prog);
        }
        errno = ENOENT;
      }
      fprintf(stderr, "prism run: cannot run '%s': %s\n", prog[0], strerror(errno));
      _exit(127);
    }
    setpgid(pid, pid);
    close(out_pipe[1]);
    close(err_pipe[1]);
    procs[i].pid = pid;
    procs[i].fds[0] = out_pipe[0];
    procs[i].fds[1] = err_pipe[0];
  }

  for (;;) {
    struct pollfd pfds[2 * MAX_RANKS];
    int owner[2 * MAX_RANKS], which[2 * MAX_RANKS];
    int n_fds = 0, alive = 0, k;
    pid_t pid;
    int status;
    if (g_signal != 0) {
      int sig = g_signal;
      g_signal = 0;
      fprintf(stderr, "prism run: got signal %d; forwarding it to every rank\n", sig);
      signal_all(procs, nproc, sig);
      if (kill_deadline == 0) kill_deadline = now_s() + grace;
      if (exit_code == 0) exit_code = 128 + sig;
    }
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (i = 0; i < nproc; ++i) {
        if (procs[i].pid != pid) continue;
        procs[i].exited = 1;
        procs[i].status = status;
        if ((WIFEXITED(status) && WEXITSTATUS(status) != 0) || WIFSIGNALED(status)) {
          if (n_failed_rank < 0) {
            n_failed_rank = procs[i].global_rank;
            if (WIFSIGNALED(status)) {
              fprintf(stderr,
                      "prism run: rank %d (pid %d) was killed by signal %d (%s); stopping the other ranks\n",
                      procs[i].global_rank, (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
              if (exit_code == 0) exit_code = 128 + WTERMSIG(status);
            } else {
              fprintf(stderr, "prism run: rank %d (pid %d) exited with code %d; stopping the other ranks\n",
                      procs[i].global_rank, (int)pid, WEXITSTATUS(status));
              if (exit_code == 0) exit_code = WEXITSTATUS(status);
            }
            signal_all(procs, nproc, SIGTERM);
            if (kill_deadline == 0) kill_deadline = now_s() + grace;
          }
        }
      }
    }
    if (kill_deadline > 0 && now_s() > kill_deadline) {
      signal_all(procs, nproc, SIGKILL);
      kill_deadline = now_s() + 3600;
    }
    for (i = 0; i < nproc; ++i) {
      if (!procs[i].exited) ++alive;
      for (k = 0; k < 2; ++k) {
        if (procs[i].fds[k] < 0) continue;
        pfds[n_fds].fd = procs[i].fds[k];
        pfds[n_fds].events = POLLIN;
        pfds[n_fds].revents = 0;
        owner[n_fds] = i;
        which[n_fds] = k;
        ++n_fds;
      }
    }
    if (alive == 0 && n_fds == 0) break;
    if (poll(pfds, (nfds_t)n_fds, 100) > 0) {
      for (k = 0; k < n_fds; ++k)
        if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) drain(&procs[owner[k]], which[k], 0);
    } else if (alive == 0) {
      /* Every rank exited; descriptors inherited by grandchildren may stay open: flush and stop. */
      for (i = 0; i < nproc; ++i)
        for (k = 0; k < 2; ++k)
          if (procs[i].fds[k] >= 0) drain(&procs[i], k, 1);
      break;
    }
  }
  for (i = 0; i < nproc; ++i) {
    free(procs[i].buf[0]);
    free(procs[i].buf[1]);
  }
  free(procs);
  if (n_failed_rank >= 0) {
    fprintf(stderr, "prism run: failed: rank %d failed first (exit status %d)\n", n_failed_rank,
            exit_code != 0 ? exit_code : 1);
    return exit_code != 0 ? exit_code : 1;
  }
  return exit_code;
}
