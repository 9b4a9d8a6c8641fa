// reference_ext.cpp — naive float64 reference kernels of the NN, indexing and optimizer kernel ops of
// docs/ops.md.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "reference.hpp"

namespace prism::conformance {

/*
 * Note [Reference kernels of the composite-backing ops]
 * -----------------------------------------------------
 * The same rules as Note [Reference kernels]: the most obvious loops, in
 * double (floats) or wrapping 64-bit integers, one rounding to the output
 * dtype at the end. Outputs are produced in row-major order of each output
 * view; in-place kernels (scatter, index_put, sgd_update, adam_update) read
 * the old values of their outputs from the images the suite uploaded.
 * Accumulating results carry the sum of |terms| scaled by the accumulation
 * epsilon as extra tolerance (Note [Conformance tolerances] in suite.cpp).
 * Index values out of range give the error every kernel must return before
 * writing anything (docs/ops.md, Indexing).
 */

namespace {

using Coords = std::vector<int64_t>;

Coords coords_of(const std::vector<int64_t>& sizes, int64_t linear) {
  Coords c(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    c[d] = sizes[d] == 0 ? 0 : linear % sizes[d];
    linear = sizes[d] == 0 ? 0 : linear / sizes[d];
  }
  return c;
}

int64_t linear_of(const std::vector<int64_t>& sizes, const Coords& c) {
  int64_t l = 0;
  for (size_t d = 0; d < sizes.size(); ++d) l = l * sizes[d] + c[d];
  return l;
}

Value load_at(const View& v, const std::vector<uint8_t>& image, const Coords& c) {
  int64_t off = 0;
  for (size_t d = 0; d < c.size(); ++d) off += c[d] * v.strides[d];
  return load(v.dtype, image.data() + v.byte_offset + off * static_cast<int64_t>(dtype_size(v.dtype)));
}

Value in_c(const RefCall& call, size_t k, const Coords& c) {
  return load_at(call.in_views[k], *call.in_images[k], c);
}
Value out_old(const RefCall& call, size_t k, const Coords& c) {
  return load_at(call.out_views[k], *call.out_images[k], c);
}

int64_t int_attr(const RefCall& c, const char* name, int64_t fallback) {
  const RefAttr* a = c.attr(name);
  if (a == nullptr) return fallback;
  return a->kind == PRISM_ATTR_FLOAT ? static_cast<int64_t>(a->f) : a->i;
}
double float_attr(const RefCall& c, const char* name, double fallback) {
  const RefAttr* a = c.attr(name);
  if (a == nullptr) return fallback;
  return a->kind == PRISM_ATTR_INT ? static_cast<double>(a->i) : a->f;
}
void pair_attr(const RefCall& c, const char* name, int64_t fallback, int64_t out[2]) {
  const RefAttr* a = c.attr(name);
  out[0] = out[1] = fallback;
  if (a != nullptr && a->ints.size() == 2) {
    out[0] = a->ints[0];
    out[1] = a->ints[1];
  }
}

// One output slot: values and accumulation tolerance, row-major.
struct Out {
  std::vector<double> f, abs;
  std::vector<int64_t> i;
  explicit Out(int64_t n)
      : f(static_cast<size_t>(n), 0.0), abs(static_cast<size_t>(n), 0.0), i(static_cast<size_t>(n), 0) {}
};

void emit(RefResult& res, size_t k, int32_t dt, const Out& o, double eps_scale = 1.0) {
  std::vector<Value> vals(o.f.size());
  std::vector<double> tol(o.f.size(), 0.0);
  const double eps = ref_accumulation_eps(dt) * eps_scale;
  for (size_t j = 0; j < o.f.size(); ++j) {
    vals[j] = is_float(dt) ? ref_make_float(dt, o.f[j]) : ref_make_int(dt, o.i[j]);
    if (is_float(dt)) tol[j] = eps * o.abs[j];
  }
  if (k == 0) {
    res.values = std::move(vals);
    res.extra_atol = std::move(tol);
  } else {
    if (res.more_values.size() < k) {
      res.more_values.resize(k);
      res.more_atol.resize(k);
    }
    res.more_values[k - 1] = std::move(vals);
    res.more_atol[k - 1] = std::move(tol);
  }
}

// Resolves index value `v` for a dim of `size`; false when out of range.
bool resolve(int64_t v, int64_t size, bool wrap, int64_t& out) {
  if (wrap && v < 0 && v >= -size) v += size;
  if (v < 0 || v >= size) return false;
  out = v;
  return true;
}

std::string oob(const std::string& op, int64_t v, int64_t dim, int64_t size) {
  return op + ": index " + std::to_string(v) + " is out of bounds for dimension " + std::to_string(dim) +
         " with size " + std::to_string(size);
}

// ===========================================================================
// softmax / log_softmax and backwards
// ===========================================================================

void run_softmax(const RefCall& c, RefResult& res) {
  const std::string op = c.op->name;
  const View& ov = c.out_view;
  const int32_t dt = ov.dtype;
  const int64_t n = ov.numel();
  const int64_t nd = static_cast<int64_t>(ov.sizes.size());
  const int64_t dim = nd == 0 ? 0 : int_attr(c, "dim", 0);
  const int64_t len = nd == 0 ? 1 : ov.sizes[static_cast<size_t>(dim)];
  const bool log = op.rfind("log_", 0) == 0;
  const bool backward = op.find("backward") != std::string::npos;
  Out o(n);
  for (int64_t li = 0; li < n; ++li) {
    Coords p = coords_of(ov.sizes, li);
    auto at = [&](size_t k, int64_t j) {
      Coords q = p;
      if (nd > 0) q[static_cast<size_t>(dim)] = j;
      return in_c(c, k, q).f;
    };
    const size_t s = static_cast<size_t>(li);
    if (!backward) {
      double m = -INFINITY;
      for (int64_t j = 0; j < len; ++j) m = std::max(m, at(0, j));
      double sum = 0;
      for (int64_t j = 0; j < len; ++j) sum += std::exp(at(0, j) - m);
      const double x = at(0, nd == 0 ? 0 : p[static_cast<size_t>(dim)]);
      o.f[s] = log ? x - m - std::log(sum) : std::exp(x - m) / sum;
    } else {
      // inputs: grad_out, out (the forward output)
      const int64_t self = nd == 0 ? 0 : p[static_cast<size_t>(dim)];
      const double g = at(0, self), y = at(1, self);
      if (log) {
        double sg = 0, sa = 0;
        for (int64_t j = 0; j < len; ++j) {
          sg += at(0, j);
          sa += std::fabs(at(0, j));
        }
        o.f[s] = g - std::exp(y) * sg;
        o.abs[s] = std::fabs(g) + std::exp(y) * sa;
      } else {
        double sgy = 0, sa = 0;
        for (int64_t j = 0; j < len; ++j) {
          sgy += at(0, j) * at(1, j);
          sa += std::fabs(at(0, j) * at(1, j));
        }
        o.f[s] = y * (g - sgy);
        o.abs[s] = std::fabs(y) * (std::fabs(g) + sa);
      }
    }
  }
  emit(res, 0, dt, o);
}

// ===========================================================================
// conv2d and its backwards: x (N, C, H, W), w (O, C/G, kH, kW), out (N, O, OH, OW)
// ===========================================================================

void run_conv(const RefCall& c, RefResult& res) {
  const std::string op = c.op->name;
  int64_t st[2], pd[2], dl[2];
  pair_attr(c, "stride", 1, st);
  pair_attr(c, "padding", 0, pd);
  pair_attr(c, "dilation", 1, dl);
  const int64_t G = int_attr(c, "groups", 1);
  // the shapes of x, w and y, whichever side they are on
  std::vector<int64_t> xs, ws, ys;
  if (op == "conv2d") {
    xs = c.in_views[0].sizes, ws = c.in_views[1].sizes, ys = c.out_view.sizes;
  } else if (op == "conv2d_backward_input") {
    ys = c.in_views[0].sizes, ws = c.in_views[1].sizes, xs = c.out_view.sizes;
  } else {
    ys = c.in_views[0].sizes, xs = c.in_views[1].sizes, ws = c.out_view.sizes;
  }
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], Cg = ws[1], KH = ws[2], KW = ws[3];
  const int64_t OH = ys[2], OW = ys[3], Og = O / G;
  const int32_t dt = c.out_view.dtype;
  Out x_out(N * C * H * W), w_out(O * Cg * KH * KW), y_out(N * O * OH * OW), b_out(O);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const size_t yi = static_cast<size_t>(((n * O + o) * OH + oh) * OW + ow);
          double gy = 0;
          if (op != "conv2d") gy = in_c(c, 0, {n, o, oh, ow}).f;
          if (op == "conv2d") {
            if (c.in_views.size() == 3) {
              const double b = in_c(c, 2, {o}).f;
              y_out.f[yi] += b;
              y_out.abs[yi] += std::fabs(b);
            }
          } else if (op == "conv2d_backward_weight") {
            b_out.f[static_cast<size_t>(o)] += gy;
            b_out.abs[static_cast<size_t>(o)] += std::fabs(gy);
          }
          const int64_t g = o / Og;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * st[0] - pd[0] + kh * dl[0], iw = ow * st[1] - pd[1] + kw * dl[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t cx = g * Cg + ci;
                const size_t xi = static_cast<size_t>(((n * C + cx) * H + ih) * W + iw);
                const size_t wi = static_cast<size_t>(((o * Cg + ci) * KH + kh) * KW + kw);
                if (op == "conv2d") {
                  const double t = in_c(c, 0, {n, cx, ih, iw}).f * in_c(c, 1, {o, ci, kh, kw}).f;
                  y_out.f[yi] += t;
                  y_out.abs[yi] += std::fabs(t);
                } else if (op == "conv2d_backward_input") {
                  const double t = gy * in_c(c, 1, {o, ci, kh, kw}).f;
                  x_out.f[xi] += t;
                  x_out.abs[xi] += std::fabs(t);
                } else {
                  const double t = gy * in_c(c, 1, {n, cx, ih, iw}).f;
                  w_out.f[wi] += t;
                  w_out.abs[wi] += std::fabs(t);
                }
              }
        }
  if (op == "conv2d") {
    emit(res, 0, dt, y_out);
  } else if (op == "conv2d_backward_input") {
    emit(res, 0, dt, x_out);
  } else {
    emit(res, 0, dt, w_out);
    if (c.out_views.size() == 2) emit(res, 1, c.out_views[1].dtype, b_out);
  }
}

