// tensor.cpp — prism._C.TensorBase: metadata, operators with Python scalars, views, reductions, math,
// indexing.
#include "tensor.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace nb::literals;

namespace prism_py {
namespace {

using BinFn = prism_status (*)(prism_tensor_t, prism_tensor_t, prism_tensor_t*);
using InFn = prism_status (*)(prism_tensor_t, prism_tensor_t);
using UnFn = prism_status (*)(prism_tensor_t, prism_tensor_t*);
using UnInFn = prism_status (*)(prism_tensor_t);
using RedFn = prism_status (*)(prism_tensor_t, const int64_t*, int32_t, int32_t, prism_tensor_t*);

bool is_float(prism_dtype d) {
  return d == PRISM_DTYPE_F16 || d == PRISM_DTYPE_BF16 || d == PRISM_DTYPE_F32 || d == PRISM_DTYPE_F64;
}

nb::object not_implemented() {
  return nb::borrow(Py_NotImplemented);
}

// ---- Python scalars ----------------------------------------------------------------------------------

// Note [Python scalars are weak]
// ------------------------------
// A Python number next to a tensor only decides the category of the result,
// as in PyTorch: int32 tensor + 2 stays int32, float32 tensor + 2.0 stays
// float32, int tensor + 2.5 gives the default float dtype (float32), bool
// tensor + 2 gives int64. The scalar becomes a 0-d tensor of that result
// dtype on the tensor's device, so the core sees two tensors of one dtype.
enum class ScalarKind { None, Bool, Int, Float, Complex };

bool is_complex_dt(prism_dtype d) {
  return d == PRISM_DTYPE_C64 || d == PRISM_DTYPE_C128;
}

// The imaginary part of the last complex scalar scalar_kind saw (the real part goes to v).
thread_local double g_scalar_imag = 0;

ScalarKind scalar_kind(nb::handle o, double& v) {
  PyObject* p = o.ptr();
  if (PyComplex_Check(p)) {
    v = PyComplex_RealAsDouble(p);
    g_scalar_imag = PyComplex_ImagAsDouble(p);
    return ScalarKind::Complex;
  }
  if (PyBool_Check(p)) {
    v = p == Py_True ? 1.0 : 0.0;
    return ScalarKind::Bool;
  }
  if (PyFloat_Check(p)) {
    v = PyFloat_AS_DOUBLE(p);
    return ScalarKind::Float;
  }
  if (PyLong_Check(p)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow != 0) {
      PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to a prism scalar (int64)");
      throw nb::python_error();
    }
    v = static_cast<double>(x);
    return ScalarKind::Int;
  }
  if (is_tensor(o)) return ScalarKind::None;
  // NumPy scalars (np.float32(2), np.int64(3), np.bool_): a 0-d object with a dtype kind.
  if (nb::hasattr(o, "dtype") && nb::hasattr(o, "item") && nb::hasattr(o, "ndim") &&
      nb::cast<int>(o.attr("ndim")) == 0) {
    nb::object kind = o.attr("dtype").attr("kind");
    std::string k = nb::cast<std::string>(kind);
    nb::object item = o.attr("item")();
    if (k == "b") return scalar_kind(nb::bool_(nb::cast<bool>(item)), v);
    if (k == "i" || k == "u" || k == "f" || k == "c") return scalar_kind(item, v);
  }
  return ScalarKind::None;
}

prism_dtype scalar_dtype(prism_dtype t, ScalarKind k) {
  switch (k) {
    case ScalarKind::Int:
      return t == PRISM_DTYPE_BOOL ? PRISM_DTYPE_I64 : t;
    case ScalarKind::Float:
      return is_float(t) || is_complex_dt(t) ? t : PRISM_DTYPE_F32;
    case ScalarKind::Complex:
      // complex64 unless the tensor is float64 or complex128 (torch's weak complex scalars)
      return t == PRISM_DTYPE_F64 || t == PRISM_DTYPE_C128 ? PRISM_DTYPE_C128 : PRISM_DTYPE_C64;
    default:
      return t;
  }
}

// A 0-d tensor for scalar `o` next to tensor `t`; false when `o` is no scalar.
bool make_scalar(nb::handle o, prism_tensor_t t, Tensor& out) {
  double v = 0;
  ScalarKind k = scalar_kind(o, v);
  if (k == ScalarKind::None) return false;
  prism_dtype dt = scalar_dtype(prism_tensor_dtype(t), k);
  prism_tensor_t s = nullptr;
  if (k == ScalarKind::Complex) {
    const double z[2] = {v, g_scalar_imag};
    prism_tensor_t c = nullptr;
    const int64_t no_sizes[1] = {1};
    check(prism_from_data(z, no_sizes, 0, PRISM_DTYPE_C128, prism_tensor_device(t), &c));
    Tensor tmp(c);
    check(prism_to_dtype(c, dt, &s));
  } else {
    check(prism_scalar(v, dt, prism_tensor_device(t), &s));
  }
  out = Tensor(s);
  return true;
}

// The handle for `o` used next to tensor `t`: a tensor, or a scalar made into a 0-d tensor (kept in `tmp`).
prism_tensor_t operand(nb::handle o, prism_tensor_t t, Tensor& tmp, const char* op) {
  if (is_tensor(o)) return handle_of(o);
  if (make_scalar(o, t, tmp)) return tmp.h;
  throw nb::type_error(
      (std::string(op) + ": expected a prism.Tensor or a number, got " + nb::type_name(o.type()).c_str())
          .c_str());
}

// ---- operator templates ----------------------------------------------------------------------------

template <BinFn F>
nb::object binop(nb::handle self, nb::handle other) {
  prism_tensor_t a = handle_of(self);
  prism_tensor_t out = nullptr;
  if (is_tensor(other)) {
    check(F(a, handle_of(other), &out));
    return wrap(out);
  }
  Tensor s;
  if (!make_scalar(other, a, s)) return not_implemented();
  check(F(a, s.h, &out));
  return wrap(out);
}

template <BinFn F>
nb::object rbinop(nb::handle self, nb::handle other) {
  prism_tensor_t b = handle_of(self);
  Tensor s;
  if (!make_scalar(other, b, s)) return not_implemented();
  prism_tensor_t out = nullptr;
  check(F(s.h, b, &out));
  return wrap(out);
}

template <InFn F>
nb::object inplace(nb::handle self, nb::handle other) {
  prism_tensor_t a = handle_of(self);
  if (is_tensor(other)) {
    check(F(a, handle_of(other)));
  } else {
    Tensor s;
    if (!make_scalar(other, a, s)) return not_implemented();
    check(F(a, s.h));
  }
  return nb::borrow(self);
}

template <UnFn F>
nb::object unop(nb::handle self) {
  prism_tensor_t out = nullptr;
  check(F(handle_of(self), &out));
  return wrap(out);
}

template <UnInFn F>
nb::object uninplace(nb::handle self) {
  check(F(handle_of(self)));
  return nb::borrow(self);
}

prism_status add1(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
  return prism_add(a, b, 1.0, o);
}
prism_status sub1(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
  return prism_sub(a, b, 1.0, o);
}
prism_status add1_(prism_tensor_t a, prism_tensor_t b) {
  return prism_add_(a, b, 1.0);
}
prism_status sub1_(prism_tensor_t a, prism_tensor_t b) {
  return prism_sub_(a, b, 1.0);
}
prism_status floordiv(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
  return prism_div_mode(a, b, PRISM_ROUNDING_FLOOR, o);
}
prism_status floordiv_(prism_tensor_t a, prism_tensor_t b) {
  prism_tensor_t r = nullptr;
  prism_status s = prism_div_mode(a, b, PRISM_ROUNDING_FLOOR, &r);
  if (s != PRISM_OK) return s;
  if (prism_tensor_dtype(r) != prism_tensor_dtype(a)) {
    prism_tensor_release(r);
    return prism_div_(a, b);  // reports the dtype error of an in-place result that does not fit
  }
  s = prism_copy_(a, r);
  prism_tensor_release(r);
  return s;
}
prism_status matmul_(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
  return prism_matmul(a, b, o);
}

// Bitwise operators: bool tensors use the logical ops (PyTorch's meaning for bool).
bool both_bool(prism_tensor_t a, prism_tensor_t b) {
  return prism_tensor_dtype(a) == PRISM_DTYPE_BOOL && prism_tensor_dtype(b) == PRISM_DTYPE_BOOL;
}
template <BinFn Logical>
prism_status bitwise(prism_tensor_t a, prism_tensor_t b, prism_tensor_t* o) {
  if (both_bool(a, b)) return Logical(a, b, o);
  throw Error(PRISM_ERROR_TYPE, std::string("bitwise operators: only bool tensors are supported, got ") +
                                    prism_dtype_name(prism_tensor_dtype(a)) + " and " +
                                    prism_dtype_name(prism_tensor_dtype(b)));
}
template <BinFn Logical>
prism_status bitwise_(prism_tensor_t a, prism_tensor_t b) {
  prism_tensor_t r = nullptr;
  prism_status s = bitwise<Logical>(a, b, &r);
  if (s != PRISM_OK) return s;
  s = prism_copy_(a, r);
  prism_tensor_release(r);
  return s;
}

// ---- dims ------------------------------------------------------------------------------------------

// dim argument: None (all dims: empty), an int, or a tuple/list of ints.
std::vector<int64_t> dims_arg(nb::handle dim) {
  if (dim.is_none()) return {};
  return int_list(dim, "dim");
}

nb::object cast_if(nb::handle self, nb::handle dtype, Tensor& tmp) {
  (void)tmp;
  if (dtype.is_none()) return nb::borrow(self);
  prism_tensor_t out = nullptr;
  check(prism_to_dtype(handle_of(self), dtype_arg(dtype), &out));
  return wrap(out);
}

template <RedFn F>
nb::object reduce(nb::handle self, nb::handle dim, bool keepdim, nb::handle dtype) {
  Tensor tmp;
  nb::object x = cast_if(self, dtype, tmp);
  std::vector<int64_t> d = dims_arg(dim);
  prism_tensor_t out = nullptr;
  check(
      F(handle_of(x), d.empty() ? nullptr : d.data(), static_cast<int32_t>(d.size()), keepdim ? 1 : 0, &out));
  return wrap(out);
}

// ---- metadata ----------------------------------------------------------------------------------------

std::vector<int64_t> sizes_of(prism_tensor_t h) {
  int32_t n = prism_tensor_ndim(h);
  std::vector<int64_t> s(static_cast<size_t>(n));
  if (n > 0) check(prism_tensor_sizes(h, s.data(), n));
  return s;
}
std::vector<int64_t> strides_of(prism_tensor_t h) {
  int32_t n = prism_tensor_ndim(h);
  std::vector<int64_t> s(static_cast<size_t>(n));
  if (n > 0) check(prism_tensor_strides(h, s.data(), n));
  return s;
}

PyObject* g_size_type = nullptr;  // prism.Size (a tuple subclass), registered from Python

nb::object size_tuple(const std::vector<int64_t>& v) {
  nb::object t = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(v.size())));
  for (size_t i = 0; i < v.size(); ++i) PyTuple_SET_ITEM(t.ptr(), i, PyLong_FromLongLong(v[i]));
  if (g_size_type == nullptr) return t;
  return nb::steal(PyObject_CallOneArg(g_size_type, t.ptr()));
}

