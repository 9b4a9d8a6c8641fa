// attention.cpp — prism._C bindings of scaled_dot_product_attention, binary_cross_entropy, gradient
// checkpointing (prism_checkpoint with a Python callable) and the random generator's state.

// Note [Python checkpoint segments]
// ---------------------------------
// _C.checkpoint(run, tensors) hands `run` (a Python callable taking the
// tensors positionally and returning a tuple of tensors; prism.utils.checkpoint
// builds it) to prism_checkpoint as its context, with one reference owned by
// the core until it calls the release function (taking the GIL, as the
// segment trampoline does: backward may run the segment on any thread). A
// Python exception raised by `run` in forward is re-raised unchanged by
// _C.checkpoint; raised during the recomputation in backward it makes
// backward fail with a prism.Error naming the exception.

#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "tensor.h"

using prism_py::check;
using prism_py::opt_handle;
using prism_py::tensor_arg;
using prism_py::wrap;

namespace {

// A raw reference: a thread_local nb::object would be released after the interpreter finalised.
thread_local PyObject* t_segment_error = nullptr;

prism_status python_segment(const prism_tensor_t* inputs, size_t n_inputs, prism_tensor_t* outputs,
                            size_t capacity, size_t* n_outputs, void* ctx) {
  nb::gil_scoped_acquire gil;
  std::vector<prism_tensor_t> written;
  try {
    nb::list args;
    for (size_t i = 0; i < n_inputs; ++i) {
      if (inputs[i] == nullptr) {
        args.append(nb::none());
        continue;
      }
      check(prism_tensor_retain(inputs[i]));
      args.append(wrap(inputs[i]));
    }
    nb::object r = nb::borrow(static_cast<PyObject*>(ctx))(*nb::tuple(args));
    for (nb::handle item : r) {
      if (written.size() >= capacity)
        throw nb::value_error("checkpoint: the function returned too many tensors");
      prism_tensor_t h = tensor_arg(item, "checkpoint: an output of the function");
      check(prism_tensor_retain(h));
      written.push_back(h);
    }
    for (size_t i = 0; i < written.size(); ++i) outputs[i] = written[i];
    *n_outputs = written.size();
    return PRISM_OK;
  } catch (nb::python_error& e) {
    Py_XDECREF(t_segment_error);
    t_segment_error = nb::borrow(e.value()).release().ptr();
    e.restore();
    PyErr_Clear();
  } catch (std::exception& e) {
    Py_XDECREF(t_segment_error);
    t_segment_error = PyObject_CallFunction(PyExc_RuntimeError, "s", e.what());
  }
  for (prism_tensor_t h : written) prism_tensor_release(h);
  *n_outputs = 0;
  return PRISM_ERROR_INVALID_ARGUMENT;
}

void release_segment(void* ctx) {
  if (!Py_IsInitialized()) return;  // at exit: the interpreter is gone, nothing to release
  nb::gil_scoped_acquire gil;
  Py_DECREF(static_cast<PyObject*>(ctx));
}

nb::list checkpoint(nb::callable run, std::vector<nb::object> tensors) {
  std::vector<prism_tensor_t> in;
  for (const nb::object& t : tensors) in.push_back(opt_handle(t, "checkpoint: an input"));
  std::vector<prism_tensor_t> out(PRISM_CHECKPOINT_MAX_OUTPUTS, nullptr);
  size_t n = 0;
  Py_INCREF(run.ptr());  // owned by the core until release_segment
  Py_XDECREF(t_segment_error);
  t_segment_error = nullptr;
  prism_status s = prism_checkpoint(python_segment, run.ptr(), release_segment, in.data(), in.size(),
                                    out.data(), out.size(), &n);
  if (s != PRISM_OK && t_segment_error != nullptr) {
    nb::object e = nb::steal(t_segment_error);
    t_segment_error = nullptr;
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
    throw nb::python_error();
  }
  check(s);
  nb::list result;
  for (size_t i = 0; i < n; ++i) result.append(wrap(out[i]));
  return result;
}

nb::object sdpa(nb::handle q, nb::handle k, nb::handle v, nb::handle mask, double dropout_p, bool is_causal,
                nb::handle scale) {
  double sc = 0.0;
  const double* scp = nullptr;
  if (!scale.is_none()) {
    sc = nb::cast<double>(scale);
    scp = &sc;
  }
  prism_tensor_t out = nullptr;
  check(prism_scaled_dot_product_attention(tensor_arg(q, "query"), tensor_arg(k, "key"),
                                           tensor_arg(v, "value"), opt_handle(mask, "attn_mask"), dropout_p,
                                           is_causal ? 1 : 0, scp, &out));
  return wrap(out);
}

nb::object bce(nb::handle input, nb::handle target, nb::handle weight, int reduction) {
  prism_tensor_t out = nullptr;
  check(prism_binary_cross_entropy(tensor_arg(input, "input"), tensor_arg(target, "target"),
                                   opt_handle(weight, "weight"), static_cast<prism_reduction>(reduction),
                                   &out));
  return wrap(out);
}

}  // namespace

void register_attention(nb::module_& m) {
  using namespace nb::literals;
  m.def(
      "checkpoint", &checkpoint, "run"_a, "tensors"_a,
      "prism_checkpoint: run(*tensors) -> tuple of tensors, recomputed in backward (Note [Python checkpoint "
      "segments]).");
  m.def("scaled_dot_product_attention", &sdpa, "query"_a.none(), "key"_a.none(), "value"_a.none(),
        "attn_mask"_a.none(), "dropout_p"_a, "is_causal"_a, "scale"_a.none(),
        "prism_scaled_dot_product_attention.");
  m.def("binary_cross_entropy", &bce, "input"_a.none(), "target"_a.none(), "weight"_a.none(), "reduction"_a,
        "prism_binary_cross_entropy (reduction: 0 none, 1 mean, 2 sum).");
  m.def(
      "random_get_state",
      [] {
        uint64_t seed = 0, offset = 0;
        check(prism_random_get_state(&seed, &offset));
        return std::make_pair(seed, offset);
      },
      "prism_random_get_state: (seed, offset).");
  m.def(
      "random_set_state", [](uint64_t seed, uint64_t offset) { check(prism_random_set_state(seed, offset)); },
      "seed"_a, "offset"_a, "prism_random_set_state.");
}
