/* prism_gk_gemm.h — portable tiled batched GEMM for bmm (any strides, batch stride 0 allowed). */

/*
 * Note [Tiled GEMM]
 * -----------------
 * out(b, m, n) = sum_k a(b, m, k) * b(b, k, n), accumulated in PRISM_C.
 * A work-group of 16 x 16 work-items computes a 64 x 64 block of the
 * output; each work-item owns a 4 x 4 grid of it (rows ly + 16 r, columns
 * lx + 16 c), so every value read from local memory feeds four multiply-adds.
 * Tiles of A (64 x 16) and B (16 x 64) are staged in local memory with zero
 * padding at the edges, so any M, N, K and any strides work (batch stride 0
 * included). Global size: (ceil(N / 64) * 16, ceil(M / 64) * 16, batch).
 * On PoCL it reaches about 0.55x of CLBlast at 1024^2 (Note [GEMM choice]
 * in backends/opencl/opencl_gemm.cpp).
 */

#ifndef PRISM_GK_NAME
#define PRISM_GK_NAME(n) n
#endif
#ifndef PRISM_GK_TILE
#define PRISM_GK_TILE 16
#endif

/* Sixteen named accumulators, not an array: Note [No private arrays in
 * kernels] in prism_gk_elementwise.h. Each work-item owns rows ly + 16 r and
 * columns lx + 16 c (r, c in 0..3) of a 64 x 64 output block. */
#define PRISM_GK_BLOCK (PRISM_GK_TILE * 4)
#define PRISM_GK_A_LOAD(r)                                                                            \
  a_tile[ly + (r)*PRISM_GK_TILE][lx] =                                                                \
      (row0 + (r)*PRISM_GK_TILE < g.m && ka < g.k)                                                    \
          ? PRISM_LOAD(a, a_base + (row0 + (r)*PRISM_GK_TILE) * g.a_strides[1] + ka * g.a_strides[2]) \
          : (PRISM_C)0
#define PRISM_GK_B_LOAD(c)                                                                            \
  b_tile[ly][lx + (c)*PRISM_GK_TILE] =                                                                \
      (kb < g.k && col0 + (c)*PRISM_GK_TILE < g.n)                                                    \
          ? PRISM_LOAD(b, b_base + kb * g.b_strides[1] + (col0 + (c)*PRISM_GK_TILE) * g.b_strides[2]) \
          : (PRISM_C)0
#define PRISM_GK_FMA_ROW(r, av) \
  acc##r##0 += (av)*b0;         \
  acc##r##1 += (av)*b1;         \
  acc##r##2 += (av)*b2;         \
  acc##r##3 += (av)*b3
#define PRISM_GK_STORE(r, c)                                                                      \
  if (row0 + (r)*PRISM_GK_TILE < g.m && col0 + (c)*PRISM_GK_TILE < g.n)                           \
  PRISM_STORE(dst,                                                                                \
              g.o_offset + batch * g.o_strides[0] + (row0 + (r)*PRISM_GK_TILE) * g.o_strides[1] + \
                  (col0 + (c)*PRISM_GK_TILE) * g.o_strides[2],                                    \
              acc##r##c)

PRISM_KERNEL void PRISM_GK_NAME(prism_gemm)(PRISM_GLOBAL PRISM_T* dst, PRISM_GLOBAL const PRISM_T* a,
                                            PRISM_GLOBAL const PRISM_T* b, const prism_gk_gemm g) {
  /* a tile: (64, 16) rows m, cols k; b tile: (16, 64) rows k, cols n */
  PRISM_SHARED PRISM_C a_tile[PRISM_GK_BLOCK][PRISM_GK_TILE];
  PRISM_SHARED PRISM_C b_tile[PRISM_GK_TILE][PRISM_GK_BLOCK];
  const int64_t lx = PRISM_LOCAL_ID(0);
  const int64_t ly = PRISM_LOCAL_ID(1);
  const int64_t col0 = PRISM_GROUP_ID(0) * PRISM_GK_BLOCK + lx;
  const int64_t row0 = PRISM_GROUP_ID(1) * PRISM_GK_BLOCK + ly;
  const int64_t batch = PRISM_GROUP_ID(2);
  const int64_t a_base = g.a_offset + batch * g.a_strides[0];
  const int64_t b_base = g.b_offset + batch * g.b_strides[0];
  PRISM_C acc00 = 0, acc01 = 0, acc02 = 0, acc03 = 0, acc10 = 0, acc11 = 0, acc12 = 0, acc13 = 0;
  PRISM_C acc20 = 0, acc21 = 0, acc22 = 0, acc23 = 0, acc30 = 0, acc31 = 0, acc32 = 0, acc33 = 0;
  int64_t k0;
  int kk;
  for (k0 = 0; k0 < g.k; k0 += PRISM_GK_TILE) {
    const int64_t ka = k0 + lx;
    const int64_t kb = k0 + ly;
    PRISM_GK_A_LOAD(0);
    PRISM_GK_A_LOAD(1);
    PRISM_GK_A_LOAD(2);
    PRISM_GK_A_LOAD(3);
    PRISM_GK_B_LOAD(0);
    PRISM_GK_B_LOAD(1);
    PRISM_GK_B_LOAD(2);
    PRISM_GK_B_LOAD(3);
    PRISM_BARRIER();
    for (kk = 0; kk < PRISM_GK_TILE; ++kk) {
      const PRISM_C b0 = b_tile[kk][lx];
      const PRISM_C b1 = b_tile[kk][lx + PRISM_GK_TILE];
      const PRISM_C b2 = b_tile[kk][lx + 2 * PRISM_GK_TILE];
      const PRISM_C b3 = b_tile[kk][lx + 3 * PRISM_GK_TILE];
      PRISM_GK_FMA_ROW(0, a_tile[ly][kk]);
      PRISM_GK_FMA_ROW(1, a_tile[ly + PRISM_GK_TILE][kk]);
      PRISM_GK_FMA_ROW(2, a_tile[ly + 2 * PRISM_GK_TILE][kk]);
      PRISM_GK_FMA_ROW(3, a_tile[ly + 3 * PRISM_GK_TILE][kk]);
    }
    PRISM_BARRIER();
  }
  PRISM_GK_STORE(0, 0);
  PRISM_GK_STORE(0, 1);
  PRISM_GK_STORE(0, 2);
  PRISM_GK_STORE(0, 3);
  PRISM_GK_STORE(1, 0);
  PRISM_GK_STORE(1, 1);
  PRISM_GK_STORE(1, 2);
  PRISM_GK_STORE(1, 3);
  PRISM_GK_STORE(2, 0);
  PRISM_GK_STORE(2, 1);
  PRISM_GK_STORE(2, 2);
  PRISM_GK_STORE(2, 3);
  PRISM_GK_STORE(3, 0);
  PRISM_GK_STORE(3, 1);
  PRISM_GK_STORE(3, 2);
  PRISM_GK_STORE(3, 3);
}
