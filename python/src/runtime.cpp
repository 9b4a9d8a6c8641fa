// runtime.cpp — prism._C module init: errors, dtype/device arguments, runtime, plugins, autograd entry
// points.
#include "tensor.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <cstring>
#include <unordered_map>

using namespace nb::literals;

namespace prism_py {

PyTypeObject* g_tensor_type = nullptr;
PyTypeObject* g_tensor_base = nullptr;

namespace {

// Exception classes by status (index = prism_status value); [0] is prism.Error itself.
constexpr int kNumStatus = 10;
std::array<PyObject*, kNumStatus> g_errors{};
// dtype objects by code, and the device class / cache.
std::array<PyObject*, PRISM_NUM_DTYPES> g_dtypes{};

PyObject* make_error(nb::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string full = std::string("prism.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
  if (cls == nullptr) throw nb::python_error();
  m.attr(name) = nb::borrow(cls);
  return cls;
}

PyObject* tuple2(PyObject* a, PyObject* b) {
  return PyTuple_Pack(2, a, b);
}

void make_errors(nb::module_& m) {
  PyObject* base =
      make_error(m, "Error", PyExc_RuntimeError,
                 "Base class of every error Prism raises: a RuntimeError carrying Prism's message.");
  g_errors.fill(base);
  struct Row {
    prism_status s;
    const char* name;
    PyObject* builtin;
    const char* doc;
  };
  const Row rows[] = {
      {PRISM_ERROR_INVALID_ARGUMENT, "InvalidArgumentError", PyExc_ValueError,
       "A bad shape, device, value or handle (also a ValueError)."},
      {PRISM_ERROR_UNIMPLEMENTED, "UnimplementedError", PyExc_NotImplementedError,
       "No kernel for the op and the fallback policy forbids the CPU fallback (also a NotImplementedError)."},
      {PRISM_ERROR_OUT_OF_MEMORY, "OutOfMemoryError", PyExc_MemoryError,
       "A device allocation failed (also a MemoryError)."},
      {PRISM_ERROR_UNAVAILABLE, "UnavailableError", nullptr,
       "A device or plugin is not present or not loadable."},
      {PRISM_ERROR_DEVICE_LOST, "DeviceLostError", nullptr, "The device stopped working."},
      {PRISM_ERROR_INTERNAL, "InternalError", nullptr, "An internal invariant failed (a bug in Prism)."},
      {PRISM_ERROR_IO, "FileError", PyExc_OSError, "A file could not be read or written (also an OSError)."},
      {PRISM_ERROR_TYPE, "DTypeError", PyExc_TypeError, "A dtype the op does not accept (also a TypeError)."},
      {PRISM_ERROR_INDEX, "IndexOutOfRangeError", PyExc_IndexError,
       "An index or dimension out of range (also an IndexError)."},
  };
  for (const Row& r : rows) {
    PyObject* bases = r.builtin != nullptr ? tuple2(base, r.builtin) : (Py_INCREF(base), base);
    g_errors[r.s] = make_error(m, r.name, bases, r.doc);
    Py_DECREF(bases);
  }
}

}  // namespace

// Note [Refining INVALID_ARGUMENT]
// --------------------------------
// Much of the core still reports out-of-range indices and dims, and dtypes
// an op does not accept, as INVALID_ARGUMENT (PRISM_ERROR_INDEX and
// PRISM_ERROR_TYPE are new). Until it says INDEX/TYPE itself, the binding
// refines INVALID_ARGUMENT by the core's fixed message wording so Python
// callers get IndexError / TypeError subclasses as PyTorch users expect.
prism_status refine(prism_status s, const std::string& m) {
  if (s != PRISM_ERROR_INVALID_ARGUMENT) return s;
  auto has = [&](const char* w) { return m.find(w) != std::string::npos; };
  if (has("is out of bounds for dimension") || has("imension out of range") ||
      has("out of range for dimension") || has("out of range (expected to be in range") ||
      has("too many indices for tensor")) {
    return PRISM_ERROR_INDEX;
  }
  if (has("must be int64, int32 or bool") || has("to have dtype int64 or int32") ||
      has("only tensors of floating point dtype") || has("can't be cast to the desired output type") ||
      has("Input dtype must be a floating point dtype") || has("only applicable to index tensors") ||
      has("not supported for floating point tensors")) {
    return PRISM_ERROR_TYPE;
  }
  return s;
}

[[noreturn]] void throw_status(prism_status s) {
  const char* msg = prism_last_error();
  std::string m = (msg != nullptr && *msg != '\0') ? msg : prism_status_name(s);
  throw Error(refine(s, m), m);
}

nb::object wrap_as(nb::handle cls, prism_tensor_t t) {
  Tensor owner(t);  // released if allocation fails
  nb::object o = nb::inst_alloc(cls);
  new (nb::inst_ptr<Tensor>(o)) Tensor(owner.release());
  nb::inst_mark_ready(o);
  return o;
}

nb::object wrap(prism_tensor_t t) {
  return wrap_as(nb::handle(reinterpret_cast<PyObject*>(g_tensor_type)), t);
}

prism_tensor_t tensor_arg(nb::handle o, const char* what) {
  if (!is_tensor(o)) {
    throw nb::type_error(
        (std::string(what) + " must be a prism.Tensor, not " + nb::type_name(o.type()).c_str()).c_str());
  }
  return handle_of(o);
}

prism_tensor_t opt_handle(nb::handle o, const char* what) {
  if (o.is_none()) return nullptr;
  return tensor_arg(o, what);
}

nb::object dtype_object(prism_dtype dt) {
  auto i = static_cast<unsigned>(dt);
  if (i >= PRISM_NUM_DTYPES || g_dtypes[i] == nullptr) return nb::none();
  return nb::borrow(g_dtypes[i]);
}

prism_dtype dtype_arg(nb::handle o) {
  for (int i = 0; i < PRISM_NUM_DTYPES; ++i) {
    if (o.ptr() == g_dtypes[i]) return static_cast<prism_dtype>(i);
  }
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) return PRISM_DTYPE_F64;
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyComplex_Type)) return PRISM_DTYPE_C128;
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) return PRISM_DTYPE_I64;
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) return PRISM_DTYPE_BOOL;
  if (nb::hasattr(o, "_prism_code")) {
    int code = nb::cast<int>(o.attr("_prism_code"));
    if (code >= 0 && code < PRISM_NUM_DTYPES) return static_cast<prism_dtype>(code);
  }
  throw nb::type_error(
      (std::string("expected a prism dtype (e.g. prism.float32), got ") + nb::repr(o).c_str()).c_str());
}

