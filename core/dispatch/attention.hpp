// attention.hpp — scaled_dot_product_attention and binary_cross_entropy (internal).
#pragma once

#include "core/tensor/tensor.hpp"
#include "prism/prism.h"

namespace prism {

// Note [scaled_dot_product_attention] (attention.cpp). attn_mask may be
// nullptr; scale nullptr = 1/sqrt(E).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    const double* scale);
// weight may be nullptr (broadcast to the input otherwise).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            prism_reduction reduction);

}  // namespace prism
