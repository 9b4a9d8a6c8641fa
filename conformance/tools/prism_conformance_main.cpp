// prism_conformance_main.cpp — the prism-conformance command line over prism_conformance_run.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "prism/conformance.h"

namespace {

void usage(std::FILE* f) {
  std::fprintf(
      f,
      "usage: prism-conformance --plugin PATH [--device N] [--op REGEX] [--dtype LIST]\n"
      "                         [--mode abi,ops,grad,rng,async,support,perf] [--report FILE.json]\n"
      "                         [--junit FILE.xml] [--seed N] [--timeout SECONDS] [--verbose] [--quiet]\n"
      "                         [--quick | --full | --tier quick|default|full] [--case N] "
      "[--stop-on-failure]\n"
      "                         [--replay FILE]\n"
      "\n"
      "Checks a Prism device plugin against the float64 reference kernels of the conformance suite.\n"
      "Default modes: abi,ops,rng,support. Tiers set how many generated cases each op and dtype gets\n"
      "(quick 2, default 6, full 48). --case N runs only case N of the selected ops and dtypes (every\n"
      "failure prints the command that reproduces it). Exit status: 0 pass, 1 failures, 2 usage or\n"
      "unwritable report, 77 nothing could run (e.g. the plugin has no device; a failure instead\n"
      "where PRISM_REQUIRE_DEVICES names the device).\n"
      "--replay FILE checks the plugin on every distinct kernel call of a log written by a program run\n"
      "with PRISM_RECORD=FILE (mode replay; --case N then runs the call recorded with seq N).\n");
}

}  // namespace

int main(int argc, char** argv) {
  prism_conformance_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.case_index = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "prism-conformance: %s needs a value\n", flag);
        std::exit(PRISM_CONFORMANCE_USAGE);
      }
      return argv[++i];
    };
    if (a == "--plugin")
      o.plugin_path = value("--plugin");
    else if (a == "--device")
      o.device = std::atoi(value("--device"));
    else if (a == "--op")
      o.op_regex = value("--op");
    else if (a == "--dtype")
      o.dtypes = value("--dtype");
    else if (a == "--mode")
      o.modes = value("--mode");
    else if (a == "--report")
      o.report_json = value("--report");
    else if (a == "--junit")
      o.junit_xml = value("--junit");
    else if (a == "--seed")
      o.seed = std::strtoull(value("--seed"), nullptr, 0);
    else if (a == "--timeout")
      o.case_timeout_s = std::atof(value("--timeout"));
    else if (a == "--tier")
      o.tier = value("--tier");
    else if (a == "--quick")
      o.tier = "quick";
    else if (a == "--full")
      o.tier = "full";
    else if (a == "--case") {
      char* end = nullptr;
      const char* v = value("--case");
      o.case_index = std::strtoll(v, &end, 10);
      if (end == v || *end != '\0' || o.case_index < 0) {
        std::fprintf(stderr, "prism-conformance: --case needs a case number >= 0, got '%s'\n", v);
        return PRISM_CONFORMANCE_USAGE;
      }
    } else if (a == "--replay")
      o.replay = value("--replay");
    else if (a == "--stop-on-failure")
      o.stop_on_failure = 1;
    else if (a == "--verbose" || a == "-v")
      o.verbose = 1;
    else if (a == "--quiet" || a == "-q")
      o.quiet = 1;
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "prism-conformance: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return PRISM_CONFORMANCE_USAGE;
    }
  }
  if (o.plugin_path == nullptr) {
    usage(stderr);
    return PRISM_CONFORMANCE_USAGE;
  }
  return prism_conformance_run(&o);
}
