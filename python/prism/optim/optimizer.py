"""prism.optim.Optimizer: parameter groups, per-parameter state, zero_grad and state dicts (torch.optim's contract)."""
from collections import abc
import copy

import prism

__all__ = ["Optimizer", "required"]

# Note [Optimizer state and state dicts]
# --------------------------------------
# As in torch.optim: param_groups is a list of dicts ("params" plus the
# group's options), and state maps each parameter to a dict of its state
# (momentum_buffer, exp_avg, step, ...). Tensors are not hashable by identity
# everywhere (== is elementwise), so `state` is a small mapping keyed by the
# parameter's id that still reads and writes as `optimizer.state[p]`.
#
# state_dict() numbers the parameters across groups in order (0, 1, ...):
# {"state": {0: {...}, 1: {...}}, "param_groups": [{..., "params": [0, 1]}]}
# with the live state tensors (not copies), as PyTorch. load_state_dict()
# maps those numbers back onto this optimizer's parameters in the same order,
# copies the hyper-parameters and the state tensors (never aliasing the
# caller's), and moves floating state tensors to each parameter's device and
# dtype ("step" keeps its dtype).


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class _ParamState(abc.MutableMapping):
    """A dict keyed by parameter identity: state[p] -> that parameter's state dict (created on first use)."""

    def __init__(self):
        self._items = {}

    def __getitem__(self, p):
        item = self._items.get(id(p))
        if item is None:
            state = {}
            self._items[id(p)] = (p, state)
            return state
        return item[1]

    def __setitem__(self, p, value):
        self._items[id(p)] = (p, value)

    def __delitem__(self, p):
        del self._items[id(p)]

    def __contains__(self, p):
        return id(p) in self._items

    def get(self, p, default=None):
        item = self._items.get(id(p))
        return default if item is None else item[1]

    def __iter__(self):
        return (p for p, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def items(self):
        return [(p, s) for p, s in self._items.values()]

    def __repr__(self):
        return "{" + ", ".join(f"<param {tuple(p.shape)}>: {sorted(s)}" for p, s in self._items.values()) + "}"


class Optimizer:
    """Base class: holds param_groups and state; subclasses implement step()."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, prism.Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        self.state = _ParamState()
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"

    def add_param_group(self, param_group):
        """Adds a group: {"params": iterable of tensors, option: value, ...}; missing options take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, prism.Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, prism.Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        ids = [id(p) for p in param_group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Drops (set_to_none=True, the default) or zeroes the gradient of every parameter."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g is not None:
                        if g.grad_fn is not None:
                            g = g.detach()
                            p.grad = g
                        g.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def state_dict(self):
        """{"state": {index: state}, "param_groups": [options + "params": [indices]]}."""
        index = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = s
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores hyper-parameters and state saved by state_dict() (parameters matched by position)."""
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(a != b for a, b in zip(param_lens, saved_lens)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old, p in zip(sg["params"], g["params"]):
                id_map[old] = p

        def cast(param, value, key):
            if isinstance(value, prism.Tensor):
                # A copy, as PyTorch deep-copies the state dict: the optimizer never writes into the
                # caller's tensors.
                value = value.detach().clone()
                if key == "step":
                    return value
                if value.dtype.is_floating_point:
                    value = value.to(param.dtype)
                return value.to(param.device)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, key) for v in value)
            return value

        state = _ParamState()
        for k, v in state_dict["state"].items():
            key = _int_key(k)
            if key in id_map:
                p = id_map[key]
                state[p] = cast(p, v, None)
            else:
                raise KeyError(f"loaded optimizer state refers to parameter {k!r}, which no group holds")
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            ng = copy.deepcopy({k: v for k, v in sg.items() if k != "params"})
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.__setstate__({"state": state, "param_groups": new_groups})


def _int_key(k):
    # State dicts read back from JSON-like stores may carry "0" for 0.
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return int(k)
    return k
