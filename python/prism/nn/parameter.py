"""prism.nn.Parameter: a Tensor that a Module registers as one of its learnable parameters."""
import prism

__all__ = ["Parameter", "is_parameter"]


def _alias(cls, data, requires_grad):
    # Note [Parameters alias their data]
    # ----------------------------------
    # As in PyTorch, Parameter(t) is a leaf that shares t's storage (never a
    # copy): writing through one shows in the other. The Tensor type offers
    # `_make_subclass(cls, data, requires_grad)`, which wraps the same handle in
    # an instance of the subclass (prism._C._make_subclass).
    return prism._C._make_subclass(cls, data.detach(), requires_grad)


class Parameter(prism.Tensor):
    """A Tensor that, assigned as a Module attribute, becomes one of its parameters.

    ``Parameter(data, requires_grad=True)`` shares ``data``'s storage; it is a leaf
    that requires grad unless asked otherwise (as ``torch.nn.Parameter``).
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = prism.empty(0)
        if not isinstance(data, prism.Tensor):
            raise TypeError(f"Parameter(): data must be a prism.Tensor, not {type(data).__name__}")
        return _alias(cls, data, requires_grad)

    def __init__(self, data=None, requires_grad=True):  # the work is done in __new__
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


def is_parameter(obj):
    """True when obj is a Parameter."""
    return isinstance(obj, Parameter)
