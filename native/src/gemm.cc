// sgemm for the native core. The built-in GEMM (gemm_isa.h: packed panels, register-blocked
// micro-kernels for AVX-512 / AVX2+FMA / baseline, picked at run time) is the default; OpenBLAS is
// used for the large products only when the build linked it (SD_HAVE_CBLAS) and the run allows it.
// Products of 1-4 rows (decode steps) always take the few-row path: it streams B once, unpacked.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "core.h"
#include "kernels.h"

#ifdef SD_HAVE_CBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);
#endif

namespace sd {
namespace {

// Up to 4 rows skip packing (decode of 1-4 sequences: packing the 51-154 MB tied head each step would
// cost more than the product). From 5 rows on the packed kernels win: at 16 rows they measured 55 vs 35
// GFLOP per CPU-second (NN) and 24 vs 24 (NT, OpenBLAS 30) against this path.
constexpr int kFewRows = 4;

struct Choice {
  const GemmIsa* isa;
  bool blas;
};

const GemmIsa* cpu_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw"))
    return &kGemmAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &kGemmAvx2;
#endif
  return &kGemmScalar;
}

// Picks the kernels from a name: "auto" (OpenBLAS if linked, else the CPU's best built-in level),
// "builtin" (the CPU's best built-in level), "blas", or a built-in level "avx512" | "avx2" | "scalar";
// a level above the CPU's falls back to the CPU's. Returns false for an unknown name.
bool pick(const char* want, Choice& r) {
  const GemmIsa* best = cpu_isa();
  r = Choice{best, false};
#ifdef SD_HAVE_CBLAS
  const bool linked = true;
#else
  const bool linked = false;
#endif
  if (!want || !std::strcmp(want, "auto") || !std::strcmp(want, "blas")) {
    r.blas = linked;
    return true;
  }
  if (!std::strcmp(want, "builtin")) return true;
  const GemmIsa* order[] = {&kGemmAvx512, &kGemmAvx2, &kGemmScalar};
  bool allowed = false;
  for (const GemmIsa* g : order) {
    if (g == best) allowed = true;
    if (!std::strcmp(want, g->name)) {
      if (allowed) r.isa = g;
      return true;
    }
  }
  return false;
}

// Read once from the environment: SOCRATIC_DISTILL_GEMM names the choice (see pick); the tests use it
// to cover the AVX2 and scalar code on an AVX-512 machine. SOCRATIC_DISTILL_NO_BLAS=1 means "builtin"
// (it also keeps the build from linking OpenBLAS at all).
Choice& choice() {
  static Choice c = [] {
    Choice r;
    const char* nb = std::getenv("SOCRATIC_DISTILL_NO_BLAS");
    const char* want = std::getenv("SOCRATIC_DISTILL_GEMM");
    if (!want && nb && !std::strcmp(nb, "1")) want = "builtin";
    if (!pick(want, r)) pick("auto", r);
#ifdef SD_HAVE_CBLAS
    openblas_set_num_threads(1);  // one thread pool only: OpenBLAS runs inside our OpenMP threads
#endif
    return r;
  }();
  return c;
}

struct Gemm {
  bool ta, tb;
  int M, N, K;
  float alpha;
  const float* A;
  int lda;
  const float* B;
  int ldb;
  float beta;
  float* C;
  int ldc;

