// nn_ops.cpp — prism._C bindings of prism.h's neural-network ops, fused optimizer updates, safetensors and
// IDX I/O.

// Note [nn ops in prism._C]
// -------------------------
// These are one-to-one wrappers of prism.h functions that prism.nn.functional,
// prism.optim and prism.serialization call; the PyTorch-style argument
// handling (defaults, 'same' padding, legacy reduction flags) lives in Python.
// Tensor arguments are prism tensors (any subclass, e.g. Parameter); None
// stands for an optional (NULL) handle. A reduction is "none" | "mean" | "sum"
// or the prism_reduction value. Pairs (stride, padding, ...) are an int or a
// sequence of two ints. Every argument accepts None at the binding level
// (optional handles map to NULL; a None where a tensor is required raises
// TypeError naming the argument). Every failure raises the prism.Error subclass of the
// status with Prism's message (op, shapes, dtypes, device).

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <string>
#include <vector>

#include "tensor.h"

using prism_py::check;
using prism_py::opt_handle;
using prism_py::tensor_arg;
using prism_py::wrap;

namespace {

prism_reduction reduction_arg(nb::handle o, const char* op) {
  if (PyLong_Check(o.ptr())) {
    const long v = PyLong_AsLong(o.ptr());
    if (v >= 0 && v <= 2) return static_cast<prism_reduction>(v);
  } else if (PyUnicode_Check(o.ptr())) {
    const std::string s = nb::cast<std::string>(o);
    if (s == "none") return PRISM_REDUCTION_NONE;
    if (s == "mean") return PRISM_REDUCTION_MEAN;
    if (s == "sum") return PRISM_REDUCTION_SUM;
  }
  throw nb::value_error((std::string(op) + ": reduction must be 'none', 'mean' or 'sum'").c_str());
}

// {h, w} from an int or a sequence of two ints.
std::array<int64_t, 2> pair_arg(nb::handle o, const char* what) {
  std::vector<int64_t> v = prism_py::int_list(o, what);
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) throw nb::value_error((std::string(what) + " must be an int or a pair of ints").c_str());
  return {v[0], v[1]};
}

using Handle = nb::handle;

nb::object linear(Handle input, Handle weight, Handle bias) {
  prism_tensor_t out = nullptr;
  check(
      prism_linear(tensor_arg(input, "input"), tensor_arg(weight, "weight"), opt_handle(bias, "bias"), &out));
  return wrap(out);
}

nb::object conv2d(Handle input, Handle weight, Handle bias, Handle stride, Handle padding, Handle dilation,
                  int64_t groups) {
  const auto s = pair_arg(stride, "stride");
  const auto p = pair_arg(padding, "padding");
  const auto d = pair_arg(dilation, "dilation");
  prism_tensor_t out = nullptr;
  check(prism_conv2d(tensor_arg(input, "input"), tensor_arg(weight, "weight"), opt_handle(bias, "bias"),
                     s.data(), p.data(), d.data(), groups, &out));
  return wrap(out);
}

nb::object max_pool2d(Handle input, Handle kernel, Handle stride, Handle padding) {
  const auto k = pair_arg(kernel, "kernel_size");
  std::array<int64_t, 2> s{};
  const bool has_stride = !stride.is_none();
  if (has_stride) s = pair_arg(stride, "stride");
  const auto p = pair_arg(padding, "padding");
  prism_tensor_t out = nullptr;
  check(prism_max_pool2d(tensor_arg(input, "input"), k.data(), has_stride ? s.data() : nullptr, p.data(),
                         &out));
  return wrap(out);
}

nb::object avg_pool2d(Handle input, Handle kernel, Handle stride, Handle padding, bool count_include_pad) {
  const auto k = pair_arg(kernel, "kernel_size");
  std::array<int64_t, 2> s{};
  const bool has_stride = !stride.is_none();
  if (has_stride) s = pair_arg(stride, "stride");
  const auto p = pair_arg(padding, "padding");
  prism_tensor_t out = nullptr;
  check(prism_avg_pool2d(tensor_arg(input, "input"), k.data(), has_stride ? s.data() : nullptr, p.data(),
                         count_include_pad ? 1 : 0, &out));
  return wrap(out);
}

nb::object dropout(Handle input, double p, bool training) {
  prism_tensor_t out = nullptr;
  check(prism_dropout(tensor_arg(input, "input"), p, training ? 1 : 0, &out));
  return wrap(out);
}

nb::object layer_norm(Handle input, Handle normalized_shape, Handle weight, Handle bias, double eps) {
  const std::vector<int64_t> shape = prism_py::int_list(normalized_shape, "normalized_shape");
  prism_tensor_t out = nullptr;
  check(prism_layer_norm(tensor_arg(input, "input"), shape.data(), static_cast<int32_t>(shape.size()),
                         opt_handle(weight, "weight"), opt_handle(bias, "bias"), eps, &out));
  return wrap(out);
}

