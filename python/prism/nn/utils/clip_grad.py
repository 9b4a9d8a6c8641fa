"""prism.nn.utils.clip_grad_norm_ / clip_grad_value_: rescale or clamp parameter gradients in place."""
import math

import prism

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, prism.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales the gradients so that their joint norm is at most max_norm; returns the joint norm (0-d tensor).

    The norm is that of all gradients concatenated; the scale is max_norm / (norm + 1e-6), clamped at
    1, and multiplies each gradient in place (on its own device, no host round trip), as PyTorch.
    """
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return prism.tensor(0.0)
    device = grads[0].device
    with prism.no_grad():
        if math.isinf(norm_type):
            norms = [g.abs().max().to(device) for g in grads]
            total = norms[0] if len(norms) == 1 else prism.stack(norms).max()
        else:
            norms = [g.norm(norm_type).to(device) for g in grads]
            total = norms[0] if len(norms) == 1 else prism.stack(norms).norm(norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                               "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
                               "by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device) if g.device != device else coef)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with prism.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
