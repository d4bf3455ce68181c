// Causal attention of one (batch, head) for head dims 16 and 32, without GEMM packing. gemm_isa.cc
// includes it after gemm_isa.h in each instruction-set namespace (same vf / VW / buffer()).
//
// Why not two GEMMs per head: at head dim 16 a 130x130x16 product is mostly packing, and the full
// square computes the causal half only to throw it away. Here K (forward) or V (backward) is kept
// transposed, so a row of scores is head-dim FMAs across VW keys at once, keys past the last row of
// a block are never touched, and P.V / dS.K / dS^T.Q / P^T.dY are one head-dim-wide FMA per key.
// AR query rows go together so every key or value vector loaded is reused AR times.
//
// Every output element is a fixed-order sum (no atomics, no thread-dependent order): one thread
// owns one (batch, head), so results are deterministic.

namespace SD_NS {

using sd::AttnHead;
using sd::AttnHeadGrad;

constexpr int AR = 4;

inline int round_up(int n) { return (n + VW - 1) / VW * VW; }

// Src rows [0, n) of width HD (row stride ld) -> dst [HD][Tp] (row d holds element d of every row), zero-padded.
template <int HD>
void transpose_rows(const float* src, long ld, int n, int Tp, float* __restrict dst) {
  for (int j = 0; j < n; j++) {
    const float* s = src + j * ld;
    for (int d = 0; d < HD; d++) dst[(long)d * Tp + j] = s[d];
  }
  for (int d = 0; d < HD; d++)
    for (int j = n; j < Tp; j++) dst[(long)d * Tp + j] = 0.0f;
}

// out[r][0, nb) = sum_d x[r][d] * t[d][0, nb) for R rows x (t transposed, [HD][Tp]); nb a multiple of VW.
template <int R, int HD>
void rows_times_transposed(const float* const* x, const float* t, int Tp, int nb, float* out, int ldo, float mul) {
  for (int jb = 0; jb < nb; jb += VW) {
    vf acc[R];
    for (int r = 0; r < R; r++) acc[r] = vf{};
#pragma GCC unroll 32
    for (int d = 0; d < HD; d++) {
      const vf tv = *reinterpret_cast<const vf*>(t + (long)d * Tp + jb);
      for (int r = 0; r < R; r++) acc[r] += x[r][d] * tv;
    }
    for (int r = 0; r < R; r++) *reinterpret_cast<vf*>(out + (long)r * ldo + jb) = acc[r] * mul;
  }
}

typedef int vi __attribute__((vector_size(SD_VW * 4)));

// Lanes of a where mask (a comparison result: all ones or zero per lane) is set, else of b. Bitwise,
// not `mask ? a : b`, which older clang does not accept on GCC-style vectors.
inline vf sel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

// expf on a whole vector: the Cephes polynomial of kernels.cc's fexp (same clamp, same steps), written
// out in vectors because GCC split the masked-tail loops into scalar pieces.
inline vf vexp(vf x) {
  x = sel(x < -87.3f, vf{} - 87.3f, x);
  x = sel(x > 88.7f, vf{} + 88.7f, x);
  const vf y = x * 1.44269504088896341f + 0.5f;
  vf n = __builtin_convertvector(__builtin_convertvector(y, vi), vf);  // truncation, then floor:
  n = sel(n > y, n - 1.0f, n);
  vf r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vf p = vf{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf e = p * r * r + r + 1.0f;
  const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
  return e * (vf)bits;
}

inline float hsum(vf v) {
  float s = 0.0f;
  for (int l = 0; l < VW; l++) s += v[l];
  return s;
}

// Softmax of s[0, cnt) in place, zeros on [cnt, end); s has room up to round_up(end). vis[j] is 1 for a
// key the mask lets through, else 0. False when no key is visible. Explicit vectors over whole VW
// chunks with the tail as masked lanes: GCC kept the float max reduction scalar (no -ffinite-math-only)
// and split `j < cnt` loops into a scalar remainder as costly as the vector body at these row lengths.
inline bool softmax_prefix(float* s, int cnt, int end, const float* vis) {
  const int cb = round_up(cnt);
  const float ninf = -__builtin_inff();
  vi lane;
  for (int l = 0; l < VW; l++) lane[l] = l;
  vf vmx = vf{} + ninf;
  for (int jb = 0; jb < cb; jb += VW) {
    const vf v = *reinterpret_cast<const vf*>(s + jb);
    const vi ok = (*reinterpret_cast<const vf*>(vis + jb) != 0.0f) & (lane + jb < cnt);
    const vf w = sel(ok, v, vf{} + ninf);
    vmx = sel(w > vmx, w, vmx);
  }
  float mx = ninf;
  for (int l = 0; l < VW; l++) mx = vmx[l] > mx ? vmx[l] : mx;
  if (mx == ninf) return false;
  vf vsum = vf{};
  for (int jb = 0; jb < cb; jb += VW) {
    vf* sv = reinterpret_cast<vf*>(s + jb);
    const vf e = vexp(*sv - mx) * *reinterpret_cast<const vf*>(vis + jb);
    const vf p = sel(lane + jb < cnt, e, vf{});
    *sv = p;
    vsum += p;
  }
  const float inv = 1.0f / hsum(vsum);
  for (int jb = 0; jb < cb; jb += VW) *reinterpret_cast<vf*>(s + jb) *= inv;
  for (int j = cb; j < end; j++) s[j] = 0.0f;
  return true;
}

// Query rows [i0, i0 + R) of one head. kt: K transposed [HD][Tp]; sb: R x Tp score scratch.
template <int R, int HD>
void attn_fwd_rows(const AttnHead& a, int i0, const float* kt, const float* vis, int Tp, float* sb) {
  constexpr int HV = HD / VW;
  // The block's last row sees the most keys; earlier rows get probability 0 on the extra ones.
  const int n = a.past + i0 + R < a.Tk ? a.past + i0 + R : a.Tk;
  const int nb = round_up(n);
  const float* q[R];
  for (int r = 0; r < R; r++) q[r] = a.q + (long)(i0 + r) * a.qs;
  rows_times_transposed<R, HD>(q, kt, Tp, nb, sb, Tp, a.scale);
  bool uniform[R];
  for (int r = 0; r < R; r++) {
    const int lim = a.past + i0 + r;
    uniform[r] = !softmax_prefix(sb + (long)r * Tp, lim + 1 < a.Tk ? lim + 1 : a.Tk, n, vis);
    if (uniform[r])  // handled below; contribute nothing to the shared P.V loop
      for (int j = 0; j < n; j++) sb[(long)r * Tp + j] = 0.0f;
  }
  vf o[R][HV];
  for (int r = 0; r < R; r++)
    for (int h = 0; h < HV; h++) o[r][h] = vf{};
  for (int j = 0; j < n; j++) {
    const float* vj = a.v + (long)j * a.ks;
    vf vv[HV];
    for (int h = 0; h < HV; h++) vv[h] = ldu(vj + h * VW);
    for (int r = 0; r < R; r++) {
      const float p = sb[(long)r * Tp + j];
      for (int h = 0; h < HV; h++) o[r][h] += p * vv[h];
    }
  }
  for (int r = 0; r < R; r++) {
    float* orow = a.out + (long)(i0 + r) * a.os;
    float* srow = a.S + (long)(i0 + r) * a.Tk;
    if (uniform[r]) {
      // HF adds finfo.min to masked scores: a row with no visible key becomes uniform over all keys.
      const float u = 1.0f / a.Tk;
      for (int d = 0; d < HD; d++) orow[d] = 0.0f;
      for (int j = 0; j < a.Tk; j++) {
        srow[j] = u;
        const float* vj = a.v + (long)j * a.ks;
        for (int d = 0; d < HD; d++) orow[d] += u * vj[d];
      }
      continue;
    }
    for (int h = 0; h < HV; h++) stu(orow + h * VW, o[r][h]);
    const float* s = sb + (long)r * Tp;
    for (int j = 0; j < n; j++) srow[j] = s[j];
    for (int j = n; j < a.Tk; j++) srow[j] = 0.0f;
  }
}

template <int HD>
void attn_fwd_hd(const AttnHead& a) {
  const int Tp = round_up(a.Tk);
  float* kt = buffer(2, (size_t)HD * Tp);
  float* sb = buffer(3, (size_t)AR * Tp);
  float* vis = buffer(4, (size_t)Tp);
  transpose_rows<HD>(a.k, a.ks, a.Tk, Tp, kt);
  for (int j = 0; j < Tp; j++) vis[j] = j < a.Tk && (!a.mask || a.mask[j]) ? 1.0f : 0.0f;
  int i0 = 0;
  for (; i0 + AR <= a.Tq; i0 += AR) attn_fwd_rows<AR, HD>(a, i0, kt, vis, Tp, sb);
  switch (a.Tq - i0) {
    case 3: attn_fwd_rows<3, HD>(a, i0, kt, vis, Tp, sb); break;
    case 2: attn_fwd_rows<2, HD>(a, i0, kt, vis, Tp, sb); break;
    case 1: attn_fwd_rows<1, HD>(a, i0, kt, vis, Tp, sb); break;
    default: break;
  }
}

// Query rows [i0, i0 + R) of the backward. vt: V transposed [HD][Tp]; gk, gv: [T][HD] accumulators of
// dK and dV; dp: R x Tp scratch.
template <int R, int HD>
void attn_bwd_rows(const AttnHeadGrad& a, int i0, const float* vt, int Tp, float* __restrict gk,
                   float* __restrict gv, float* dp) {
  constexpr int HV = HD / VW;
  const int T = a.T;
  int n = i0 + R;
  // A row with no visible key got uniform probabilities over every key (attn_fwd_rows): it spans them all.
  for (int r = 0; r < R; r++)
    if (i0 + r < T - 1 && a.P[(long)(i0 + r) * T + T - 1] != 0.0f) n = T;
  const float* dy[R];
  const float* P[R];
  for (int r = 0; r < R; r++) {
    dy[r] = a.dy + (long)(i0 + r) * a.dys;
    P[r] = a.P + (long)(i0 + r) * T;
  }
  rows_times_transposed<R, HD>(dy, vt, Tp, round_up(n), dp, Tp, 1.0f);  // dP = dY V^T
  for (int r = 0; r < R; r++) {  // dS = P * (dP - rowsum(P * dP)) * scale, in place
    float* d = dp + (long)r * Tp;
    const float* p = P[r];
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < n; j++) s += p[j] * d[j];
#pragma omp simd
    for (int j = 0; j < n; j++) d[j] = p[j] * (d[j] - s) * a.scale;
  }
  vf gq[R][HV], qr[R][HV], yr[R][HV];
  for (int r = 0; r < R; r++)
    for (int h = 0; h < HV; h++) {
      gq[r][h] = vf{};
      qr[r][h] = ldu(a.q + (long)(i0 + r) * a.qs + h * VW);
      yr[r][h] = ldu(dy[r] + h * VW);
    }
  for (int j = 0; j < n; j++) {
    const float* kj = a.k + (long)j * a.ks;
    vf kv[HV], ak[HV], av[HV];
    for (int h = 0; h < HV; h++) {
      kv[h] = ldu(kj + h * VW);
      ak[h] = *reinterpret_cast<const vf*>(gk + (long)j * HD + h * VW);
      av[h] = *reinterpret_cast<const vf*>(gv + (long)j * HD + h * VW);
    }
    for (int r = 0; r < R; r++) {
      const float ds = dp[(long)r * Tp + j], p = P[r][j];
      for (int h = 0; h < HV; h++) {
        gq[r][h] += ds * kv[h];  // dQ = dS K
        ak[h] += ds * qr[r][h];  // dK = dS^T Q
        av[h] += p * yr[r][h];   // dV = P^T dY
      }
    }
    for (int h = 0; h < HV; h++) {
      *reinterpret_cast<vf*>(gk + (long)j * HD + h * VW) = ak[h];
      *reinterpret_cast<vf*>(gv + (long)j * HD + h * VW) = av[h];
    }
  }
  for (int r = 0; r < R; r++)
    for (int h = 0; h < HV; h++) stu(a.dq + (long)(i0 + r) * a.dqs + h * VW, gq[r][h]);
}

template <int HD>
void attn_bwd_hd(const AttnHeadGrad& a) {
  const int T = a.T, Tp = round_up(T);
  float* vt = buffer(2, (size_t)HD * Tp);
  float* dp = buffer(3, (size_t)AR * Tp);
  float* gk = buffer(4, (size_t)2 * T * HD);
  float* gv = gk + (size_t)T * HD;
  transpose_rows<HD>(a.v, a.ks, T, Tp, vt);
  for (long i = 0; i < 2L * T * HD; i++) gk[i] = 0.0f;
  // Trailing query rows whose dY is exactly zero (right padding, and the last real token, which has no
  // label: nothing downstream reads them) add exactly nothing to dQ, dK or dV, so they are skipped;
  // about a quarter of the rows at the students' dynamic padding. Keys past Te still get what earlier
  // rows send them (a row with no visible key spans every key, attn_bwd_rows).
  int Te = T;
  for (; Te > 0; Te--) {
    const float* y = a.dy + (long)(Te - 1) * a.dys;
    bool zero = true;
    for (int d = 0; d < HD; d++) zero &= y[d] == 0.0f;
    if (!zero) break;
  }
  for (int i = Te; i < T; i++)
    for (int d = 0; d < HD; d++) a.dq[(long)i * a.dqs + d] = 0.0f;
  int i0 = 0;
  for (; i0 + AR <= Te; i0 += AR) attn_bwd_rows<AR, HD>(a, i0, vt, Tp, gk, gv, dp);
  switch (Te - i0) {
    case 3: attn_bwd_rows<3, HD>(a, i0, vt, Tp, gk, gv, dp); break;
    case 2: attn_bwd_rows<2, HD>(a, i0, vt, Tp, gk, gv, dp); break;
    case 1: attn_bwd_rows<1, HD>(a, i0, vt, Tp, gk, gv, dp); break;
    default: break;
  }
  for (int j = 0; j < T; j++)
    for (int d = 0; d < HD; d++) {
      float* ok = a.dk + (long)j * a.ds + d;
      float* ov = a.dv + (long)j * a.ds + d;
      *ok = a.accumulate ? *ok + gk[(long)j * HD + d] : gk[(long)j * HD + d];
      *ov = a.accumulate ? *ov + gv[(long)j * HD + d] : gv[(long)j * HD + d];
    }
}

// Head dims as in sd::attn_direct.
void attn_fwd(const AttnHead& a) {
  if (a.hd == 16) attn_fwd_hd<16>(a);
  else if (a.hd == 32) attn_fwd_hd<32>(a);
}

void attn_bwd(const AttnHeadGrad& a) {
  if (a.hd == 16) attn_bwd_hd<16>(a);
  else if (a.hd == 32) attn_bwd_hd<32>(a);
}

}  // namespace SD_NS
