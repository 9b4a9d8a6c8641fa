// opencl_gemm.cpp — bmm for the OpenCL plugin: CLBlast when the operands fit its layout, the shared tiled
// kernel otherwise.
#include <cstdlib>
#include <cstring>
#include <string>

#include "opencl_internal.hpp"
#include "prism_gk_types.h"

#ifdef PRISM_OPENCL_HAVE_CLBLAST
#include <clblast_c.h>
#endif

namespace prism::opencl {
namespace {

// ===========================================================================
// Note [GEMM choice]
// ---------------------------------------------------------------------------
// f32 bmm goes to CLBlast (CLBlastSgemm for one matrix, the same call a
// direct CLBlast user makes; CLBlastSgemmStridedBatched for a batch) when it was found at build
// time and the operands fit a BLAS layout: each of a and b has a unit stride
// in one of its two matrix dims (row-major, or transposed = column-major)
// with a leading dimension covering the other, the output is row-major with
// ldc >= N, and batch strides are non-negative. Everything else (f64,
// arbitrary strides, CLBlast absent or failing with a non-memory error) runs
// the shared tiled kernel of backends/gpu_common/prism_gk_gemm.h, which
// handles any strides, including batch stride 0.
// Measured on PoCL (2 shared cores, f32 1024^2, bench_opencl): CLBlast about
// 5-17 GFLOP/s, the tiled kernel 0.5-0.56x of it in the same run, so CLBlast
// stays the default; the tiled kernel is the fallback and the kernel the
// CUDA/ROCm builds share.
// PRISM_OPENCL_GEMM=tiled forces the tiled kernel and =clblast makes a
// CLBlast failure an error instead of a fallback (used by the benchmark to
// measure both paths).
// ===========================================================================

enum class GemmChoice { kAuto, kTiled, kClblast };

GemmChoice gemm_choice() {
  const char* env = std::getenv("PRISM_OPENCL_GEMM");
  if (env == nullptr) return GemmChoice::kAuto;
  if (std::strcmp(env, "tiled") == 0) return GemmChoice::kTiled;
  if (std::strcmp(env, "clblast") == 0) return GemmChoice::kClblast;
  return GemmChoice::kAuto;
}

#ifdef PRISM_OPENCL_HAVE_CLBLAST
// Leading dimension and transpose flag of a (rows, cols) matrix with strides
// (rs, cs), or false when it is not a BLAS layout.
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool* trans, size_t* ld) {
  if (cs == 1 && (rs >= cols || rows <= 1)) {
    *trans = false;
    *ld = static_cast<size_t>(rs >= cols ? rs : (cols > 0 ? cols : 1));
    return true;
  }
  if (rs == 1 && (cs >= rows || cols <= 1)) {
    *trans = true;
    *ld = static_cast<size_t>(cs >= rows ? cs : (rows > 0 ? rows : 1));
    return true;
  }
  return false;
}

// Returns true when CLBlast ran (or failed with an error in *err).
bool try_clblast(Device& dev, prism_stream_t stream, const prism_gk_gemm& g, cl_mem a, cl_mem b, cl_mem o,
                 prism_plugin_error** err) {
  *err = nullptr;
  bool ta = false, tb = false, to = false;
  size_t lda = 0, ldb = 0, ldc = 0;
  if (!blas_layout(g.m, g.k, g.a_strides[1], g.a_strides[2], &ta, &lda)) return false;
  if (!blas_layout(g.k, g.n, g.b_strides[1], g.b_strides[2], &tb, &ldb)) return false;
  if (!blas_layout(g.m, g.n, g.o_strides[1], g.o_strides[2], &to, &ldc) || to) return false;
  if (g.a_strides[0] < 0 || g.b_strides[0] < 0 || g.m == 0 || g.n == 0 || g.k == 0) return false;
  if (g.batch > 1 && g.o_strides[0] < g.m * static_cast<int64_t>(ldc)) return false;
  cl_command_queue q = queue_of(dev, stream);
  const CLBlastTranspose cta = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
  const CLBlastTranspose ctb = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
  const size_t m = static_cast<size_t>(g.m), n = static_cast<size_t>(g.n), k = static_cast<size_t>(g.k);
  const CLBlastStatusCode rc =
      g.batch == 1 ? CLBlastSgemm(CLBlastLayoutRowMajor, cta, ctb, m, n, k, 1.0f, a,
                                  static_cast<size_t>(g.a_offset), lda, b, static_cast<size_t>(g.b_offset),
                                  ldb, 0.0f, o, static_cast<size_t>(g.o_offset), ldc, &q, nullptr)
                   : CLBlastSgemmStridedBatched(
                         CLBlastLayoutRowMajor, cta, ctb, m, n, k, 1.0f, a, static_cast<size_t>(g.a_offset),
                         lda, static_cast<size_t>(g.a_strides[0]), b, static_cast<size_t>(g.b_offset), ldb,
                         static_cast<size_t>(g.b_strides[0]), 0.0f, o, static_cast<size_t>(g.o_offset), ldc,
                         static_cast<size_t>(g.o_strides[0]), static_cast<size_t>(g.batch), &q, nullptr);
  if (rc == CLBlastSuccess) return true;
  if (rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES || rc == CL_OUT_OF_HOST_MEMORY ||
      gemm_choice() == GemmChoice::kClblast) {
    *err = PRISM_OCL_ERROR(rc < 0 && rc > -100 ? cl_error_status(rc) : PRISM_ERROR_INTERNAL,
                           "bmm: CLBlast SGEMM failed with status %d", static_cast<int>(rc));
    return true;
  }
  return false;  // CLBlast declined (e.g. a layout it rejects): use the tiled kernel
}
#endif

}  // namespace

