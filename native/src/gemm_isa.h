// Body of the built-in GEMM for one instruction-set level. gemm_isa.cc includes it three times, each
// under a different `#pragma GCC target`, with SD_VW (floats per vector register) and SD_MR (rows of
// the register block) set, so the same C++ becomes AVX-512, AVX2+FMA and baseline (SSE2) code.
// GCC vector extensions (not intrinsics) keep the three copies one source.
//
// Structure (GotoBLAS / BLIS, transposed for row-major C whose rows are the vector direction):
//   for each KC slice of K:                 (C is updated in place, so K slices just accumulate)
//     for each MC block of rows:   pack op(A) [MC x KC] into MR-row micro-panels, alpha folded in
//       for each NB block of cols: pack op(B) [KC x NB] into NR-column micro-panels (stays in L2)
//         for each MR micro-panel of A (stays in L1 while it sweeps the NB block):
//           for each NR micro-panel of B: micro-kernel, MR x NR accumulators in registers.

namespace SD_NS {

constexpr int VW = SD_VW, MR = SD_MR, NR = 2 * SD_VW;
// The KC x NB block of B (512 KB) sits in L2 and is swept by every MR x KC micro-panel of A (24 KB at MR 12,
// in L1). KC 256-1024 x NB 128-384 all measured within noise of each other on Zen 4 (90-97 GFLOP per
// CPU-second on one thread, OpenBLAS 80-90 the same way); 512 x 256 was among the best.
constexpr int KC = 512, NB = 256, MC = 1152;
typedef float vf __attribute__((vector_size(SD_VW * 4)));
typedef float vfu __attribute__((vector_size(SD_VW * 4), aligned(4)));  // unaligned loads/stores

inline vf ldu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
inline void stu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }

// Where a micro-kernel reads its MR x kc slice of op(A) (element (i, k)):
enum ALayout {
  kPackedA,  // packed micro-panel: a[k*MR + i], alpha folded in
  kColsA,    // in place, op(A) = A^T: a[k*lda + i] (MR contiguous floats per k)
  kRowsA,    // in place, op(A) = A: a[i*lda + k]
};

