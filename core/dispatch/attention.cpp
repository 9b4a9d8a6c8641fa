// attention.cpp — scaled_dot_product_attention (a plugin's fused kernel where the device has one, else a
// composite of primitives, so every device gets it and its gradients) and binary_cross_entropy.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/attention.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

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
// The composite is written with recorded primitives (matmul, where, add,
// softmax, dropout), so its gradients are those of the explicit formula and
// every plugin runs it on its own device without a kernel of its own. A
// plugin may instead implement the whole op as one kernel, op name
// "scaled_dot_product_attention" (Note [Fused attention kernel]).

// Note [Fused attention kernel]
// -----------------------------
// When the device's plugin has a kernel "scaled_dot_product_attention" for
// the query's dtype, the front-end calls it instead of the composite, except
//  * dropout_p > 0: the composite runs, so the dropout mask comes from the
//    core's generator exactly as without a kernel (same values on every
//    device and with or without the kernel; no seed travels to the plugin);
//  * an autocast scope is active: the composite runs, so its matmuls and
//    softmax follow the autocast policy as before;
//  * an empty query, key or value (L, S, E or a batch dim of 0): the
//    composite's result (zeros for S = 0) is kept.
// The kernel's contract (docs/ops.md, "Attention kernel"): inputs query
// (B..., L, E), key (B..., S, E), value (B..., S, Ev) and, when attn_mask
// is given, a 4th input mask (B..., L, S), all of one rank >= 2.
// The core broadcasts every operand to the common batch dims B... (views:
// stride 0 on broadcast dims, any strides otherwise, so a transposed or
// sliced input reaches the kernel without a copy) and normalises the mask to
// an ADDITIVE mask in the query's dtype (a bool mask becomes 0 / -inf on its
// own shape before the broadcast, a float mask is cast), so the kernel sees
// one mask form. Attributes: "scale" (FLOAT, the factor of Q·Kᵀ) and
// "is_causal" (INT 0/1: score (i, j) is -inf for j > i, top-left aligned when
// L != S). The output (B..., L, Ev) is dense, in the query's dtype. A row
// whose every score is -inf gives NaN, as the composite's softmax does.
//
// Gradients: when an input requires grad (and grad mode is on), the
// composite runs unless the attention weights would be large: batch x L x S
// >= PRISM_ATTENTION_RECOMPUTE_ELEMENTS (default 2^24, 64 MiB of f32 per
// saved L x S tensor; read on each call, 0 = always fused). Measured on the
// CPU (docs/benchmarks.md, bench/attention): a fused forward with the
// recomputing backward below takes 1.0-1.45x the composite's forward +
// backward, because the backward must form Q·Kᵀ and the softmax again; the
// composite keeps the weights instead. So below the threshold speed wins,
// above it memory does (the composite holds about three B x L x S tensors
// per call until backward; the fused path holds none).
// The fused path's node saves q, k, v and the normalised mask, and its
// backward recomputes P = softmax(Q·Kᵀ·scale + M) with the composite's
// primitives, then dV = Pᵀ·dO, dS = softmax_backward(dO·Vᵀ, P),
// dQ = dS·K·scale, dK = dSᵀ·Q·scale and, for a float mask that requires
// grad, dM = dS; the engine sums each back over broadcast batch dims and
// casts it to the input's dtype. So the gradients are the composite's up to
// rounding, and the backward is made of recorded ops (create_graph works).

namespace {

Tensor last2_transpose(const Tensor& t) {
  return transpose(t, t->dim() - 2, t->dim() - 1);
}

// The leading (batch) dims of t: all but the last two.
Dims batch_dims(const Tensor& t) {
  Dims b;
  for (int i = 0; i + 2 < t->dim(); ++i) b.push_back(t->sizes[i]);
  return b;
}

// t viewed as (batch..., its last two dims) by broadcasting (stride 0 views).
Tensor expand_batch(const Tensor& t, const Dims& batch) {
  Dims full = batch;
  full.push_back(t->sizes[t->dim() - 2]);
  full.push_back(t->sizes[t->dim() - 1]);
  return expand(t, full);
}

// Note [Fused attention kernel]: the kernel call, q/k/v/mask as given
// (mask additive in q's dtype or null), no autograd.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double sc,
                       bool is_causal) {
  const char* op = "scaled_dot_product_attention";
  Dims batch = broadcast_shapes(op, broadcast_shapes(op, batch_dims(q), batch_dims(k)), batch_dims(v));
  Dims out_sizes = batch;
  out_sizes.push_back(q->sizes[q->dim() - 2]);
  out_sizes.push_back(v->sizes[v->dim() - 1]);
  Tensor out = empty(out_sizes, q->dtype, q->device());
  Tensor qe = expand_batch(q, batch), ke = expand_batch(k, batch), ve = expand_batch(v, batch);
  Attrs attrs;
  attrs.add_float("scale", sc).add_int("is_causal", is_causal ? 1 : 0);
  if (mask) {
    Dims ms = batch;
    ms.push_back(q->sizes[q->dim() - 2]);
    ms.push_back(k->sizes[k->dim() - 2]);
    Tensor me = expand(mask, ms);
    run_kernel(op, q->dtype, {qe.get(), ke.get(), ve.get(), me.get()}, {out.get()}, attrs);
  } else {
    run_kernel(op, q->dtype, {qe.get(), ke.get(), ve.get()}, {out.get()}, attrs);
  }
  return out;
}

