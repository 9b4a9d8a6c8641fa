"""prism.nn: neural-network modules, layers, losses, functional ops, init and utils (torch.nn's spelling)."""
from prism.nn.parameter import Parameter  # noqa: F401
from prism.nn import functional, init  # noqa: F401
from prism.nn.modules import *  # noqa: F401,F403
from prism.nn.modules import Module  # noqa: F401
from prism.nn import utils  # noqa: F401
from prism.nn import parallel  # noqa: F401,E402