// ===========================================================================
// max/avg_pool2d and backwards: x (N, C, H, W), y (N, C, OH, OW)
// ===========================================================================

void run_pool(const RefCall& c, RefResult& res) {
  const std::string op = c.op->name;
  const bool is_max = op.rfind("max", 0) == 0;
  const bool backward = op.find("backward") != std::string::npos;
  int64_t k[2], st[2], pd[2];
  pair_attr(c, "kernel", 1, k);
  pair_attr(c, "stride", 1, st);
  pair_attr(c, "padding", 0, pd);
  const bool include_pad = int_attr(c, "count_include_pad", 1) != 0;
  const std::vector<int64_t>& xs = backward ? c.out_view.sizes : c.in_views[0].sizes;
  const std::vector<int64_t>& ys = backward ? c.in_views[0].sizes : c.out_view.sizes;
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];
  const int32_t dt = c.out_view.dtype;
  Out out(backward ? N * C * H * W : N * C * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t h0 = oh * st[0] - pd[0], w0 = ow * st[1] - pd[1];
          const int64_t h1 = std::min(h0 + k[0], H + pd[0]), w1 = std::min(w0 + k[1], W + pd[1]);
          const double pool_size = static_cast<double>((h1 - h0) * (w1 - w0));
          const int64_t hs = std::max<int64_t>(h0, 0), ws = std::max<int64_t>(w0, 0);
          const int64_t he = std::min(h1, H), we = std::min(w1, W);
          const double count = include_pad ? pool_size : static_cast<double>((he - hs) * (we - ws));
          const size_t yi = static_cast<size_t>(((n * C + ch) * OH + oh) * OW + ow);
          const size_t x_input = backward ? 1 : 0;  // where x is, for max
          double best = -INFINITY, sum = 0, asum = 0;
          int64_t bh = -1, bw = -1;
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) {
              if (is_max) {
                const double v = in_c(c, x_input, {n, ch, h, w}).f;
                if (bh < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                  best = v;
                  bh = h;
                  bw = w;
                }
              } else if (!backward) {
                const double v = in_c(c, 0, {n, ch, h, w}).f;
                sum += v;
                asum += std::fabs(v);
              }
            }
          if (!backward) {
            out.f[yi] = is_max ? best : sum / count;
            out.abs[yi] = is_max ? 0.0 : asum / count;
            continue;
          }
          const double gy = in_c(c, 0, {n, ch, oh, ow}).f;
          if (is_max) {
            if (bh < 0) continue;
            const size_t xi = static_cast<size_t>(((n * C + ch) * H + bh) * W + bw);
            out.f[xi] += gy;
            out.abs[xi] += std::fabs(gy);
          } else {
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w) {
                const size_t xi = static_cast<size_t>(((n * C + ch) * H + h) * W + w);
                out.f[xi] += gy / count;
                out.abs[xi] += std::fabs(gy / count);
              }
          }
        }
  emit(res, 0, dt, out);
}

