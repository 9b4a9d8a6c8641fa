// ops.hpp — the user ops of op set v1: promotion, broadcasting, output allocation and composites (internal).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "core/dispatch/dispatch.hpp"
#include "core/tensor/tensor.hpp"

namespace prism {

// torch.result_type over tensors: dimensioned tensors outrank 0-d ones within
// a category (Note [Type promotion]).
prism_dtype result_type(std::initializer_list<const TensorImpl*> tensors);
// Broadcast shape of a and b; the error names both shapes and the dim.
Dims broadcast_shapes(const char* op, const Dims& a, const Dims& b);

// ---- elementwise --------------------------------------------------------------------------------
Tensor unary(const char* op, const Tensor& x);
void unary_(const char* op, const Tensor& x);
// add/sub with alpha; other binary ops ignore alpha.
Tensor binary(const char* op, const Tensor& a, const Tensor& b, double alpha = 1.0);
void binary_(const char* op, const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor div_mode(const Tensor& a, const Tensor& b, prism_rounding_mode mode);
Tensor compare(const char* op, const Tensor& a, const Tensor& b);  // eq ne lt le gt ge, logical_*
Tensor logical_not(const Tensor& x);
// real / imag / conj of a complex tensor (new tensors); real and conj of a real tensor are x itself,
// imag of a real tensor is refused (as in PyTorch).
Tensor complex_part(const char* op, const Tensor& x);
Tensor unary_predicate(const char* op, const Tensor& x);  // isnan isinf isfinite signbit -> bool
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, const double* mn, const double* mx);
void clamp_(const Tensor& x, const double* mn, const double* mx);

// ---- reductions -----------------------------------------------------------------------------------
// dims empty = all dims.
Tensor reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim);
Tensor std_(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim);
Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
// dim = PRISM_DIM_NONE reduces the flattened tensor.
Tensor arg_reduce(const char* op, const Tensor& x, int64_t dim, bool keepdim);
std::pair<Tensor, Tensor> max_min_dim(bool is_max, const Tensor& x, int64_t dim, bool keepdim);

// ---- linear algebra, joining ------------------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor cat(const std::vector<Tensor>& ts, int64_t dim);
Tensor stack(const std::vector<Tensor>& ts, int64_t dim);
std::vector<Tensor> split_sizes(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim);
bool equal(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan);

// ---- random (core/random) -----------------------------------------------------------------------------
void manual_seed(uint64_t seed);
Tensor rand(const Dims& sizes, prism_dtype dtype, Device* device);
Tensor randn(const Dims& sizes, prism_dtype dtype, Device* device);
Tensor randint(int64_t low, int64_t high, const Dims& sizes, prism_dtype dtype, Device* device);
Tensor randperm(int64_t n, prism_dtype dtype, Device* device);
Tensor bernoulli(const Tensor& p);
Tensor bernoulli_scalar(const Dims& sizes, double p, prism_dtype dtype, Device* device);

// ---- neural-network ops (core/dispatch/nn.cpp) ----------------------------------------------------------
// Note [nn ops: kernels, composites and fallback] in nn.cpp. Optional tensors may be nullptr.
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Gradient of softmax (log = false) or log_softmax (log = true) given the forward output.
Tensor softmax_backward(const Tensor& grad, const Tensor& out, int64_t dim, bool log);
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                prism_reduction reduction);
// target: integer class indices, or class probabilities of the input's shape.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     double label_smoothing, prism_reduction reduction);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, prism_reduction reduction);
Tensor mse_loss(const Tensor& input, const Tensor& target, prism_reduction reduction);
Tensor l1_loss(const Tensor& input, const Tensor& target, prism_reduction reduction);
Tensor huber_loss(const Tensor& input, const Tensor& target, double delta, prism_reduction reduction);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta, prism_reduction reduction);
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias);
Tensor dropout(const Tensor& input, double p, bool training);
Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps);
// Updates running_mean / running_var in place when training (momentum, unbiased variance).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps);
// stride/padding/dilation: {h, w}, nullptr = 1 / 0 / 1.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const int64_t stride[2],
              const int64_t padding[2], const int64_t dilation[2], int64_t groups);
