// tensor.h — the Tensor handle type and error helpers shared by the prism._C extension sources.
#pragma once

#include <nanobind/nanobind.h>
#include <prism/prism.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace prism_py {

// A failing prism_status with its message; translated to the prism.Error subclass of the status.
struct Error : std::exception {
  prism_status status;
  std::string message;
  Error(prism_status s, std::string m) : status(s), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

// Throws the last error of this thread (status `s`, message from prism_last_error()).
[[noreturn]] void throw_status(prism_status s);
inline void check(prism_status s) {
  if (s != PRISM_OK) throw_status(s);
}

// The C++ state of a prism.Tensor: one owned reference to a prism_tensor_t.
struct Tensor {
  prism_tensor_t h = nullptr;
  Tensor() = default;
  explicit Tensor(prism_tensor_t t) : h(t) {}
  Tensor(Tensor&& o) noexcept : h(o.h) { o.h = nullptr; }
  Tensor& operator=(Tensor&& o) noexcept {
    std::swap(h, o.h);
    return *this;
  }
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor() {
    if (h != nullptr) prism_tensor_release(h);
  }
  prism_tensor_t release() { return std::exchange(h, nullptr); }
};

// The Python type new tensors get (prism.Tensor once registered, else prism._C.TensorBase).
extern PyTypeObject* g_tensor_type;
extern PyTypeObject* g_tensor_base;

// True when `o` is a prism tensor (TensorBase or any subclass).
inline bool is_tensor(nb::handle o) {
  return PyObject_TypeCheck(o.ptr(), g_tensor_base) != 0;
}
// The handle of a tensor object (no check).
inline prism_tensor_t handle_of(nb::handle o) {
  return nb::inst_ptr<Tensor>(o)->h;
}
// The handle of `o`, raising TypeError naming `what` when it is not a tensor.
prism_tensor_t tensor_arg(nb::handle o, const char* what);
// None -> NULL, a tensor -> its handle, else TypeError.
prism_tensor_t opt_handle(nb::handle o, const char* what = "argument");

// A new Python tensor object (of g_tensor_type) owning `t` (one reference taken over).
nb::object wrap(prism_tensor_t t);
// A new instance of `cls` (a TensorBase subclass) owning `t`.
nb::object wrap_as(nb::handle cls, prism_tensor_t t);

// Dtype objects (prism.float32 ...) registered from Python; code <-> object.
nb::object dtype_object(prism_dtype dt);
// Accepts a prism dtype object, or the Python types bool, int, float. Raises TypeError otherwise.
prism_dtype dtype_arg(nb::handle o);
// Device string of a device argument: None -> default (NULL), str or prism.device -> "type:index".
std::string device_arg(nb::handle o);

// A list of int64 from an int, or a sequence of ints (shape/dims arguments).
std::vector<int64_t> int_list(nb::handle o, const char* what);
// Sizes from `*size` varargs: f(2, 3) or f((2, 3)) or f([2, 3]).
std::vector<int64_t> sizes_from_args(const nb::args& args, const char* what);

void register_tensor(nb::module_& m);
void register_interop(nb::module_& m);
void register_runtime(nb::module_& m);

}  // namespace prism_py

// Neural-network ops, optimizer updates and file I/O (nn_ops.cpp; weak, so the module builds without it).
__attribute__((weak)) void register_nn_ops(nb::module_& m);
// Extra elementwise math and bitwise ops (math_ops.cpp; weak likewise).
__attribute__((weak)) void register_math_ops(nb::module_& m);
// Op forms: clamp with tensors, gelu approximations, pad, conv2d padding modes, mm, dtype= (op_forms.cpp).
__attribute__((weak)) void register_op_forms(nb::module_& m);
// Autocast scopes and the gradient-scaler ops (amp.cpp; weak likewise).
__attribute__((weak)) void register_amp(nb::module_& m);
// The profiler (profiler.cpp; weak likewise).
__attribute__((weak)) void register_profiler(nb::module_& m);
// Streams, events and non-blocking copies (streams.cpp; weak likewise).
__attribute__((weak)) void register_streams(nb::module_& m);
// Attention, binary cross-entropy, gradient checkpointing, random state (attention.cpp; weak likewise).
__attribute__((weak)) void register_attention(nb::module_& m);
// torch.distributed's primitives: init, groups, collectives, work handles (distributed.cpp; weak likewise).
__attribute__((weak)) void register_distributed(nb::module_& m);