nb::object batch_norm(Handle input, Handle running_mean, Handle running_var, Handle weight, Handle bias,
                      bool training, double momentum, double eps) {
  prism_tensor_t out = nullptr;
  check(prism_batch_norm(tensor_arg(input, "input"), opt_handle(running_mean, "running_mean"),
                         opt_handle(running_var, "running_var"), opt_handle(weight, "weight"),
                         opt_handle(bias, "bias"), training ? 1 : 0, momentum, eps, &out));
  return wrap(out);
}

nb::object embedding(Handle weight, Handle indices, Handle padding_idx) {
  const int64_t pad = padding_idx.is_none() ? PRISM_PADDING_IDX_NONE : nb::cast<int64_t>(padding_idx);
  prism_tensor_t out = nullptr;
  check(prism_embedding(tensor_arg(weight, "weight"), tensor_arg(indices, "input"), pad, &out));
  return wrap(out);
}

nb::object softmax(Handle x, int64_t dim) {
  prism_tensor_t out = nullptr;
  check(prism_softmax(tensor_arg(x, "input"), dim, &out));
  return wrap(out);
}

nb::object log_softmax(Handle x, int64_t dim) {
  prism_tensor_t out = nullptr;
  check(prism_log_softmax(tensor_arg(x, "input"), dim, &out));
  return wrap(out);
}

nb::object cross_entropy(Handle input, Handle target, Handle weight, int64_t ignore_index,
                         double label_smoothing, Handle reduction) {
  const prism_reduction r = reduction_arg(reduction, "cross_entropy");
  prism_tensor_t out = nullptr;
  check(prism_cross_entropy(tensor_arg(input, "input"), tensor_arg(target, "target"),
                            opt_handle(weight, "weight"), ignore_index, label_smoothing, r, &out));
  return wrap(out);
}

nb::object nll_loss(Handle input, Handle target, Handle weight, int64_t ignore_index, Handle reduction) {
  const prism_reduction r = reduction_arg(reduction, "nll_loss");
  prism_tensor_t out = nullptr;
  check(prism_nll_loss(tensor_arg(input, "input"), tensor_arg(target, "target"), opt_handle(weight, "weight"),
                       ignore_index, r, &out));
  return wrap(out);
}

nb::object bce_with_logits(Handle input, Handle target, Handle weight, Handle pos_weight, Handle reduction) {
  const prism_reduction r = reduction_arg(reduction, "binary_cross_entropy_with_logits");
  prism_tensor_t out = nullptr;
  check(prism_binary_cross_entropy_with_logits(tensor_arg(input, "input"), tensor_arg(target, "target"),
                                               opt_handle(weight, "weight"),
                                               opt_handle(pos_weight, "pos_weight"), r, &out));
  return wrap(out);
}

using LossFn = prism_status (*)(prism_tensor_t, prism_tensor_t, prism_reduction, prism_tensor_t*);
template <LossFn fn>
nb::object simple_loss(Handle input, Handle target, Handle reduction) {
  const prism_reduction r = reduction_arg(reduction, "loss");
  prism_tensor_t out = nullptr;
  check(fn(tensor_arg(input, "input"), tensor_arg(target, "target"), r, &out));
  return wrap(out);
}

using ParamLossFn = prism_status (*)(prism_tensor_t, prism_tensor_t, double, prism_reduction,
                                     prism_tensor_t*);
template <ParamLossFn fn>
nb::object param_loss(Handle input, Handle target, double param, Handle reduction) {
  const prism_reduction r = reduction_arg(reduction, "loss");
  prism_tensor_t out = nullptr;
  check(fn(tensor_arg(input, "input"), tensor_arg(target, "target"), param, r, &out));
  return wrap(out);
}

void sgd_update(Handle param, Handle grad, Handle buf, double lr, double momentum, double dampening,
                double weight_decay, uint32_t flags) {
  check(prism_sgd_update(tensor_arg(param, "param"), tensor_arg(grad, "grad"),
                         opt_handle(buf, "momentum_buffer"), lr, momentum, dampening, weight_decay, flags));
}

void adam_update(Handle param, Handle grad, Handle exp_avg, Handle exp_avg_sq, Handle max_exp_avg_sq,
                 double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step,
                 uint32_t flags) {
  check(prism_adam_update(tensor_arg(param, "param"), tensor_arg(grad, "grad"),
                          tensor_arg(exp_avg, "exp_avg"), tensor_arg(exp_avg_sq, "exp_avg_sq"),
                          opt_handle(max_exp_avg_sq, "max_exp_avg_sq"), lr, beta1, beta2, eps, weight_decay,
                          step, flags));
}