std::string device_arg(nb::handle o) {
  if (o.is_none()) return "cpu";
  if (PyUnicode_Check(o.ptr())) return nb::cast<std::string>(o);
  if (nb::hasattr(o, "_prism_device")) return nb::cast<std::string>(o.attr("_prism_device"));
  throw nb::type_error(
      (std::string("expected a device (a str such as 'cpu' or a prism.device), got ") + nb::repr(o).c_str())
          .c_str());
}

namespace {
int64_t index_value(nb::handle o, const char* what) {
  if (PyBool_Check(o.ptr()) || PyFloat_Check(o.ptr()) || !PyIndex_Check(o.ptr())) {
    throw nb::type_error((std::string(what) + " must be integers, got " + nb::type_name(o.type()).c_str() +
                          " (" + nb::repr(o).c_str() + ")")
                             .c_str());
  }
  int overflow = 0;
  nb::object idx = nb::steal(PyNumber_Index(o.ptr()));
  if (!idx.is_valid()) throw nb::python_error();
  long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
  if (overflow != 0) throw nb::value_error((std::string(what) + ": value out of int64 range").c_str());
  return v;
}
}  // namespace

std::vector<int64_t> int_list(nb::handle o, const char* what) {
  std::vector<int64_t> out;
  if (PyTuple_Check(o.ptr()) || PyList_Check(o.ptr())) {
    nb::sequence seq = nb::borrow<nb::sequence>(o);
    size_t n = nb::len(seq);
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(index_value(seq[i], what));
    return out;
  }
  if (is_tensor(o)) {
    prism_tensor_t h = handle_of(o);
    if (prism_tensor_ndim(h) == 1) {
      int64_t n = prism_tensor_numel(h);
      prism_tensor_t c = nullptr;
      check(prism_to_dtype(h, PRISM_DTYPE_I64, &c));
      Tensor owner(c);
      out.resize(static_cast<size_t>(n));
      check(prism_tensor_copy_to_host(c, out.data(), out.size() * sizeof(int64_t)));
      return out;
    }
  }
  out.push_back(index_value(o, what));
  return out;
}