// ===========================================================================
// Indexing
// ===========================================================================

// combine(old, v) of scatter's reduce modes / index_put's accumulate.
void combine(int32_t dt, int64_t reduce, double& f, double& a, int64_t& i, const Value& v) {
  const bool fl = is_float(dt);
  if (dt == PRISM_DTYPE_BOOL) {
    const bool x = i != 0, y = v.i != 0;
    i = reduce == 0 ? y : (reduce == 1 || reduce == 3) ? (x || y) : (x && y);
    return;
  }
  switch (reduce) {
    case 0:
      f = v.f, i = v.i, a = std::fabs(v.f);
      return;
    case 1:
      f += v.f, a += std::fabs(v.f);
      i = static_cast<int64_t>(static_cast<uint64_t>(i) + static_cast<uint64_t>(v.i));
      return;
    case 2:
      f *= v.f, a = std::fabs(f) * 4;  // a few roundings of the product
      i = static_cast<int64_t>(static_cast<uint64_t>(i) * static_cast<uint64_t>(v.i));
      return;
    default: {
      const bool mx = reduce == 3;
      if (fl) {
        if (std::isnan(f) || std::isnan(v.f))
          f = NAN;
        else
          f = mx ? std::max(f, v.f) : std::min(f, v.f);
      } else {
        i = mx ? std::max(i, v.i) : std::min(i, v.i);
      }
      return;
    }
  }
}

