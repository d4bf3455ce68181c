// sgemm: OpenBLAS (cblas) when the build found it, else a portable blocked kernel.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gpt2.h"
#include "kernels.h"

#ifdef SD_HAVE_CBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
#endif

#if defined(__x86_64__) && !defined(SD_NO_CLONES)
#define SD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SD_CLONES
#endif

namespace sd {

#ifndef SD_HAVE_CBLAS
namespace {
// C[rows, n] += A[rows, kc] @ B[kc, n] for a block; the j loop vectorizes.
SD_CLONES void gemm_block(float* Cm, int ldc, const float* A, int lda, const float* Bm, int ldb, int rows, int kc,
                          int n) {
  for (int i = 0; i < rows; i++) {
    float* c = Cm + (long)i * ldc;
    const float* a = A + (long)i * lda;
    for (int k = 0; k < kc; k++) {
      float av = a[k];
      const float* b = Bm + (long)k * ldb;
      for (int j = 0; j < n; j++) c[j] += av * b[j];
    }
  }
}
}  // namespace
#endif

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* Cm, int ldc) {
  if (M <= 0 || N <= 0) return;
#ifdef SD_HAVE_CBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
              B, ldb, beta, Cm, ldc);
#else
  // Normalise to op(A) = A [M,K], op(B) = B [K,N] row-major with alpha folded into A.
  std::vector<float> Ap, Bp;
  const float* a = A;
  const float* b = B;
  if (ta || alpha != 1.0f) {
    Ap.resize((size_t)M * K);
#pragma omp parallel for
    for (int i = 0; i < M; i++)
      for (int k = 0; k < K; k++) Ap[(size_t)i * K + k] = alpha * (ta ? A[(long)k * lda + i] : A[(long)i * lda + k]);
    a = Ap.data();
    lda = K;
  }
  if (tb) {
    Bp.resize((size_t)K * N);
#pragma omp parallel for
    for (int k = 0; k < K; k++)
      for (int j = 0; j < N; j++) Bp[(size_t)k * N + j] = B[(long)j * ldb + k];
    b = Bp.data();
    ldb = N;
  }
#pragma omp parallel for
  for (int i = 0; i < M; i++) {
    float* c = Cm + (long)i * ldc;
    if (beta == 0.0f)
      std::memset(c, 0, sizeof(float) * N);
    else if (beta != 1.0f)
      for (int j = 0; j < N; j++) c[j] *= beta;
  }
  const int MB = 16, NB = 512, KB = 256;
  const int mblocks = (M + MB - 1) / MB, nblocks = (N + NB - 1) / NB;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int ib = 0; ib < mblocks; ib++)
    for (int jb = 0; jb < nblocks; jb++) {
      int i0 = ib * MB, j0 = jb * NB;
      int rows = std::min(MB, M - i0), n = std::min(NB, N - j0);
      for (int k0 = 0; k0 < K; k0 += KB)
        gemm_block(Cm + (long)i0 * ldc + j0, ldc, a + (long)i0 * lda + k0, lda, b + (long)k0 * ldb + j0, ldb, rows,
                   std::min(KB, K - k0), n);
    }
#endif
}

std::string blas_info() {
#ifdef SD_HAVE_CBLAS
  return std::string("openblas ") + openblas_get_corename();
#else
  return "builtin";
#endif
}

const char* simd_level() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
  return "scalar";
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace sd
