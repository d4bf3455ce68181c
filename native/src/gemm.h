// Internal interface between the sgemm driver (gemm.cc) and its per-ISA kernels (gemm_isa.cc).
#pragma once

namespace sd {

// One instruction-set level of the built-in GEMM. Every entry is single-threaded; gemm.cc owns
// the threading (one OpenMP pool for the whole core).
struct GemmIsa {
  const char* name;  // "avx512", "avx2", "scalar"
  int mr, nr;        // register block of the micro-kernel
  // C[M,N] += alpha * op(A) @ op(B): packed panels + micro-kernel (C already scaled by beta).
  void (*blocked)(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float* C, int ldc);
  // Few-row products (decode, M <= 16; gemm.cc uses it for M <= 4): rows of A contiguous along K (lda), columns [j0, j1) of C.
  // C = alpha * A @ op(B) + beta * C, with B streamed once and no packing.
  void (*few_rows)(bool tb, int M, int j0, int j1, int K, float alpha, const float* A, int lda, const float* B,
                   int ldb, float beta, float* C, int ldc);
};

extern const GemmIsa kGemmAvx512, kGemmAvx2, kGemmScalar;

}  // namespace sd
