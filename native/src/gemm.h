// Internal interface between the sgemm driver (gemm.cc) and its per-ISA kernels (gemm_isa.cc).
#pragma once
#include <cstdint>

namespace sd {

// One (batch, head) of causal attention (attn_isa.h). Query row i sits at position past + i and sees
// keys j <= past + i that the key mask allows; S gets the Tq x Tk probabilities (0 above the diagonal).
struct AttnHead {
  int Tq, Tk, past, hd;
  const float* q;  // query row i at q + i*qs
  int qs;
  const float *k, *v;  // key/value j at k + j*ks, v + j*ks
  int ks;
  const uint8_t* mask;  // key j visible iff mask[j]; null: all
  float scale;
  float* S;    // [Tq][Tk]
  float* out;  // output row i at out + i*os
  int os;
};
// Head dims with direct attention kernels; others go through per-head GEMMs (kernels.cc).
inline bool attn_direct(int hd) { return hd == 16 || hd == 32; }

// Its backward (training: Tq == Tk == T, past 0). Rows: q at stride qs, k and v at ks, dq at dqs, dk and dv at ds.
struct AttnHeadGrad {
  int T, hd;
  const float* q;
  int qs;
  const float *k, *v;
  int ks;
  const float* dy;  // row i at dy + i*dys
  int dys;
  const float* P;  // [T][T] probabilities of the forward
  float scale;
  float* dq;  // overwritten
  int dqs;
  float *dk, *dv;  // overwritten, or added to when `accumulate` (the other query heads of a GQA group)
  int ds;
  bool accumulate;
};

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
  // Direct causal attention of one (batch, head), single-threaded, for head dims where attn_direct holds.
  void (*attn_fwd)(const AttnHead& a);
  void (*attn_bwd)(const AttnHeadGrad& a);
};

// The kernels in use (the CPU's best built-in level, or the one SOCRATIC_DISTILL_GEMM / gemmSelect forced).
const GemmIsa& gemm_kernels();

extern const GemmIsa kGemmAvx512, kGemmAvx2, kGemmScalar;

}  // namespace sd