  // Sub-problems over output rows [s0, s1), output columns [s0, s1), or the K range [k0, k1).
  Gemm rows(int s0, int s1) const {
    Gemm g = *this;
    g.M = s1 - s0;
    g.A = ta ? A + s0 : A + (long)s0 * lda;
    g.C = C + (long)s0 * ldc;
    return g;
  }
  Gemm cols(int s0, int s1) const {
    Gemm g = *this;
    g.N = s1 - s0;
    g.B = tb ? B + (long)s0 * ldb : B + s0;
    g.C = C + s0;
    return g;
  }
  Gemm ks(int k0, int k1, float* out) const {
    Gemm g = *this;
    g.K = k1 - k0;
    g.A = ta ? A + (long)k0 * lda : A + k0;
    g.B = tb ? B + k0 : B + (long)k0 * ldb;
    g.beta = 0.0f;
    g.C = out;
    g.ldc = N;
    return g;
  }
};

void scale_rows(float* C, int ldc, int M, int N, float beta) {
  if (beta == 1.0f) return;
  for (int i = 0; i < M; i++) {
    float* c = C + (long)i * ldc;
    if (beta == 0.0f)
      std::memset(c, 0, sizeof(float) * N);  // beta 0 overwrites, even NaN
    else
      for (int j = 0; j < N; j++) c[j] *= beta;
  }
}

// One thread, whole (sub-)problem.
void run1(const Gemm& g) {
#ifdef SD_HAVE_CBLAS
  if (choice().blas) {
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, g.M, g.N, g.K,
                g.alpha, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
    return;
  }
#endif
  scale_rows(g.C, g.ldc, g.M, g.N, g.beta);
  choice().isa->blocked(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.A, g.lda, g.B, g.ldb, g.C, g.ldc);
}

// Slice edges on multiples of 16 keep every slice cache-line aligned.
inline int edge(int dim, int p, int parts) {
  return p == 0 ? 0 : p == parts ? dim : (int)((long)dim * p / parts) / 16 * 16;
}

void few_rows(const Gemm& g, bool par, int nt) {
  const float* a = g.A;
  int lda = g.lda;
  std::vector<float> at;
  if (g.ta) {  // op(A) = A^T: gather the few rows contiguous along K
    at.resize((size_t)g.M * g.K);
    for (int k = 0; k < g.K; k++)
      for (int i = 0; i < g.M; i++) at[(size_t)i * g.K + k] = g.A[(long)k * g.lda + i];
    a = at.data();
    lda = g.K;
  }
  const GemmIsa* isa = choice().isa;
  const int parts = par && (long)g.N * g.K >= 65536 ? std::max(1, std::min(4 * nt, g.N / 64)) : 1;
#pragma omp parallel for schedule(dynamic, 1) if (parts > 1)
  for (int p = 0; p < parts; p++) {
    const int j0 = edge(g.N, p, parts), j1 = edge(g.N, p + 1, parts);
    if (j1 > j0) isa->few_rows(g.tb, g.M, j0, j1, g.K, g.alpha, a, lda, g.B, g.ldb, g.beta, g.C, g.ldc);
  }
}

}  // namespace

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* Cm, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_rows(Cm, ldc, M, N, beta);
    return;
  }
  const Gemm g{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc};
  const int nt = omp_get_max_threads();
  const bool par = nt > 1 && !omp_in_parallel();
  if (M <= kFewRows) {
    few_rows(g, par, nt);
    return;
  }
  if (!par || (long)M * N * K < 64L * 64 * 64) {
    run1(g);
    return;
  }
  if (K >= 4 * std::max(M, N) && K >= 1024) {
    // Long reductions (head dX = dlogits @ wte): split K into private partial products and add them
    // up, so no thread re-reads the other threads' share of B.
    const int parts = std::min(4 * nt, K / 256);
    std::vector<float> partial((size_t)parts * M * N);
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < parts; p++)
      run1(g.ks((int)((long)K * p / parts), (int)((long)K * (p + 1) / parts), &partial[(size_t)p * M * N]));
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
  // Otherwise split the larger output dimension into a few slices per thread, handed out dynamically
  // so a descheduled thread (shared machines) does not stall the whole call. Each slice packs its
  // own copy of the other operand, so slices stay few.
  const bool splitRows = M >= N;
  const int dim = splitRows ? M : N;
  const int parts = std::max(1, std::min(2 * nt, dim / 64));
#pragma omp parallel for schedule(dynamic, 1)
  for (int p = 0; p < parts; p++) {
    const int s0 = edge(dim, p, parts), s1 = edge(dim, p + 1, parts);
    if (s1 > s0) run1(splitRows ? g.rows(s0, s1) : g.cols(s0, s1));
  }
}

std::string blas_info() {
  const Choice& c = choice();
#ifdef SD_HAVE_CBLAS
  if (c.blas) return std::string("openblas ") + openblas_get_corename() + ", builtin " + c.isa->name + " few-row";
#endif
  return std::string("builtin ") + c.isa->name;
}

const char* simd_level() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
  return "scalar";
}

bool gemm_select(const char* name) {
  Choice r;
  if (!pick(name, r)) return false;
  choice() = r;
  return true;
}

const GemmIsa& gemm_kernels() { return *choice().isa; }

int num_threads() { return omp_get_max_threads(); }

}  // namespace sd