// Note [Fused attention kernel]: batch x L x S from which a call that needs
// gradients takes the fused path.
double recompute_threshold() {
  const char* env = std::getenv("PRISM_ATTENTION_RECOMPUTE_ELEMENTS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && v >= 0) return v;
  }
  return 16777216.0;  // 2^24
}

bool use_fused_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                      double dropout_p) {
  if (dropout_p > 0.0 || amp::active()) return false;
  if (q->numel() == 0 || k->numel() == 0 || v->numel() == 0) return false;
  if (q->device()->plugin->find_kernel("scaled_dot_product_attention", q->dtype) == nullptr) return false;
  if (!autograd::should_record({&q, &k, &v, &mask})) return true;
  // batch x L x S of the weights the composite would keep for backward
  double weights = static_cast<double>(q->sizes[q->dim() - 2]) * static_cast<double>(k->sizes[k->dim() - 2]);
  const Dims b = broadcast_shapes(
      "scaled_dot_product_attention",
      broadcast_shapes("scaled_dot_product_attention", batch_dims(q), batch_dims(k)), batch_dims(v));
  for (int i = 0; i < b.size(); ++i) weights *= static_cast<double>(b[i]);
  return weights >= recompute_threshold();
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

  if (attn_mask) {
    common_device(op, {q.get(), attn_mask.get()});
    PRISM_CHECK(attn_mask->dtype == PRISM_DTYPE_BOOL || is_float(attn_mask->dtype), INVALID_ARGUMENT, op,
                ": attn_mask must be a bool or floating point tensor, got ", describe(attn_mask));
  }

  if (use_fused_kernel(q, k, v, attn_mask && is_float(attn_mask->dtype) ? attn_mask : Tensor(), dropout_p)) {
    // Note [Fused attention kernel]. The mask check mirrors the composite's
    // (against the (..., L, S) shape of Q·Kᵀ).
    Dims target = broadcast_shapes(op, batch_dims(q), batch_dims(k));
    target.push_back(L);
    target.push_back(S);
    Tensor mask;
    if (attn_mask) {
      bool fits = attn_mask->dim() <= target.size();
      for (int i = 1; fits && i <= attn_mask->dim(); ++i) {
        const int64_t m = attn_mask->sizes[attn_mask->dim() - i], t = target[target.size() - i];
        fits = m == t || m == 1;
      }
      PRISM_CHECK(fits, INVALID_ARGUMENT, op, ": attn_mask ", describe(attn_mask),
                  " does not broadcast to the attention weights' shape ", target.str(), " (..., L, S)");
      if (attn_mask->dtype == PRISM_DTYPE_BOOL) {
        autograd::NoGradGuard ng;
        mask = where(attn_mask, scalar_tensor(0.0, q->dtype, q->device()),
                     scalar_tensor(-std::numeric_limits<double>::infinity(), q->dtype, q->device()));
      } else {
        mask = to_dtype(attn_mask, q->dtype);  // recorded: a float mask may require grad
      }
    }
    Tensor out;
    {
      autograd::NoGradGuard ng;
      out = fused_attention(q, k, v, mask, sc, is_causal);
    }
    const bool mask_grad = mask && autograd::requires_grad(mask);
    const Tensor mask_input = mask_grad ? mask : Tensor();
    if (autograd::should_record({&q, &k, &v, &mask_input})) {
      autograd::record_closure(
          op, "ScaledDotProductAttentionBackward", out, {q, k, v, mask_input}, {q, k, v, mask},
          [sc, is_causal, L, S, mask_grad](const std::vector<Tensor>& saved,
                                           const Tensor& g) -> std::vector<Tensor> {
            const Tensor &sq = saved[0], &sk = saved[1], &sv = saved[2], &sm = saved[3];
            Tensor s =
                binary("mul", matmul(sq, last2_transpose(sk)), scalar_tensor(sc, sq->dtype, sq->device()));
            if (is_causal) {
              Tensor rows =
                  reshape(arange(0, static_cast<double>(L), 1, PRISM_DTYPE_I64, s->device()), Dims{L, 1});
              Tensor cols =
                  reshape(arange(0, static_cast<double>(S), 1, PRISM_DTYPE_I64, s->device()), Dims{1, S});
              s = where(compare("le", cols, rows), s,
                        scalar_tensor(-std::numeric_limits<double>::infinity(), s->dtype, s->device()));
            }
            if (sm) s = binary("add", s, sm);
            Tensor p = softmax(s, -1);
            Tensor dv = matmul(last2_transpose(p), g);
            Tensor ds = softmax_backward(matmul(g, last2_transpose(sv)), p, p->dim() - 1, false);
            Tensor scv = scalar_tensor(sc, ds->dtype, ds->device());
            Tensor dq = binary("mul", matmul(ds, sk), scv);
            Tensor dk = binary("mul", matmul(last2_transpose(ds), sq), scv);
            return {dq, dk, dv, mask_grad ? ds : Tensor()};
          });
    }
    return out;
  }

  Tensor s = matmul(q, last2_transpose(k));  // (..., L, S)
  s = binary("mul", s, scalar_like(sc, s));
  const Tensor neg_inf = scalar_tensor(-std::numeric_limits<double>::infinity(), s->dtype, s->device());
  if (is_causal) {
    Tensor rows = reshape(arange(0, static_cast<double>(L), 1, PRISM_DTYPE_I64, s->device()), Dims{L, 1});
    Tensor cols = reshape(arange(0, static_cast<double>(S), 1, PRISM_DTYPE_I64, s->device()), Dims{1, S});
    s = where(compare("le", cols, rows), s, neg_inf);
  }
  if (attn_mask) {
    Dims target = s->sizes;
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
