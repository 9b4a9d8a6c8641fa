"""prism.optim: optimizers (SGD, Adam, AdamW) on Prism's fused update ops, and LR schedulers."""
from prism.optim.optimizer import Optimizer  # noqa: F401
from prism.optim.sgd import SGD  # noqa: F401
from prism.optim.adam import Adam, AdamW  # noqa: F401
from prism.optim import lr_scheduler  # noqa: F401
