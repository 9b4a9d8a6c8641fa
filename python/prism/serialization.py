"""prism.save / prism.load: nested dicts, lists and tuples of tensors and Python values in one safetensors file."""
import base64
import errno
from collections import Counter, OrderedDict
import json
import math
import os
import tempfile

import prism
from prism import _C

__all__ = ["save", "load"]

# Note [Checkpoint files]
# -----------------------
# prism.save(obj, f) writes ONE safetensors file (never pickle, so loading a
# file runs no code):
# - every tensor in obj is stored under its dotted path in the structure
#   ("model_state_dict.fc1.weight", "optimizer_state_dict.state.0.exp_avg";
#   a bare tensor is "tensor"; a clash gets a "#2" suffix); a tensor met
#   twice (the same object) is stored once and comes back shared;
# - the rest of obj is JSON in the header's __metadata__ under
#   "prism.structure", with each tensor replaced by {"__tensor__": key} (plus
#   its device, and whether it was a Parameter / required grad). JSON alone
#   cannot say everything Python can, so a few tagged objects keep the
#   structure faithful: dicts whose keys are not all strings (optimizer
#   states have int keys) are {"__dict__": [[key, value], ...]},
#   OrderedDict and Counter keep their type, tuples are {"__tuple__": [...]},
#   sets {"__set__": [...]}, bytes {"__bytes__": base64}, non-finite floats
#   {"__float__": "inf"}, dtypes {"__dtype__": "float32"}, NumPy arrays are
#   stored as tensors and come back as arrays.
# - "format": "pt" is set as the `safetensors` package does for PyTorch, so
#   safetensors.torch.load_file and any safetensors reader see the tensors
#   (the structure is simply extra metadata to them).
# prism.load(f, map_location=None) rebuilds the same structure. A tensor goes
# back to the device it was saved from unless map_location names a device
# (str or prism.device), maps saved devices to new ones (a dict), or is a
# callable (tensor, saved_device) -> tensor. A plain safetensors file without
# the structure loads as a flat {name: tensor} dict in file order.

_STRUCTURE = "prism.structure"
_MARKERS = ("__tensor__", "__dict__", "__odict__", "__counter__", "__tuple__", "__set__", "__bytes__",
            "__float__", "__dtype__", "__ndarray__")