void safetensors_save(const std::string& path, const std::vector<std::string>& names, nb::handle tensors,
                      const nb::dict& metadata) {
  std::vector<prism_tensor_t> handles;
  for (nb::handle t : tensors) handles.push_back(tensor_arg(t, "tensors"));
  const size_t n = handles.size();
  if (n != names.size()) throw nb::value_error("safetensors_save: names and tensors differ in length");
  std::vector<const char*> cnames(n);
  for (size_t i = 0; i < n; ++i) cnames[i] = names[i].c_str();
  std::vector<std::string> kv_strings;
  kv_strings.reserve(2 * metadata.size());
  for (auto item : metadata) {
    kv_strings.push_back(nb::cast<std::string>(item.first));
    kv_strings.push_back(nb::cast<std::string>(item.second));
  }
  std::vector<const char*> keys, values;
  for (size_t i = 0; i < kv_strings.size(); i += 2) {
    keys.push_back(kv_strings[i].c_str());
    values.push_back(kv_strings[i + 1].c_str());
  }
  prism_status s = PRISM_OK;
  {
    nb::gil_scoped_release unlocked;
    s = prism_safetensors_save(path.c_str(), n ? cnames.data() : nullptr, n ? handles.data() : nullptr, n,
                               keys.empty() ? nullptr : keys.data(), values.empty() ? nullptr : values.data(),
                               keys.size());
  }
  check(s);
}

// Closes the file handle on every path.
struct SafetensorsHandle {
  prism_safetensors_t f = nullptr;
  ~SafetensorsHandle() { prism_safetensors_close(f); }
};

nb::tuple safetensors_load(const std::string& path, Handle device) {
  const bool has_device = !device.is_none();
  const std::string dev = has_device ? prism_py::device_arg(device) : std::string();
  SafetensorsHandle file;
  prism_status s = PRISM_OK;
  {
    nb::gil_scoped_release unlocked;
    s = prism_safetensors_open(path.c_str(), &file.f);
  }
  check(s);
  size_t n = 0;
  check(prism_safetensors_count(file.f, &n));
  nb::list tensors;
  for (size_t i = 0; i < n; ++i) {
    const char* name = nullptr;
    check(prism_safetensors_name(file.f, i, &name));
    prism_tensor_t t = nullptr;
    check(prism_safetensors_get(file.f, name, has_device ? dev.c_str() : nullptr, &t));
    tensors.append(nb::make_tuple(nb::str(name), wrap(t)));
  }
  size_t m = 0;
  check(prism_safetensors_metadata_count(file.f, &m));
  nb::dict metadata;
  for (size_t i = 0; i < m; ++i) {
    const char* key = nullptr;
    const char* value = nullptr;
    check(prism_safetensors_metadata_get(file.f, i, &key, &value));
    metadata[nb::str(key)] = nb::str(value);
  }
  return nb::make_tuple(tensors, metadata);
}

nb::object load_idx(const std::string& path, Handle device) {
  const bool has_device = !device.is_none();
  const std::string dev = has_device ? prism_py::device_arg(device) : std::string();
  prism_tensor_t out = nullptr;
  prism_status s = PRISM_OK;
  {
    nb::gil_scoped_release unlocked;
    s = prism_load_idx(path.c_str(), has_device ? dev.c_str() : nullptr, &out);
  }
  check(s);
  return wrap(out);
}

}  // namespace

