// user_modes.cpp — the grad and async conformance modes, run through the user C ABI (prism.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "prism/prism.h"
#include "reference.hpp"
#include "suite.hpp"

namespace prism::conformance {

/*
 * Note [Conformance user-ABI modes]
 * ---------------------------------
 * `grad` and `async` test what the core builds on top of a plugin, so they go
 * through libprism like a user: prism_plugin_load(path), tensors on
 * "<type>:<index>", autograd and host reads. For each op, grad computes
 *   L(x) = sum(f(x) * w)     (w fixed random weights on the device)
 * backpropagates, and compares dL/dx with central finite differences of L
 * evaluated on the same device (f64, f32) or with the f64 autograd gradient
 * (f16, bf16), for every float dtype the device has kernels for (Note [Grad
 * mode dtypes]). Ops the plugin lacks run through the core's fallback, so
 * the check also covers the copies fallback makes.
 */

namespace {

struct T {
  prism_tensor_t t = nullptr;
  T() = default;
  explicit T(prism_tensor_t x) : t(x) {}
  T(const T&) = delete;
  T& operator=(const T&) = delete;
  T(T&& o) noexcept : t(o.t) { o.t = nullptr; }
  T& operator=(T&& o) noexcept {
    if (this != &o) {
      if (t) prism_tensor_release(t);
      t = o.t;
      o.t = nullptr;
    }
    return *this;
  }
  ~T() {
    if (t) prism_tensor_release(t);
  }
};

struct Failure {
  std::string what;
};

void check(prism_status s, const char* what) {
  if (s != PRISM_OK) throw Failure{std::string(what) + ": " + prism_last_error()};
}

T from_host(const std::vector<double>& v, const std::vector<int64_t>& sizes, prism_dtype dt,
            const std::string& dev) {
  prism_tensor_t t = nullptr;
  if (dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16) {  // f32 on the device, then cast there
    T f = from_host(v, sizes, PRISM_DTYPE_F32, dev);
    check(prism_to_dtype(f.t, dt, &t), "prism_to_dtype");
  } else if (dt == PRISM_DTYPE_F64) {
    check(prism_from_data(v.data(), sizes.data(), static_cast<int32_t>(sizes.size()), dt, dev.c_str(), &t),
          "prism_from_data");
  } else {
    std::vector<float> f(v.begin(), v.end());
    check(prism_from_data(f.data(), sizes.data(), static_cast<int32_t>(sizes.size()), dt, dev.c_str(), &t),
          "prism_from_data");
  }
  return T(t);
}

std::vector<double> to_host(prism_tensor_t t) {
  const int64_t n = prism_tensor_numel(t);
  std::vector<double> out(static_cast<size_t>(n));
  const prism_dtype dt = prism_tensor_dtype(t);
  if (dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16) {
    prism_tensor_t f = nullptr;
    check(prism_to_dtype(t, PRISM_DTYPE_F32, &f), "prism_to_dtype");
    T ft(f);
    return to_host(ft.t);
  }
  if (dt == PRISM_DTYPE_F64) {
    check(prism_tensor_copy_to_host(t, out.data(), out.size() * sizeof(double)), "prism_tensor_copy_to_host");
  } else {
    std::vector<float> f(static_cast<size_t>(n));
    check(prism_tensor_copy_to_host(t, f.data(), f.size() * sizeof(float)), "prism_tensor_copy_to_host");
    for (size_t i = 0; i < f.size(); ++i) out[i] = f[i];
  }
  return out;
}

using Fn = std::function<T(const std::vector<prism_tensor_t>&)>;

T unary(prism_status (*f)(prism_tensor_t, prism_tensor_t*), prism_tensor_t x, const char* name) {
  prism_tensor_t y = nullptr;
  check(f(x, &y), name);
  return T(y);
}
T binary(prism_status (*f)(prism_tensor_t, prism_tensor_t, prism_tensor_t*), prism_tensor_t a,
         prism_tensor_t b, const char* name) {
  prism_tensor_t y = nullptr;
  check(f(a, b, &y), name);
  return T(y);
}

struct GradOp {
  const char* name;
  int n_inputs;
  double lo, hi;  // input domain
  std::vector<std::vector<int64_t>> shapes;
  Fn f;
};

std::vector<GradOp> grad_ops() {
  auto u = [](const char* name, prism_status (*fn)(prism_tensor_t, prism_tensor_t*), double lo, double hi) {
    return GradOp{
        name, 1,        lo,
        hi,   {{2, 3}}, [fn, name](const std::vector<prism_tensor_t>& x) {
                    return unary(fn, x[0], name); }};
  };
  auto b = [](const char* name, prism_status (*fn)(prism_tensor_t, prism_tensor_t, prism_tensor_t*),
              double lo, double hi) {
    return GradOp{name, 2, lo, hi, {{2, 3}, {2, 3}}, [fn, name](const std::vector<prism_tensor_t>& x) {
                    return binary(fn, x[0], x[1], name);
                  }};
  };
  std::vector<GradOp> ops = {
      u("exp", prism_exp, -1, 1),
      u("log", prism_log, 0.5, 2),
      u("sqrt", prism_sqrt, 0.5, 2),
      u("tanh", prism_tanh, -1, 1),
      u("sigmoid", prism_sigmoid, -2, 2),
      u("sin", prism_sin, -2, 2),
      u("gelu", prism_gelu, -2, 2),
      u("square", prism_square, -2, 2),
      u("reciprocal", prism_reciprocal, 0.5, 2),
      u("tan", prism_tan, -1, 1),
      u("asin", prism_asin, -0.8, 0.8),
      u("acos", prism_acos, -0.8, 0.8),
      u("atan", prism_atan, -2, 2),
      u("sinh", prism_sinh, -2, 2),
      u("cosh", prism_cosh, -2, 2),
      u("asinh", prism_asinh, -2, 2),
      u("acosh", prism_acosh, 1.2, 3),
      u("atanh", prism_atanh, -0.8, 0.8),
      u("log2", prism_log2, 0.5, 2),
      u("log10", prism_log10, 0.5, 2),
      b("mul", prism_mul, -2, 2),
      b("div", prism_div, 0.5, 2),
      b("maximum", prism_maximum, -2, 2),
      b("pow", prism_pow, 0.5, 2),
      b("atan2", prism_atan2, 0.5, 2),
      b("hypot", prism_hypot, 0.5, 2),
      b("logaddexp", prism_logaddexp, -2, 2),
  };
  ops.push_back({"add", 2, -2, 2, {{2, 3}, {3}}, [](const std::vector<prism_tensor_t>& x) {
                   prism_tensor_t y = nullptr;
                   check(prism_add(x[0], x[1], 0.5, &y), "prism_add");  // broadcast + alpha
                   return T(y);
                 }});
  ops.push_back({"sub", 2, -2, 2, {{2, 3}, {2, 3}}, [](const std::vector<prism_tensor_t>& x) {
                   prism_tensor_t y = nullptr;
                   check(prism_sub(x[0], x[1], 1.5, &y), "prism_sub");
                   return T(y);
                 }});
  ops.push_back({"sum", 1, -2, 2, {{2, 3}}, [](const std::vector<prism_tensor_t>& x) {
                   prism_tensor_t y = nullptr;
                   const int64_t dim = 1;
                   check(prism_sum(x[0], &dim, 1, 1, &y), "prism_sum");
                   return T(y);
                 }});
  ops.push_back({"amax", 1, -2, 2, {{2, 3}}, [](const std::vector<prism_tensor_t>& x) {
                   prism_tensor_t y = nullptr;
                   const int64_t dim = 1;
                   check(prism_amax(x[0], &dim, 1, 0, &y), "prism_amax");
                   return T(y);
                 }});
  ops.push_back({"bmm", 2, -1, 1, {{2, 2, 3}, {2, 3, 2}}, [](const std::vector<prism_tensor_t>& x) {
                   return binary(prism_bmm, x[0], x[1], "prism_bmm");
                 }});
  return ops;
}

// L = sum(f(x) * w), as a double.
double loss(const GradOp& op, const std::vector<prism_tensor_t>& xs, const std::vector<double>& w,
            prism_dtype dt, const std::string& dev, T* keep_graph_root) {
  T y = op.f(xs);
  std::vector<int64_t> ys(static_cast<size_t>(prism_tensor_ndim(y.t)));
  check(prism_tensor_sizes(y.t, ys.data(), static_cast<int32_t>(ys.size())), "prism_tensor_sizes");
  std::vector<double> wv(w.begin(), w.begin() + prism_tensor_numel(y.t));
  T wt = from_host(wv, ys, dt, dev);
  prism_tensor_t prod = nullptr, total = nullptr;
  check(prism_mul(y.t, wt.t, &prod), "prism_mul");
  T p(prod);
  check(prism_sum(p.t, nullptr, 0, 0, &total), "prism_sum");
  T s(total);
  double v = 0;
  check(prism_tensor_item_double(s.t, &v), "prism_tensor_item_double");
  if (keep_graph_root) *keep_graph_root = std::move(s);
  return v;
}

// Note [Grad failure diagnostics]
// A wrong gradient is the product of several kernels (the forward op, the
// backward formula's ops, mul and sum of the loss). To name the one that is
// wrong, the grad mode records the kernel calls of every gradient it
// computes: unless the user records already, it points PRISM_RECORD (Note
// [Kernel call recording], core/dispatch/record.hpp) at a temporary file
// before libprism runs its first kernel, and keeps the lines written while a
// gradient is computed with the case. The runner then replays a failing
// case's calls on the plugin, each alone against the reference (Note
// [Replaying recorded calls]), and the failure line names the kernel whose
// replay fails, with its dtype, shapes, strides and offsets.
class CallLog {
 public:
  CallLog() {
    if (std::getenv("PRISM_RECORD") != nullptr) return;  // the user's own recording: leave it alone
    char path[] = "/tmp/prism-conformance-calls-XXXXXX";
    fd_ = mkstemp(path);
    if (fd_ < 0) return;
    path_ = path;
    setenv("PRISM_RECORD", path, 1);
  }
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;
  ~CallLog() {
    if (fd_ >= 0) close(fd_);
    release_path();
  }
  int64_t size() const {
    struct stat st {};
    return fd_ >= 0 && fstat(fd_, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  }
  std::string read(int64_t from, int64_t to) const {
    std::string s;
    if (fd_ < 0 || to <= from) return s;
    s.resize(static_cast<size_t>(to - from));
    const ssize_t n = pread(fd_, &s[0], s.size(), from);
    s.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return s;
  }
  // Once the core has opened the file (its first kernel ran) the name can go.
  void release_path() {
    if (path_.empty()) return;
    unlink(path_.c_str());
    const char* env = std::getenv("PRISM_RECORD");
    if (env != nullptr && path_ == env) unsetenv("PRISM_RECORD");
    path_.clear();
  }

 private:
  int fd_ = -1;
  std::string path_;
};

CallLog& call_log() {
  static CallLog log;
  return log;
}

// The analytic gradient of L = sum(f(x) * w) with respect to every input, computed
// in `dt` on `dev` (inputs and weights given as doubles, converted to dt there).
std::vector<std::vector<double>> autograd_gradient(const GradOp& op,
                                                   const std::vector<std::vector<double>>& xv,
                                                   const std::vector<double>& w, prism_dtype dt,
                                                   const std::string& dev) {
  std::vector<T> leaves;
  std::vector<prism_tensor_t> raw;
  for (size_t k = 0; k < xv.size(); ++k) {
    leaves.push_back(from_host(xv[k], op.shapes[k], dt, dev));
    check(prism_tensor_set_requires_grad(leaves.back().t, 1), "prism_tensor_set_requires_grad");
    raw.push_back(leaves.back().t);
  }
  T root;
  loss(op, raw, w, dt, dev, &root);
  check(prism_backward(root.t, nullptr, 0), "prism_backward");
  std::vector<std::vector<double>> grads;
  for (size_t k = 0; k < xv.size(); ++k) {
    prism_tensor_t g = nullptr;
    check(prism_tensor_grad(leaves[k].t, &g), "prism_tensor_grad");
    if (g == nullptr) throw Failure{"input " + std::to_string(k) + " has no gradient after backward"};
    T gt(g);
    const std::string gdev = prism_tensor_device(gt.t);
    if (gdev.rfind(dev.substr(0, dev.find(':')), 0) != 0)
      throw Failure{"gradient of input " + std::to_string(k) + " lives on " + gdev + ", not " + dev};
    if (prism_tensor_dtype(gt.t) != dt)
      throw Failure{"gradient of input " + std::to_string(k) + " has dtype " +
                    dtype_name(prism_tensor_dtype(gt.t)) + ", not " + dtype_name(dt)};
    grads.push_back(to_host(gt.t));
  }
  return grads;
}

}  // namespace

/*
 * Note [Grad mode dtypes]
 * -----------------------
 * The grad mode runs for every float dtype the device stores and has kernels
 * for (all of f64 f32 f16 bf16 the --dtype filter keeps):
 *   f64, f32   autograd against central finite differences of L on the
 *              device in that dtype: f64 eps 1e-6, tolerance 1e-5; f32 eps
 *              1e-2, tolerance 2e-2 (relative to the gradient's scale,
 *              max(1e-3, max |finite difference|))
 *   f16, bf16  finite differences are useless at 3 significant digits, so
 *              autograd in the half dtype is compared with autograd in f64
 *              (on the device when it stores f64, else on the CPU plugin) at
 *              the same inputs and weights (rounded to the half dtype first):
 *              |g_half - g_f64| <= tol * max(1e-3, max |g_f64|), tol 1e-2 for
 *              f16 (unit roundoff 2^-11: a few roundings in forward and
 *              backward) and 5e-2 for bf16 (2^-8). NaN or Inf where f64 is
 *              finite fails.
 * (Note [Conformance tolerances] in suite.cpp lists these with the ops
 * mode's tolerances.) A device with no float kernels at all runs f64 or f32
 * as it stores them.
 */
std::vector<CaseResult> run_grad_mode(const UserModeOptions& o) {
  std::vector<CaseResult> out;
  if (prism_plugin_load(o.plugin_path.c_str()) != PRISM_OK) {
    out.push_back({"grad", "(plugin)", "-", "load", "fail",
                   std::string("prism_plugin_load failed: ") + prism_last_error()});
    return out;
  }
  prism_fallback_set_policy(PRISM_FALLBACK_ALLOW);
  CallLog& calls = call_log();
  std::vector<prism_dtype> dtypes;
  for (prism_dtype dt : {PRISM_DTYPE_F64, PRISM_DTYPE_F32, PRISM_DTYPE_F16, PRISM_DTYPE_BF16})
    for (int32_t k : o.kernel_dtypes)
      if (k == dt) dtypes.push_back(dt);
  if (dtypes.empty()) dtypes.push_back(o.f64 ? PRISM_DTYPE_F64 : PRISM_DTYPE_F32);
  // where the f64 gradient of the half dtypes comes from
  std::string ref_dev = o.f64 ? o.device : "cpu";
  std::string ref_skip;
  if (!o.f64) {
    prism_tensor_t probe = nullptr;
    const double one = 1;
    const int64_t n1 = 1;
    if (prism_from_data(&one, &n1, 1, PRISM_DTYPE_F64, ref_dev.c_str(), &probe) != PRISM_OK)
      ref_skip = std::string(
                     "skipped: the device stores no f64 and no CPU device is loaded for the f64 "
                     "reference gradient (") +
                 prism_last_error() + ")";
    else
      prism_tensor_release(probe);
  }
  for (prism_dtype dt : dtypes) {
    const bool half = dt == PRISM_DTYPE_F16 || dt == PRISM_DTYPE_BF16;
    const double eps = dt == PRISM_DTYPE_F64 ? 1e-6 : 1e-2;
    const double tol = dt == PRISM_DTYPE_F64   ? 1e-5
                       : dt == PRISM_DTYPE_F32 ? 2e-2
                       : dt == PRISM_DTYPE_F16 ? 1e-2
                                               : 5e-2;
    std::mt19937_64 rng(1234);
    for (const GradOp& op : grad_ops()) {
      if (!o.op_regex.empty() && !std::regex_search(op.name, std::regex(o.op_regex))) continue;
      CaseResult r{"grad", op.name, dtype_name(dt), half ? "vs_f64_autograd" : "finite_difference",
                   "pass", ""};
      std::uniform_real_distribution<double> dist(op.lo, op.hi);
      std::vector<std::vector<double>> xv;
      for (const auto& sh : op.shapes) {
        int64_t n = 1;
        for (int64_t d : sh) n *= d;
        std::vector<double> v(static_cast<size_t>(n));
        for (double& x : v) x = half ? round_to(dt, dist(rng)) : dist(rng);
        xv.push_back(v);
      }
      std::vector<double> w(64);
      std::uniform_real_distribution<double> wd(-1, 1);
      for (double& x : w) x = half ? round_to(dt, wd(rng)) : wd(rng);
      if (half && !ref_skip.empty()) {
        r.status = "skip";
        r.message = ref_skip;
        out.push_back(std::move(r));
        continue;
      }
      try {
        const int64_t log_from = calls.size();
        const std::vector<std::vector<double>> analytic = autograd_gradient(op, xv, w, dt, o.device);
        const int64_t log_to = calls.size();
        std::vector<std::vector<double>> want;
        if (half) want = autograd_gradient(op, xv, w, PRISM_DTYPE_F64, ref_dev);
        double worst = 0, scale = 1e-3;
        std::string where;
        for (size_t k = 0; k < xv.size(); ++k) {
          for (size_t j = 0; j < xv[k].size(); ++j) {
            double expected;
            if (half) {
              expected = want[k][j];
            } else {
              auto eval = [&](double delta) {
                prism_no_grad_enter();
                std::vector<T> ins;
                std::vector<prism_tensor_t> rs;
                for (size_t m = 0; m < xv.size(); ++m) {
                  std::vector<double> v = xv[m];
                  if (m == k) v[j] += delta;
                  ins.push_back(from_host(v, op.shapes[m], dt, o.device));
                  rs.push_back(ins.back().t);
                }
                double l = 0;
                try {
                  l = loss(op, rs, w, dt, o.device, nullptr);
                } catch (...) {
                  prism_no_grad_exit();
                  throw;
                }
                prism_no_grad_exit();
                return l;
              };
              expected = (eval(eps) - eval(-eps)) / (2 * eps);
            }
            scale = std::max(scale, std::fabs(expected));
            double err = std::fabs(expected - analytic[k][j]);
            if (!std::isfinite(analytic[k][j]) && std::isfinite(expected)) err = INFINITY;
            if (err > worst || (where.empty() && err != err)) {
              worst = err != err ? INFINITY : err;
              char buf[160];
              std::snprintf(buf, sizeof buf, "input %zu element %zu: autograd %.9g, %s %.9g", k, j,
                            analytic[k][j], half ? "f64 autograd" : "finite difference", expected);
              where = buf;
            }
          }
        }
        r.max_abs_err = worst;
        if (worst > tol * scale) {
          r.status = "fail";
          char buf[64];
          std::snprintf(buf, sizeof buf, " (|err| %.3g above %.3g)", worst, tol * scale);
          r.message = where + buf;
          r.calls = calls.read(log_from, log_to);
        } else {
          char buf[128];
          std::snprintf(buf, sizeof buf, "max |autograd - %s| %.3g (scale %.3g)",
                        half ? "f64 autograd" : "finite difference", worst, scale);
          r.message = buf;
        }
      } catch (const Failure& f) {
        r.status = "fail";
        r.message = f.what;
      }
      out.push_back(std::move(r));
    }
  }
  calls.release_path();
  return out;
}

std::vector<CaseResult> run_async_mode(const UserModeOptions& o) {
  std::vector<CaseResult> out;
  if (prism_plugin_load(o.plugin_path.c_str()) != PRISM_OK) {
    out.push_back({"async", "(plugin)", "-", "load", "fail",
                   std::string("prism_plugin_load failed: ") + prism_last_error()});
    return out;
  }
  prism_fallback_set_policy(PRISM_FALLBACK_ALLOW);
  const prism_dtype dt = o.f64 ? PRISM_DTYPE_F64 : PRISM_DTYPE_F32;
  const char* dts = o.f64 ? "f64" : "f32";
  // 1. a chain of in-place ops read back once: each must see the previous one
  {
    CaseResult r{"async", "add_", dts, "stream_order_chain", "pass", ""};
    try {
      const int64_t n = 1 << 16;
      std::vector<double> zeros(static_cast<size_t>(n), 0.0), ones(static_cast<size_t>(n), 1.0);
      T acc = from_host(zeros, {n}, dt, o.device);
      T one = from_host(ones, {n}, dt, o.device);
      for (int i = 0; i < 100; ++i) check(prism_add_(acc.t, one.t, 1.0), "prism_add_");
      const std::vector<double> got = to_host(acc.t);
      for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != 100.0) {
          r.status = "fail";
          r.message = "element " + std::to_string(i) + " is " + std::to_string(got[i]) +
                      " after 100 queued add_ (expected 100): a host read did not wait for queued work";
          break;
        }
      if (r.status == "pass") r.message = "100 queued in-place adds, one host read";
    } catch (const Failure& f) {
      r.status = "fail";
      r.message = f.what;
    }
    out.push_back(std::move(r));
  }
  // 2. device -> cpu -> device round trip after queued work
  {
    CaseResult r{"async", "copy", dts, "cross_device_round_trip", "pass", ""};
    try {
      const int64_t n = 4097;
      std::vector<double> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i % 1000) * 0.5;
      T x = from_host(v, {n}, dt, o.device);
      T y = unary(prism_neg, x.t, "prism_neg");
      prism_tensor_t on_cpu = nullptr, back = nullptr;
      check(prism_to_device(y.t, "cpu", &on_cpu), "prism_to_device(cpu)");
      T c(on_cpu);
      check(prism_to_device(c.t, o.device.c_str(), &back), "prism_to_device(device)");
      T b(back);
      check(prism_synchronize(o.device.c_str()), "prism_synchronize");
      const std::vector<double> got = to_host(b.t);
      for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != -v[i]) {
          r.status = "fail";
          r.message = "element " + std::to_string(i) + " is " + std::to_string(got[i]) + ", expected " +
                      std::to_string(-v[i]);
          break;
        }
      if (r.status == "pass") r.message = "neg on the device, copy to cpu and back";
    } catch (const Failure& f) {
      r.status = "fail";
      r.message = f.what;
    }
    out.push_back(std::move(r));
  }
  // 3. Note [Async mode dtypes]: for every dtype the device stores and has
  // kernels for (not only the f64/f32 of the cases above): an upload read
  // back at once, and a chain of queued in-place adds read back once, with
  // no explicit synchronize in between. A device whose reads do not wait for
  // queued work (or whose kernels of one dtype run out of order) fails here.
  for (int32_t idt : o.kernel_dtypes) {
    const prism_dtype dt2 = static_cast<prism_dtype>(idt);
    const char* name = dtype_name(idt);
    const size_t esz = dtype_size(idt);
    const int64_t n = 4099;
    {
      CaseResult r{"async", "copy", name, "upload_then_read", "pass", ""};
      try {
        std::vector<uint8_t> img(static_cast<size_t>(n) * esz);
        for (int64_t i = 0; i < n; ++i)
          store_int(idt, img.data() + static_cast<size_t>(i) * esz,
                    idt == PRISM_DTYPE_BOOL ? (i % 3 == 0) : (i % 97) - 40 * (idt != PRISM_DTYPE_U8));
        prism_tensor_t t = nullptr;
        check(prism_from_data(img.data(), &n, 1, dt2, o.device.c_str(), &t), "prism_from_data");
        T tt(t);
        std::vector<uint8_t> back(img.size(), 0);
        check(prism_tensor_copy_to_host(tt.t, back.data(), back.size()), "prism_tensor_copy_to_host");
        for (size_t i = 0; i < back.size(); ++i)
          if (back[i] != img[i]) {
            r.status = "fail";
            r.message = "byte " + std::to_string(i) + " read back right after the upload is " +
                        std::to_string(back[i]) + ", uploaded " + std::to_string(img[i]) +
                        ": the read did not wait for the queued upload";
            break;
          }
        if (r.status == "pass")
          r.message = std::to_string(n) + " elements uploaded and read back, no synchronize";
      } catch (const Failure& f) {
        r.status = "fail";
        r.message = f.what;
      }
      out.push_back(std::move(r));
    }
    {
      CaseResult r{"async", "add_", name, "queued_chain_then_read", "pass", ""};
      try {
        // bool: add is or, so the chain ends at 1; others count to 50
        const int steps = idt == PRISM_DTYPE_BOOL ? 3 : 50;
        prism_tensor_t acc = nullptr, one = nullptr;
        check(prism_full(&n, 1, 0.0, dt2, o.device.c_str(), &acc), "prism_full");
        T a(acc);
        check(prism_full(&n, 1, 1.0, dt2, o.device.c_str(), &one), "prism_full");
        T b(one);
        for (int i = 0; i < steps; ++i) check(prism_add_(a.t, b.t, 1.0), "prism_add_");
        std::vector<uint8_t> back(static_cast<size_t>(n) * esz, 0);
        check(prism_tensor_copy_to_host(a.t, back.data(), back.size()), "prism_tensor_copy_to_host");
        const double want = idt == PRISM_DTYPE_BOOL ? 1.0 : steps;
        for (int64_t i = 0; i < n; ++i) {
          const Value v = load(idt, back.data() + static_cast<size_t>(i) * esz);
          const double got = is_float(idt) ? v.f : static_cast<double>(v.i);
          if (got != want) {
            r.status = "fail";
            r.message = "element " + std::to_string(i) + " is " + std::to_string(got) + " after " +
                        std::to_string(steps) + " queued add_ (expected " + std::to_string(want) +
                        "): a host read did not wait for queued work";
            break;
          }
        }
        if (r.status == "pass") r.message = std::to_string(steps) + " queued in-place adds, one host read";
      } catch (const Failure& f) {
        r.status = "fail";
        r.message = f.what;
      }
      out.push_back(std::move(r));
    }
  }
  out.push_back(
      {"async", "event", "-", "events_between_devices", "skip",
       "skipped: the user ABI exposes no events; cross-device ordering is covered by the round trip"});
  return out;
}

}  // namespace prism::conformance