std::vector<int64_t> sizes_from_args(const nb::args& args, const char* what) {
  if (args.size() == 1 && (PyTuple_Check(args[0].ptr()) || PyList_Check(args[0].ptr()))) {
    return int_list(args[0], what);
  }
  std::vector<int64_t> out;
  out.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) out.push_back(index_value(args[i], what));
  return out;
}

// ---- hooks: Python callables run during backward ---------------------------------------------------

namespace {

// Note [Python gradient hooks]
// ----------------------------
// prism_tensor_register_hook borrows `ctx` until the hook is removed or the
// tensor and its graph are freed, and the ABI does not say when the latter
// happens. The callable is therefore kept alive by a reference this module
// owns until remove() (a hook never removed keeps its callable for the life
// of the process, a few bytes). A Python exception raised by the hook is kept
// in a thread-local slot, the hook returns an error status so backward stops,
// and the backward wrapper re-raises the original exception.
// A raw reference (a thread_local nb::object would be released after the interpreter finalised).
thread_local PyObject* t_hook_error = nullptr;

prism_status python_hook(prism_tensor_t grad, void* ctx, prism_tensor_t* replacement) {
  nb::gil_scoped_acquire gil;
  try {
    prism_tensor_retain(grad);
    nb::object g = wrap(grad);
    nb::object r = nb::borrow(static_cast<PyObject*>(ctx))(g);
    if (!r.is_none()) {
      prism_tensor_t h = tensor_arg(r, "a gradient hook's return value");
      prism_tensor_retain(h);
      *replacement = h;
    }
    return PRISM_OK;
  } catch (nb::python_error& e) {
    Py_XDECREF(t_hook_error);
    t_hook_error = nb::borrow(e.value()).release().ptr();
    e.restore();
    PyErr_Clear();
  } catch (std::exception& e) {
    Py_XDECREF(t_hook_error);
    t_hook_error = PyObject_CallFunction(PyExc_RuntimeError, "s", e.what());
  }
  return PRISM_ERROR_INVALID_ARGUMENT;
}

void rethrow_hook_error(prism_status s) {
  if (s == PRISM_OK) return;
  if (t_hook_error != nullptr) {
    nb::object e = nb::steal(t_hook_error);
    t_hook_error = nullptr;
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
    throw nb::python_error();
  }
  throw_status(s);
}

std::vector<prism_tensor_t> handles(nb::handle seq, const char* what) {
  std::vector<prism_tensor_t> out;
  if (is_tensor(seq)) {
    out.push_back(handle_of(seq));
    return out;
  }
  for (nb::handle o : seq) out.push_back(tensor_arg(o, what));
  return out;
}

nb::list load_report() {
  nb::list rows;
  check(prism_plugins_load_default());
  size_t n = 0;
  check(prism_load_report_count(&n));
  for (size_t i = 0; i < n; ++i) {
    prism_load_report_row r{};
    r.struct_size = sizeof r;
    check(prism_load_report_get(i, &r));
    nb::dict d;
    d["path"] = r.path;
    d["plugin"] = r.plugin_name;
    d["loaded"] = r.loaded != 0;
    d["abi"] = nb::make_tuple(r.abi_major, r.abi_minor);
    d["device_count"] = r.device_count;
    d["reason"] = r.reason;
    rows.append(d);
  }
  return rows;
}

nb::list device_infos() {
  nb::list out;
  int32_t n = 0;
  check(prism_device_count(&n));
  for (int32_t i = 0; i < n; ++i) {
    prism_device_info info{};
    info.struct_size = sizeof info;
    check(prism_device_info_get(i, &info));
    nb::dict d;
    d["device"] = info.device;
    d["plugin"] = info.plugin;
    d["name"] = info.name;
    d["vendor"] = info.vendor;
    d["stable_id"] = info.stable_id;
    d["total_memory"] = info.total_memory;
    nb::list dts;
    for (int k = 0; k < PRISM_NUM_DTYPES; ++k) {
      if ((info.dtype_mask & PRISM_DTYPE_BIT(k)) != 0) dts.append(dtype_object(static_cast<prism_dtype>(k)));
    }
    d["dtypes"] = dts;
    d["capabilities"] = info.capabilities;
    out.append(d);
  }
  return out;
}

}  // namespace

