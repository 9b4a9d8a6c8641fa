"""prism.nn.modules: the Module base class, containers, layers and losses."""
from prism.nn.modules.module import Module, RemovableHandle  # noqa: F401
from prism.nn.modules.container import *  # noqa: F401,F403
from prism.nn.modules.layers import *  # noqa: F401,F403
from prism.nn.modules.loss import *  # noqa: F401,F403
from prism.nn.modules.transformer import *  # noqa: F401,F403
