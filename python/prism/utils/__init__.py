"""prism.utils: data loading (prism.utils.data)."""
from prism.utils import data  # noqa: F401
