// attention.cpp — scaled_dot_product_attention (composite of primitives, so every device gets it and its
// gradients) and binary_cross_entropy.
#include <cmath>
#include <limits>
#include <string>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/attention.hpp"
#include "core/dispatch/ops.hpp"

namespace prism {

// Note [scaled_dot_product_attention]
// -----------------------------------
// out = dropout(softmax(Q Kᵀ · scale + M), p) V, with
//   Q (..., L, E), K (..., S, E), V (..., S, Ev) -> out (..., L, Ev);
//   leading (batch) dims broadcast as in matmul;
//   scale: 1/sqrt(E) unless given;
//   M from attn_mask, broadcastable to (..., L, S): a bool mask keeps the
//   positions holding true (false -> -inf, torch.nn.functional's meaning,
//   the opposite of nn.MultiheadAttention's bool masks), a float mask is
//   added; is_causal masks j > i (a mask and is_causal together are refused);
//   dropout with probability dropout_p is applied to the attention weights
//   whenever dropout_p > 0 (the functional form has no training flag).
// A row that every position masks gives NaN, as the explicit formula does.
//
// It is written as a composite of recorded primitives (matmul, where, add,
// softmax, dropout), so the gradients are those of the explicit formula and
// every plugin runs it on its own device without a kernel of its own. The
// op name "scaled_dot_product_attention" is reserved for a plugin's fused
// kernel with the signature in docs/ops.md.

namespace {

Tensor last2_transpose(const Tensor& t) {
  return transpose(t, t->dim() - 2, t->dim() - 1);
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    const double* scale) {
  const char* op = "scaled_dot_product_attention";
  PRISM_CHECK(q && k && v, INVALID_ARGUMENT, op, ": query, key and value must not be NULL");
  common_device(op, {q.get(), k.get(), v.get()});
  PRISM_CHECK(is_float(q->dtype) && q->dtype == k->dtype && q->dtype == v->dtype, INVALID_ARGUMENT, op,
              ": expected query, key and value of one floating point dtype, got query ", describe(q),
              ", key ", describe(k), ", value ", describe(v));
  PRISM_CHECK(
      q->dim() >= 2 && k->dim() >= 2 && v->dim() >= 2, INVALID_ARGUMENT, op,
      ": expected query (..., L, E), key (..., S, E) and value (..., S, Ev) of at least 2 dimensions, "
      "got query ",
      describe(q), ", key ", describe(k), ", value ", describe(v));
  const int64_t L = q->sizes[q->dim() - 2], E = q->sizes[q->dim() - 1];
  const int64_t S = k->sizes[k->dim() - 2];
  PRISM_CHECK(k->sizes[k->dim() - 1] == E && v->sizes[v->dim() - 2] == S, INVALID_ARGUMENT, op,
              ": expected key (..., S, E) and value (..., S, Ev) to match query (..., L, E) with E = ", E,
              ", got query ", describe(q), ", key ", describe(k), ", value ", describe(v));
  PRISM_CHECK(dropout_p >= 0.0 && dropout_p < 1.0, INVALID_ARGUMENT, op,
              ": dropout_p must be in [0, 1), got ", dropout_p);
  PRISM_CHECK(!(is_causal && attn_mask), INVALID_ARGUMENT, op,
              ": an explicit attn_mask should not be set when is_causal is true");
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(E));
  PRISM_CHECK(std::isfinite(sc), INVALID_ARGUMENT, op, ": scale must be finite, got ", sc);

