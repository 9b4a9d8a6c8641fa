"""prism.nn.init: in-place weight initialisation (torch.nn.init's names, fan rules and gains)."""
import math

import prism

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
]

# Note [Initialisers draw from Prism's generator]
# ----------------------------------------------
# The random initialisers fill the tensor from prism.rand / prism.randn on the
# tensor's own device and dtype, so prism.manual_seed(s) makes them
# reproducible (bit-identical on every device). They use PyTorch's formulas
# (fans, gains, bounds), so the distributions match torch.nn.init; the values
# themselves differ, since the generators differ.


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fill_from(tensor, values):
    with prism.no_grad():
        tensor.copy_(values)
    return tensor


def _shape(tensor):
    return tuple(int(s) for s in tensor.shape)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fills tensor with U(a, b)."""
    r = prism.rand(_shape(tensor), dtype=tensor.dtype, device=tensor.device)
    return _fill_from(tensor, r * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fills tensor with N(mean, std^2)."""
    r = prism.randn(_shape(tensor), dtype=tensor.dtype, device=tensor.device)
    return _fill_from(tensor, r * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) truncated to [a, b]: values outside are redrawn until none is left."""
    shape = _shape(tensor)
    x = prism.randn(shape, dtype=tensor.dtype, device=tensor.device) * std + mean
    for _ in range(1000):
        bad = (x < a).logical_or(x > b)
        if not bool(bad.any()):
            break
        x = prism.where(bad, prism.randn(shape, dtype=tensor.dtype, device=tensor.device) * std + mean, x)
    else:
        x = x.clamp(a, b)
    return _fill_from(tensor, x)


def constant_(tensor, val):
    with prism.no_grad():
        tensor.fill_(val)
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    n, m = _shape(tensor)
    return _fill_from(tensor, prism.eye(n, m, dtype=tensor.dtype, device=tensor.device))


def _calculate_fan_in_and_fan_out(tensor):
    dims = tensor.ndim
    if dims < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    shape = _shape(tensor)
    fan_in, fan_out = shape[1], shape[0]
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return fan_in * receptive, fan_out * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in _shape(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in _shape(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(fan))


def orthogonal_(tensor, gain=1.0, generator=None):
    """Orthogonal init through NumPy's QR of a Prism-drawn normal matrix (Prism has no QR op)."""
    import numpy as np
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    rows = int(tensor.shape[0])
    cols = tensor.numel() // rows
    flat = prism.randn((rows, cols), dtype=prism.float64).numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    vals = prism.tensor(np.ascontiguousarray(q * gain)).reshape(_shape(tensor))
    return _fill_from(tensor, vals.to(tensor.dtype).to(tensor.device))


# PyTorch's deprecated un-suffixed aliases.
uniform = uniform_
normal = normal_
constant = constant_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
