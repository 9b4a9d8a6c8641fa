"""prism.utils.checkpoint: gradient checkpointing (torch.utils.checkpoint's spelling) over prism_checkpoint."""
import prism
from prism import _C

__all__ = ["checkpoint", "checkpoint_sequential"]

# Note [Python checkpoint]
# ------------------------
# checkpoint(function, *args) runs function(*args) without keeping the
# activations inside it; backward runs it again with the random state of the
# first run (so dropout draws the same masks) and the gradients reach the
# tensor arguments and every parameter the function used. The semantics are
# those of torch's use_reentrant=False: outputs require grad when they would
# without checkpointing, also when no argument requires grad. Non-tensor
# arguments are passed through unchanged; the function must return a tensor
# or a tuple/list of tensors. The random state is always preserved
# (preserve_rng_state=False is accepted and has no effect).


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """Runs function(*args, **kwargs), recomputing it in backward instead of storing its activations."""
    positions = [i for i, a in enumerate(args) if isinstance(a, prism.Tensor)]
    tensors = [args[i] for i in positions]
    shape = {}

    def run(*ts):
        full = list(args)
        for i, t in zip(positions, ts):
            full[i] = t
        out = function(*full, **kwargs)
        single = isinstance(out, prism.Tensor)
        outs = (out,) if single else tuple(out)
        for o in outs:
            if not isinstance(o, prism.Tensor):
                raise TypeError(f"checkpoint: the function must return tensors, got {type(o).__name__}")
        shape["single"] = single
        return outs

    outs = _C.checkpoint(run, tensors)
    return outs[0] if shape.get("single", False) else tuple(outs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Splits `functions` (an nn.Sequential or a list of modules) into `segments` runs; every segment but the
    last is checkpointed, as torch.utils.checkpoint.checkpoint_sequential."""
    if isinstance(functions, prism.nn.Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be >= 1, got {segments}")

    def run_function(start, end, functions):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input)
    return run_function(end + 1, len(functions) - 1, functions)(input)