void run_indexing(const RefCall& c, RefResult& res) {
  const std::string op = c.op->name;
  const View& ov = c.out_view;
  const int32_t dt = ov.dtype;
  const int64_t n = ov.numel();
  const int64_t dim = int_attr(c, "dim", 0);
  const bool wrap = int_attr(c, "wrap", 0) != 0;
  Out o(n);
  if (op == "gather" || op == "index_select") {
    const View& xv = c.in_views[0];
    const int64_t size = xv.sizes[static_cast<size_t>(dim)];
    for (int64_t li = 0; li < n; ++li) {
      Coords p = coords_of(ov.sizes, li);
      const int64_t raw = op == "gather" ? in_c(c, 1, p).i : in_c(c, 1, {p[static_cast<size_t>(dim)]}).i;
      int64_t r = 0;
      if (!resolve(raw, size, op == "index_select" && wrap, r)) {
        res.error = oob(op, raw, dim, size);
        return;
      }
      p[static_cast<size_t>(dim)] = r;
      const Value v = in_c(c, 0, p);
      o.f[static_cast<size_t>(li)] = v.f;
      o.i[static_cast<size_t>(li)] = v.i;
    }
    emit(res, 0, dt, o);
    return;
  }
  // in place: scatter (index, src), index_put (index 1-d, src)
  for (int64_t li = 0; li < n; ++li) {
    const Value v = out_old(c, 0, coords_of(ov.sizes, li));
    o.f[static_cast<size_t>(li)] = v.f;
    o.i[static_cast<size_t>(li)] = v.i;
    o.abs[static_cast<size_t>(li)] = std::fabs(v.f);
  }
  const bool is_scatter = op == "scatter";
  const int64_t reduce = is_scatter ? int_attr(c, "reduce", 0) : (int_attr(c, "accumulate", 0) != 0 ? 1 : 0);
  const View& walk = is_scatter ? c.in_views[0] : c.in_views[1];  // scatter walks index, index_put src
  const int64_t size = ov.sizes[static_cast<size_t>(dim)];
  // every index is checked before anything is written
  std::vector<std::pair<size_t, Value>> writes;
  for (int64_t li = 0; li < walk.numel(); ++li) {
    Coords p = coords_of(walk.sizes, li);
    const int64_t raw = is_scatter ? in_c(c, 0, p).i : in_c(c, 0, {p[static_cast<size_t>(dim)]}).i;
    int64_t r = 0;
    if (!resolve(raw, size, !is_scatter && wrap, r)) {
      res.error = oob(op, raw, dim, size);
      return;
    }
    const Value v = in_c(c, 1, p);
    p[static_cast<size_t>(dim)] = r;
    writes.emplace_back(static_cast<size_t>(linear_of(ov.sizes, p)), v);
  }
  for (const auto& [t, v] : writes) combine(dt, reduce, o.f[t], o.abs[t], o.i[t], v);
  // duplicates accumulate in the output's dtype, one rounding per step
  // (PyTorch's CPU kernels): the bound is the dtype's unit roundoff
  const double unit = dt == PRISM_DTYPE_F16    ? std::ldexp(1.0, -11)
                      : dt == PRISM_DTYPE_BF16 ? std::ldexp(1.0, -8)
                      : dt == PRISM_DTYPE_F32  ? std::ldexp(1.0, -24)
                                               : std::ldexp(1.0, -53);
  emit(res, 0, dt, o, is_float(dt) ? 2 * unit / ref_accumulation_eps(dt) : 1.0);
}

