// suite.hpp — shared types of the conformance suite: case results and the user-ABI modes (internal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prism::conformance {

// One row of the report: a case of a mode.
struct CaseResult {
  std::string mode;    // abi ops grad rng async support perf load
  std::string op;      // op name, or the check's subject for abi/load rows
  std::string dtype;   // dtype name or "-"
  std::string layout;  // layout (plus attribute variant) or the check name
  std::string status;  // "pass", "fail", "skip", "info"
  std::string message;
  double max_abs_err = 0;
  int64_t max_ulp = 0;
  double nmse = 0;
  double time_ms = 0;
  double throughput = 0;  // perf: GB/s
  std::string repro{};    // failures: a command line that runs just this case
  std::string calls{};    // grad failures: the PRISM_RECORD lines of the gradient's kernel calls
};

// Options of the user-ABI modes (grad, async).
struct UserModeOptions {
  std::string plugin_path;
  std::string device;  // "emu:0"
  std::string op_regex;
  bool f64 = true;  // the device stores f64
  double timeout_s = 60;
  std::vector<int32_t> kernel_dtypes;  // dtypes the device stores and has kernels for (async mode)
};

// Runs `grad` (finite differences through the core's autograd) on the device.
std::vector<CaseResult> run_grad_mode(const UserModeOptions& opts);
// Runs `async` (stream ordering, host reads synchronising, cross-device copies).
std::vector<CaseResult> run_async_mode(const UserModeOptions& opts);

}  // namespace prism::conformance