  Tensor s = matmul(q, last2_transpose(k));  // (..., L, S)
  s = binary("mul", s, scalar_like(sc, s));
  const Tensor neg_inf = scalar_tensor(-std::numeric_limits<double>::infinity(), s->dtype, s->device());
  if (is_causal) {
    Tensor rows = reshape(arange(0, static_cast<double>(L), 1, PRISM_DTYPE_I64, s->device()), Dims{L, 1});
    Tensor cols = reshape(arange(0, static_cast<double>(S), 1, PRISM_DTYPE_I64, s->device()), Dims{1, S});
    s = where(compare("le", cols, rows), s, neg_inf);
  }
  if (attn_mask) {
    common_device(op, {q.get(), attn_mask.get()});
    Dims target = s->sizes;
    PRISM_CHECK(attn_mask->dtype == PRISM_DTYPE_BOOL || is_float(attn_mask->dtype), INVALID_ARGUMENT, op,
                ": attn_mask must be a bool or floating point tensor, got ", describe(attn_mask));
    bool fits = attn_mask->dim() <= s->dim();
    for (int i = 1; fits && i <= attn_mask->dim(); ++i) {
      const int64_t m = attn_mask->sizes[attn_mask->dim() - i], t = target[s->dim() - i];
      fits = m == t || m == 1;
    }
    PRISM_CHECK(fits, INVALID_ARGUMENT, op, ": attn_mask ", describe(attn_mask),
                " does not broadcast to the attention weights' shape ", target.str(), " (..., L, S)");
    if (attn_mask->dtype == PRISM_DTYPE_BOOL) {
      s = where(attn_mask, s, neg_inf);
    } else {
      s = binary("add", s, to_dtype(attn_mask, s->dtype));
    }
  }
  Tensor p = softmax(s, -1);
  if (dropout_p > 0.0) p = dropout(p, dropout_p, true);
  return matmul(p, v);
}

// ===========================================================================
// binary_cross_entropy
// ===========================================================================

// As torch.nn.functional.binary_cross_entropy: input holds probabilities in
// [0, 1]; each log is clamped at -100 so the loss stays finite at 0 and 1.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            prism_reduction reduction) {
  const char* op = "binary_cross_entropy";
  PRISM_CHECK(input && target, INVALID_ARGUMENT, op, ": input and target must not be NULL");
  PRISM_CHECK(is_float(input->dtype) && is_float(target->dtype), INVALID_ARGUMENT, op,
              ": expected floating point input and target, got input ", describe(input), ", target ",
              describe(target));
  PRISM_CHECK(reduction == PRISM_REDUCTION_NONE || reduction == PRISM_REDUCTION_MEAN ||
                  reduction == PRISM_REDUCTION_SUM,
              INVALID_ARGUMENT, op, ": reduction must be none (0), mean (1) or sum (2), got ",
              int(reduction));
  common_device(op, {input.get(), target.get()});
  PRISM_CHECK(target->sizes == input->sizes, INVALID_ARGUMENT, op, ": Using a target size (",
              target->sizes.str(), ") that is different to the input size (", input->sizes.str(),
              ") is deprecated. Please ensure they have the same size.");
  if (input->numel() > 0) {
    autograd::NoGradGuard ng;
    const Tensor zero = scalar_like(0.0, input), one = scalar_like(1.0, input);
    Tensor bad = compare("logical_or", compare("lt", input, zero), compare("gt", input, one));
    PRISM_CHECK(item_int64(reduce("any", bad, {}, false)) == 0, INVALID_ARGUMENT, op,
                ": all elements of input should be between 0 and 1 (input ", describe(input), ")");
  }
  const prism_dtype dt =
      (input->dtype == PRISM_DTYPE_F16 || input->dtype == PRISM_DTYPE_BF16) ? PRISM_DTYPE_F32 : input->dtype;
  Tensor x = to_dtype(input, dt), y = to_dtype(target, dt);
  const double lo = -100.0;
  Tensor log_x = clamp(unary("log", x), &lo, nullptr);
  Tensor log_1mx = clamp(unary("log", binary("sub", scalar_like(1.0, x), x)), &lo, nullptr);
  // loss = -(y log x + (1 - y) log(1 - x))
  Tensor loss = unary("neg", binary("add", binary("mul", y, log_x),
                                    binary("mul", binary("sub", scalar_like(1.0, y), y), log_1mx)));
  if (weight) {
    PRISM_CHECK(is_float(weight->dtype), INVALID_ARGUMENT, op, ": expected a floating point weight, got ",
                describe(weight));
    common_device(op, {input.get(), weight.get()});
    broadcast_shapes(op, weight->sizes, input->sizes);
    loss = binary("mul", loss, to_dtype(weight, dt));
  }
  Tensor r = loss;
  if (reduction == PRISM_REDUCTION_SUM) r = reduce("sum", loss, {}, false);
  if (reduction == PRISM_REDUCTION_MEAN) r = mean(loss, {}, false);
  return to_dtype(r, input->dtype);
}

}  // namespace prism