void register_runtime(nb::module_& m) {
  make_errors(m);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      auto i = static_cast<unsigned>(e.status);
      PyErr_SetString(i < g_errors.size() ? g_errors[i] : g_errors[0], e.message.c_str());
    }
  });

  m.def(
      "_register_dtypes",
      [](nb::list objs) {
        if (nb::len(objs) != PRISM_NUM_DTYPES) throw nb::value_error("expected one object per dtype code");
        for (int i = 0; i < PRISM_NUM_DTYPES; ++i) {
          PyObject* o = objs[i].ptr();
          Py_INCREF(o);
          g_dtypes[i] = o;
        }
      },
      "Registers the prism.dtype objects, by code (package initialisation).");
  m.def(
      "_set_tensor_class",
      [](nb::handle cls) {
        if (!PyType_Check(cls.ptr()) ||
            !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls.ptr()), g_tensor_base)) {
          throw nb::type_error("expected a subclass of TensorBase");
        }
        Py_INCREF(cls.ptr());
        g_tensor_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
      },
      "Sets the class of the tensors the extension returns (prism.Tensor).");

  m.def(
      "version", [] { return std::string(prism_version()); }, "The libprism version string.");
  m.def(
      "plugin_abi_version",
      [] {
        uint32_t a = 0, b = 0;
        prism_plugin_abi_version(&a, &b);
        return nb::make_tuple(a, b);
      },
      "The plugin ABI version (major, minor) the core implements.");
  m.def("dtype_name", [](int code) { return std::string(prism_dtype_name(static_cast<prism_dtype>(code))); });
  m.def("dtype_size", [](int code) { return prism_dtype_size(static_cast<prism_dtype>(code)); });
  m.def(
      "promote_types",
      [](nb::handle a, nb::handle b) {
        prism_dtype out{};
        check(prism_promote_types(dtype_arg(a), dtype_arg(b), &out));
        return dtype_object(out);
      },
      "a"_a, "b"_a, "The dtype both a and b promote to (torch.promote_types).");
  m.def(
      "load_plugin", [](const std::string& path) { check(prism_plugin_load(path.c_str())); }, "path"_a,
      "Loads one plugin file now. Raises UnavailableError with the reason when it cannot be loaded.");
  m.def("load_report", &load_report,
        "The plugin load report: one dict per candidate file (path, plugin, loaded, abi, device_count, "
        "reason).");
  m.def("device_infos", &device_infos, "One dict per device of every loaded plugin.");
  m.def(
      "synchronize", [](nb::handle device) { check(prism_synchronize(device_arg(device).c_str())); },
      nb::arg("device").none() = nb::none(), "Waits until all queued work on the device is complete.");
  m.def(
      "manual_seed", [](uint64_t seed) { check(prism_manual_seed(seed)); }, "seed"_a,
      "Seeds the global generator: the same seed gives the same random tensors on every device.");
  m.def(
      "set_fallback_policy",
      [](const std::string& p) {
        prism_fallback_policy v;
        if (p == "allow") {
          v = PRISM_FALLBACK_ALLOW;
        } else if (p == "warn") {
          v = PRISM_FALLBACK_WARN;
        } else if (p == "error") {
          v = PRISM_FALLBACK_ERROR;
        } else {
          throw nb::value_error("fallback policy must be 'allow', 'warn' or 'error'");
        }
        check(prism_fallback_set_policy(v));
      },
      "policy"_a, "Sets the CPU fallback policy for missing kernels: 'allow', 'warn' or 'error'.");
  m.def(
      "get_fallback_policy",
      [] {
        prism_fallback_policy v{};
        check(prism_fallback_get_policy(&v));
        return std::string(v == PRISM_FALLBACK_ALLOW ? "allow" : v == PRISM_FALLBACK_WARN ? "warn" : "error");
      },
      "The CPU fallback policy: 'allow', 'warn' or 'error'.");
  m.def(
      "fallback_count",
      [](nb::handle op) {
        uint64_t n = 0;
        std::string s = op.is_none() ? std::string() : nb::cast<std::string>(op);
        check(prism_fallback_count(op.is_none() ? nullptr : s.c_str(), &n));
        return n;
      },
      nb::arg("op").none() = nb::none(), "Fallbacks taken by kernel op `op` (None: all ops).");
  m.def(
      "fallback_reset", [] { check(prism_fallback_reset()); }, "Resets every fallback counter.");
  m.def(
      "memory_stats",
      [](nb::handle device) {
        prism_memory_stats s{};
        s.struct_size = sizeof s;
        check(prism_memory_stats_get(device_arg(device).c_str(), &s));
        nb::dict d;
        d["allocated_bytes"] = s.allocated;
        d["reserved_bytes"] = s.reserved;
        d["peak_allocated_bytes"] = s.peak_allocated;
        d["num_device_allocs"] = s.num_device_allocs;
        d["num_cache_hits"] = s.num_cache_hits;
        return d;
      },
      nb::arg("device").none() = nb::none(), "Caching-allocator statistics of a device (bytes and counts).");
  m.def(
      "reset_peak_memory_stats",
      [](nb::handle device) { check(prism_memory_reset_peak(device_arg(device).c_str())); },
      nb::arg("device").none() = nb::none());
  m.def(
      "empty_cache", [](nb::handle device) { check(prism_memory_empty_cache(device_arg(device).c_str())); },
      nb::arg("device").none() = nb::none(), "Returns the device's cached blocks to its plugin.");

  // autograd
  m.def(
      "is_grad_enabled", [] { return prism_is_grad_enabled() != 0; }, "True when gradients are recorded.");
  m.def("_no_grad_enter", [] { check(prism_no_grad_enter()); });
  m.def("_no_grad_exit", [] { check(prism_no_grad_exit()); });
  m.def(
      "set_anomaly_enabled", [](bool on) { check(prism_set_anomaly_enabled(on ? 1 : 0)); }, "enabled"_a,
      "Anomaly mode: backward fails naming the op whose gradient became NaN/Inf.");
  m.def(
      "backward",
      [](nb::handle tensors, nb::handle grads, bool retain_graph) {
        std::vector<prism_tensor_t> ts = handles(tensors, "tensors");
        std::vector<prism_tensor_t> gs;
        if (!grads.is_none()) {
          if (is_tensor(grads)) {
            gs.push_back(handle_of(grads));
          } else {
            for (nb::handle g : grads) gs.push_back(opt_handle(g, "grad_tensors"));
          }
          if (gs.size() != ts.size()) throw nb::value_error("backward: one gradient per tensor is needed");
        }
        for (size_t i = 0; i < ts.size(); ++i) {
          rethrow_hook_error(prism_backward(ts[i], gs.empty() ? nullptr : gs[i], retain_graph ? 1 : 0));
        }
      },
      "tensors"_a, nb::arg("grad_tensors").none() = nb::none(), "retain_graph"_a = false);
  m.def(
      "grad",
      [](nb::handle outputs, nb::handle inputs, nb::handle grad_outputs, bool retain_graph,
         bool allow_unused) {
        std::vector<prism_tensor_t> outs = handles(outputs, "outputs");
        std::vector<prism_tensor_t> ins = handles(inputs, "inputs");
        std::vector<prism_tensor_t> gos;
        if (!grad_outputs.is_none()) {
          if (is_tensor(grad_outputs)) {
            gos.push_back(handle_of(grad_outputs));
          } else {
            for (nb::handle g : grad_outputs) gos.push_back(opt_handle(g, "grad_outputs"));
          }
          if (gos.size() != outs.size()) throw nb::value_error("grad: one grad_output per output is needed");
        }
        std::vector<prism_tensor_t> res(ins.size(), nullptr);
        rethrow_hook_error(prism_autograd_grad(outs.data(), outs.size(), gos.empty() ? nullptr : gos.data(),
                                               ins.data(), ins.size(), retain_graph ? 1 : 0,
                                               allow_unused ? 1 : 0, res.data()));
        nb::list out;
        for (prism_tensor_t r : res) {
          if (r == nullptr) {
            out.append(nb::none());
          } else {
            out.append(wrap(r));
          }
        }
        return nb::tuple(out);
      },
      "outputs"_a, "inputs"_a, nb::arg("grad_outputs").none() = nb::none(), "retain_graph"_a = false,
      "allow_unused"_a = false);
  m.def(
      "_register_hook",
      [](nb::handle t, nb::object fn) {
        if (!PyCallable_Check(fn.ptr())) throw nb::type_error("register_hook: hook must be callable");
        int32_t id = 0;
        fn.inc_ref();  // owned until _remove_hook (Note [Python gradient hooks])
        prism_status s = prism_tensor_register_hook(tensor_arg(t, "tensor"), python_hook, fn.ptr(), &id);
        if (s != PRISM_OK) {
          fn.dec_ref();
          throw_status(s);
        }
        return id;
      },
      "tensor"_a, "hook"_a);
  m.def(
      "_remove_hook",
      [](nb::handle t, int32_t id, nb::object fn) {
        check(prism_tensor_remove_hook(tensor_arg(t, "tensor"), id));
        fn.dec_ref();
      },
      "tensor"_a, "id"_a, "hook"_a);
}

}  // namespace prism_py

NB_MODULE(_C, m) {
  m.doc() =
      "Prism's native extension: the Tensor type, its operators and the runtime, over the C ABI (prism.h).";
  // The module keeps some references for the life of the process on purpose (dtype objects, the tensor
  // factory, gradient hooks never removed: Note [Python gradient hooks]); nanobind's exit-time leak report
  // would list them and everything they reach.
  nb::set_leak_warnings(false);
  prism_py::register_runtime(m);
  prism_py::register_tensor(m);
  prism_py::register_interop(m);
  if (register_nn_ops != nullptr) register_nn_ops(m);
  if (register_math_ops != nullptr) register_math_ops(m);
  if (register_op_forms != nullptr) register_op_forms(m);
  if (register_amp != nullptr) register_amp(m);
  if (register_profiler != nullptr) register_profiler(m);
  if (register_streams != nullptr) register_streams(m);
  if (register_attention != nullptr) register_attention(m);
  if (register_distributed != nullptr) register_distributed(m);
}
