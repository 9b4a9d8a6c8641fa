// reference.hpp — the float64 reference kernels and dtype helpers of the conformance suite (internal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prism/plugin.h"

namespace prism::conformance {

// ===========================================================================
// Dtypes and element access
// ===========================================================================

size_t dtype_size(int32_t dtype);
const char* dtype_name(int32_t dtype);
int32_t dtype_from_name(const std::string& name);  // -1 when unknown
bool is_float(int32_t dtype);
bool is_int(int32_t dtype);  // u8 .. i64 (not bool)

// One element read from memory: `f` is the exact value as a double (ints up to
// 2^53 exactly), `i` the exact integer for integer/bool dtypes.
struct Value {
  double f = 0;
  int64_t i = 0;
};

Value load(int32_t dtype, const void* p);
// Stores an integer result, wrapping modulo 2^bits (bool: != 0).
void store_int(int32_t dtype, void* p, int64_t v);
// Stores a real result rounded once to nearest-even (floats) or converted with
// the copy rule (ints: truncate toward zero, saturate to i64, NaN -> 0, wrap).
void store_real(int32_t dtype, void* p, double v);
// v rounded to `dtype` and back (what a store then a load gives).
double round_to(int32_t dtype, double v);
// Distance in units in the last place of `dtype` between two finite values.
int64_t ulp_distance(int32_t dtype, double a, double b);

// A strided view into a byte image of a device buffer.
struct View {
  int32_t dtype = PRISM_DTYPE_F32;
  std::vector<int64_t> sizes, strides;
  uint64_t byte_offset = 0;  // of element 0 within the image
  int64_t numel() const;
  // Byte position of the element at row-major linear index `linear`.
  uint64_t byte_pos(int64_t linear) const;
};

// ===========================================================================
// Kernel-op table (docs/ops.md)
// ===========================================================================

enum class OpKind {
  kFill,
  kCopy,
  kUnary,
  kBinary,
  kCompare,
  kLogical,
  kLogicalNot,
  kWhere,
  kClamp,
  kReduce,
  kArgReduce,
  kBoolReduce,
  kBmm,
  kRandom,
  // NN, indexing and optimizer kernel ops (reference_ext.cpp)
  kSoftmax,      // softmax log_softmax and their backwards
  kConv,         // conv2d conv2d_backward_input conv2d_backward_weight
  kPool,         // max/avg_pool2d and their backwards
  kGather,       // gather
  kScatter,      // scatter (in place)
  kIndexSelect,  // index_select
  kIndexPut,     // index_put (in place)
  kNonzero,      // nonzero
  kScan,         // cumsum cumprod
  kSort,         // sort topk (values, indices)
  kOptim,        // sgd_update adam_update (in place, several outputs)
  kAmpUnscale,   // amp_unscale_check (grad and found_inf in place)
  kAttention     // scaled_dot_product_attention (q, k, v, optional additive mask)
};

// How results are compared (Note [Conformance tolerances]).
enum class TolClass { kExact, kRounded, kTranscendental, kAccumulate, kBitExact };

struct OpSpec {
  const char* name;
  OpKind kind;
  uint32_t dtypes;  // key dtypes docs/ops.md defines the op for
  TolClass tol;
};

const std::vector<OpSpec>& op_table();
const OpSpec* find_op(const std::string& name);

// A kernel call as the reference sees it: the images and views of inputs and
// outputs plus attributes.
struct RefAttr {
  std::string name;
  int32_t kind = PRISM_ATTR_INT;
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> ints;
};

struct RefCall {
  const OpSpec* op = nullptr;
  std::vector<View> in_views;
  std::vector<const std::vector<uint8_t>*> in_images;
  View out_view;  // = out_views[0]
  // Every output with its image as uploaded (in-place ops read their
  // outputs' old values); empty for single-output calls built the old way.
  std::vector<View> out_views;
  std::vector<const std::vector<uint8_t>*> out_images;
  std::vector<RefAttr> attrs;
  const RefAttr* attr(const char* name) const;
};

// The expected output in row-major order of out_view.sizes, already rounded
// to the output dtype, plus the per-element extra absolute tolerance of
// accumulating ops (sum of |terms| scaled by the accumulation epsilon).
struct RefResult {
  std::vector<Value> values;
  std::vector<double> extra_atol;
  std::string error;  // the reference rejects the call (e.g. empty amax)
  // Outputs 1.. of multi-output ops (sort's indices, adam's state).
  std::vector<std::vector<Value>> more_values;
  std::vector<std::vector<double>> more_atol;
};

RefResult reference_run(const RefCall& call);
// The NN, indexing and optimizer kinds (reference_ext.cpp).
void reference_run_ext(const RefCall& call, RefResult& res);

// Shared by the reference files.
Value ref_make_float(int32_t dt, double v);
Value ref_make_int(int32_t dt, int64_t v);
double ref_accumulation_eps(int32_t dt);

}  // namespace prism::conformance
