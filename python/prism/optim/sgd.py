"""prism.optim.SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay, on the fused update op."""
import prism
from prism import _C
from prism.optim.optimizer import Optimizer, required

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD: one prism_sgd_update per parameter (one kernel on devices that have one).

    The update is PyTorch's: d = g + weight_decay * p; with momentum, buf = momentum * buf +
    (1 - dampening) * d (buf = d on the first step), d = d + momentum * buf (nesterov) or buf;
    p -= lr * d. maximize ascends.
    """

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() when given."""
        loss = None
        if closure is not None:
            with prism.enable_grad():
                loss = closure()
        update = _C.sgd_update
        items = self.state._items  # id(param) -> (param, state): one dict lookup per parameter
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            flags = (_C.SGD_NESTEROV if group["nesterov"] else 0) | (_C.SGD_MAXIMIZE if group["maximize"] else 0)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if momentum != 0.0:
                    entry = items.get(id(p))
                    if entry is None:
                        entry = items[id(p)] = (p, {})
                    st = entry[1]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = prism.zeros_like(p)
                        st["momentum_buffer"] = buf
                        update(p, g, buf, lr, momentum, dampening, weight_decay, flags | _C.SGD_INIT_BUFFER)
                    else:
                        update(p, g, buf, lr, momentum, dampening, weight_decay, flags)
                else:
                    update(p, g, None, lr, 0.0, dampening, weight_decay, flags)
        return loss
