// linalg.cpp — matmul (torch.matmul's 1-D/N-D rules) on the bmm kernel, and
// cat/stack/split/chunk/equal/allclose.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd/autograd.hpp"
#include "core/dispatch/autocast.hpp"
#include "core/dispatch/ops.hpp"
#include "core/plugin/runtime.hpp"

namespace prism {

namespace {
void check_matmul_dtypes(const char* op, const Tensor& a, const Tensor& b) {
  common_device(op, {a.get(), b.get()});
  PRISM_CHECK(a->dtype == b->dtype, INVALID_ARGUMENT, op,
              ": expected both operands to have the same dtype, but got ", dtype_name(a->dtype), " and ",
              dtype_name(b->dtype));
  PRISM_CHECK(a->dtype != PRISM_DTYPE_BOOL, INVALID_ARGUMENT, op, ": not implemented for bool tensors");
}
}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (amp::Autocast ac{"bmm", {&a, &b}}) return bmm(ac[0], ac[1]);  // Note [Autocast]
  if (autograd::should_record({&a, &b}))
    return autograd::recorded("bmm", {a, b}, {}, [&] { return bmm(a, b); });
  check_matmul_dtypes("bmm", a, b);
  PRISM_CHECK(a->dim() == 3 && b->dim() == 3, INVALID_ARGUMENT, "bmm: expected 3-D tensors, but got ",
              describe(a), " and ", describe(b));
  PRISM_CHECK(a->sizes[0] == b->sizes[0], INVALID_ARGUMENT, "bmm: batch sizes differ: ", a->sizes.str(),
              " and ", b->sizes.str());
  PRISM_CHECK(a->sizes[2] == b->sizes[1], INVALID_ARGUMENT, "bmm: shapes ", a->sizes.str(), " and ",
              b->sizes.str(), " cannot be multiplied (", a->sizes[2], " != ", b->sizes[1], ")");
  Tensor out = empty(Dims{a->sizes[0], a->sizes[1], b->sizes[2]}, a->dtype, a->device());
  if (out->numel() == 0) return out;
  if (a->sizes[2] == 0) {
    fill_(out, 0.0);
    return out;
  }
  run_kernel("bmm", a->dtype, {a.get(), b.get()}, {out.get()});
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (amp::Autocast ac{"matmul", {&a, &b}}) return matmul(ac[0], ac[1]);  // Note [Autocast]
  check_matmul_dtypes("matmul", a, b);
  PRISM_CHECK(a->dim() >= 1 && b->dim() >= 1, INVALID_ARGUMENT,
              "matmul: both arguments need at least 1 dimension, but got ", describe(a), " and ",
              describe(b));
  int64_t k_a = a->sizes[a->dim() - 1];
  int64_t k_b = b->dim() == 1 ? b->sizes[0] : b->sizes[b->dim() - 2];
  PRISM_CHECK(k_a == k_b, INVALID_ARGUMENT, "matmul: shapes ", a->sizes.str(), " and ", b->sizes.str(),
              " cannot be multiplied (", k_a, " != ", k_b, ")");
  // Lift to >= 2-D, remembering which dims to drop from the result.
  Tensor a2 = a->dim() == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = b->dim() == 1 ? unsqueeze(b, 1) : b;
  Dims ba, bb;
  for (int i = 0; i < a2->dim() - 2; ++i) ba.push_back(a2->sizes[i]);
  for (int i = 0; i < b2->dim() - 2; ++i) bb.push_back(b2->sizes[i]);
  Dims batch = broadcast_shapes("matmul", ba, bb);
  int64_t m = a2->sizes[a2->dim() - 2], k = k_a, n = b2->sizes[b2->dim() - 1];
  Dims ea = batch, eb = batch;
  ea.push_back(m);
  ea.push_back(k);
  eb.push_back(k);
  eb.push_back(n);
  int64_t nb = numel_of(batch);
  Tensor a3 = reshape(expand(a2, ea), Dims{nb, m, k});
  Tensor b3 = reshape(expand(b2, eb), Dims{nb, k, n});
  Tensor r = bmm(a3, b3);
  Dims out = batch;
  if (a->dim() > 1) out.push_back(m);
  if (b->dim() > 1) out.push_back(n);
  return reshape(r, out);
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  if (amp::Autocast ac{"cat", ts}) return cat(ac.list(), dim);  // Note [Autocast]
  PRISM_CHECK(!ts.empty(), INVALID_ARGUMENT, "cat: expected a non-empty list of tensors");
  // Legacy rule: 1-D empty tensors are skipped.
  std::vector<Tensor> parts;
  prism_dtype dt = ts[0]->dtype;
  for (size_t i = 0; i < ts.size(); ++i) {
    dt = i == 0 ? ts[i]->dtype : promote_types(dt, ts[i]->dtype);
    common_device("cat", {ts[0].get(), ts[i].get()});
    PRISM_CHECK(ts[i]->dim() > 0, INVALID_ARGUMENT, "cat: zero-dimensional tensor (at position ", i,
                ") cannot be concatenated");
    if (!(ts[i]->dim() == 1 && ts[i]->sizes[0] == 0)) parts.push_back(ts[i]);
  }
  // Every input is recorded, the skipped empty ones included, so a cat of
  // empty tensors still has a grad_fn and gives each input an empty gradient
  // (d_cat), as PyTorch does.
  bool any_grad = false;
  for (const Tensor& t : ts) any_grad = any_grad || autograd::should_record({&t});
  if (parts.empty()) {
    if (!any_grad) return empty(Dims{0}, dt, ts[0]->device());
    autograd::OpAttrs at;
    at.dim = wrap_dim(dim, 1, "cat");
    for (size_t i = 0; i < ts.size(); ++i) at.split_sizes.push_back(0);
    return autograd::recorded("cat", ts, at, [&] { return empty(Dims{0}, dt, ts[0]->device()); });
  }
  const Tensor& ref = parts[0];
  int64_t d = wrap_dim(dim, ref->dim(), "cat");
  if (any_grad) {
    autograd::OpAttrs at;
    at.dim = d;
    for (const Tensor& t : ts) {
      const bool skipped = t->dim() == 1 && t->sizes[0] == 0;
      at.split_sizes.push_back(skipped ? 0 : t->sizes[d]);
    }
    return autograd::recorded("cat", ts, at, [&] { return cat(parts, d); });
  }
  Dims shape = ref->sizes;
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = parts[i];
    PRISM_CHECK(t->dim() == ref->dim(), INVALID_ARGUMENT,
                "cat: tensors must have the same number of dimensions: got ", ref->sizes.str(), " and ",
                t->sizes.str());
    for (int j = 0; j < ref->dim(); ++j) {
      PRISM_CHECK(j == d || t->sizes[j] == ref->sizes[j], INVALID_ARGUMENT,
                  "cat: sizes of tensors must match except in dimension ", d, ". Expected size ",
                  ref->sizes[j], " but got size ", t->sizes[j], " for tensor number ", i, " in the list");
    }
    total += t->sizes[d];
  }
  shape[d] = total;
  Tensor out = empty(shape, dt, ref->device());
  int64_t off = 0;
  for (const Tensor& t : parts) {
    if (t->sizes[d] > 0) copy_(narrow(out, d, off, t->sizes[d]), t);
    off += t->sizes[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  if (amp::Autocast ac{"stack", ts}) return stack(ac.list(), dim);  // Note [Autocast]
  PRISM_CHECK(!ts.empty(), INVALID_ARGUMENT, "stack: expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, ts[0]->dim() + 1, "stack");
  std::vector<Tensor> us;
  for (size_t i = 0; i < ts.size(); ++i) {
    PRISM_CHECK(ts[i]->sizes == ts[0]->sizes, INVALID_ARGUMENT,
                "stack: expects each tensor to be equal size, but got ", ts[0]->sizes.str(),
                " at entry 0 and ", ts[i]->sizes.str(), " at entry ", i);
    us.push_back(unsqueeze(ts[i], d));
  }
  return cat(us, d);
}

std::vector<Tensor> split_sizes(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim) {
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "split: cannot split a 0-dim tensor");
  int64_t d = wrap_dim(dim, t->dim(), "split");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    PRISM_CHECK(s >= 0, INVALID_ARGUMENT, "split: split sizes must be non-negative, got ", s);
    sum += s;
  }
  PRISM_CHECK(sum == t->sizes[d], INVALID_ARGUMENT, "split: split sizes sum to ", sum,
              " but the input has size ", t->sizes[d], " in dimension ", d);
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(t, d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim) {
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "split: cannot split a 0-dim tensor");
  int64_t d = wrap_dim(dim, t->dim(), "split");
  int64_t len = t->sizes[d];
  PRISM_CHECK(split_size > 0 || (split_size == 0 && len == 0), INVALID_ARGUMENT,
              "split: split_size must be positive, got ", split_size);
  std::vector<int64_t> sizes;
  if (len == 0) {
    sizes.push_back(0);
  } else {
    for (int64_t off = 0; off < len; off += split_size) sizes.push_back(std::min(split_size, len - off));
  }
  return split_sizes(t, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim) {
  PRISM_CHECK(chunks > 0, INVALID_ARGUMENT, "chunk: number of chunks must be greater than 0, got ", chunks);
  PRISM_CHECK(t->dim() > 0, INVALID_ARGUMENT, "chunk: cannot chunk a 0-dim tensor");
  int64_t d = wrap_dim(dim, t->dim(), "chunk");
  int64_t len = t->sizes[d];
  int64_t each = (len + chunks - 1) / chunks;
  if (each == 0) each = 1;
  if (len == 0) return split_sizes(t, std::vector<int64_t>(static_cast<size_t>(chunks), 0), d);
  return split(t, each, d);
}

bool equal(const Tensor& a, const Tensor& b) {
  common_device("equal", {a.get(), b.get()});
  if (a->sizes != b->sizes) return false;
  if (a->numel() == 0) return true;
  return item_int64(reduce("all", compare("eq", a, b), {}, false)) != 0;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  common_device("allclose", {a.get(), b.get()});
  prism_dtype dt = result_type({a.get(), b.get()});
  if (!is_float(dt)) dt = PRISM_DTYPE_F64;
  Tensor fa = to_dtype(a, dt), fb = to_dtype(b, dt);
  Dims shape = broadcast_shapes("allclose", a->sizes, b->sizes);
  if (numel_of(shape) == 0) return true;
  Tensor diff = unary("abs", binary("sub", fa, fb));
  Tensor tol = binary("add", binary("mul", unary("abs", fb), scalar_tensor(rtol, dt, a->device())),
                      scalar_tensor(atol, dt, a->device()));
  Tensor close = compare("logical_or", compare("eq", fa, fb), compare("le", diff, tol));
  if (equal_nan) {
    Tensor both_nan = compare("logical_and", compare("ne", fa, fa), compare("ne", fb, fb));
    close = compare("logical_or", close, both_nan);
  }
  return item_int64(reduce("all", close, {}, false)) != 0;
}

}  // namespace prism