// bmm after the shared checks (build_gemm in prism_gk_frontend.hpp): CLBlast
// or the tiled kernel (Note [GEMM choice]).
prism_plugin_error* run_bmm(void* ctx, const prism_kernel_call* c, const prism_gk_gemm& g) {
  const prism_tensor_desc& a = c->inputs[0];
  const prism_tensor_desc& b = c->inputs[1];
  const prism_tensor_desc& o = c->outputs[0];
  const int32_t dt = o.dtype;
  Device* dev = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(get_device(ctx, c->device, &dev));
  cl_mem am = static_cast<cl_mem>(a.buffer), bm = static_cast<cl_mem>(b.buffer),
         om = static_cast<cl_mem>(o.buffer);
  std::lock_guard<std::mutex> lock(dev->mu);
#ifdef PRISM_OPENCL_HAVE_CLBLAST
  if (dt == PRISM_DTYPE_F32 && gemm_choice() != GemmChoice::kTiled) {
    prism_plugin_error* err = nullptr;
    if (try_clblast(*dev, c->stream, g, am, bm, om, &err)) return err;
  }
#endif
  cl_kernel k = nullptr;
  PRISM_OCL_RETURN_IF_ERROR(
      get_kernel(*static_cast<Context*>(ctx), *dev, Source::kGemm, type_defines(dt), "prism_gemm", &k));
  const size_t tile = 16, wpt = 4;  // 16 x 16 work-items, 64 x 64 outputs
  const size_t global[3] = {(static_cast<size_t>(g.n) + tile * wpt - 1) / (tile * wpt) * tile,
                            (static_cast<size_t>(g.m) + tile * wpt - 1) / (tile * wpt) * tile,
                            static_cast<size_t>(g.batch)};
  const size_t local[3] = {tile, tile, 1};
  const KArg args[4] = {{sizeof(cl_mem), &om}, {sizeof(cl_mem), &am}, {sizeof(cl_mem), &bm}, {sizeof g, &g}};
  return launch(*dev, c->stream, k, args, 4, 3, global, local);
}

int supports_bmm(void* ctx, const prism_kernel_call* c) {
  const Device* dev = find_device(ctx, c->device);
  if (dev == nullptr) return 1;             // let run() report the bad index
  if (dev->max_work_group < 256) return 0;  // the tiled kernel needs 16 x 16 work-groups
  return supports_operands(ctx, c);
}

}  // namespace prism::opencl