void check_handle(prism_tensor_t h) {
  if (h == nullptr) throw Error(PRISM_ERROR_INVALID_ARGUMENT, "the tensor was released (NULL handle)");
}

int64_t size_at(prism_tensor_t h, int64_t dim) {
  int64_t s = 0;
  check(prism_tensor_size(h, static_cast<int32_t>(dim), &s));
  return s;
}

// ---- indexing ---------------------------------------------------------------------------------------

prism_tensor_index make_index(int32_t kind) {
  prism_tensor_index e{};
  e.struct_size = sizeof(prism_tensor_index);
  e.kind = kind;
  return e;
}

// prism.tensor, for lists and arrays used as indices. A raw reference owned for the life of the process:
// a C++ global nb::object would be released after the interpreter finalised (a fatal error at exit).
PyObject* g_tensor_factory = nullptr;

// Converts one subscript entry. Tensors made here are kept alive by `keep`.
void add_index(nb::handle k, prism_tensor_t self, std::vector<prism_tensor_index>& idx,
               std::vector<nb::object>& keep) {
  PyObject* p = k.ptr();
  if (p == Py_None) {
    idx.push_back(make_index(PRISM_INDEX_NONE));
  } else if (p == Py_Ellipsis) {
    idx.push_back(make_index(PRISM_INDEX_ELLIPSIS));
  } else if (PySlice_Check(p)) {
    Py_ssize_t start = 0, stop = 0, step = 0;
    PySliceObject* sl = reinterpret_cast<PySliceObject*>(p);
    if (PySlice_Unpack(p, &start, &stop, &step) < 0) throw nb::python_error();
    if (step <= 0) throw nb::value_error("step must be greater than zero");
    prism_tensor_index e = make_index(PRISM_INDEX_SLICE);
    e.start = sl->start == Py_None ? 0 : start;
    e.stop = sl->stop == Py_None || stop == PY_SSIZE_T_MAX ? PRISM_SLICE_END : stop;
    e.step = step;
    idx.push_back(e);
  } else if (PyBool_Check(p)) {
    prism_tensor_t m = nullptr;
    check(prism_scalar(p == Py_True ? 1.0 : 0.0, PRISM_DTYPE_BOOL, prism_tensor_device(self), &m));
    keep.push_back(wrap(m));
    prism_tensor_index e = make_index(PRISM_INDEX_TENSOR);
    e.tensor = m;
    idx.push_back(e);
  } else if (PyLong_Check(p) || (PyIndex_Check(p) && !is_tensor(k) && !nb::hasattr(k, "shape"))) {
    prism_tensor_index e = make_index(PRISM_INDEX_INT);
    nb::object i = nb::steal(PyNumber_Index(p));
    if (!i.is_valid()) throw nb::python_error();
    int overflow = 0;
    e.value = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow != 0) throw nb::index_error("index out of int64 range");
    idx.push_back(e);
  } else {
    nb::object t;
    if (is_tensor(k)) {
      t = nb::borrow(k);
    } else if (PyList_Check(p) || PyTuple_Check(p) || nb::hasattr(k, "__array_interface__")) {
      t = nb::handle(g_tensor_factory)(k);
      if (prism_tensor_numel(handle_of(t)) == 0 && prism_tensor_dtype(handle_of(t)) != PRISM_DTYPE_BOOL) {
        prism_tensor_t c = nullptr;
        check(prism_to_dtype(handle_of(t), PRISM_DTYPE_I64, &c));
        t = wrap(c);
      }
    } else {
      throw nb::type_error((std::string("only integers, slices (`:`), ellipsis (`...`), None and integer or "
                                        "bool tensors are valid indices, got ") +
                            nb::type_name(k.type()).c_str())
                               .c_str());
    }
    prism_tensor_t th = handle_of(t);
    if (std::strcmp(prism_tensor_device(th), prism_tensor_device(self)) != 0) {
      prism_tensor_t moved = nullptr;
      check(prism_to_device(th, prism_tensor_device(self), &moved));
      t = wrap(moved);
      th = moved;
    }
    keep.push_back(t);
    prism_tensor_index e = make_index(PRISM_INDEX_TENSOR);
    e.tensor = th;
    idx.push_back(e);
  }
}

void parse_key(nb::handle key, prism_tensor_t self, std::vector<prism_tensor_index>& idx,
               std::vector<nb::object>& keep) {
  if (PyTuple_Check(key.ptr())) {
    for (nb::handle k : nb::borrow<nb::tuple>(key)) add_index(k, self, idx, keep);
  } else {
    add_index(key, self, idx, keep);
  }
}

nb::object getitem(nb::handle self, nb::handle key) {
  prism_tensor_t h = handle_of(self);
  prism_tensor_t out = nullptr;
  if (PyLong_Check(key.ptr()) && !PyBool_Check(key.ptr())) {  // fast path: t[i]
    int overflow = 0;
    long long i = PyLong_AsLongLongAndOverflow(key.ptr(), &overflow);
    if (overflow != 0) throw nb::index_error("index out of int64 range");
    if (prism_tensor_ndim(h) == 0) {
      throw Error(PRISM_ERROR_INDEX, "invalid index of a 0-dim tensor; use tensor.item() to get the value");
    }
    check(prism_select(h, 0, i, &out));
    return wrap(out);
  }
  std::vector<prism_tensor_index> idx;
  std::vector<nb::object> keep;
  parse_key(key, h, idx, keep);
  check(prism_index(h, idx.data(), idx.size(), &out));
  return wrap(out);
}

