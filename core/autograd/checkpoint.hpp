// checkpoint.hpp — gradient checkpointing: run a segment without saving its activations, recompute it in
// backward (internal).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor/tensor.hpp"

namespace prism {

// The global Philox generator's state (core/random/random.cpp).
void get_rng_state(uint64_t* seed, uint64_t* offset);
void set_rng_state(uint64_t seed, uint64_t offset);

namespace autograd {

// A segment: tensors in, tensors out. It may throw prism::Error.
using SegmentFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

// Note [Gradient checkpointing] (checkpoint.cpp). `fn` is kept by the graph
// until backward has run (or the outputs are gone); `on_release` (may be
// empty) runs when the graph lets go of it.
std::vector<Tensor> checkpoint(SegmentFn fn, const std::vector<Tensor>& inputs);

}  // namespace autograd
}  // namespace prism
