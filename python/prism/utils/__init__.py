"""prism.utils: data loading (prism.utils.data) and gradient checkpointing (prism.utils.checkpoint)."""
from prism.utils import data  # noqa: F401
from prism.utils import checkpoint  # noqa: F401,E402