void run_nonzero(const RefCall& c, RefResult& res) {
  const View& xv = c.in_views[0];
  const int64_t nd = static_cast<int64_t>(xv.sizes.size());
  std::vector<int64_t> flat;
  int64_t rows = 0;
  for (int64_t li = 0; li < xv.numel(); ++li) {
    const Coords p = coords_of(xv.sizes, li);
    const Value v = in_c(c, 0, p);
    const bool nz = is_float(xv.dtype) ? v.f != 0 || std::isnan(v.f) : v.i != 0;
    if (!nz) continue;
    ++rows;
    flat.insert(flat.end(), p.begin(), p.end());
  }
  if (c.out_view.sizes.size() != 2 || c.out_view.sizes[0] != rows || c.out_view.sizes[1] != nd) {
    res.error = "nonzero: the output must be [" + std::to_string(rows) + ", " + std::to_string(nd) + "]";
    return;
  }
  Out o(static_cast<int64_t>(flat.size()));
  for (size_t j = 0; j < flat.size(); ++j) o.i[j] = flat[j];
  emit(res, 0, PRISM_DTYPE_I64, o);
}

void run_scan(const RefCall& c, RefResult& res) {
  const bool prod = std::string(c.op->name) == "cumprod";
  const View& ov = c.out_view;
  const int32_t dt = ov.dtype;
  const int64_t dim = int_attr(c, "dim", 0);
  Out o(ov.numel());
  for (int64_t li = 0; li < ov.numel(); ++li) {
    Coords p = coords_of(ov.sizes, li);
    const int64_t upto = p[static_cast<size_t>(dim)];
    double f = prod ? 1 : 0, a = 0;
    uint64_t i = prod ? 1 : 0;
    for (int64_t j = 0; j <= upto; ++j) {
      p[static_cast<size_t>(dim)] = j;
      const Value v = in_c(c, 0, p);
      if (prod) {
        f *= v.f;
        i *= static_cast<uint64_t>(v.i);
      } else {
        f += v.f;
        i += static_cast<uint64_t>(v.i);
        a += std::fabs(v.f);
      }
    }
    const size_t s = static_cast<size_t>(li);
    o.f[s] = f;
    o.i[s] = static_cast<int64_t>(i);
    o.abs[s] = prod ? std::fabs(f) * static_cast<double>(upto + 1) : a;
  }
  emit(res, 0, dt, o);
}

