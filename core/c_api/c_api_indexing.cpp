// c_api_indexing.cpp — user C ABI: subscripts, index_put, gather/scatter, index/masked ops, sort/topk,
// embedding.
#include <cstddef>

#include "core/c_api/handle.hpp"
#include "core/dispatch/ops.hpp"
#include "prism/prism.h"

using prism::Tensor;
using prism::TensorIndex;
using prism::capi::arg;
using prism::capi::guard;
using prism::capi::make;
using prism::capi::out_arg;
using prism::capi::wrap;

namespace {

static_assert(static_cast<int>(prism::ScatterReduce::kSum) == PRISM_SCATTER_REDUCE_SUM &&
                  static_cast<int>(prism::ScatterReduce::kProd) == PRISM_SCATTER_REDUCE_PROD &&
                  static_cast<int>(prism::ScatterReduce::kAmax) == PRISM_SCATTER_REDUCE_AMAX &&
                  static_cast<int>(prism::ScatterReduce::kAmin) == PRISM_SCATTER_REDUCE_AMIN,
              "ScatterReduce must match prism_scatter_reduce_op");

template <typename F>
prism_status make_pair(prism_tensor_t* values, prism_tensor_t* indices, const char* op, F&& f) {
  return guard([&] {
    out_arg(values, op);
    out_arg(indices, op);
    std::pair<Tensor, Tensor> r = f();
    *values = wrap(std::move(r.first));
    *indices = wrap(std::move(r.second));
  });
}

// The array is stepped by indices[0].struct_size (Note [User ABI conventions]).
std::vector<TensorIndex> index_list(const prism_tensor_index* indices, size_t n, const char* op) {
  std::vector<TensorIndex> list;
  if (n == 0) return list;
  PRISM_CHECK(indices != nullptr, INVALID_ARGUMENT, op, ": indices is NULL with n ", n);
  const size_t step = indices[0].struct_size;
  PRISM_CHECK(step >= sizeof(prism_tensor_index), INVALID_ARGUMENT, op, ": indices[0].struct_size is ", step,
              ", expected sizeof(prism_tensor_index) = ", sizeof(prism_tensor_index));
  const char* base = reinterpret_cast<const char*>(indices);
  for (size_t k = 0; k < n; ++k) {
    const auto* e = reinterpret_cast<const prism_tensor_index*>(base + k * step);
    PRISM_CHECK(e->struct_size == step, INVALID_ARGUMENT, op, ": indices[", k, "].struct_size is ",
                e->struct_size, ", but indices[0].struct_size is ", step);
    TensorIndex i;
    switch (e->kind) {
      case PRISM_INDEX_INT:
        i.kind = TensorIndex::kInt;
        i.value = e->value;
        break;
      case PRISM_INDEX_SLICE:
        i.kind = TensorIndex::kSlice;
        i.start = e->start;
        i.stop = e->stop;
        i.step = e->step;
        break;
      case PRISM_INDEX_ELLIPSIS:
        i.kind = TensorIndex::kEllipsis;
        break;
      case PRISM_INDEX_NONE:
        i.kind = TensorIndex::kNone;
        break;
      case PRISM_INDEX_TENSOR:
        i.kind = TensorIndex::kTensor;
        i.tensor = arg(e->tensor, op, "indices[k].tensor");
        break;
      default:
        PRISM_FAIL(INVALID_ARGUMENT, op, ": indices[", k, "].kind ", e->kind, " is not a prism_index_kind");
    }
    list.push_back(std::move(i));
  }
  return list;
}

}  // namespace

