"""prism.optim.Adam and AdamW (with amsgrad and maximize) on the fused update op."""
import prism
from prism import _C
from prism.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


def _check(lr, betas, eps, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """torch.optim.Adam: one prism_adam_update per parameter.

    State per parameter: "step" (an int: the number of updates taken), "exp_avg", "exp_avg_sq" and,
    with amsgrad, "max_exp_avg_sq" (tensors of the parameter's shape, dtype and device).
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None):
        _check(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() when given."""
        loss = None
        if closure is not None:
            with prism.enable_grad():
                loss = closure()
        update = _C.adam_update
        items = self.state._items  # id(param) -> (param, state): one dict lookup per parameter
        decoupled = _C.ADAM_DECOUPLED_WEIGHT_DECAY if self._decoupled else 0
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            amsgrad = bool(group["amsgrad"])
            flags = decoupled | (_C.ADAM_AMSGRAD if amsgrad else 0) | (_C.ADAM_MAXIMIZE if group["maximize"] else 0)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                entry = items.get(id(p))
                if entry is None:
                    entry = items[id(p)] = (p, {})
                st = entry[1]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = prism.zeros_like(p)
                    st["exp_avg_sq"] = prism.zeros_like(p)
                    if amsgrad:
                        st["max_exp_avg_sq"] = prism.zeros_like(p)
                elif amsgrad and "max_exp_avg_sq" not in st:
                    st["max_exp_avg_sq"] = prism.zeros_like(p)
                step = st["step"]
                if not isinstance(step, int):  # a tensor step from a PyTorch-style state dict
                    step = int(step.item())
                step += 1
                st["step"] = step
                update(p, g, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq") if amsgrad else None, lr,
                       beta1, beta2, eps, weight_decay, step, flags)
        return loss


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (p *= 1 - lr * weight_decay); default weight_decay 0.01."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)