void register_nn_ops(nb::module_& m) {
  using namespace nb::literals;
  const auto none = nb::none();
  m.def("linear", &linear, "input"_a.none(), "weight"_a.none(), "bias"_a.none() = none,
        "prism_linear: input @ weight^T + bias.");
  m.def("conv2d", &conv2d, "input"_a.none(), "weight"_a.none(), "bias"_a.none(), "stride"_a.none(),
        "padding"_a.none(), "dilation"_a.none(), "groups"_a.none(), "prism_conv2d.");
  m.def("max_pool2d", &max_pool2d, "input"_a.none(), "kernel_size"_a.none(), "stride"_a.none(),
        "padding"_a.none(), "prism_max_pool2d.");
  m.def("avg_pool2d", &avg_pool2d, "input"_a.none(), "kernel_size"_a.none(), "stride"_a.none(),
        "padding"_a.none(), "count_include_pad"_a.none(), "prism_avg_pool2d.");
  m.def("dropout", &dropout, "input"_a.none(), "p"_a.none(), "training"_a.none(), "prism_dropout.");
  m.def("layer_norm", &layer_norm, "input"_a.none(), "normalized_shape"_a.none(), "weight"_a.none(),
        "bias"_a.none(), "eps"_a.none(), "prism_layer_norm.");
  m.def("batch_norm", &batch_norm, "input"_a.none(), "running_mean"_a.none(), "running_var"_a.none(),
        "weight"_a.none(), "bias"_a.none(), "training"_a.none(), "momentum"_a.none(), "eps"_a.none(),
        "prism_batch_norm (updates the running stats in place).");
  m.def("embedding", &embedding, "weight"_a.none(), "indices"_a.none(), "padding_idx"_a.none() = none,
        "prism_embedding.");
  m.def("softmax", &softmax, "input"_a.none(), "dim"_a.none(), "prism_softmax.");
  m.def("log_softmax", &log_softmax, "input"_a.none(), "dim"_a.none(), "prism_log_softmax.");
  m.def("cross_entropy", &cross_entropy, "input"_a.none(), "target"_a.none(), "weight"_a.none(),
        "ignore_index"_a.none(), "label_smoothing"_a.none(), "reduction"_a.none(), "prism_cross_entropy.");
  m.def("nll_loss", &nll_loss, "input"_a.none(), "target"_a.none(), "weight"_a.none(),
        "ignore_index"_a.none(), "reduction"_a.none(), "prism_nll_loss.");
  m.def("binary_cross_entropy_with_logits", &bce_with_logits, "input"_a.none(), "target"_a.none(),
        "weight"_a.none(), "pos_weight"_a.none(), "reduction"_a.none(),
        "prism_binary_cross_entropy_with_logits.");
  m.def("mse_loss", &simple_loss<prism_mse_loss>, "input"_a.none(), "target"_a.none(), "reduction"_a.none(),
        "prism_mse_loss.");
  m.def("l1_loss", &simple_loss<prism_l1_loss>, "input"_a.none(), "target"_a.none(), "reduction"_a.none(),
        "prism_l1_loss.");
  m.def("huber_loss", &param_loss<prism_huber_loss>, "input"_a.none(), "target"_a.none(), "delta"_a.none(),
        "reduction"_a.none(), "prism_huber_loss.");
  m.def("smooth_l1_loss", &param_loss<prism_smooth_l1_loss>, "input"_a.none(), "target"_a.none(),
        "beta"_a.none(), "reduction"_a.none(), "prism_smooth_l1_loss.");
  m.def("sgd_update", &sgd_update, "param"_a.none(), "grad"_a.none(), "momentum_buffer"_a.none(),
        "lr"_a.none(), "momentum"_a.none(), "dampening"_a.none(), "weight_decay"_a.none(), "flags"_a.none(),
        "prism_sgd_update: one fused SGD step on one parameter (in place).");
  m.def("adam_update", &adam_update, "param"_a.none(), "grad"_a.none(), "exp_avg"_a.none(),
        "exp_avg_sq"_a.none(), "max_exp_avg_sq"_a.none(), "lr"_a.none(), "beta1"_a.none(), "beta2"_a.none(),
        "eps"_a.none(), "weight_decay"_a.none(), "step"_a.none(), "flags"_a.none(),
        "prism_adam_update: one fused Adam/AdamW step on one parameter (in place).");
  m.def("safetensors_save", &safetensors_save, "path"_a.none(), "names"_a.none(), "tensors"_a.none(),
        "metadata"_a.none(),
        "prism_safetensors_save: tensors under names, string metadata; replaces the file atomically.");
  m.def("safetensors_load", &safetensors_load, "path"_a.none(), "device"_a.none() = none,
        "prism_safetensors_open/get: ([(name, tensor)] in file order, {metadata}).");
  m.def("load_idx", &load_idx, "path"_a.none(), "device"_a.none() = none,
        "prism_load_idx: an IDX (MNIST) file as a tensor.");
  m.attr("SGD_NESTEROV") = static_cast<uint32_t>(PRISM_SGD_NESTEROV);
  m.attr("SGD_MAXIMIZE") = static_cast<uint32_t>(PRISM_SGD_MAXIMIZE);
  m.attr("SGD_INIT_BUFFER") = static_cast<uint32_t>(PRISM_SGD_INIT_BUFFER);
  m.attr("ADAM_AMSGRAD") = static_cast<uint32_t>(PRISM_ADAM_AMSGRAD);
  m.attr("ADAM_MAXIMIZE") = static_cast<uint32_t>(PRISM_ADAM_MAXIMIZE);
  m.attr("ADAM_DECOUPLED_WEIGHT_DECAY") = static_cast<uint32_t>(PRISM_ADAM_DECOUPLED_WEIGHT_DECAY);
}