extern "C" {

PRISM_API prism_status prism_index(prism_tensor_t t, const prism_tensor_index* indices, size_t n,
                                   prism_tensor_t* out) {
  return make(out, "index",
              [&] { return prism::index(arg(t, "index", "t"), index_list(indices, n, "index")); });
}

PRISM_API prism_status prism_index_put_(prism_tensor_t t, const prism_tensor_index* indices, size_t n,
                                        prism_tensor_t values, int32_t accumulate) {
  return guard([&] {
    prism::index_put_(arg(t, "index_put_", "t"), index_list(indices, n, "index_put_"),
                      arg(values, "index_put_", "values"), accumulate != 0);
  });
}

PRISM_API prism_status prism_index_put(prism_tensor_t t, const prism_tensor_t* tensors, size_t n,
                                       prism_tensor_t values, int32_t accumulate, prism_tensor_t* out) {
  return make(out, "index_put", [&] {
    PRISM_CHECK(n >= 1 && tensors != nullptr, INVALID_ARGUMENT,
                "index_put: expected n >= 1 index tensors, got ", n,
                tensors == nullptr ? " (tensors is NULL)" : "");
    std::vector<Tensor> list;
    for (size_t k = 0; k < n; ++k) list.push_back(arg(tensors[k], "index_put", "tensors[k]"));
    return prism::index_put_tensors(arg(t, "index_put", "t"), list, arg(values, "index_put", "values"),
                                    accumulate != 0);
  });
}

PRISM_API prism_status prism_index_select(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                          prism_tensor_t* out) {
  return make(out, "index_select", [&] {
    return prism::index_select(arg(x, "index_select", "x"), dim, arg(index, "index_select", "index"));
  });
}

PRISM_API prism_status prism_index_add(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                       prism_tensor_t src, double alpha, prism_tensor_t* out) {
  return make(out, "index_add", [&] {
    return prism::index_add(arg(x, "index_add", "x"), dim, arg(index, "index_add", "index"),
                            arg(src, "index_add", "src"), alpha);
  });
}

PRISM_API prism_status prism_index_add_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                        prism_tensor_t src, double alpha) {
  return guard([&] {
    prism::index_add_(arg(x, "index_add_", "x"), dim, arg(index, "index_add_", "index"),
                      arg(src, "index_add_", "src"), alpha);
  });
}

PRISM_API prism_status prism_index_fill(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value,
                                        prism_tensor_t* out) {
  return make(out, "index_fill", [&] {
    return prism::index_fill(arg(x, "index_fill", "x"), dim, arg(index, "index_fill", "index"), value);
  });
}

PRISM_API prism_status prism_index_fill_(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value) {
  return guard([&] {
    prism::index_fill_(arg(x, "index_fill_", "x"), dim, arg(index, "index_fill_", "index"), value);
  });
}

PRISM_API prism_status prism_gather(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                    prism_tensor_t* out) {
  return make(out, "gather",
              [&] { return prism::gather(arg(x, "gather", "x"), dim, arg(index, "gather", "index")); });
}

PRISM_API prism_status prism_scatter(prism_tensor_t x, int64_t dim, prism_tensor_t index, prism_tensor_t src,
                                     prism_tensor_t* out) {
  return make(out, "scatter", [&] {
    return prism::scatter(arg(x, "scatter", "x"), dim, arg(index, "scatter", "index"),
                          arg(src, "scatter", "src"));
  });
}

PRISM_API prism_status prism_scatter_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                      prism_tensor_t src) {
  return guard([&] {
    prism::scatter_(arg(x, "scatter_", "x"), dim, arg(index, "scatter_", "index"),
                    arg(src, "scatter_", "src"));
  });
}

PRISM_API prism_status prism_scatter_value(prism_tensor_t x, int64_t dim, prism_tensor_t index, double value,
                                           prism_tensor_t* out) {
  return make(out, "scatter", [&] {
    return prism::scatter_value(arg(x, "scatter", "x"), dim, arg(index, "scatter", "index"), value);
  });
}

PRISM_API prism_status prism_scatter_value_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                            double value) {
  return guard(
      [&] { prism::scatter_value_(arg(x, "scatter_", "x"), dim, arg(index, "scatter_", "index"), value); });
}

PRISM_API prism_status prism_scatter_add(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                         prism_tensor_t src, prism_tensor_t* out) {
  return make(out, "scatter_add", [&] {
    return prism::scatter_add(arg(x, "scatter_add", "x"), dim, arg(index, "scatter_add", "index"),
                              arg(src, "scatter_add", "src"));
  });
}

PRISM_API prism_status prism_scatter_add_(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                          prism_tensor_t src) {
  return guard([&] {
    prism::scatter_add_(arg(x, "scatter_add_", "x"), dim, arg(index, "scatter_add_", "index"),
                        arg(src, "scatter_add_", "src"));
  });
}

PRISM_API prism_status prism_scatter_reduce(prism_tensor_t x, int64_t dim, prism_tensor_t index,
                                            prism_tensor_t src, prism_scatter_reduce_op reduce,
                                            int32_t include_self, prism_tensor_t* out) {
  return make(out, "scatter_reduce", [&] {
    PRISM_CHECK(reduce >= PRISM_SCATTER_REDUCE_SUM && reduce <= PRISM_SCATTER_REDUCE_AMIN, INVALID_ARGUMENT,
                "scatter_reduce: reduce ", static_cast<int>(reduce), " is not a prism_scatter_reduce_op");
    return prism::scatter_reduce(arg(x, "scatter_reduce", "x"), dim, arg(index, "scatter_reduce", "index"),
                                 arg(src, "scatter_reduce", "src"), static_cast<prism::ScatterReduce>(reduce),
                                 include_self != 0);
  });
}

