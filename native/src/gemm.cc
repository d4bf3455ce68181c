// sgemm: OpenBLAS (cblas) when the build found it, else a portable blocked kernel.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gpt2.h"
#include "kernels.h"
#include "clones.h"

#ifdef SD_HAVE_CBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);
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
  // One thread pool only: OpenBLAS runs single-threaded inside our OpenMP threads, each on a
  // slice of the larger output dimension (no oversubscription, no two pools spinning).
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
  const int nt = omp_get_max_threads();
  const long work = (long)M * N * K;
  const auto ct = ta ? CblasTrans : CblasNoTrans;
  const auto cb = tb ? CblasTrans : CblasNoTrans;
  if (M == 1) {
    // Decode steps (one row): a matrix-vector product streams B once; sgemm would first pack
    // all of B (51 MB for the GPT-2 head) into its panel format on every call.
    const int inca = ta ? lda : 1;
    const int parts = (omp_in_parallel() || (long)N * K < 65536) ? 1 : std::min(nt, std::max(1, N / 256));
#pragma omp parallel for num_threads(parts) if (parts > 1)
    for (int p = 0; p < parts; p++) {
      int n0 = (int)((long)N * p / parts) / 16 * 16, n1 = p + 1 == parts ? N : (int)((long)N * (p + 1) / parts) / 16 * 16;
      if (p == 0) n0 = 0;
      if (n1 <= n0) continue;
      if (tb)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n1 - n0, K, alpha, B + (long)n0 * ldb, ldb, A, inca, beta, Cm + n0, 1);
      else
        cblas_sgemv(CblasRowMajor, CblasTrans, K, n1 - n0, alpha, B + n0, ldb, A, inca, beta, Cm + n0, 1);
    }
    return;
  }
  if (nt <= 1 || work < 64L * 64 * 64 || omp_in_parallel()) {
    cblas_sgemm(CblasRowMajor, ct, cb, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
    return;
  }
  if (K >= 4 * std::max(M, N) && K >= 1024) {
    // Long reductions (head dX = dlogits @ wte, small dW): split K into private partial
    // products and add them up, so no thread re-reads the other threads' share of B.
    const int parts = std::min(4 * nt, K / 256);
    std::vector<float> partial((size_t)parts * M * N);
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < parts; p++) {
      const int k0 = (int)((long)K * p / parts), k1 = (int)((long)K * (p + 1) / parts);
      const float* a = ta ? A + (long)k0 * lda : A + k0;
      const float* b = tb ? B + k0 : B + (long)k0 * ldb;
      cblas_sgemm(CblasRowMajor, ct, cb, M, N, k1 - k0, alpha, a, lda, b, ldb, 0.0f, &partial[(size_t)p * M * N], N);
    }
#pragma omp parallel for
    for (int i = 0; i < M; i++) {
      float* c = Cm + (long)i * ldc;
      for (int j = 0; j < N; j++) {
        float s = beta == 0.0f ? 0.0f : beta * c[j];
        for (int p = 0; p < parts; p++) s += partial[((size_t)p * M + i) * N + j];
        c[j] = s;
      }
    }
    return;
  }
  // Otherwise split the larger output dimension into a few slices per thread, handed out
  // dynamically so a descheduled thread (shared machines) does not stall the whole call.
  const bool splitRows = M >= N;
  const int dim = splitRows ? M : N;
  const int parts = std::max(1, std::min(4 * nt, dim / 64));
#pragma omp parallel for schedule(dynamic, 1)
  for (int p = 0; p < parts; p++) {
    // Slice edges on multiples of 16 keep every slice cache-line aligned.
    int s0 = p == 0 ? 0 : (int)((long)dim * p / parts) / 16 * 16;
    int s1 = p + 1 == parts ? dim : (int)((long)dim * (p + 1) / parts) / 16 * 16;
    if (s1 <= s0) continue;
    if (splitRows) {
      const float* a = ta ? A + s0 : A + (long)s0 * lda;
      cblas_sgemm(CblasRowMajor, ct, cb, s1 - s0, N, K, alpha, a, lda, B, ldb, beta, Cm + (long)s0 * ldc, ldc);
    } else {
      const float* b = tb ? B + (long)s0 * ldb : B + s0;
      cblas_sgemm(CblasRowMajor, ct, cb, M, s1 - s0, K, alpha, A, lda, b, ldb, beta, Cm + s0, ldc);
    }
  }
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
