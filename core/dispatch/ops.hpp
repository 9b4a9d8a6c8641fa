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

}  // namespace prism