PRISM_API prism_status prism_masked_fill(prism_tensor_t x, prism_tensor_t mask, double value,
                                         prism_tensor_t* out) {
  return make(out, "masked_fill", [&] {
    const Tensor& xt = arg(x, "masked_fill", "x");
    return prism::masked_fill(xt, arg(mask, "masked_fill", "mask"),
                              prism::scalar_tensor(value, xt->dtype, xt->device()));
  });
}

PRISM_API prism_status prism_masked_fill_(prism_tensor_t x, prism_tensor_t mask, double value) {
  return guard([&] {
    const Tensor& xt = arg(x, "masked_fill_", "x");
    prism::masked_fill_(xt, arg(mask, "masked_fill_", "mask"),
                        prism::scalar_tensor(value, xt->dtype, xt->device()));
  });
}

PRISM_API prism_status prism_masked_fill_tensor(prism_tensor_t x, prism_tensor_t mask, prism_tensor_t value,
                                                prism_tensor_t* out) {
  return make(out, "masked_fill", [&] {
    return prism::masked_fill(arg(x, "masked_fill", "x"), arg(mask, "masked_fill", "mask"),
                              arg(value, "masked_fill", "value"));
  });
}

PRISM_API prism_status prism_masked_fill_tensor_(prism_tensor_t x, prism_tensor_t mask,
                                                 prism_tensor_t value) {
  return guard([&] {
    prism::masked_fill_(arg(x, "masked_fill_", "x"), arg(mask, "masked_fill_", "mask"),
                        arg(value, "masked_fill_", "value"));
  });
}

PRISM_API prism_status prism_masked_select(prism_tensor_t x, prism_tensor_t mask, prism_tensor_t* out) {
  return make(out, "masked_select", [&] {
    return prism::masked_select(arg(x, "masked_select", "x"), arg(mask, "masked_select", "mask"));
  });
}

PRISM_API prism_status prism_take(prism_tensor_t x, prism_tensor_t index, prism_tensor_t* out) {
  return make(out, "take", [&] { return prism::take(arg(x, "take", "x"), arg(index, "take", "index")); });
}

PRISM_API prism_status prism_nonzero(prism_tensor_t x, prism_tensor_t* out) {
  return make(out, "nonzero", [&] { return prism::nonzero(arg(x, "nonzero", "x")); });
}

PRISM_API prism_status prism_tril(prism_tensor_t x, int64_t diagonal, prism_tensor_t* out) {
  return make(out, "tril", [&] { return prism::tril(arg(x, "tril", "x"), diagonal); });
}

PRISM_API prism_status prism_triu(prism_tensor_t x, int64_t diagonal, prism_tensor_t* out) {
  return make(out, "triu", [&] { return prism::triu(arg(x, "triu", "x"), diagonal); });
}

PRISM_API prism_status prism_cumsum(prism_tensor_t x, int64_t dim, prism_tensor_t* out) {
  return make(out, "cumsum", [&] { return prism::cumsum(arg(x, "cumsum", "x"), dim); });
}

PRISM_API prism_status prism_cumprod(prism_tensor_t x, int64_t dim, prism_tensor_t* out) {
  return make(out, "cumprod", [&] { return prism::cumprod(arg(x, "cumprod", "x"), dim); });
}

PRISM_API prism_status prism_sort(prism_tensor_t x, int64_t dim, int32_t descending, int32_t stable,
                                  prism_tensor_t* values, prism_tensor_t* indices) {
  return make_pair(values, indices, "sort",
                   [&] { return prism::sort(arg(x, "sort", "x"), dim, descending != 0, stable != 0); });
}

PRISM_API prism_status prism_topk(prism_tensor_t x, int64_t k, int64_t dim, int32_t largest, int32_t sorted,
                                  prism_tensor_t* values, prism_tensor_t* indices) {
  return make_pair(values, indices, "topk",
                   [&] { return prism::topk(arg(x, "topk", "x"), k, dim, largest != 0, sorted != 0); });
}

PRISM_API prism_status prism_one_hot(prism_tensor_t x, int64_t num_classes, prism_tensor_t* out) {
  return make(out, "one_hot", [&] { return prism::one_hot(arg(x, "one_hot", "x"), num_classes); });
}

PRISM_API prism_status prism_embedding(prism_tensor_t weight, prism_tensor_t indices, int64_t padding_idx,
                                       prism_tensor_t* out) {
  return make(out, "embedding", [&] {
    static_assert(PRISM_PADDING_IDX_NONE == prism::kNoPaddingIdx, "padding sentinels differ");
    return prism::embedding(arg(weight, "embedding", "weight"), arg(indices, "embedding", "indices"),
                            padding_idx);
  });
}

}  // extern "C"