void setitem(nb::handle self, nb::handle key, nb::handle value) {
  prism_tensor_t h = handle_of(self);
  std::vector<prism_tensor_index> idx;
  std::vector<nb::object> keep;
  parse_key(key, h, idx, keep);
  Tensor tmp;
  prism_tensor_t v = nullptr;
  if (is_tensor(value)) {
    v = handle_of(value);
  } else {
    double x = 0;
    if (scalar_kind(value, x) != ScalarKind::None) {
      check(prism_scalar(x, prism_tensor_dtype(h), prism_tensor_device(h), &v));
      tmp = Tensor(v);
    } else if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr()) ||
               nb::hasattr(value, "__array_interface__")) {
      nb::object t = nb::handle(g_tensor_factory)(value);
      keep.push_back(t);
      v = handle_of(t);
    } else {
      throw nb::type_error((std::string("can't assign a ") + nb::type_name(value.type()).c_str() +
                            " to a prism.Tensor element")
                               .c_str());
    }
  }
  check(prism_index_put_(h, idx.data(), idx.size(), v, 0));
}

// ---- tensor lists (cat, stack, split) ------------------------------------------------------------------

std::vector<prism_tensor_t> tensor_list(nb::handle seq, const char* what) {
  if (is_tensor(seq) || !PySequence_Check(seq.ptr())) {
    throw nb::type_error((std::string(what) + ": expected a sequence of tensors").c_str());
  }
  std::vector<prism_tensor_t> out;
  for (nb::handle o : seq) out.push_back(tensor_arg(o, what));
  if (out.empty())
    throw Error(PRISM_ERROR_INVALID_ARGUMENT, std::string(what) + ": expected a non-empty list of tensors");
  return out;
}

nb::tuple wrap_all(std::vector<prism_tensor_t>& hs, size_t n) {
  nb::list l;
  for (size_t i = 0; i < n; ++i) l.append(wrap(hs[i]));
  return nb::tuple(l);
}

template <typename F>
nb::tuple pieces(F&& f) {
  size_t n = 0;
  std::vector<prism_tensor_t> outs(64);
  prism_status s = f(outs.data(), outs.size(), &n);
  if (s != PRISM_OK && n > outs.size()) {
    outs.resize(n);
    s = f(outs.data(), outs.size(), &n);
  }
  check(s);
  return wrap_all(outs, n);
}

// ---- view helpers ------------------------------------------------------------------------------------

nb::object view_sizes(nb::handle self, const std::vector<int64_t>& s,
                      prism_status (*fn)(prism_tensor_t, const int64_t*, int32_t, prism_tensor_t*)) {
  prism_tensor_t out = nullptr;
  check(fn(handle_of(self), s.data(), static_cast<int32_t>(s.size()), &out));
  return wrap(out);
}

#define PRISM_PY_UNARY(name) .def(#name, &unop<prism_##name>).def(#name "_", &uninplace<prism_##name##_>)

}  // namespace

