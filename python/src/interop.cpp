// interop.cpp — Python data in and out of prism tensors: nested lists, item/tolist, NumPy (zero copy) and
// DLPack.
#include "tensor.h"

#include <dlpack/dlpack.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>
#include <memory>

using namespace nb::literals;

namespace prism_py {
namespace {

bool is_float(prism_dtype d) {
  return d == PRISM_DTYPE_F16 || d == PRISM_DTYPE_BF16 || d == PRISM_DTYPE_F32 || d == PRISM_DTYPE_F64;
}

// ---- nested Python data -> tensor -------------------------------------------------------------------

enum Kind { kBool = 0, kInt = 1, kFloat = 2, kComplex = 3 };

bool is_complex(prism_dtype d) {
  return d == PRISM_DTYPE_C64 || d == PRISM_DTYPE_C128;
}

struct Flat {
  std::vector<int64_t> shape;
  std::vector<double> d;
  std::vector<double> im;  // imaginary parts (0 for real elements)
  std::vector<int64_t> i;
  int kind = kBool;
  int leaf_depth = -1;
};

[[noreturn]] void bad_data(const std::string& why) {
  throw nb::value_error(why.c_str());
}

void walk(nb::handle o, size_t depth, Flat& f) {
  PyObject* p = o.ptr();
  if (PyList_Check(p) || PyTuple_Check(p)) {
    if (f.leaf_depth >= 0 && depth >= static_cast<size_t>(f.leaf_depth)) {
      bad_data(
          "tensor: nested sequences of inconsistent depth (a sequence where a number was expected at dim " +
          std::to_string(depth) + ")");
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(p);
    if (f.shape.size() == depth) {
      if (depth >= PRISM_MAX_DIMS) bad_data("tensor: more than 16 nested levels");
      f.shape.push_back(n);
    } else if (f.shape[depth] != n) {
      bad_data("tensor: expected sequence of length " + std::to_string(f.shape[depth]) + " at dim " +
               std::to_string(depth) + " (got " + std::to_string(n) + ")");
    }
    PyObject** items = PySequence_Fast_ITEMS(p);
    for (Py_ssize_t k = 0; k < n; ++k) walk(items[k], depth + 1, f);
    if (n == 0 && f.leaf_depth < 0 && f.shape.size() == depth + 1) {
      // an empty innermost list: its depth is the leaf depth
    }
    return;
  }
  if (f.leaf_depth < 0) {
    f.leaf_depth = static_cast<int>(depth);
    if (f.shape.size() > depth) bad_data("tensor: nested sequences of inconsistent depth");
  } else if (static_cast<size_t>(f.leaf_depth) != depth) {
    bad_data(
        "tensor: nested sequences of inconsistent depth (a number where a sequence was expected at dim " +
        std::to_string(depth) + ")");
  }
  if (PyBool_Check(p)) {
    f.d.push_back(p == Py_True ? 1.0 : 0.0);
    f.im.push_back(0.0);
    f.i.push_back(p == Py_True ? 1 : 0);
    return;
  }
  if (PyComplex_Check(p)) {
    f.kind = kComplex;
    f.d.push_back(PyComplex_RealAsDouble(p));
    f.im.push_back(PyComplex_ImagAsDouble(p));
    f.i.push_back(0);
    return;
  }
  if (PyLong_Check(p)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow != 0) {
      PyErr_SetString(PyExc_OverflowError, "tensor: Python int too large to convert to int64");
      throw nb::python_error();
    }
    f.kind = std::max(f.kind, static_cast<int>(kInt));
    f.d.push_back(static_cast<double>(v));
    f.im.push_back(0.0);
    f.i.push_back(v);
    return;
  }
  if (PyFloat_Check(p)) {
    f.kind = std::max(f.kind, static_cast<int>(kFloat));
    f.d.push_back(PyFloat_AS_DOUBLE(p));
    f.im.push_back(0.0);
    f.i.push_back(0);
    return;
  }
  if (is_tensor(o)) {
    prism_tensor_t h = handle_of(o);
    if (prism_tensor_numel(h) != 1 || prism_tensor_ndim(h) != 0) {
      bad_data("tensor: only 0-d tensors can be elements of nested data (use prism.stack for tensors)");
    }
    prism_dtype dt = prism_tensor_dtype(h);
    if (is_complex(dt)) {
      prism_tensor_t c = nullptr;
      check(prism_to_dtype(h, PRISM_DTYPE_C128, &c));
      Tensor tmp(c);
      double z[2] = {0, 0};
      check(prism_tensor_copy_to_host(c, z, sizeof z));
      f.kind = kComplex;
      f.d.push_back(z[0]);
      f.im.push_back(z[1]);
      f.i.push_back(0);
    } else if (is_float(dt)) {
      double v = 0;
      check(prism_tensor_item_double(h, &v));
      f.kind = std::max(f.kind, static_cast<int>(kFloat));
      f.d.push_back(v);
      f.im.push_back(0.0);
      f.i.push_back(0);
    } else {
      int64_t v = 0;
      check(prism_tensor_item_int64(h, &v));
      if (dt != PRISM_DTYPE_BOOL) f.kind = std::max(f.kind, static_cast<int>(kInt));
      f.d.push_back(static_cast<double>(v));
      f.im.push_back(0.0);
      f.i.push_back(v);
    }
    return;
  }
  if (nb::hasattr(o, "dtype") && nb::hasattr(o, "item")) {  // NumPy scalars
    walk(o.attr("item")(), depth, f);
    return;
  }
  throw nb::type_error((std::string("tensor: could not convert an element of type ") +
                        nb::type_name(o.type()).c_str() +
                        " (expected numbers or nested sequences of numbers)")
                           .c_str());
}

nb::object from_nested(nb::handle data, nb::handle dtype, nb::handle device) {
  Flat f;
  walk(data, 0, f);
  if (f.leaf_depth < 0) f.kind = kFloat;  // only empty lists: float32 as in PyTorch
  prism_dtype target = !dtype.is_none()     ? dtype_arg(dtype)
                       : f.kind == kComplex ? PRISM_DTYPE_C64
                       : f.kind == kFloat   ? PRISM_DTYPE_F32
                       : f.kind == kInt     ? PRISM_DTYPE_I64
                                            : PRISM_DTYPE_BOOL;
  std::string dev = device_arg(device);
  int32_t nd = static_cast<int32_t>(f.shape.size());
  prism_tensor_t t = nullptr;
  if (f.kind == kComplex || is_complex(target)) {
    // interleaved (real, imaginary) complex128, then cast (a complex value into a real dtype keeps the real
    // part)
    std::vector<double> z(2 * f.d.size());
    for (size_t k = 0; k < f.d.size(); ++k) z[2 * k] = f.d[k], z[2 * k + 1] = f.im[k];
    check(prism_from_data(z.data(), f.shape.data(), nd, PRISM_DTYPE_C128,
                          target == PRISM_DTYPE_C128 ? dev.c_str() : "cpu", &t));
    if (target == PRISM_DTYPE_C128) return wrap(t);
  } else if (f.kind == kFloat || is_float(target)) {
    if (target == PRISM_DTYPE_F64) {
      check(prism_from_data(f.d.data(), f.shape.data(), nd, PRISM_DTYPE_F64, dev.c_str(), &t));
      return wrap(t);
    }
    if (!is_float(target)) {
      // float data into an integer dtype: truncation toward zero, as a cast does
    }
    std::vector<float> fl;
    if (target == PRISM_DTYPE_F32) {
      fl.assign(f.d.begin(), f.d.end());
      check(prism_from_data(fl.data(), f.shape.data(), nd, PRISM_DTYPE_F32, dev.c_str(), &t));
      return wrap(t);
    }
    check(prism_from_data(f.d.data(), f.shape.data(), nd, PRISM_DTYPE_F64, "cpu", &t));
  } else if (target == PRISM_DTYPE_BOOL || f.kind == kBool) {
    std::vector<uint8_t> b(f.i.size());
    for (size_t k = 0; k < b.size(); ++k) b[k] = f.i[k] != 0 ? 1 : 0;
    check(prism_from_data(b.data(), f.shape.data(), nd, PRISM_DTYPE_BOOL,
                          target == PRISM_DTYPE_BOOL ? dev.c_str() : "cpu", &t));
    if (target == PRISM_DTYPE_BOOL) return wrap(t);
  } else {
    check(prism_from_data(f.i.data(), f.shape.data(), nd, PRISM_DTYPE_I64,
                          target == PRISM_DTYPE_I64 ? dev.c_str() : "cpu", &t));
    if (target == PRISM_DTYPE_I64) return wrap(t);
  }
  Tensor tmp(t);
  prism_tensor_t c = nullptr;
  check(prism_to_dtype(tmp.h, target, &c));
  Tensor cast(c);
  prism_tensor_t moved = nullptr;
  check(prism_to_device(cast.h, dev.c_str(), &moved));
  return wrap(moved);
}

// ---- tensor -> nested lists ------------------------------------------------------------------------

template <typename T>
nb::object build(const T* data, const std::vector<int64_t>& s, size_t dim, size_t& pos, prism_dtype dt) {
  if (dim == s.size()) {
    if (is_complex(dt)) {  // T is the part type; two per element
      const double re = static_cast<double>(data[pos]), im = static_cast<double>(data[pos + 1]);
      pos += 2;
      return nb::steal(PyComplex_FromDoubles(re, im));
    }
    T v = data[pos++];
    if (dt == PRISM_DTYPE_BOOL) return nb::bool_(v != 0);
    if constexpr (std::is_floating_point_v<T>) {
      return nb::float_(static_cast<double>(v));
    } else {
      return nb::int_(static_cast<int64_t>(v));
    }
  }
  auto n = static_cast<Py_ssize_t>(s[dim]);
  nb::object l = nb::steal(PyList_New(n));
  for (Py_ssize_t k = 0; k < n; ++k)
    PyList_SET_ITEM(l.ptr(), k, build(data, s, dim + 1, pos, dt).release().ptr());
  return l;
}

nb::object tolist(nb::handle self) {
  prism_tensor_t h = handle_of(self);
  if (h == nullptr) throw Error(PRISM_ERROR_INVALID_ARGUMENT, "tolist: the tensor was released");
  Tensor tmp;
  prism_dtype dt = prism_tensor_dtype(h);
  if (dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16) {
    prism_tensor_t c = nullptr;
    check(prism_to_dtype(h, PRISM_DTYPE_F32, &c));
    tmp = Tensor(c);
    h = c;
    dt = PRISM_DTYPE_F32;
  }
  int32_t nd = prism_tensor_ndim(h);
  std::vector<int64_t> s(static_cast<size_t>(nd));
  if (nd > 0) check(prism_tensor_sizes(h, s.data(), nd));
  size_t n = static_cast<size_t>(prism_tensor_numel(h));
  size_t es = prism_dtype_size(dt);
  std::vector<uint64_t> buf((n * es + 7) / 8 + 1);
  check(prism_tensor_copy_to_host(h, buf.data(), n * es));
  size_t pos = 0;
  const void* p = buf.data();
  switch (dt) {
    case PRISM_DTYPE_BOOL:
    case PRISM_DTYPE_U8:
      return build(static_cast<const uint8_t*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_I8:
      return build(static_cast<const int8_t*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_I16:
      return build(static_cast<const int16_t*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_I32:
      return build(static_cast<const int32_t*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_I64:
      return build(static_cast<const int64_t*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_F32:
      return build(static_cast<const float*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_F64:
    case PRISM_DTYPE_C128:
      return build(static_cast<const double*>(p), s, 0, pos, dt);
    case PRISM_DTYPE_C64:
      return build(static_cast<const float*>(p), s, 0, pos, dt);
    default:
      throw Error(PRISM_ERROR_TYPE, "tolist: unsupported dtype");
  }
}

// ---- NumPy -----------------------------------------------------------------------------------------

// Note [NumPy memory sharing]
// ---------------------------
// t.numpy() exports the tensor through prism_to_dlpack (the C ABI's only way
// to reach host memory) and hands NumPy a writable ndarray over the same
// bytes whose owner capsule calls the DLPack deleter, which drops the
// reference to the tensor's storage. prism.from_numpy(a) wraps the array's
// buffer with prism_from_blob; the deleter context is a strong reference to
// the ndarray, dropped with the GIL held when the last tensor view goes away
// (skipped when the interpreter is already finalising, as the memory then
// goes away with the process).
void numpy_deleter(void*, void* ctx) {
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
  PyGILState_STATE st = PyGILState_Ensure();
  Py_DECREF(static_cast<PyObject*>(ctx));
  PyGILState_Release(st);
}

prism_dtype from_nb_dtype(nb::dlpack::dtype d) {
  using nb::dlpack::dtype_code;
  auto code = static_cast<dtype_code>(d.code);
  if (d.lanes == 1) {
    if (code == dtype_code::Bool && d.bits == 8) return PRISM_DTYPE_BOOL;
    if (code == dtype_code::UInt && d.bits == 8) return PRISM_DTYPE_U8;
    if (code == dtype_code::Int) {
      switch (d.bits) {
        case 8:
          return PRISM_DTYPE_I8;
        case 16:
          return PRISM_DTYPE_I16;
        case 32:
          return PRISM_DTYPE_I32;
        case 64:
          return PRISM_DTYPE_I64;
        default:
          break;
      }
    }
    if (code == dtype_code::Float) {
      if (d.bits == 16) return PRISM_DTYPE_F16;
      if (d.bits == 32) return PRISM_DTYPE_F32;
      if (d.bits == 64) return PRISM_DTYPE_F64;
    }
    if (code == dtype_code::Bfloat && d.bits == 16) return PRISM_DTYPE_BF16;
    if (code == dtype_code::Complex && d.bits == 64) return PRISM_DTYPE_C64;
    if (code == dtype_code::Complex && d.bits == 128) return PRISM_DTYPE_C128;
  }
  throw Error(PRISM_ERROR_TYPE, "from_numpy: unsupported array dtype (code " + std::to_string(d.code) + ", " +
                                    std::to_string(d.bits) +
                                    " bits); Prism has bool, uint8, int8/16/32/64, "
                                    "float16, bfloat16, float32, float64, complex64 and complex128");
}

nb::dlpack::dtype to_nb_dtype(prism_dtype dt) {
  using nb::dlpack::dtype_code;
  auto mk = [](dtype_code c, uint8_t bits) {
    nb::dlpack::dtype d;
    d.code = static_cast<uint8_t>(c);
    d.bits = bits;
    d.lanes = 1;
    return d;
  };
  switch (dt) {
    case PRISM_DTYPE_BOOL:
      return mk(dtype_code::Bool, 8);
    case PRISM_DTYPE_U8:
      return mk(dtype_code::UInt, 8);
    case PRISM_DTYPE_I8:
      return mk(dtype_code::Int, 8);
    case PRISM_DTYPE_I16:
      return mk(dtype_code::Int, 16);
    case PRISM_DTYPE_I32:
      return mk(dtype_code::Int, 32);
    case PRISM_DTYPE_I64:
      return mk(dtype_code::Int, 64);
    case PRISM_DTYPE_F16:
      return mk(dtype_code::Float, 16);
    case PRISM_DTYPE_F32:
      return mk(dtype_code::Float, 32);
    case PRISM_DTYPE_F64:
      return mk(dtype_code::Float, 64);
    case PRISM_DTYPE_C64:
      return mk(dtype_code::Complex, 64);
    case PRISM_DTYPE_C128:
      return mk(dtype_code::Complex, 128);
    default:
      throw Error(PRISM_ERROR_TYPE, std::string("numpy(): NumPy has no ") + prism_dtype_name(dt) +
                                        "; convert first, e.g. t.float().numpy()");
  }
}

nb::object to_numpy(nb::handle self) {
  prism_tensor_t h = handle_of(self);
  if (h == nullptr) throw Error(PRISM_ERROR_INVALID_ARGUMENT, "numpy: the tensor was released");
  if (prism_tensor_requires_grad(h) != 0) {
    throw Error(PRISM_ERROR_INVALID_ARGUMENT,
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  }
  nb::dlpack::dtype nd = to_nb_dtype(prism_tensor_dtype(h));
  DLManagedTensor* mt = nullptr;
  prism_status s = prism_to_dlpack(h, &mt);
  if (s != PRISM_OK) {
    throw Error(PRISM_ERROR_TYPE,
                std::string("can't convert ") + prism_tensor_device(h) +
                    " device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                    "memory first. (" +
                    prism_last_error() + ")");
  }
  nb::capsule owner(mt, [](void* p) noexcept {
    auto* m = static_cast<DLManagedTensor*>(p);
    if (m->deleter != nullptr) m->deleter(m);
  });
  const DLTensor& dl = mt->dl_tensor;
  std::vector<size_t> shape(static_cast<size_t>(dl.ndim));
  std::vector<int64_t> strides(static_cast<size_t>(dl.ndim));
  for (int i = 0; i < dl.ndim; ++i) {
    shape[i] = static_cast<size_t>(dl.shape[i]);
    strides[i] = dl.strides[i];
  }
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  nb::ndarray<nb::numpy> arr(data, static_cast<size_t>(dl.ndim), shape.data(), owner, strides.data(), nd);
  return nb::cast(arr, nb::rv_policy::reference);
}

nb::object from_numpy(nb::handle a) {
  if (is_tensor(a) || !nb::hasattr(a, "__array_interface__") || !nb::hasattr(a, "strides")) {
    throw nb::type_error(
        (std::string("expected np.ndarray (got ") + nb::type_name(a.type()).c_str() + ")").c_str());
  }
  nb::ndarray<nb::ro, nb::device::cpu> arr;
  if (!nb::try_cast(a, arr, false)) {
    throw nb::type_error("from_numpy: the array's dtype or memory layout is not supported");
  }
  prism_dtype dt = from_nb_dtype(arr.dtype());
  size_t nd = arr.ndim();
  std::vector<int64_t> sizes(nd), strides(nd);
  for (size_t i = 0; i < nd; ++i) {
    sizes[i] = static_cast<int64_t>(arr.shape(i));
    strides[i] = arr.stride(i);
  }
  prism_tensor_t out = nullptr;
  a.inc_ref();
  prism_status s = prism_from_blob(const_cast<void*>(arr.data()), sizes.data(), strides.data(),
                                   static_cast<int32_t>(nd), dt, numpy_deleter, a.ptr(), &out);
  if (s != PRISM_OK) {
    a.dec_ref();
    throw_status(s);
  }
  return wrap(out);
}

// ---- DLPack ----------------------------------------------------------------------------------------

// DLPack 1.0's versioned managed tensor (dlpack.h >= 1.0); Debian 12 ships
// DLPack 0.6, so the layout is declared here. DLTensor is unchanged.
struct DLPackVersion1 {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned1 {
  DLPackVersion1 version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned1* self);
  uint64_t flags;
  DLTensor dl_tensor;
};
constexpr uint64_t kDLFlagReadOnly = 1ULL << 0;
constexpr uint64_t kDLFlagIsCopied = 1ULL << 1;
constexpr int kDLCPUType = 1;
constexpr int kDLCUDAHostType = 3;

void legacy_capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, "dltensor") == 0) return;  // consumed (renamed) or not ours
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
  if (m != nullptr && m->deleter != nullptr) m->deleter(m);
}

void versioned_capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, "dltensor_versioned") == 0) return;
  auto* m = static_cast<DLManagedTensorVersioned1*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
  if (m != nullptr && m->deleter != nullptr) m->deleter(m);
}

void versioned_deleter(DLManagedTensorVersioned1* v) {
  auto* inner = static_cast<DLManagedTensor*>(v->manager_ctx);
  if (inner != nullptr && inner->deleter != nullptr) inner->deleter(inner);
  delete v;
}

nb::object dlpack_export(nb::handle self, nb::handle stream, nb::handle max_version, nb::handle dl_device,
                         nb::handle copy) {
  prism_tensor_t h = handle_of(self);
  if (h == nullptr) throw Error(PRISM_ERROR_INVALID_ARGUMENT, "__dlpack__: the tensor was released");
  if (!stream.is_none() &&
      !(PyLong_Check(stream.ptr()) && (nb::cast<int64_t>(stream) == -1 || nb::cast<int64_t>(stream) == 0 ||
                                       nb::cast<int64_t>(stream) == 1))) {
    throw nb::value_error("__dlpack__: stream must be None (or -1, 0, 1) for host tensors");
  }
  bool want_copy = !copy.is_none() && nb::cast<bool>(copy);
  bool no_copy = !copy.is_none() && !nb::cast<bool>(copy);
  Tensor tmp;
  prism_tensor_t src = h;
  if (!dl_device.is_none()) {
    nb::tuple dd = nb::cast<nb::tuple>(dl_device);
    int type = nb::cast<int>(dd[0]);
    if (type != kDLCPUType) {
      PyErr_SetString(PyExc_BufferError, "__dlpack__: only dl_device=(kDLCPU, 0) is supported");
      throw nb::python_error();
    }
  }
  DLManagedTensor* mt = nullptr;
  if (!want_copy && prism_to_dlpack(src, &mt) != PRISM_OK) {
    // not host-addressable: a copy to the host is needed
    if (no_copy) {
      PyErr_SetString(PyExc_BufferError, (std::string("__dlpack__: ") + prism_last_error()).c_str());
      throw nb::python_error();
    }
    want_copy = true;
  }
  if (want_copy) {
    prism_tensor_t c = nullptr;
    check(prism_to_device(h, "cpu", &c));
    Tensor moved(c);
    prism_tensor_t cl = nullptr;
    if (std::strcmp(prism_tensor_device(h), prism_tensor_device(c)) == 0) {
      check(prism_clone(c, &cl));
    } else {
      cl = moved.release();
    }
    tmp = Tensor(cl);
    check(prism_to_dlpack(tmp.h, &mt));
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    nb::tuple mv = nb::cast<nb::tuple>(max_version);
    versioned = nb::cast<int>(mv[0]) >= 1;
  }
  if (!versioned) {
    PyObject* cap = PyCapsule_New(mt, "dltensor", legacy_capsule_destructor);
    if (cap == nullptr) {
      mt->deleter(mt);
      throw nb::python_error();
    }
    return nb::steal(cap);
  }
  auto* v = new DLManagedTensorVersioned1{};
  v->version = {1, 0};
  v->manager_ctx = mt;
  v->deleter = versioned_deleter;
  v->flags = want_copy ? kDLFlagIsCopied : 0;
  v->dl_tensor = mt->dl_tensor;
  PyObject* cap = PyCapsule_New(v, "dltensor_versioned", versioned_capsule_destructor);
  if (cap == nullptr) {
    versioned_deleter(v);
    throw nb::python_error();
  }
  return nb::steal(cap);
}

// An unversioned wrapper around a versioned tensor (the C ABI imports DLManagedTensor).
struct VersionedImport {
  DLManagedTensor managed;
  DLManagedTensorVersioned1* v;
};

void versioned_import_deleter(DLManagedTensor* m) {
  auto* w = static_cast<VersionedImport*>(m->manager_ctx);
  if (w->v->deleter != nullptr) w->v->deleter(w->v);
  delete w;
}

nb::object import_capsule(nb::handle cap) {
  prism_tensor_t out = nullptr;
  if (PyCapsule_IsValid(cap.ptr(), "dltensor") != 0) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
    check(prism_from_dlpack(m, &out));
    PyCapsule_SetName(cap.ptr(), "used_dltensor");
    return wrap(out);
  }
  if (PyCapsule_IsValid(cap.ptr(), "dltensor_versioned") != 0) {
    auto* v = static_cast<DLManagedTensorVersioned1*>(PyCapsule_GetPointer(cap.ptr(), "dltensor_versioned"));
    if (v->version.major != 1) {
      PyErr_SetString(
          PyExc_BufferError,
          ("from_dlpack: unsupported DLPack major version " + std::to_string(v->version.major)).c_str());
      throw nb::python_error();
    }
    auto* w = new VersionedImport{};
    w->v = v;
    w->managed.dl_tensor = v->dl_tensor;
    w->managed.manager_ctx = w;
    w->managed.deleter = versioned_import_deleter;
    prism_status s = prism_from_dlpack(&w->managed, &out);
    if (s != PRISM_OK) {
      delete w;  // the capsule still owns v
      throw_status(s);
    }
    PyCapsule_SetName(cap.ptr(), "used_dltensor_versioned");
    return wrap(out);
  }
  throw nb::type_error("from_dlpack: expected an object with __dlpack__ or an unused 'dltensor' capsule");
}

nb::object import_and_move(nb::object t, nb::handle device) {
  if (device.is_none()) return t;
  std::string d = device_arg(device);
  prism_tensor_t out = nullptr;
  check(prism_to_device(handle_of(t), d.c_str(), &out));
  return wrap(out);
}

nb::object from_dlpack(nb::handle x, nb::handle device, nb::handle copy) {
  if (PyCapsule_CheckExact(x.ptr())) return import_capsule(x);
  if (!nb::hasattr(x, "__dlpack__")) {
    throw nb::type_error((std::string("from_dlpack: expected an object with __dlpack__, got ") +
                          nb::type_name(x.type()).c_str())
                             .c_str());
  }
  if (nb::hasattr(x, "__dlpack_device__")) {
    nb::tuple dev = nb::cast<nb::tuple>(x.attr("__dlpack_device__")());
    int type = nb::cast<int>(dev[0]);
    if (type != kDLCPUType && type != kDLCUDAHostType) {
      PyErr_SetString(
          PyExc_BufferError,
          ("from_dlpack: only host memory can be imported (DLPack device type " + std::to_string(type) + ")")
              .c_str());
      throw nb::python_error();
    }
  }
  nb::object cap;
  bool ours = is_tensor(x);
  // Producers whose __dlpack__ rejected max_version once (torch 1.13, numpy 1.24) are asked the old way.
  static std::vector<PyTypeObject*> legacy;
  if (!ours && copy.is_none() && std::find(legacy.begin(), legacy.end(), Py_TYPE(x.ptr())) != legacy.end()) {
    return import_and_move(import_capsule(x.attr("__dlpack__")()), device);
  }
  try {
    if (!copy.is_none()) {
      cap = x.attr("__dlpack__")("max_version"_a = nb::make_tuple(1, 0), "copy"_a = copy);
    } else {
      cap = x.attr("__dlpack__")("max_version"_a = nb::make_tuple(1, 0));
    }
  } catch (nb::python_error& e) {
    if (ours || !e.matches(PyExc_TypeError)) throw;
    cap = x.attr("__dlpack__")();  // a producer predating DLPack 1.0 (torch 1.13, numpy 1.24)
    legacy.push_back(Py_TYPE(x.ptr()));
  }
  return import_and_move(import_capsule(cap), device);
}

}  // namespace

void register_interop(nb::module_& m) {
  nb::handle cls = nb::handle(reinterpret_cast<PyObject*>(g_tensor_base));
  cls.attr("tolist") = nb::cpp_function(&tolist, nb::is_method(), nb::name("tolist"), nb::scope(cls),
                                        "The elements as nested Python lists (a number for a 0-d tensor).");
  cls.attr("numpy") = nb::cpp_function(&to_numpy, nb::is_method(), nb::name("numpy"), nb::scope(cls),
                                       "A NumPy array sharing this CPU tensor's memory (no copy).");
  cls.attr("__dlpack__") =
      nb::cpp_function(&dlpack_export, nb::is_method(), nb::name("__dlpack__"), nb::scope(cls), nb::kw_only(),
                       nb::arg("stream").none() = nb::none(), nb::arg("max_version").none() = nb::none(),
                       nb::arg("dl_device").none() = nb::none(), nb::arg("copy").none() = nb::none(),
                       "A DLPack capsule viewing this tensor: unversioned without max_version, DLPack 1.0 "
                       "when max_version >= (1, 0).");
  cls.attr("__dlpack_device__") = nb::cpp_function(
      [](nb::handle s) {
        prism_tensor_t h = handle_of(s);
        DLManagedTensor* mt = nullptr;
        if (prism_to_dlpack(h, &mt) == PRISM_OK) {
          mt->deleter(mt);
          return nb::make_tuple(kDLCPUType, 0);
        }
        prism_clear_error();
        return nb::make_tuple(14 /* kDLExtDev */, 0);
      },
      nb::is_method(), nb::name("__dlpack_device__"), nb::scope(cls), "(DLPack device type, index).");
  m.def("from_numpy", &from_numpy, "ndarray"_a, "A CPU tensor sharing the NumPy array's memory (no copy).");
  m.def("from_dlpack", &from_dlpack, "ext_tensor"_a, nb::kw_only(), nb::arg("device").none() = nb::none(),
        nb::arg("copy").none() = nb::none(),
        "A tensor viewing the memory of any object with __dlpack__ (or a DLPack capsule), without copying.");
  m.def("_tensor_from_data", &from_nested, "data"_a, nb::arg("dtype").none() = nb::none(),
        nb::arg("device").none() = nb::none());
}

}  // namespace prism_py