void run_sort(const RefCall& c, RefResult& res) {
  const bool topk = std::string(c.op->name) == "topk";
  const View& xv = c.in_views[0];
  const View& ov = c.out_view;
  const int32_t dt = ov.dtype;
  const int64_t dim = int_attr(c, "dim", 0);
  const bool desc = topk ? int_attr(c, "largest", 1) != 0 : int_attr(c, "descending", 0) != 0;
  const int64_t len = xv.sizes[static_cast<size_t>(dim)];
  Out vals(ov.numel()), idx(ov.numel());
  for (int64_t li = 0; li < ov.numel(); ++li) {
    Coords p = coords_of(ov.sizes, li);
    const int64_t rank = p[static_cast<size_t>(dim)];
    std::vector<std::pair<Value, int64_t>> row;
    for (int64_t j = 0; j < len; ++j) {
      p[static_cast<size_t>(dim)] = j;
      row.emplace_back(in_c(c, 0, p), j);
    }
    const bool fl = is_float(xv.dtype);
    std::stable_sort(row.begin(), row.end(), [&](const auto& a, const auto& b) {
      if (fl) {
        const bool an = std::isnan(a.first.f), bn = std::isnan(b.first.f);
        if (an || bn) return an && bn ? false : (desc ? an : bn);
        return desc ? a.first.f > b.first.f : a.first.f < b.first.f;
      }
      return desc ? a.first.i > b.first.i : a.first.i < b.first.i;
    });
    const size_t s = static_cast<size_t>(li);
    vals.f[s] = row[static_cast<size_t>(rank)].first.f;
    vals.i[s] = row[static_cast<size_t>(rank)].first.i;
    idx.i[s] = row[static_cast<size_t>(rank)].second;
  }
  emit(res, 0, dt, vals);
  emit(res, 1, PRISM_DTYPE_I64, idx);
}

// ===========================================================================
// Optimizer updates (docs/ops.md, Optimizer updates)
// ===========================================================================

