"""prism.nn.utils.parameters_to_vector / vector_to_parameters."""
import prism

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-d tensor holding every parameter, flattened, in order."""
    return prism.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of vec into the parameters (in place)."""
    if not isinstance(vec, prism.Tensor):
        raise TypeError(f"expected prism.Tensor, but got: {type(vec).__name__}")
    offset = 0
    with prism.no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(tuple(p.shape)))
            offset += n