// C[m, n] += alpha * a-panel @ b-panel over kc; b-panel row k (NR floats) at b + k*ldb (ldb = NR when
// packed); m <= MR, n <= NR (edges go through a tile; in-place panels are always full).
template <int AL>
void micro(int kc, const float* __restrict a, long lda, const float* __restrict b, long ldb, float* c, long ldc, int m,
           int n, float alpha) {
  vf acc[MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vf{};
  for (int k = 0; k < kc; k++, b += ldb) {
    const vf b0 = ldu(b), b1 = ldu(b + VW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const float ai = AL == kPackedA ? a[k * MR + i] : AL == kColsA ? a[k * lda + i] : a[i * lda + k];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (AL != kPackedA && alpha != 1.0f)
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      acc[i][0] *= alpha;
      acc[i][1] *= alpha;
    }
  if (m == MR && n == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float* ci = c + i * ldc;
      stu(ci, ldu(ci) + acc[i][0]);
      stu(ci + VW, ldu(ci + VW) + acc[i][1]);
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int i = 0; i < MR; i++) {
    *reinterpret_cast<vf*>(&tile[i][0]) = acc[i][0];
    *reinterpret_cast<vf*>(&tile[i][VW]) = acc[i][1];
  }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) c[i * ldc + j] += tile[i][j];
}

// Packing transposes small tiles: a source run along K is read in chunks of KT so the few destination
// rows being written stay in L1 (writing a whole 512-deep panel column at a time thrashed it).
constexpr int KT = 16;

// op(A) rows [0, m), columns [0, kc) -> micro-panels [m/MR][kc][MR], zero-padded, times alpha.
void pack_a(bool ta, int m, int kc, float alpha, const float* A, int lda, float* __restrict dst) {
  const int panels = (m + MR - 1) / MR;
  if (ta) {  // op(A)[i,k] = A[k*lda + i]: each k is a contiguous run over all m rows; read it once
    for (int k = 0; k < kc; k++) {
      const float* src = A + (long)k * lda;
      for (int p = 0; p < panels; p++) {
        float* d = dst + (long)p * kc * MR + k * MR;
        const int rows = m - p * MR < MR ? m - p * MR : MR;
        for (int r = 0; r < MR; r++) d[r] = r < rows ? alpha * src[p * MR + r] : 0.0f;
      }
    }
    return;
  }
  for (int p = 0; p < panels; p++, dst += (long)kc * MR) {
    const int rows = m - p * MR < MR ? m - p * MR : MR;
    for (int k0 = 0; k0 < kc; k0 += KT) {
      const int k1 = kc - k0 < KT ? kc : k0 + KT;
      for (int r = 0; r < MR; r++) {
        const float* src = A + (long)(p * MR + r) * lda;
        for (int k = k0; k < k1; k++) dst[k * MR + r] = r < rows ? alpha * src[k] : 0.0f;
      }
    }
  }
}

// op(B) rows [0, kc), columns [0, n) -> micro-panels [n/NR][kc][NR], zero-padded.
void pack_b(bool tb, int kc, int n, const float* B, int ldb, float* __restrict dst) {
  for (int j0 = 0; j0 < n; j0 += NR, dst += (long)kc * NR) {
    const int cols = n - j0 < NR ? n - j0 : NR;
    if (!tb) {  // rows of B are contiguous along n
      for (int k = 0; k < kc; k++) {
        const float* src = B + (long)k * ldb + j0;
        float* d = dst + k * NR;
        if (cols == NR) {
          *reinterpret_cast<vf*>(d) = ldu(src);
          *reinterpret_cast<vf*>(d + VW) = ldu(src + VW);
        } else {
          for (int c = 0; c < NR; c++) d[c] = c < cols ? src[c] : 0.0f;
        }
      }
    } else {  // op(B)[k,j] = B[j*ldb + k]: read rows of B along k, a KT chunk at a time
      for (int k0 = 0; k0 < kc; k0 += KT) {
        const int k1 = kc - k0 < KT ? kc : k0 + KT;
        for (int c = 0; c < NR; c++) {
          const float* src = B + (long)(j0 + c) * ldb;
          for (int k = k0; k < k1; k++) dst[k * NR + c] = c < cols ? src[k] : 0.0f;
        }
      }
    }
  }
}

// Per-thread pack buffers, grown on demand (the pool's threads live as long as the process).
float* buffer(int which, size_t floats) {
  // 0, 1: GEMM panels of A and B; 2-4: attention scratch (attn_isa.h).
  thread_local float* buf[5] = {};
  thread_local size_t cap[5] = {};
  if (cap[which] < floats) {
    std::free(buf[which]);
    buf[which] = static_cast<float*>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64));
    cap[which] = floats;
  }
  return buf[which];
}

// In place vs packed: packing pays when a panel is reused many times. At the small students' shapes
// (K or N of 64-256) it was a fifth of the GEMM time, so op(A) is read in place when every micro-panel
// of A meets at most one NB block of B (N <= NB), and op(B) (not transposed) when few micro-panels of
// A sweep it (M <= 4 MR, e.g. the weight gradient inp^T @ dout) and its rows lie close together
// (N <= 2 NB): read in place, a wide B's rows are pages apart and GPT-2-sized weights in a batch-16
// decode step ran 25% slower than packed. Edge panels are always packed.
void blocked(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
             float* C, int ldc) {
  const bool directA = N <= NB, directB = !tb && M <= 4 * MR && N <= 2 * NB;
  const int mcap = M < MC ? M : MC, ncap = N < NB ? N : NB, kcap = K < KC ? K : KC;
  float* pa = buffer(0, (size_t)((mcap + MR - 1) / MR) * MR * kcap);
  float* pb = buffer(1, (size_t)((ncap + NR - 1) / NR) * NR * kcap);
  for (int p0 = 0; p0 < K; p0 += KC) {
    const int kc = K - p0 < KC ? K - p0 : KC;
    for (int i0 = 0; i0 < M; i0 += MC) {
      const int mc = M - i0 < MC ? M - i0 : MC;
      const float* a0 = ta ? A + (long)p0 * lda + i0 : A + (long)i0 * lda + p0;
      const int mfull = directA ? mc / MR * MR : 0;  // rows read in place
      if (mc > mfull) pack_a(ta, mc - mfull, kc, alpha, ta ? a0 + mfull : a0 + (long)mfull * lda, lda, pa);
      for (int j0 = 0; j0 < N; j0 += NB) {
        const int nb = N - j0 < NB ? N - j0 : NB;
        const float* b0 = tb ? B + (long)j0 * ldb + p0 : B + (long)p0 * ldb + j0;
        const int nfull = directB ? nb / NR * NR : 0;  // columns read in place
        if (nb > nfull) pack_b(tb, kc, nb - nfull, tb ? b0 + (long)nfull * ldb : b0 + nfull, ldb, pb);
        for (int ir = 0; ir < mc; ir += MR) {
          float* c = C + (long)(i0 + ir) * ldc + j0;
          const int m = mc - ir < MR ? mc - ir : MR;
          const bool inA = ir < mfull;
          const float* a = inA ? (ta ? a0 + ir : a0 + (long)ir * lda) : pa + (long)((ir - mfull) / MR) * kc * MR;
          for (int jr = 0; jr < nb; jr += NR) {
            const int n = nb - jr < NR ? nb - jr : NR;
            const bool inB = jr < nfull;
            const float* b = inB ? b0 + jr : pb + (long)((jr - nfull) / NR) * kc * NR;
            const long ldbp = inB ? ldb : NR;
            if (!inA)
              micro<kPackedA>(kc, a, MR, b, ldbp, c + jr, ldc, m, n, 1.0f);
            else if (ta)
              micro<kColsA>(kc, a, lda, b, ldbp, c + jr, ldc, m, n, alpha);
            else
              micro<kRowsA>(kc, a, lda, b, ldbp, c + jr, ldc, m, n, alpha);
          }
        }
      }
    }
  }
}