class _Encoder:
    def __init__(self):
        self.names = []
        self.tensors = []
        self.by_id = {}
        self.used = set()
        self.keep = []  # keeps temporaries (NumPy-backed tensors) alive until saved

    def _key(self, path):
        base = ".".join(path) if path else "tensor"
        if base == "__metadata__":
            base = "__metadata__#"
        key, n = base, 1
        while key in self.used:
            n += 1
            key = f"{base}#{n}"
        self.used.add(key)
        return key

    def tensor(self, t, path, extra):
        entry = self.by_id.get(id(t))
        if entry is None:
            key = self._key(path)
            self.names.append(key)
            self.tensors.append(t)
            self.keep.append(t)
            self.by_id[id(t)] = key
        else:
            key = entry
        out = {"__tensor__": key}
        out.update(extra)
        return out

    def encode(self, o, path):
        if isinstance(o, prism.Tensor):
            extra = {}
            device = str(o.device)
            if not device.startswith("cpu"):
                extra["device"] = device
            if _is_parameter(o):
                extra["parameter"] = True
                extra["requires_grad"] = bool(o.requires_grad)
            elif o.requires_grad:
                extra["requires_grad"] = True
            return self.tensor(o, path, extra)
        if o is None or isinstance(o, (bool, str)):
            return o
        if isinstance(o, int):
            return int(o)
        if isinstance(o, float):
            if math.isfinite(o):
                return float(o)
            return {"__float__": "nan" if math.isnan(o) else ("inf" if o > 0 else "-inf")}
        if isinstance(o, prism.dtype):
            return {"__dtype__": str(o).replace("prism.", "")}
        np = _numpy()
        if np is not None:
            if isinstance(o, np.ndarray):
                if o.dtype.kind not in "biuf":
                    raise TypeError(f"prism.save: cannot store a NumPy array of dtype {o.dtype} at "
                                    f"'{'.'.join(path)}'")
                t = prism.from_numpy(np.ascontiguousarray(o))
                out = self.tensor(t, path, {})
                out["__ndarray__"] = True
                return out
            if isinstance(o, np.generic):
                return self.encode(o.item(), path)
        if isinstance(o, dict):
            if isinstance(o, Counter):
                return {"__counter__": [[self.encode(k, path + [str(k)]), self.encode(v, path + [str(k)])]
                                        for k, v in o.items()]}
            if isinstance(o, OrderedDict):
                return {"__odict__": [[self.encode(k, path + [str(k)]), self.encode(v, path + [str(k)])]
                                      for k, v in o.items()]}
            if all(isinstance(k, str) for k in o) and not any(k in _MARKERS for k in o):
                return {k: self.encode(v, path + [k]) for k, v in o.items()}
            return {"__dict__": [[self.encode(k, path + [str(k)]), self.encode(v, path + [str(k)])]
                                 for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"__tuple__": [self.encode(v, path + [str(i)]) for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [self.encode(v, path + [str(i)]) for i, v in enumerate(o)]
        if isinstance(o, (set, frozenset)):
            return {"__set__": [self.encode(v, path + [str(i)]) for i, v in enumerate(sorted(o, key=repr))]}
        if isinstance(o, (bytes, bytearray)):
            return {"__bytes__": base64.b64encode(bytes(o)).decode("ascii")}
        raise TypeError(f"prism.save: cannot store an object of type {type(o).__name__} at "
                        f"'{'.'.join(path) or '<root>'}': checkpoints hold tensors, numbers, strings, bools, None, "
                        "dtypes, NumPy arrays and dicts / lists / tuples / sets of them (never pickled objects)")


def _numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None


def _is_parameter(t):
    nn = getattr(prism, "nn", None)
    return nn is not None and isinstance(t, nn.Parameter)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Saves obj (tensors, numbers, strings and containers of them) to path or file object f.

    The file is a safetensors file (Note [Checkpoint files]); the write replaces f atomically.
    """
    if pickle_module is not None:
        raise TypeError("prism.save: pickle_module is not supported (checkpoints are safetensors files, never "
                        "pickle)")
    enc = _Encoder()
    structure = enc.encode(obj, [])
    metadata = {"format": "pt", _STRUCTURE: json.dumps(structure, separators=(",", ":"), allow_nan=False)}
    if hasattr(f, "write"):
        fd, tmp = tempfile.mkstemp(suffix=".safetensors")
        os.close(fd)
        try:
            _C.safetensors_save(tmp, enc.names, enc.tensors, metadata)
            with open(tmp, "rb") as src:
                f.write(src.read())
        finally:
            os.unlink(tmp)
        return
    path = os.fspath(f)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(errno.ENOENT, f"prism.save: no directory {parent!r} for", str(path))
    _C.safetensors_save(path, enc.names, enc.tensors, metadata)


class _Decoder:
    def __init__(self, tensors, map_location):
        self.tensors = tensors
        self.map_location = map_location

    def _place(self, t, saved):
        ml = self.map_location
        if ml is None:
            target = saved
        elif callable(ml) and not isinstance(ml, (str, dict)) and not isinstance(ml, prism.device):
            return ml(t, saved)
        elif isinstance(ml, dict):
            target = ml.get(saved, saved)
        else:
            target = ml
        target = str(target)
        if target == "cpu" or target.startswith("cpu:"):
            return t
        return t.to(target)

    def decode(self, o):
        if isinstance(o, list):
            return [self.decode(v) for v in o]
        if not isinstance(o, dict):
            return o
        if "__tensor__" in o:
            key = o["__tensor__"]
            if key not in self.tensors:
                raise ValueError(f"prism.load: the checkpoint refers to tensor '{key}', which the file lacks")
            t = self.tensors[key]
            if o.get("__ndarray__"):
                return t.numpy().copy()
            t = self._place(t, o.get("device", "cpu"))
            if o.get("parameter"):
                from prism.nn import Parameter
                return Parameter(t, bool(o.get("requires_grad", True)))
            if o.get("requires_grad"):
                t = t.detach()
                t.requires_grad_(True)
            return t
        if "__dict__" in o:
            return {self.decode(k): self.decode(v) for k, v in o["__dict__"]}
        if "__odict__" in o:
            return OrderedDict((self.decode(k), self.decode(v)) for k, v in o["__odict__"])
        if "__counter__" in o:
            return Counter({self.decode(k): self.decode(v) for k, v in o["__counter__"]})
        if "__tuple__" in o:
            return tuple(self.decode(v) for v in o["__tuple__"])
        if "__set__" in o:
            return {self.decode(v) for v in o["__set__"]}
        if "__bytes__" in o:
            return base64.b64decode(o["__bytes__"])
        if "__float__" in o:
            return float(o["__float__"])
        if "__dtype__" in o:
            return getattr(prism, o["__dtype__"])
        return {k: self.decode(v) for k, v in o.items()}


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Loads what prism.save wrote (the same structure back), or a plain safetensors file as {name: tensor}.

    map_location: None (each tensor to the device it was saved from), a device ("cpu", "opencl:0",
    prism.device), a dict {saved device: new device}, or a callable (tensor_on_cpu, saved_device).
    """
    if pickle_module is not None:
        raise TypeError("prism.load: pickle_module is not supported (checkpoints are safetensors files)")
    if hasattr(f, "read"):
        fd, tmp = tempfile.mkstemp(suffix=".safetensors")
        try:
            with os.fdopen(fd, "wb") as dst:
                dst.write(f.read())
            return load(tmp, map_location)
        finally:
            os.unlink(tmp)
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    single = isinstance(map_location, (str, prism.device))
    items, metadata = _C.safetensors_load(path, str(map_location) if single else None)
    tensors = dict(items)
    structure = metadata.get(_STRUCTURE)
    if structure is None:
        if map_location is not None and not single:
            dec = _Decoder(tensors, map_location)
            return {name: dec._place(t, "cpu") for name, t in items}
        return {name: t for name, t in items}
    try:
        tree = json.loads(structure)
    except ValueError as e:
        raise ValueError(f"prism.load: {path}: the '{_STRUCTURE}' metadata is not valid JSON ({e})") from None
    # With a single map_location the tensors were read onto it directly.
    dec = _Decoder(tensors, None if single else map_location)
    if single:
        dec._place = lambda t, saved: t
    return dec.decode(tree)
