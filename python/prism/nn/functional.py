"""prism.nn.functional: stateless layers, activations and losses (torch.nn.functional's spelling) over Prism's fused ops."""
import numbers

import prism
from prism import _C

# Note [Functional ops over the C ABI]
# ------------------------------------
# Every layer and loss here is one fused op of prism.h (prism_linear,
# prism_conv2d, prism_cross_entropy, ...) reached through prism._C, so it runs
# on every device, records one autograd node and reports errors with Prism's
# message (op, shapes, dtypes, device). The few PyTorch functions Prism has no
# op for (leaky_relu, elu, gelu's tanh form, hardtanh, normalize, pad with
# constants) are short compositions of tensor ops and are marked as such.

__all__ = [
    "linear", "conv2d", "max_pool2d", "avg_pool2d", "dropout", "layer_norm", "batch_norm", "embedding",
    "relu", "relu_", "gelu", "silu", "tanh", "sigmoid", "softmax", "log_softmax", "leaky_relu", "elu",
    "hardtanh", "relu6", "softplus", "mish", "one_hot", "normalize", "flatten", "cross_entropy", "nll_loss",
    "binary_cross_entropy_with_logits", "binary_cross_entropy", "mse_loss", "l1_loss", "huber_loss",
    "smooth_l1_loss", "cosine_similarity", "pad",
]

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _reduction(reduction, op):
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}") from None


def _pair(v, name, op):
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    try:
        a, b = v
        return (int(a), int(b))
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None


# ----------------------------------------------------------------- layers
def linear(input, weight, bias=None):
    """input (..., in) @ weight (out, in)^T + bias (out)."""
    return _C.linear(input, weight, bias)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of input (N, C, H, W) with weight (O, C / groups, kH, kW).

    padding may be an int, a pair, 'valid' or 'same' (stride 1 only; with an even effective kernel the
    extra element goes on the right / bottom, as PyTorch).
    """
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"conv2d: invalid padding string {padding!r}, should be one of 'valid', 'same'")
        return _C.op_conv2d_padding(input, weight, bias, _pair(stride, "stride", "conv2d"),
                                    1 if padding == "same" else 0, _pair(dilation, "dilation", "conv2d"),
                                    int(groups))
    return _C.conv2d(input, weight, bias, _pair(stride, "stride", "conv2d"), _pair(padding, "padding", "conv2d"),
                     _pair(dilation, "dilation", "conv2d"), int(groups))


_PAD_MODES = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: `pad` lists (left, right) pairs from the last dim; negative values crop.

    mode: 'constant' (value, default 0), 'reflect', 'replicate' or 'circular'.
    """
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode must be one of {', '.join(repr(m) for m in _PAD_MODES)}, "
                                  f"got {mode!r}")
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    return _C.op_pad(input, [int(p) for p in pad], _PAD_MODES[mode], 0.0 if value is None else float(value))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling (no dilation, ceil_mode or indices: Prism's op has none)."""
    if _pair(dilation, "dilation", "max_pool2d") != (1, 1):
        raise NotImplementedError("max_pool2d: dilation != 1 is not supported by Prism")
    if ceil_mode:
        raise NotImplementedError("max_pool2d: ceil_mode=True is not supported by Prism")
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported by Prism")
    k = _pair(kernel_size, "kernel_size", "max_pool2d")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _pair(stride, "stride", "max_pool2d")
    return _C.max_pool2d(input, k, s, _pair(padding, "padding", "max_pool2d"))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling."""
    if ceil_mode:
        raise NotImplementedError("avg_pool2d: ceil_mode=True is not supported by Prism")
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d: divisor_override is not supported by Prism")
    k = _pair(kernel_size, "kernel_size", "avg_pool2d")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _pair(stride, "stride", "avg_pool2d")
    return _C.avg_pool2d(input, k, s, _pair(padding, "padding", "avg_pool2d"), bool(count_include_pad))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    out = _C.dropout(input, float(p), True)
    if inplace:
        with prism.no_grad():
            input.copy_(out)
        return input
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the trailing dims `normalized_shape` (biased variance)."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    return _C.layer_norm(input, [int(s) for s in normalized_shape], weight, bias, float(eps))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation of input (N, C, ...) per channel; updates the running stats in place when training."""
    return _C.batch_norm(input, running_mean, running_var, weight, bias, bool(training), float(momentum),
                         float(eps))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight at the integer indices `input`."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported by Prism")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported by Prism")
    return _C.embedding(weight, input, padding_idx)