void run_optim(const RefCall& c, RefResult& res) {
  const bool adam = std::string(c.op->name) == "adam_update";
  const View& pv = c.out_views[0];
  const int32_t dt = pv.dtype;
  const int64_t n = pv.numel();
  const size_t nout = c.out_views.size();
  std::vector<Out> outs;
  for (size_t k = 0; k < nout; ++k) outs.emplace_back(n);
  const double lr = float_attr(c, "lr", 0), wd = float_attr(c, "weight_decay", 0);
  const int64_t flags = int_attr(c, "flags", 0);
  for (int64_t li = 0; li < n; ++li) {
    const Coords p = coords_of(pv.sizes, li);
    const size_t s = static_cast<size_t>(li);
    double param = out_old(c, 0, p).f, g = in_c(c, 0, p).f;
    if (!adam) {
      const double m = float_attr(c, "momentum", 0), damp = float_attr(c, "dampening", 0);
      const bool nesterov = flags & 1, maximize = flags & 2, init = flags & 4;
      double d = maximize ? -g : g;
      if (wd != 0) d += wd * param;
      if (m != 0 && nout == 2) {
        const double buf = init ? d : m * out_old(c, 1, p).f + (1 - damp) * d;
        outs[1].f[s] = buf;
        d = nesterov ? d + m * buf : buf;
      }
      outs[0].f[s] = param - lr * d;
      continue;
    }
    const double b1 = float_attr(c, "beta1", 0.9), b2 = float_attr(c, "beta2", 0.999);
    const double eps = float_attr(c, "eps", 1e-8);
    const double step = static_cast<double>(int_attr(c, "step", 1));
    const bool amsgrad = flags & 1, maximize = flags & 2, decoupled = flags & 4;
    if (maximize) g = -g;
    if (wd != 0) {
      if (decoupled)
        param *= 1 - lr * wd;
      else
        g += wd * param;
    }
    const double m = b1 * out_old(c, 1, p).f + (1 - b1) * g;
    double v = b2 * out_old(c, 2, p).f + (1 - b2) * g * g;
    outs[1].f[s] = m;
    outs[2].f[s] = v;
    if (amsgrad && nout == 4) {
      const double mx = out_old(c, 3, p).f;
      v = std::isnan(mx) || mx > v ? mx : v;
      outs[3].f[s] = v;
    }
    const double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, step)) + eps;
    outs[0].f[s] = param - lr / (1 - std::pow(b1, step)) * m / denom;
  }
  for (size_t k = 0; k < nout; ++k) emit(res, k, dt, outs[k]);
}

// ===========================================================================
// Gradient scaler (docs/ops.md, Optimizer updates; Note [Gradient scaler ops])
// ===========================================================================

// out: grad (in place), found_inf (f32 [1]); in: inv_scale (f32 [1]).
void run_amp_unscale(const RefCall& c, RefResult& res) {
  const View& gv = c.out_views[0];
  const int64_t n = gv.numel();
  const double inv = in_c(c, 0, coords_of(c.in_views[0].sizes, 0)).f;
  Out grad(n), found(1);
  found.f[0] = out_old(c, 1, coords_of(c.out_views[1].sizes, 0)).f;
  for (int64_t li = 0; li < n; ++li) {
    const double g = out_old(c, 0, coords_of(gv.sizes, li)).f;
    if (!std::isfinite(g)) found.f[0] = 1.0;
    // The product is formed in f32 for f16/bf16/f32 grads (f64 for f64), then rounded to grad's dtype.
    const double p = gv.dtype == PRISM_DTYPE_F64 ? g * inv : static_cast<double>(static_cast<float>(g * inv));
    grad.f[static_cast<size_t>(li)] = inv == 1.0 ? g : p;
  }
  emit(res, 0, gv.dtype, grad);
  emit(res, 1, PRISM_DTYPE_F32, found);
}

// ===========================================================================
// Attention (docs/ops.md, Attention kernel; Note [Fused attention kernel])
// ===========================================================================

