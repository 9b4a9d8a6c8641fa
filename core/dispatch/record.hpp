// record.hpp — PRISM_RECORD: a log of every kernel call the dispatcher makes, for replay (internal).
#pragma once

#include "prism/plugin.h"

namespace prism {

struct Device;

// Note [Kernel call recording]
// With PRISM_RECORD=<file> set when the first kernel runs, every call the
// dispatcher hands to a plugin kernel (fallback calls on the CPU plugin
// included) is appended to <file> as one JSON object per line: op, device,
// plugin, key dtype, and each operand's dtype, sizes, strides (elements) and
// storage offset (elements), plus the attributes. `prism-conformance
// --replay <file>` then checks a plugin on exactly those calls. The format is
// documented in docs/writing-a-plugin.md ("Recording and replaying a
// program's kernel calls"). Unset, the cost is one function call, one load and one branch per call.
void record_kernel_call(const Device* dev, prism_dtype key, const prism_kernel_call& call);

}  // namespace prism
