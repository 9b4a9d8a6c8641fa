"""prism.nn.utils: gradient clipping and parameter/vector conversion."""
from prism.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grad_norm  # noqa: F401
from prism.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