# ------------------------------------------------------------ activations
def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def gelu(input, approximate="none"):
    """GELU: approximate='none' (erf) or 'tanh' (0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))))."""
    if approximate == "none":
        return input.gelu()
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _C.op_gelu_approximate(input, 1)


def silu(input, inplace=False):
    return input.silu_() if inplace else input.silu()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def _softmax_dim(dim, input, name):
    if dim is None:
        # PyTorch's implicit choice (deprecated there, kept for ported code).
        return 0 if input.ndim in (0, 1, 3) else 1
    return int(dim)


def softmax(input, dim=None, dtype=None):
    """Softmax along dim; dtype=: the input is cast to dtype first."""
    if dtype is not None:
        return _C.op_softmax_dtype(input, _softmax_dim(dim, input, "softmax"), dtype, False)
    return _C.softmax(input, _softmax_dim(dim, input, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    """Log-softmax along dim; dtype=: the input is cast to dtype first."""
    if dtype is not None:
        return _C.op_softmax_dtype(input, _softmax_dim(dim, input, "log_softmax"), dtype, True)
    return _C.log_softmax(input, _softmax_dim(dim, input, "log_softmax"))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """Composition: where(x > 0, x, slope * x)."""
    out = prism.where(input > 0, input, input * negative_slope)
    if inplace:
        with prism.no_grad():
            input.copy_(out)
        return input
    return out


def elu(input, alpha=1.0, inplace=False):
    """Composition: where(x > 0, x, alpha * (exp(x) - 1))."""
    out = prism.where(input > 0, input, alpha * input.expm1())
    if inplace:
        with prism.no_grad():
            input.copy_(out)
        return input
    return out


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = input.clamp(min_val, max_val)
    if inplace:
        with prism.no_grad():
            input.copy_(out)
        return input
    return out


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """Composition: log1p(exp(beta x)) / beta, linear above threshold (as PyTorch)."""
    bx = input * beta
    soft = bx.clamp(max=threshold).exp().log1p() / beta
    return prism.where(bx > threshold, input, soft)


def mish(input):
    return input * softplus(input).tanh()


def one_hot(tensor, num_classes=-1):
    return tensor.one_hot(num_classes) if hasattr(tensor, "one_hot") else prism.one_hot(tensor, num_classes)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    norm = input.norm(p, dim=dim, keepdim=True).clamp(min=eps)
    return input / norm


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    n1 = x1.norm(2, dim=dim).clamp(min=eps)
    n2 = x2.norm(2, dim=dim).clamp(min=eps)
    return (x1 * x2).sum(dim=dim) / (n1 * n2)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


# ------------------------------------------------------------------ losses
def _legacy(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (C), (N, C) or (N, C, d...) against class indices or class probabilities."""
    reduction = _legacy(size_average, reduce, reduction)
    return _C.cross_entropy(input, target, weight, int(ignore_index), float(label_smoothing),
                            _reduction(reduction, "cross_entropy"))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities against class indices."""
    reduction = _legacy(size_average, reduce, reduction)
    return _C.nll_loss(input, target, weight, int(ignore_index), _reduction(reduction, "nll_loss"))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Target size ({list(target.shape)}) must be the same as input size "
                         f"({list(input.shape)})")
    return _C.binary_cross_entropy_with_logits(input, target, weight, pos_weight,
                                               _reduction(reduction, "binary_cross_entropy_with_logits"))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) on probabilities p in [0, 1], logs clamped at -100 as PyTorch (one op)."""
    reduction = _legacy(size_average, reduce, reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")
    return _C.binary_cross_entropy(input, target, weight, _reduction(reduction, "binary_cross_entropy"))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    return _C.mse_loss(input, target, _reduction(reduction, "mse_loss"))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    return _C.l1_loss(input, target, _reduction(reduction, "l1_loss"))


def huber_loss(input, target, reduction="mean", delta=1.0):
    return _C.huber_loss(input, target, float(delta), _reduction(reduction, "huber_loss"))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy(size_average, reduce, reduction)
    return _C.smooth_l1_loss(input, target, float(beta), _reduction(reduction, "smooth_l1_loss"))


# ----------------------------------------------------------------- attention


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(Q K^T * scale + mask) V with dropout on the weights (torch 2's F.scaled_dot_product_attention).

    query (..., L, E), key (..., S, E), value (..., S, Ev). attn_mask: bool (True = take part) or float (added),
    broadcast to (..., L, S); is_causal masks later keys; scale defaults to 1/sqrt(E). One op of prism.h.
    """
    return _C.scaled_dot_product_attention(query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                                           None if scale is None else float(scale))


__all__ += ["scaled_dot_product_attention"]