// in: q (B..., L, E), k (B..., S, E), v (B..., S, Ev), optional additive mask
// (B..., L, S); out (B..., L, Ev); attrs scale, is_causal. A row with every
// score -inf is NaN. The tolerance covers the scores' rounding carried
// through exp (Σ_j p_j |v_j| times the largest |score| and S) and the sum.
void run_attention(const RefCall& c, RefResult& res) {
  const View& ov = c.out_view;
  const size_t nd = ov.sizes.size();
  const int64_t Ev = ov.sizes[nd - 1];
  const int64_t S = c.in_views[1].sizes[nd - 2], E = c.in_views[0].sizes[nd - 1];
  const double scale = float_attr(c, "scale", 1.0 / std::sqrt(static_cast<double>(E)));
  const bool causal = int_attr(c, "is_causal", 0) != 0;
  const bool has_mask = c.in_views.size() == 4;
  const int64_t n = ov.numel();
  Out o(n);
  std::vector<double> s(static_cast<size_t>(S)), mag(static_cast<size_t>(S));
  for (int64_t row = 0; row < n / std::max<int64_t>(Ev, 1); ++row) {
    Coords p = coords_of(ov.sizes, row * Ev);
    const int64_t i = p[nd - 2];
    double m = -INFINITY, big = 0;
    for (int64_t j = 0; j < S; ++j) {
      Coords qc = p, kc = p;
      double dot = 0, adot = 0;
      for (int64_t e = 0; e < E; ++e) {
        qc[nd - 1] = e;
        kc[nd - 2] = j;
        kc[nd - 1] = e;
        const double t = in_c(c, 0, qc).f * in_c(c, 1, kc).f;
        dot += t;
        adot += std::fabs(t);
      }
      double x = dot * scale, ax = adot * std::fabs(scale);
      if (has_mask) {
        Coords mc = p;
        mc[nd - 1] = j;
        const double mv = in_c(c, 3, mc).f;
        x += mv;
        ax += std::isfinite(mv) ? std::fabs(mv) : 0.0;
      }
      if (causal && j > i) x = -INFINITY;
      s[static_cast<size_t>(j)] = x;
      mag[static_cast<size_t>(j)] = ax;
      if (x > m) m = x;
      if (std::isfinite(x)) big = std::max(big, ax);
    }
    double z = 0;
    for (int64_t j = 0; j < S; ++j) z += std::exp(s[static_cast<size_t>(j)] - m);
    for (int64_t e = 0; e < Ev; ++e) {
      double acc = 0, aacc = 0;
      Coords vc = p;
      vc[nd - 1] = e;
      for (int64_t j = 0; j < S; ++j) {
        vc[nd - 2] = j;
        const double w = m == -INFINITY ? NAN : std::exp(s[static_cast<size_t>(j)] - m) / z;
        const double vv = in_c(c, 2, vc).f;
        acc += w * vv;
        aacc += std::isnan(w) ? 0.0 : w * std::fabs(vv);
      }
      const size_t at = static_cast<size_t>(row * Ev + e);
      o.f[at] = acc;
      o.abs[at] = aacc * (4.0 + 4.0 * big + static_cast<double>(S));
    }
  }
  emit(res, 0, ov.dtype, o);
}

}  // namespace

void reference_run_ext(const RefCall& c, RefResult& res) {
  switch (c.op->kind) {
    case OpKind::kSoftmax:
      run_softmax(c, res);
      return;
    case OpKind::kConv:
      run_conv(c, res);
      return;
    case OpKind::kPool:
      run_pool(c, res);
      return;
    case OpKind::kGather:
    case OpKind::kScatter:
    case OpKind::kIndexSelect:
    case OpKind::kIndexPut:
      run_indexing(c, res);
      return;
    case OpKind::kNonzero:
      run_nonzero(c, res);
      return;
    case OpKind::kScan:
      run_scan(c, res);
      return;
    case OpKind::kSort:
      run_sort(c, res);
      return;
    case OpKind::kOptim:
      run_optim(c, res);
      return;
    case OpKind::kAmpUnscale:
      run_amp_unscale(c, res);
      return;
    case OpKind::kAttention:
      run_attention(c, res);
      return;
    default:
      res.error = std::string("no reference kernel for ") + c.op->name;
      return;
  }
}

}  // namespace prism::conformance