void register_tensor(nb::module_& m) {
  nb::class_<Tensor> cls(
      m, "TensorBase", nb::is_weak_referenceable(),
      "The native part of prism.Tensor: a handle to a Prism tensor (C ABI prism_tensor_t).");
  g_tensor_base = reinterpret_cast<PyTypeObject*>(cls.ptr());
  g_tensor_type = g_tensor_base;

  m.def("_set_size_class", [](nb::handle c) {
    c.inc_ref();
    g_size_type = c.ptr();
  });
  m.def("_set_tensor_factory", [](nb::object f) {
    Py_XDECREF(g_tensor_factory);
    g_tensor_factory = f.release().ptr();
  });
  m.def(
      "_operand",
      [](nb::handle t, nb::handle other) -> nb::object {
        if (is_tensor(other)) return nb::borrow(other);
        Tensor s;
        if (!make_scalar(other, tensor_arg(t, "input"), s)) {
          throw nb::type_error(
              (std::string("expected a prism.Tensor or a number, got ") + nb::type_name(other.type()).c_str())
                  .c_str());
        }
        return wrap(s.release());
      },
      "input"_a, nb::arg("other").none(),
      "other as a tensor next to input: a Python number becomes a 0-d tensor of the weak result dtype.");

  cls
      // metadata
      .def_prop_ro(
          "shape", [](nb::handle s) { return size_tuple(sizes_of(handle_of(s))); }, "The sizes (prism.Size).")
      .def_prop_ro(
          "dtype",
          [](nb::handle s) {
            prism_tensor_t h = handle_of(s);
            check_handle(h);
            return dtype_object(prism_tensor_dtype(h));
          },
          "The element type (prism.float32 ...).")
      .def_prop_ro(
          "_device_str",
          [](nb::handle s) {
            prism_tensor_t h = handle_of(s);
            check_handle(h);
            return std::string(prism_tensor_device(h));
          },
          "The device string, e.g. 'cpu:0'.")
      .def_prop_ro(
          "ndim", [](nb::handle s) { return prism_tensor_ndim(handle_of(s)); }, "Number of dims.")
      .def(
          "dim", [](nb::handle s) { return prism_tensor_ndim(handle_of(s)); }, "Number of dims.")
      .def("ndimension", [](nb::handle s) { return prism_tensor_ndim(handle_of(s)); })
      .def(
          "numel",
          [](nb::handle s) {
            prism_tensor_t h = handle_of(s);
            check_handle(h);
            return prism_tensor_numel(h);
          },
          "Number of elements.")
      .def("nelement", [](nb::handle s) { return prism_tensor_numel(handle_of(s)); })
      .def(
          "size",
          [](nb::handle s, nb::handle dim) -> nb::object {
            prism_tensor_t h = handle_of(s);
            if (dim.is_none()) return size_tuple(sizes_of(h));
            return nb::int_(size_at(h, int_list(dim, "dim").at(0)));
          },
          nb::arg("dim").none() = nb::none(), "The sizes (prism.Size), or the size of one dim.")
      .def(
          "stride",
          [](nb::handle s, nb::handle dim) -> nb::object {
            std::vector<int64_t> st = strides_of(handle_of(s));
            if (dim.is_none()) {
              nb::object t = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(st.size())));
              for (size_t i = 0; i < st.size(); ++i) PyTuple_SET_ITEM(t.ptr(), i, PyLong_FromLongLong(st[i]));
              return t;
            }
            int64_t d = int_list(dim, "dim").at(0);
            int64_t n = static_cast<int64_t>(st.size());
            if (d < -n || d >= n) {
              throw Error(PRISM_ERROR_INDEX, "Dimension out of range (expected to be in range of [" +
                                                 std::to_string(-n) + ", " + std::to_string(n - 1) +
                                                 "], but got " + std::to_string(d) + ")");
            }
            return nb::int_(st[static_cast<size_t>(d < 0 ? d + n : d)]);
          },
          nb::arg("dim").none() = nb::none(), "Strides in elements (a tuple), or the stride of one dim.")
      .def("storage_offset", [](nb::handle s) { return prism_tensor_storage_offset(handle_of(s)); })
      .def(
          "is_contiguous", [](nb::handle s) { return prism_tensor_is_contiguous(handle_of(s)) != 0; },
          "True when the strides are row-major contiguous.")
      .def("is_pinned", [](nb::handle s) { return prism_tensor_is_pinned(handle_of(s)) != 0; })
      .def("element_size", [](nb::handle s) { return prism_dtype_size(prism_tensor_dtype(handle_of(s))); })
      .def_prop_ro("_handle", [](nb::handle s) { return reinterpret_cast<uintptr_t>(handle_of(s)); })
      .def(
          "_item",
          [](nb::handle s) -> nb::object {
            prism_tensor_t h = handle_of(s);
            check_handle(h);
            prism_dtype dt = prism_tensor_dtype(h);
            if (is_float(dt)) {
              double v = 0;
              check(prism_tensor_item_double(h, &v));
              return nb::float_(v);
            }
            if (is_complex_dt(dt)) {
              if (prism_tensor_numel(h) != 1)
                throw Error(PRISM_ERROR_INVALID_ARGUMENT, "item(): a Tensor with " +
                                                              std::to_string(prism_tensor_numel(h)) +
                                                              " elements cannot be converted to Scalar");
              prism_tensor_t c = nullptr;
              check(prism_to_dtype(h, PRISM_DTYPE_C128, &c));
              Tensor tmp(c);
              double z[2] = {0, 0};
              check(prism_tensor_copy_to_host(c, z, sizeof z));
              return nb::steal(PyComplex_FromDoubles(z[0], z[1]));
            }
            int64_t v = 0;
            check(prism_tensor_item_int64(h, &v));
            if (dt == PRISM_DTYPE_BOOL) return nb::bool_(v != 0);
            return nb::int_(v);
          },
          "The value of a one-element tensor as a Python number.")
      .def("__len__",
           [](nb::handle s) {
             prism_tensor_t h = handle_of(s);
             if (prism_tensor_ndim(h) == 0) throw nb::type_error("len() of a 0-d tensor");
             return size_at(h, 0);
           })
      .def("__hash__", [](nb::handle s) { return reinterpret_cast<Py_ssize_t>(s.ptr()) >> 4; })

      // arithmetic (Note [Python scalars are weak])
      .def("__add__", &binop<add1>, nb::arg("other").none())
      .def("__radd__", &rbinop<add1>, nb::arg("other").none())
      .def("__iadd__", &inplace<add1_>, nb::arg("other").none())
      .def("__sub__", &binop<sub1>, nb::arg("other").none())
      .def("__rsub__", &rbinop<sub1>, nb::arg("other").none())
      .def("__isub__", &inplace<sub1_>, nb::arg("other").none())
      .def("__mul__", &binop<prism_mul>, nb::arg("other").none())
      .def("__rmul__", &rbinop<prism_mul>, nb::arg("other").none())
      .def("__imul__", &inplace<prism_mul_>, nb::arg("other").none())
      .def("__truediv__", &binop<prism_div>, nb::arg("other").none())
      .def("__rtruediv__", &rbinop<prism_div>, nb::arg("other").none())
      .def("__itruediv__", &inplace<prism_div_>, nb::arg("other").none())
      .def("__floordiv__", &binop<floordiv>, nb::arg("other").none())
      .def("__rfloordiv__", &rbinop<floordiv>, nb::arg("other").none())
      .def("__ifloordiv__", &inplace<floordiv_>, nb::arg("other").none())
      .def("__mod__", &binop<prism_remainder>, nb::arg("other").none())
      .def("__rmod__", &rbinop<prism_remainder>, nb::arg("other").none())
      .def("__imod__", &inplace<prism_remainder_>, nb::arg("other").none())
      .def("__pow__", &binop<prism_pow>, nb::arg("other").none())
      .def("__rpow__", &rbinop<prism_pow>, nb::arg("other").none())
      .def("__ipow__", &inplace<prism_pow_>, nb::arg("other").none())
      .def("__matmul__", &binop<matmul_>, nb::arg("other").none())
      .def("__rmatmul__", &rbinop<matmul_>, nb::arg("other").none())
      .def("__and__", &binop<bitwise<prism_logical_and>>, nb::arg("other").none())
      .def("__rand__", &rbinop<bitwise<prism_logical_and>>, nb::arg("other").none())
      .def("__iand__", &inplace<bitwise_<prism_logical_and>>, nb::arg("other").none())
      .def("__or__", &binop<bitwise<prism_logical_or>>, nb::arg("other").none())
      .def("__ror__", &rbinop<bitwise<prism_logical_or>>, nb::arg("other").none())
      .def("__ior__", &inplace<bitwise_<prism_logical_or>>, nb::arg("other").none())
      .def("__xor__", &binop<bitwise<prism_logical_xor>>, nb::arg("other").none())
      .def("__rxor__", &rbinop<bitwise<prism_logical_xor>>, nb::arg("other").none())
      .def("__ixor__", &inplace<bitwise_<prism_logical_xor>>, nb::arg("other").none())
      .def("__invert__",
           [](nb::handle s) {
             prism_tensor_t h = handle_of(s);
             if (prism_tensor_dtype(h) != PRISM_DTYPE_BOOL) {
               throw Error(PRISM_ERROR_TYPE,
                           std::string("~ (bitwise_not): only bool tensors are supported, got ") +
                               prism_dtype_name(prism_tensor_dtype(h)));
             }
             prism_tensor_t out = nullptr;
             check(prism_logical_not(h, &out));
             return wrap(out);
           })
      .def("__neg__", &unop<prism_neg>)
      .def("__pos__", [](nb::handle s) { return nb::borrow(s); })
      .def("__abs__", &unop<prism_abs>)
      .def("__eq__", &binop<prism_eq>, nb::arg("other").none())
      .def("__ne__", &binop<prism_ne>, nb::arg("other").none())
      .def("__lt__", &binop<prism_lt>, nb::arg("other").none())
      .def("__le__", &binop<prism_le>, nb::arg("other").none())
      .def("__gt__", &binop<prism_gt>, nb::arg("other").none())
      .def("__ge__", &binop<prism_ge>, nb::arg("other").none())

      // named binary ops (methods); add/sub take alpha
      .def(
          "add",
          [](nb::handle s, nb::handle other, double alpha) {
            Tensor tmp;
            prism_tensor_t a = handle_of(s);
            prism_tensor_t out = nullptr;
            check(prism_add(a, operand(other, a, tmp, "add"), alpha, &out));
            return wrap(out);
          },
          nb::arg("other").none(), nb::kw_only(), "alpha"_a = 1.0,
          "self + alpha * other (broadcasting, type promotion).")
      .def(
          "add_",
          [](nb::handle s, nb::handle other, double alpha) {
            Tensor tmp;
            prism_tensor_t a = handle_of(s);
            check(prism_add_(a, operand(other, a, tmp, "add_"), alpha));
            return nb::borrow(s);
          },
          nb::arg("other").none(), nb::kw_only(), "alpha"_a = 1.0, "In place: self += alpha * other.")
      .def(
          "sub",
          [](nb::handle s, nb::handle other, double alpha) {
            Tensor tmp;
            prism_tensor_t a = handle_of(s);
            prism_tensor_t out = nullptr;
            check(prism_sub(a, operand(other, a, tmp, "sub"), alpha, &out));
            return wrap(out);
          },
          nb::arg("other").none(), nb::kw_only(), "alpha"_a = 1.0, "self - alpha * other.")
      .def(
          "sub_",
          [](nb::handle s, nb::handle other, double alpha) {
            Tensor tmp;
            prism_tensor_t a = handle_of(s);
            check(prism_sub_(a, operand(other, a, tmp, "sub_"), alpha));
            return nb::borrow(s);
          },
          nb::arg("other").none(), nb::kw_only(), "alpha"_a = 1.0, "In place: self -= alpha * other.")
      .def("mul", &binop<prism_mul>, nb::arg("other").none())
      .def("mul_", &inplace<prism_mul_>, nb::arg("other").none())
      .def("div", &binop<prism_div>, nb::arg("other").none())
      .def("div_", &inplace<prism_div_>, nb::arg("other").none())
      .def("true_divide", &binop<prism_div>, nb::arg("other").none())
      .def("floor_divide", &binop<floordiv>, nb::arg("other").none())
      .def("remainder", &binop<prism_remainder>, nb::arg("other").none())
      .def("remainder_", &inplace<prism_remainder_>, nb::arg("other").none())
      .def("pow", &binop<prism_pow>, nb::arg("exponent").none())
      .def("pow_", &inplace<prism_pow_>, nb::arg("exponent").none())
      .def("maximum", &binop<prism_maximum>, nb::arg("other").none())
      .def("minimum", &binop<prism_minimum>, nb::arg("other").none())
      .def("matmul", &binop<matmul_>, nb::arg("other").none())
      .def("mm", &binop<matmul_>, nb::arg("other").none())
      .def("bmm", &binop<prism_bmm>, nb::arg("other").none())
      .def("eq", &binop<prism_eq>, nb::arg("other").none())
      .def("ne", &binop<prism_ne>, nb::arg("other").none())
      .def("lt", &binop<prism_lt>, nb::arg("other").none())
      .def("le", &binop<prism_le>, nb::arg("other").none())
      .def("gt", &binop<prism_gt>, nb::arg("other").none())
      .def("ge", &binop<prism_ge>, nb::arg("other").none())
      .def("logical_and", &binop<prism_logical_and>, nb::arg("other").none())
      .def("logical_or", &binop<prism_logical_or>, nb::arg("other").none())
      .def("logical_xor", &binop<prism_logical_xor>, nb::arg("other").none())
      .def("logical_not", &unop<prism_logical_not>)
      .def(
          "div_mode",
          [](nb::handle s, nb::handle other, nb::handle mode) {
            Tensor tmp;
            prism_tensor_t a = handle_of(s);
            prism_rounding_mode rm = PRISM_ROUNDING_NONE;
            if (!mode.is_none()) {
              std::string md = nb::cast<std::string>(mode);
              if (md == "floor") {
                rm = PRISM_ROUNDING_FLOOR;
              } else if (md == "trunc") {
                rm = PRISM_ROUNDING_TRUNC;
              } else {
                throw nb::value_error(
                    ("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '" + md +
                     "'")
                        .c_str());
              }
            }
            prism_tensor_t out = nullptr;
            check(prism_div_mode(a, operand(other, a, tmp, "div"), rm, &out));
            return wrap(out);
          },
          nb::arg("other").none(), nb::arg("rounding_mode").none() = nb::none())

      // unary math (and in-place forms)
      PRISM_PY_UNARY(neg) PRISM_PY_UNARY(abs) PRISM_PY_UNARY(sign) PRISM_PY_UNARY(exp) PRISM_PY_UNARY(log)
          PRISM_PY_UNARY(log1p) PRISM_PY_UNARY(expm1) PRISM_PY_UNARY(sqrt) PRISM_PY_UNARY(rsqrt)
              PRISM_PY_UNARY(reciprocal) PRISM_PY_UNARY(square) PRISM_PY_UNARY(sin) PRISM_PY_UNARY(cos)
                  PRISM_PY_UNARY(tanh) PRISM_PY_UNARY(sigmoid) PRISM_PY_UNARY(relu) PRISM_PY_UNARY(gelu)
                      PRISM_PY_UNARY(silu) PRISM_PY_UNARY(floor) PRISM_PY_UNARY(ceil) PRISM_PY_UNARY(round)
      .def(
          "clamp",
          [](nb::handle s, nb::handle lo, nb::handle hi) {
            double a = 0, b = 0;
            if (!lo.is_none()) a = nb::cast<double>(lo);
            if (!hi.is_none()) b = nb::cast<double>(hi);
            prism_tensor_t out = nullptr;
            check(prism_clamp(handle_of(s), lo.is_none() ? nullptr : &a, hi.is_none() ? nullptr : &b, &out));
            return wrap(out);
          },
          nb::arg("min").none() = nb::none(), nb::arg("max").none() = nb::none(),
          "Clamps every element into [min, max].")
      .def(
          "clamp_",
          [](nb::handle s, nb::handle lo, nb::handle hi) {
            double a = 0, b = 0;
            if (!lo.is_none()) a = nb::cast<double>(lo);
            if (!hi.is_none()) b = nb::cast<double>(hi);
            check(prism_clamp_(handle_of(s), lo.is_none() ? nullptr : &a, hi.is_none() ? nullptr : &b));
            return nb::borrow(s);
          },
          nb::arg("min").none() = nb::none(), nb::arg("max").none() = nb::none())

      // reductions
      .def("sum", &reduce<prism_sum>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false, nb::kw_only(),
           nb::arg("dtype").none() = nb::none(), "Sum over `dim` (int or tuple; None: all).")
      .def("prod", &reduce<prism_prod>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false,
           nb::kw_only(), nb::arg("dtype").none() = nb::none())
      .def("mean", &reduce<prism_mean>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false,
           nb::kw_only(), nb::arg("dtype").none() = nb::none())
      .def("amax", &reduce<prism_amax>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false,
           nb::kw_only(), nb::arg("dtype").none() = nb::none())
      .def("amin", &reduce<prism_amin>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false,
           nb::kw_only(), nb::arg("dtype").none() = nb::none())
      .def("all", &reduce<prism_all>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false, nb::kw_only(),
           nb::arg("dtype").none() = nb::none())
      .def("any", &reduce<prism_any>, nb::arg("dim").none() = nb::none(), "keepdim"_a = false, nb::kw_only(),
           nb::arg("dtype").none() = nb::none())
      .def(
          "logsumexp",
          [](nb::handle s, nb::handle dim, bool keepdim) {
            return reduce<prism_logsumexp>(s, dim, keepdim, nb::none());
          },
          "dim"_a, "keepdim"_a = false)
      .def(
          "_var",
          [](nb::handle s, nb::handle dim, int64_t correction, bool keepdim, bool is_std) {
            std::vector<int64_t> d = dims_arg(dim);
            prism_tensor_t out = nullptr;
            auto fn = is_std ? prism_std : prism_var;
            check(fn(handle_of(s), d.empty() ? nullptr : d.data(), static_cast<int32_t>(d.size()), correction,
                     keepdim ? 1 : 0, &out));
            return wrap(out);
          },
          nb::arg("dim").none(), "correction"_a, "keepdim"_a, "is_std"_a)
      .def(
          "norm",
          [](nb::handle s, nb::handle p, nb::handle dim, bool keepdim) {
            double pv = 2.0;
            if (!p.is_none()) {
              if (PyUnicode_Check(p.ptr())) {
                std::string ps = nb::cast<std::string>(p);
                if (ps != "fro") throw nb::value_error("norm: only p='fro' is supported among string norms");
              } else {
                pv = nb::cast<double>(p);
              }
            }
            std::vector<int64_t> d = dims_arg(dim);
            prism_tensor_t out = nullptr;
            check(prism_norm(handle_of(s), pv, d.empty() ? nullptr : d.data(), static_cast<int32_t>(d.size()),
                             keepdim ? 1 : 0, &out));
            return wrap(out);
          },
          nb::arg("p").none() = nb::none(), nb::arg("dim").none() = nb::none(), "keepdim"_a = false,
          "The p-norm over `dim` (None: all).")
      .def(
          "_max_all",
          [](nb::handle s, bool is_min) {
            prism_tensor_t out = nullptr;
            check((is_min ? prism_min : prism_max)(handle_of(s), &out));
            return wrap(out);
          },
          "is_min"_a)
      .def(
          "_max_dim",
          [](nb::handle s, int64_t dim, bool keepdim, bool is_min) {
            prism_tensor_t v = nullptr, i = nullptr;
            check((is_min ? prism_min_dim : prism_max_dim)(handle_of(s), dim, keepdim ? 1 : 0, &v, &i));
            nb::object vo = wrap(v);
            return nb::make_tuple(vo, wrap(i));
          },
          "dim"_a, "keepdim"_a, "is_min"_a)
      .def(
          "argmax",
          [](nb::handle s, nb::handle dim, bool keepdim) {
            prism_tensor_t out = nullptr;
            check(prism_argmax(handle_of(s), dim.is_none() ? PRISM_DIM_NONE : int_list(dim, "dim").at(0),
                               keepdim ? 1 : 0, &out));
            return wrap(out);
          },
          nb::arg("dim").none() = nb::none(), "keepdim"_a = false)
      .def(
          "argmin",
          [](nb::handle s, nb::handle dim, bool keepdim) {
            prism_tensor_t out = nullptr;
            check(prism_argmin(handle_of(s), dim.is_none() ? PRISM_DIM_NONE : int_list(dim, "dim").at(0),
                               keepdim ? 1 : 0, &out));
            return wrap(out);
          },
          nb::arg("dim").none() = nb::none(), "keepdim"_a = false)
      .def(
          "cumsum",
          [](nb::handle s, int64_t dim) {
            prism_tensor_t out = nullptr;
            check(prism_cumsum(handle_of(s), dim, &out));
            return wrap(out);
          },
          "dim"_a)
      .def(
          "cumprod",
          [](nb::handle s, int64_t dim) {
            prism_tensor_t out = nullptr;
            check(prism_cumprod(handle_of(s), dim, &out));
            return wrap(out);
          },
          "dim"_a)
      .def(
          "sort",
          [](nb::handle s, int64_t dim, bool descending, bool stable) {
            prism_tensor_t v = nullptr, i = nullptr;
            check(prism_sort(handle_of(s), dim, descending ? 1 : 0, stable ? 1 : 0, &v, &i));
            nb::object vo = wrap(v);
            return nb::make_tuple(vo, wrap(i));
          },
          "dim"_a = -1, "descending"_a = false, nb::kw_only(), "stable"_a = false)
      .def(
          "topk",
          [](nb::handle s, int64_t k, int64_t dim, bool largest, bool sorted) {
            prism_tensor_t v = nullptr, i = nullptr;
            check(prism_topk(handle_of(s), k, dim, largest ? 1 : 0, sorted ? 1 : 0, &v, &i));
            nb::object vo = wrap(v);
            return nb::make_tuple(vo, wrap(i));
          },
          "k"_a, "dim"_a = -1, "largest"_a = true, "sorted"_a = true)

      // copies and conversions
      .def("clone", &unop<prism_clone>, "A row-major copy (gradients flow back).")
      .def("contiguous", &unop<prism_contiguous>, "Self when contiguous, else a row-major copy.")
      .def("detach", &unop<prism_detach>, "A tensor sharing storage that does not require grad.")
      .def("detach_", &uninplace<prism_detach_>)
      .def(
          "_to_device",
          [](nb::handle s, nb::handle device) {
            prism_tensor_t out = nullptr;
            check(prism_to_device(handle_of(s), device_arg(device).c_str(), &out));
            return wrap(out);
          },
          "device"_a)
      .def(
          "_to_dtype",
          [](nb::handle s, nb::handle dtype) {
            prism_tensor_t out = nullptr;
            check(prism_to_dtype(handle_of(s), dtype_arg(dtype), &out));
            return wrap(out);
          },
          "dtype"_a)
      .def(
          "pin_memory",
          [](nb::handle s, nb::handle device) {
            prism_tensor_t out = nullptr;
            check(prism_pin_memory(handle_of(s), device_arg(device).c_str(), &out));
            return wrap(out);
          },
          nb::arg("device").none() = nb::none())
      .def(
          "copy_",
          [](nb::handle s, nb::handle src, bool) {
            check(prism_copy_(handle_of(s), tensor_arg(src, "copy_: src")));
            return nb::borrow(s);
          },
          "src"_a, "non_blocking"_a = false, "Copies src into self (broadcast, cast, any devices).")
      .def(
          "fill_",
          [](nb::handle s, nb::handle value) {
            double v = 0;
            if (is_tensor(value)) {
              nb::object item = value.attr("item")();
              v = nb::cast<double>(item);
            } else if (scalar_kind(value, v) == ScalarKind::None) {
              throw nb::type_error("fill_: value must be a number");
            }
            check(prism_fill_(handle_of(s), v));
            return nb::borrow(s);
          },
          "value"_a)
      .def("zero_",
           [](nb::handle s) {
             check(prism_fill_(handle_of(s), 0.0));
             return nb::borrow(s);
           })

      // views
      .def("view",
           [](nb::handle s, nb::args a) { return view_sizes(s, sizes_from_args(a, "view"), prism_view); })
      .def("reshape", [](nb::handle s,
                         nb::args a) { return view_sizes(s, sizes_from_args(a, "reshape"), prism_reshape); })
      .def("expand",
           [](nb::handle s, nb::args a) { return view_sizes(s, sizes_from_args(a, "expand"), prism_expand); })
      .def("permute", [](nb::handle s,
                         nb::args a) { return view_sizes(s, sizes_from_args(a, "permute"), prism_permute); })
      .def(
          "transpose",
          [](nb::handle s, int64_t d0, int64_t d1) {
            prism_tensor_t out = nullptr;
            check(prism_transpose(handle_of(s), d0, d1, &out));
            return wrap(out);
          },
          "dim0"_a, "dim1"_a)
      .def("t", &unop<prism_t>)
      .def(
          "squeeze",
          [](nb::handle s, nb::handle dim) {
            prism_tensor_t out = nullptr;
            if (dim.is_none()) {
              check(prism_squeeze(handle_of(s), &out));
              return wrap(out);
            }
            std::vector<int64_t> d = int_list(dim, "dim");
            prism_tensor_t h = handle_of(s);
            int64_t nd = prism_tensor_ndim(h);
            for (int64_t& x : d) {
              if (x < 0) x += nd;
            }
            std::sort(d.rbegin(), d.rend());
            nb::object cur = nb::borrow(s);
            for (int64_t x : d) {
              check(prism_squeeze_dim(handle_of(cur), x, &out));
              cur = wrap(out);
            }
            return cur;
          },
          nb::arg("dim").none() = nb::none())
      .def(
          "unsqueeze",
          [](nb::handle s, int64_t dim) {
            prism_tensor_t out = nullptr;
            check(prism_unsqueeze(handle_of(s), dim, &out));
            return wrap(out);
          },
          "dim"_a)
      .def(
          "flatten",
          [](nb::handle s, int64_t a, int64_t b) {
            prism_tensor_t out = nullptr;
            check(prism_flatten(handle_of(s), a, b, &out));
            return wrap(out);
          },
          "start_dim"_a = 0, "end_dim"_a = -1)
      .def(
          "narrow",
          [](nb::handle s, int64_t dim, int64_t start, int64_t length) {
            prism_tensor_t out = nullptr;
            check(prism_narrow(handle_of(s), dim, start, length, &out));
            return wrap(out);
          },
          "dim"_a, "start"_a, "length"_a)
      .def(
          "select",
          [](nb::handle s, int64_t dim, int64_t index) {
            prism_tensor_t out = nullptr;
            check(prism_select(handle_of(s), dim, index, &out));
            return wrap(out);
          },
          "dim"_a, "index"_a)
      .def(
          "unfold",
          [](nb::handle s, int64_t dim, int64_t size, int64_t step) {
            prism_tensor_t out = nullptr;
            check(prism_unfold(handle_of(s), dim, size, step, &out));
            return wrap(out);
          },
          "dimension"_a, "size"_a, "step"_a)
      .def(
          "diagonal",
          [](nb::handle s, int64_t offset, int64_t d1, int64_t d2) {
            prism_tensor_t out = nullptr;
            check(prism_diagonal(handle_of(s), offset, d1, d2, &out));
            return wrap(out);
          },
          "offset"_a = 0, "dim1"_a = 0, "dim2"_a = 1)
      .def(
          "as_strided",
          [](nb::handle s, nb::handle size, nb::handle stride, int64_t offset) {
            std::vector<int64_t> sz = int_list(size, "size"), st = int_list(stride, "stride");
            if (sz.size() != st.size()) throw nb::value_error("as_strided: size and stride differ in length");
            prism_tensor_t out = nullptr;
            check(prism_as_strided(handle_of(s), sz.data(), st.data(), static_cast<int32_t>(sz.size()),
                                   offset, &out));
            return wrap(out);
          },
          "size"_a, "stride"_a, "storage_offset"_a = 0)
      .def(
          "split",
          [](nb::handle s, nb::handle split_size, int64_t dim) {
            prism_tensor_t h = handle_of(s);
            if (PyLong_Check(split_size.ptr())) {
              int64_t n = nb::cast<int64_t>(split_size);
              return pieces([&](prism_tensor_t* o, size_t cap, size_t* n_out) {
                return prism_split(h, n, dim, o, cap, n_out);
              });
            }
            std::vector<int64_t> sz = int_list(split_size, "split_size");
            return pieces([&](prism_tensor_t* o, size_t cap, size_t* n_out) {
              return prism_split_sizes(h, sz.data(), sz.size(), dim, o, cap, n_out);
            });
          },
          "split_size_or_sections"_a, "dim"_a = 0)
      .def(
          "chunk",
          [](nb::handle s, int64_t chunks, int64_t dim) {
            prism_tensor_t h = handle_of(s);
            return pieces([&](prism_tensor_t* o, size_t cap, size_t* n_out) {
              return prism_chunk(h, chunks, dim, o, cap, n_out);
            });
          },
          "chunks"_a, "dim"_a = 0)

      // indexing
      .def("__getitem__", &getitem, nb::arg("key").none())
      .def("__setitem__", &setitem, nb::arg("key").none(), nb::arg("value").none())
      .def(
          "index_select",
          [](nb::handle s, int64_t dim, nb::handle index) {
            prism_tensor_t out = nullptr;
            check(prism_index_select(handle_of(s), dim, tensor_arg(index, "index_select: index"), &out));
            return wrap(out);
          },
          "dim"_a, "index"_a)
      .def(
          "gather",
          [](nb::handle s, int64_t dim, nb::handle index) {
            prism_tensor_t out = nullptr;
            check(prism_gather(handle_of(s), dim, tensor_arg(index, "gather: index"), &out));
            return wrap(out);
          },
          "dim"_a, "index"_a)
      .def(
          "scatter",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src) {
            prism_tensor_t out = nullptr;
            prism_tensor_t ih = tensor_arg(index, "scatter: index");
            if (is_tensor(src)) {
              check(prism_scatter(handle_of(s), dim, ih, handle_of(src), &out));
            } else {
              check(prism_scatter_value(handle_of(s), dim, ih, nb::cast<double>(src), &out));
            }
            return wrap(out);
          },
          "dim"_a, "index"_a, "src"_a)
      .def(
          "scatter_",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src) {
            prism_tensor_t ih = tensor_arg(index, "scatter_: index");
            if (is_tensor(src)) {
              check(prism_scatter_(handle_of(s), dim, ih, handle_of(src)));
            } else {
              check(prism_scatter_value_(handle_of(s), dim, ih, nb::cast<double>(src)));
            }
            return nb::borrow(s);
          },
          "dim"_a, "index"_a, "src"_a)
      .def(
          "scatter_add",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src) {
            prism_tensor_t out = nullptr;
            check(prism_scatter_add(handle_of(s), dim, tensor_arg(index, "scatter_add: index"),
                                    tensor_arg(src, "scatter_add: src"), &out));
            return wrap(out);
          },
          "dim"_a, "index"_a, "src"_a)
      .def(
          "scatter_add_",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src) {
            check(prism_scatter_add_(handle_of(s), dim, tensor_arg(index, "scatter_add_: index"),
                                     tensor_arg(src, "scatter_add_: src")));
            return nb::borrow(s);
          },
          "dim"_a, "index"_a, "src"_a)
      .def(
          "masked_fill",
          [](nb::handle s, nb::handle mask, nb::handle value) {
            prism_tensor_t out = nullptr;
            prism_tensor_t mh = tensor_arg(mask, "masked_fill: mask");
            if (is_tensor(value)) {
              check(prism_masked_fill_tensor(handle_of(s), mh, handle_of(value), &out));
            } else {
              check(prism_masked_fill(handle_of(s), mh, nb::cast<double>(value), &out));
            }
            return wrap(out);
          },
          "mask"_a, "value"_a)
      .def(
          "masked_fill_",
          [](nb::handle s, nb::handle mask, nb::handle value) {
            prism_tensor_t mh = tensor_arg(mask, "masked_fill_: mask");
            if (is_tensor(value)) {
              check(prism_masked_fill_tensor_(handle_of(s), mh, handle_of(value)));
            } else {
              check(prism_masked_fill_(handle_of(s), mh, nb::cast<double>(value)));
            }
            return nb::borrow(s);
          },
          "mask"_a, "value"_a)
      .def(
          "index_fill",
          [](nb::handle s, int64_t dim, nb::handle index, double value) {
            prism_tensor_t out = nullptr;
            check(prism_index_fill(handle_of(s), dim, tensor_arg(index, "index_fill: index"), value, &out));
            return wrap(out);
          },
          "dim"_a, "index"_a, "value"_a)
      .def(
          "index_fill_",
          [](nb::handle s, int64_t dim, nb::handle index, double value) {
            check(prism_index_fill_(handle_of(s), dim, tensor_arg(index, "index_fill_: index"), value));
            return nb::borrow(s);
          },
          "dim"_a, "index"_a, "value"_a)
      .def(
          "index_add",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src, double alpha) {
            prism_tensor_t out = nullptr;
            check(prism_index_add(handle_of(s), dim, tensor_arg(index, "index_add: index"),
                                  tensor_arg(src, "index_add: source"), alpha, &out));
            return wrap(out);
          },
          "dim"_a, "index"_a, "source"_a, nb::kw_only(), "alpha"_a = 1.0)
      .def(
          "index_add_",
          [](nb::handle s, int64_t dim, nb::handle index, nb::handle src, double alpha) {
            check(prism_index_add_(handle_of(s), dim, tensor_arg(index, "index_add_: index"),
                                   tensor_arg(src, "index_add_: source"), alpha));
            return nb::borrow(s);
          },
          "dim"_a, "index"_a, "source"_a, nb::kw_only(), "alpha"_a = 1.0)
      .def(
          "masked_select",
          [](nb::handle s, nb::handle mask) {
            prism_tensor_t out = nullptr;
            check(prism_masked_select(handle_of(s), tensor_arg(mask, "masked_select: mask"), &out));
            return wrap(out);
          },
          "mask"_a)
      .def(
          "take",
          [](nb::handle s, nb::handle index) {
            prism_tensor_t out = nullptr;
            check(prism_take(handle_of(s), tensor_arg(index, "take: index"), &out));
            return wrap(out);
          },
          "index"_a)
      .def("nonzero", &unop<prism_nonzero>)
      .def(
          "tril",
          [](nb::handle s, int64_t diagonal) {
            prism_tensor_t out = nullptr;
            check(prism_tril(handle_of(s), diagonal, &out));
            return wrap(out);
          },
          "diagonal"_a = 0)
      .def(
          "triu",
          [](nb::handle s, int64_t diagonal) {
            prism_tensor_t out = nullptr;
            check(prism_triu(handle_of(s), diagonal, &out));
            return wrap(out);
          },
          "diagonal"_a = 0)

      // autograd
      .def_prop_rw(
          "requires_grad", [](nb::handle s) { return prism_tensor_requires_grad(handle_of(s)) != 0; },
          [](nb::handle s, bool v) { check(prism_tensor_set_requires_grad(handle_of(s), v ? 1 : 0)); },
          "True when gradients are recorded for this tensor.")
      .def(
          "requires_grad_",
          [](nb::handle s, bool v) {
            check(prism_tensor_set_requires_grad(handle_of(s), v ? 1 : 0));
            return nb::borrow(s);
          },
          "requires_grad"_a = true)
      .def_prop_ro("is_leaf", [](nb::handle s) { return prism_tensor_is_leaf(handle_of(s)) != 0; })
      .def_prop_rw(
          "grad",
          [](nb::handle s) -> nb::object {
            prism_tensor_t g = nullptr;
            check(prism_tensor_grad(handle_of(s), &g));
            if (g == nullptr) return nb::none();
            return wrap(g);
          },
          [](nb::handle s, nb::handle g) {
            check(prism_tensor_set_grad(handle_of(s), opt_handle(g, "grad")));
          },
          nb::arg("value").none(), "The accumulated gradient (None when there is none); settable.")
      .def(
          "_set_data",
          [](nb::handle s, nb::handle other) {
            // t.data = other: t now refers to other's storage, shape, dtype and device (PyTorch rebinds
            // the variable); a leaf keeps requires_grad, and its .grad when it still fits.
            prism_tensor_t src = tensor_arg(other, "data");
            prism_tensor_t old = handle_of(s);
            prism_tensor_t nh = nullptr;
            check(prism_detach(src, &nh));
            Tensor fresh(nh);
            if (prism_tensor_requires_grad(old) != 0 && prism_tensor_is_leaf(old) != 0) {
              check(prism_tensor_set_requires_grad(nh, 1));
              prism_tensor_t g = nullptr;
              if (prism_tensor_grad(old, &g) == PRISM_OK && g != nullptr) {
                Tensor gown(g);
                if (prism_tensor_set_grad(nh, g) != PRISM_OK) prism_clear_error();
              }
            }
            *nb::inst_ptr<Tensor>(s) = std::move(fresh);  // the old handle is released with `fresh`
          },
          "other"_a)
      .def("retain_grad", [](nb::handle s) { check(prism_tensor_retain_grad(handle_of(s))); })
      .def(
          "_grad_fn_info",
          [](nb::handle s) -> nb::object {
            prism_tensor_t h = handle_of(s);
            const char* name = prism_tensor_grad_fn_name(h);
            if (name == nullptr || *name == '\0') return nb::none();
            size_t n = 0;
            std::vector<const char*> names(16);
            check(prism_tensor_grad_fn_next(h, names.data(), names.size(), &n));
            if (n > names.size()) {
              names.resize(n);
              check(prism_tensor_grad_fn_next(h, names.data(), names.size(), &n));
            }
            nb::list next;
            for (size_t i = 0; i < n; ++i) next.append(nb::str(names[i]));
            return nb::make_tuple(nb::str(name), next);
          },
          "(name, [next function names]) of the grad_fn, or None for a leaf.");

  // ---- module-level ops -----------------------------------------------------------------------------
  m.def(
      "cat",
      [](nb::handle tensors, int64_t dim) {
        std::vector<prism_tensor_t> ts = tensor_list(tensors, "cat");
        prism_tensor_t out = nullptr;
        check(prism_cat(ts.data(), ts.size(), dim, &out));
        return wrap(out);
      },
      "tensors"_a, "dim"_a = 0, "Concatenates tensors along dim (dtypes promote).");
  m.def(
      "stack",
      [](nb::handle tensors, int64_t dim) {
        std::vector<prism_tensor_t> ts = tensor_list(tensors, "stack");
        prism_tensor_t out = nullptr;
        check(prism_stack(ts.data(), ts.size(), dim, &out));
        return wrap(out);
      },
      "tensors"_a, "dim"_a = 0, "Stacks same-shaped tensors along a new dim.");
  m.def(
      "where",
      [](nb::handle cond, nb::handle a, nb::handle b) {
        prism_tensor_t c = tensor_arg(cond, "where: condition");
        Tensor ta, tb;
        prism_tensor_t ha = nullptr, hb = nullptr;
        // A scalar branch takes the other branch's dtype (weak scalar), or float32/int64 when both are
        // scalars.
        if (is_tensor(a)) {
          ha = handle_of(a);
          hb = operand(b, ha, tb, "where");
        } else if (is_tensor(b)) {
          hb = handle_of(b);
          ha = operand(a, hb, ta, "where");
        } else {
          double va = 0, vb = 0;
          ScalarKind ka = scalar_kind(a, va), kb = scalar_kind(b, vb);
          if (ka == ScalarKind::None || kb == ScalarKind::None)
            throw nb::type_error("where: expected tensors or numbers");
          prism_dtype dt = (ka == ScalarKind::Float || kb == ScalarKind::Float) ? PRISM_DTYPE_F32
                           : (ka == ScalarKind::Int || kb == ScalarKind::Int)   ? PRISM_DTYPE_I64
                                                                                : PRISM_DTYPE_BOOL;
          check(prism_scalar(va, dt, prism_tensor_device(c), &ha));
          ta = Tensor(ha);
          check(prism_scalar(vb, dt, prism_tensor_device(c), &hb));
          tb = Tensor(hb);
        }
        prism_tensor_t out = nullptr;
        check(prism_where(c, ha, hb, &out));
        return wrap(out);
      },
      "condition"_a, "input"_a, nb::arg("other").none(),
      "condition ? input : other, elementwise (three-way broadcasting).");
  m.def(
      "equal",
      [](nb::handle a, nb::handle b) {
        int32_t r = 0;
        check(prism_equal(tensor_arg(a, "equal"), tensor_arg(b, "equal"), &r));
        return r != 0;
      },
      "input"_a, nb::arg("other").none(), "True when both have the same sizes and equal elements.");
  m.def(
      "allclose",
      [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan) {
        int32_t r = 0;
        check(prism_allclose(tensor_arg(a, "allclose"), tensor_arg(b, "allclose"), rtol, atol,
                             equal_nan ? 1 : 0, &r));
        return r != 0;
      },
      "input"_a, nb::arg("other").none(), "rtol"_a = 1e-5, "atol"_a = 1e-8, "equal_nan"_a = false,
      "True when |input - other| <= atol + rtol * |other| everywhere.");
  m.def(
      "index_put",
      [](nb::handle t, nb::handle indices, nb::handle values, bool accumulate) {
        std::vector<prism_tensor_t> ix = tensor_list(indices, "index_put: indices");
        prism_tensor_t out = nullptr;
        check(prism_index_put(tensor_arg(t, "index_put"), ix.data(), ix.size(),
                              tensor_arg(values, "index_put: values"), accumulate ? 1 : 0, &out));
        return wrap(out);
      },
      "input"_a, "indices"_a, "values"_a, "accumulate"_a = false);
  m.def(
      "_index_put_",
      [](nb::handle t, nb::handle key, nb::handle values, bool accumulate) {
        prism_tensor_t h = tensor_arg(t, "index_put_");
        std::vector<prism_tensor_index> idx;
        std::vector<nb::object> keep;
        parse_key(key, h, idx, keep);
        check(prism_index_put_(h, idx.data(), idx.size(), tensor_arg(values, "index_put_: values"),
                               accumulate ? 1 : 0));
      },
      "input"_a, "key"_a, "values"_a, "accumulate"_a = false);

  // creation primitives (the Python factories parse the PyTorch-style arguments)
  using CreateFn = prism_status (*)(const int64_t*, int32_t, prism_dtype, const char*, prism_tensor_t*);
  auto create = [](CreateFn fn) {
    return [fn](const std::vector<int64_t>& sizes, nb::handle dtype, nb::handle device) {
      prism_tensor_t out = nullptr;
      check(fn(sizes.data(), static_cast<int32_t>(sizes.size()), dtype_arg(dtype), device_arg(device).c_str(),
               &out));
      return wrap(out);
    };
  };
  m.def("_empty", create(prism_empty), "sizes"_a, "dtype"_a, "device"_a);
  m.def("_zeros", create(prism_zeros), "sizes"_a, "dtype"_a, "device"_a);
  m.def("_ones", create(prism_ones), "sizes"_a, "dtype"_a, "device"_a);
  m.def("_rand", create(prism_rand), "sizes"_a, "dtype"_a, "device"_a);
  m.def("_randn", create(prism_randn), "sizes"_a, "dtype"_a, "device"_a);
  m.def(
      "_full",
      [](const std::vector<int64_t>& sizes, double value, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_full(sizes.data(), static_cast<int32_t>(sizes.size()), value, dtype_arg(dtype),
                         device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "sizes"_a, "value"_a, "dtype"_a, "device"_a);
  m.def(
      "_scalar",
      [](double value, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_scalar(value, dtype_arg(dtype), device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "value"_a, "dtype"_a, "device"_a);
  m.def(
      "_eye",
      [](int64_t n, int64_t mm, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_eye(n, mm, dtype_arg(dtype), device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "n"_a, "m"_a, "dtype"_a, "device"_a);
  m.def(
      "_arange",
      [](double start, double end, double step, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_arange(start, end, step, dtype_arg(dtype), device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "start"_a, "end"_a, "step"_a, "dtype"_a, "device"_a);
  m.def(
      "_linspace",
      [](double start, double end, int64_t steps, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_linspace(start, end, steps, dtype_arg(dtype), device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "start"_a, "end"_a, "steps"_a, "dtype"_a, "device"_a);
  m.def(
      "_randint",
      [](int64_t low, int64_t high, const std::vector<int64_t>& sizes, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_randint(low, high, sizes.data(), static_cast<int32_t>(sizes.size()), dtype_arg(dtype),
                            device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "low"_a, "high"_a, "sizes"_a, "dtype"_a, "device"_a);
  m.def(
      "_randperm",
      [](int64_t n, nb::handle dtype, nb::handle device) {
        prism_tensor_t out = nullptr;
        check(prism_randperm(n, dtype_arg(dtype), device_arg(device).c_str(), &out));
        return wrap(out);
      },
      "n"_a, "dtype"_a, "device"_a);
  m.def(
      "bernoulli",
      [](nb::handle p) {
        prism_tensor_t out = nullptr;
        check(prism_bernoulli(tensor_arg(p, "bernoulli"), &out));
        return wrap(out);
      },
      "input"_a, "1 with probability p[i], elementwise.");
  m.def(
      "_make_subclass",
      [](nb::handle cls, nb::handle data, bool requires_grad) {
        if (!PyType_Check(cls.ptr()) ||
            !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls.ptr()), g_tensor_base)) {
          throw nb::type_error("_make_subclass: cls must be a subclass of prism.Tensor");
        }
        prism_tensor_t out = nullptr;
        check(prism_detach(tensor_arg(data, "_make_subclass: data"), &out));
        nb::object o = wrap_as(cls, out);
        if (requires_grad) check(prism_tensor_set_requires_grad(out, 1));
        return o;
      },
      "cls"_a, "data"_a, "requires_grad"_a = false,
      "An instance of cls sharing data's storage: a leaf that requires grad when asked.");
}

}  // namespace prism_py