// Up to 4 rows of A against one row of B (tb): vector partial sums, one horizontal add at the end.
template <int R>
void dots(const float* const* a, const float* b, int K, float* out) {
  vf acc[R] = {};
  int k = 0;
  for (; k + VW <= K; k += VW) {
    const vf bv = ldu(b + k);
    for (int r = 0; r < R; r++) acc[r] += ldu(a[r] + k) * bv;
  }
  for (int r = 0; r < R; r++) {
    float s = 0.0f;
    for (int l = 0; l < VW; l++) s += acc[r][l];
    for (int kk = k; kk < K; kk++) s += a[r][kk] * b[kk];
    out[r] = s;
  }
}

// Few rows of A (decode; M <= 16, gemm.cc sends M <= 4): every part of B is read from memory once, in order, and reused from
// cache by all M rows; no packing (packing the 154 MB GPT-2 head each token was the old decode pathology).
void few_rows(bool tb, int M, int j0, int j1, int K, float alpha, const float* A, int lda, const float* B, int ldb,
              float beta, float* C, int ldc) {
  auto put = [&](float* c, float v) { *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c; };
  if (tb) {
    // C[i,j] = dot(A row i, B row j). 16 rows of B (16 x K floats) stay in L1/L2 for all M rows.
    for (int jb = j0; jb < j1; jb += 16) {
      const int je = j1 - jb < 16 ? j1 : jb + 16;
      for (int i = 0; i < M; i += 4) {
        const int R = M - i < 4 ? M - i : 4;
        const float* a[4];
        for (int r = 0; r < 4; r++) a[r] = A + (long)(i + (r < R ? r : 0)) * lda;
        for (int j = jb; j < je; j++) {
          float out[4];
          const float* b = B + (long)j * ldb;
          if (R == 4) dots<4>(a, b, K, out);
          else if (R == 3) dots<3>(a, b, K, out);
          else if (R == 2) dots<2>(a, b, K, out);
          else dots<1>(a, b, K, out);
          for (int r = 0; r < R; r++) put(C + (long)(i + r) * ldc + j, out[r]);
        }
      }
    }
    return;
  }
  // C[i, cols] = sum_k A[i,k] * B[k, cols] for a chunk of 256 columns: B is read row by row, 1 KB
  // contiguous runs the prefetcher follows (walking down a narrow column block instead measured
  // 2 GB/s); the <= 16 x 256 partial sums (16 KB) stay in L1.
  constexpr int W = 256;
  float acc[16][W];
  for (int jb = j0; jb < j1; jb += W) {
    const int w = j1 - jb < W ? j1 - jb : W;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < w; j++) acc[i][j] = 0.0f;
    for (int k = 0; k < K; k++) {
      const float* b = B + (long)k * ldb + jb;
      for (int i = 0; i < M; i++) {
        const float av = A[(long)i * lda + k];
        float* ac = acc[i];
        for (int j = 0; j < w; j++) ac[j] += av * b[j];
      }
    }
    for (int i = 0; i < M; i++)
      for (int j = 0; j < w; j++) put(C + (long)i * ldc + jb + j, acc[i][j]);
  }
}

}  // namespace SD_NS