// stride nullptr = kernel; padding nullptr = 0.
Tensor max_pool2d(const Tensor& input, const int64_t kernel[2], const int64_t stride[2],
                  const int64_t padding[2]);
Tensor avg_pool2d(const Tensor& input, const int64_t kernel[2], const int64_t stride[2],
                  const int64_t padding[2], bool count_include_pad);

// ---- indexing (core/dispatch/indexing.cpp, Note [Advanced indexing]) -------------------------------
// One entry of a subscript t[...]; Kind values match prism_index_kind of prism.h.
struct TensorIndex {
  enum Kind { kInt = 0, kSlice = 1, kEllipsis = 2, kNone = 3, kTensor = 4 };
  Kind kind = kInt;
  int64_t value = 0;                              // kInt (negative counts from the end)
  int64_t start = 0, stop = INT64_MAX, step = 1;  // kSlice, clamped like Python; step > 0
  Tensor tensor;                                  // kTensor: int64/int32 indices or a bool mask
};
constexpr int64_t kNoPaddingIdx = INT64_MIN;  // embedding without padding_idx

// x[indices]: a view without index tensors, else a copy (advanced indexing).
Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices);
// x[indices] = values (or += with accumulate); values broadcast to x[indices].
Tensor index_put(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values,
                 bool accumulate);
void index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values,
                bool accumulate);
// torch.index_put: one index tensor (or mask) per leading dim.
Tensor index_put_tensors(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values,
                         bool accumulate);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha);
void index_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha);
Tensor index_fill(const Tensor& x, int64_t dim, const Tensor& index, double value);
void index_fill_(const Tensor& x, int64_t dim, const Tensor& index, double value);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter_value(const Tensor& x, int64_t dim, const Tensor& index, double value);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
void scatter_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
void scatter_value_(const Tensor& x, int64_t dim, const Tensor& index, double value);
void scatter_add_(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// torch.scatter_reduce (values match prism_scatter_reduce_op of prism.h).
enum class ScatterReduce { kSum = 0, kProd = 1, kAmax = 2, kAmin = 3 };
Tensor scatter_reduce(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                      ScatterReduce reduce, bool include_self);
// value: a 0-d tensor (cast to x's dtype).
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
void masked_fill_(const Tensor& x, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& x, const Tensor& mask);
Tensor take(const Tensor& x, const Tensor& index);
Tensor nonzero(const Tensor& x);  // int64 [n, ndim]
Tensor tril(const Tensor& x, int64_t diagonal);
Tensor triu(const Tensor& x, int64_t diagonal);
Tensor cumsum(const Tensor& x, int64_t dim);  // bool/int -> int64
Tensor cumprod(const Tensor& x, int64_t dim);
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool stable);
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted);
Tensor one_hot(const Tensor& x, int64_t num_classes);
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx);

// ---- op forms (core/dispatch/op_forms.cpp, Note [Op forms as composites]) ---------------------------
// clamp with tensor bounds (either may be nullptr, not both); broadcasting, promoted dtype.
Tensor clamp_tensor(const Tensor& x, const Tensor& mn, const Tensor& mx);
// approximate: 0 = exact (erf), 1 = tanh.
Tensor gelu_approx(const Tensor& x, int approximate);
// torch.nn.functional.pad: (left, right) pairs from the last dim; negative pads crop.
// mode: 0 constant (value), 1 reflect, 2 replicate, 3 circular.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, int mode, double value);
// conv2d with padding='valid' (0) or 'same' (1); stride/dilation as conv2d.
Tensor conv2d_padding(const Tensor& input, const Tensor& weight, const Tensor& bias, const int64_t stride[2],
                      int padding_mode, const int64_t dilation[2], int64_t groups);
Tensor mm(const Tensor& a, const Tensor& b);
// softmax / log_softmax of x cast to `dtype` first.
Tensor softmax_dtype(const Tensor& x, int64_t dim, prism_dtype dtype, bool log);
// sum / prod / mean of x cast to `dtype` first; the result has `dtype`.
Tensor reduce_dtype(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                    prism_dtype dtype);

}  // namespace prism
