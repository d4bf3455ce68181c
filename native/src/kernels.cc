// Kernels of the GPT-2 block. Hot row loops are compiled for AVX-512, AVX2+FMA and
// baseline x86-64 and picked at load time (ifunc), so one binary runs everywhere.
#include "kernels.h"
#include "clones.h"
#include "fexp.h"
#include "gemm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace sd {
namespace {

inline float ftanh(float u) { return 1.0f - 2.0f / (fexp(2.0f * u) + 1.0f); }
constexpr float kGeluS = 0.7978845608028654f;  // sqrt(2/pi)

SD_CLONES void ln_row(float* o, const float* x, const float* w, const float* b, int C, float eps, float* mo,
                      float* ro) {
  float m = 0;
#pragma omp simd reduction(+ : m)
  for (int i = 0; i < C; i++) m += x[i];
  m /= C;
  float v = 0;
#pragma omp simd reduction(+ : v)
  for (int i = 0; i < C; i++) {
    float d = x[i] - m;
    v += d * d;
  }
  v /= C;
  float rs = 1.0f / std::sqrt(v + eps);
  for (int i = 0; i < C; i++) o[i] = (x[i] - m) * rs * w[i] + b[i];
  *mo = m;
  *ro = rs;
}

// restrict: dx, dw and db never overlap (dw/db are per-thread partials); without it GCC's runtime
// overlap check sent the second loop down its scalar version.
SD_CLONES void ln_bwd_row(float* __restrict dx, float* __restrict dw, float* __restrict db, const float* dout,
                          const float* x, const float* w, float m, float rs, int C) {
  float dnm = 0, dnnm = 0;
#pragma omp simd reduction(+ : dnm, dnnm)
  for (int i = 0; i < C; i++) {
    float n = (x[i] - m) * rs;
    float dn = w[i] * dout[i];
    dnm += dn;
    dnnm += dn * n;
  }
  dnm /= C;
  dnnm /= C;
  for (int i = 0; i < C; i++) {
    float n = (x[i] - m) * rs;
    float dn = w[i] * dout[i];
    db[i] += dout[i];
    dw[i] += n * dout[i];
    dx[i] += (dn - dnm - n * dnnm) * rs;
  }
}

SD_CLONES void add_row(float* o, const float* a, int n) {
  for (int i = 0; i < n; i++) o[i] += a[i];
}
SD_CLONES void add2_row(float* o, const float* a, const float* b, int n) {
  for (int i = 0; i < n; i++) o[i] = a[i] + b[i];
}

SD_CLONES void attn_row(float* out, float* arow, const float* q, const float* k, const float* v, int ks, int Tk,
                        int lim, const uint8_t* mrow, int hd, float scale) {
  float mx = -INFINITY;
  bool any = false;
  for (int j = 0; j < Tk; j++) {
    if (j <= lim && (!mrow || mrow[j])) {
      const float* kj = k + (long)j * ks;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int d = 0; d < hd; d++) s += q[d] * kj[d];
      s *= scale;
      arow[j] = s;
      mx = std::max(mx, s);
      any = true;
    } else {
      arow[j] = -INFINITY;
    }
  }
  for (int d = 0; d < hd; d++) out[d] = 0;
  if (!any) {
    // HF adds finfo.min to masked scores: a row with no visible key becomes uniform over all keys.
    float u = 1.0f / Tk;
    for (int j = 0; j < Tk; j++) {
      arow[j] = u;
      const float* vj = v + (long)j * ks;
      for (int d = 0; d < hd; d++) out[d] += u * vj[d];
    }
    return;
  }
  float sum = 0;
  for (int j = 0; j < Tk; j++) {
    float e = arow[j] == -INFINITY ? 0.0f : fexp(arow[j] - mx);
    arow[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (int j = 0; j < Tk; j++) {
    float p = arow[j] * inv;
    arow[j] = p;
    if (p != 0.0f) {
      const float* vj = v + (long)j * ks;
      for (int d = 0; d < hd; d++) out[d] += p * vj[d];
    }
  }
}

SD_CLONES void gelu_fwd_span(float* o, const float* x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    float xi = x[i];
    float u = kGeluS * (xi + 0.044715f * xi * xi * xi);
    o[i] = 0.5f * xi * (1.0f + ftanh(u));
  }
}
SD_CLONES void gelu_bwd_span(float* d, const float* x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    float xi = x[i];
    float u = kGeluS * (xi + 0.044715f * xi * xi * xi);
    float t = ftanh(u);
    float du = kGeluS * (1.0f + 3.0f * 0.044715f * xi * xi);
    d[i] *= 0.5f * (1.0f + t) + 0.5f * xi * (1.0f - t * t) * du;
  }
}

SD_CLONES double ce_row(float* l, int target, int V, float gscale, bool backward) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < V; j++) mx = std::max(mx, l[j]);
  float lt = l[target];
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < V; j++) {
    float e = fexp(l[j] - mx);
    l[j] = e;
    sum += e;
  }
  double nll = std::log((double)sum) - (double)(lt - mx);
  if (backward) {
    float k = gscale / sum;
    for (int j = 0; j < V; j++) l[j] *= k;
    l[target] -= gscale;
  }
  return nll;
}

SD_CLONES void adamw_span(float* p, float* g, float* m, float* v, long n, float lr, float b1, float b2, float eps,
                          float wd, float clip, float bc1, float bc2s) {
  float dec = 1.0f - lr * wd;
  float step = lr / bc1;
#pragma omp simd
  for (long i = 0; i < n; i++) {
    float gi = g[i] * clip;
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i] * dec;
    p[i] = pi - step * mi / (std::sqrt(vi) / bc2s + eps);
  }
}

SD_CLONES double sumsq_span(const float* x, long n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

// Softmax of one score row in place; keys j > lim or masked get probability 0.
SD_CLONES void softmax_masked_row(float* arow, int Tk, int lim, const uint8_t* mrow) {
  float mx = -INFINITY;
  for (int j = 0; j < Tk; j++) {
    bool ok = j <= lim && (!mrow || mrow[j]);
    if (ok) mx = std::max(mx, arow[j]);
  }
  if (mx == -INFINITY) {
    // HF adds finfo.min to masked scores: a row with no visible key becomes uniform over all keys.
    for (int j = 0; j < Tk; j++) arow[j] = 1.0f / Tk;
    return;
  }
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < Tk; j++) {
    bool ok = j <= lim && (!mrow || mrow[j]);
    float e = ok ? fexp(arow[j] - mx) : 0.0f;
    arow[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (int j = 0; j < Tk; j++) arow[j] *= inv;
}

// dS = P * (dP - rowsum(P * dP)) * scale, in place in dP.
SD_CLONES void softmax_bwd_row(float* dp, const float* p, int T, float scale) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < T; j++) s += p[j] * dp[j];
  for (int j = 0; j < T; j++) dp[j] = p[j] * (dp[j] - s) * scale;
}
}  // namespace

void encoder_forward(float* out, const float* wte, const float* wpe, const int32_t* ids, const int32_t* pos, int B,
                     int T, int C) {
#pragma omp parallel for
  for (long r = 0; r < (long)B * T; r++) {
    int p = pos ? pos[r] : (int)(r % T);
    add2_row(out + r * C, wte + (long)ids[r] * C, wpe + (long)p * C, C);
  }
}

void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids, const int32_t* pos, int B,
                      int T, int C) {
  // Serial scatter-add: rows may repeat ids, and B*T*C adds are negligible next to the GEMMs.
  for (long r = 0; r < (long)B * T; r++) {
    int p = pos ? pos[r] : (int)(r % T);
    add_row(dwte + (long)ids[r] * C, dout + r * C, C);
    add_row(dwpe + (long)p * C, dout + r * C, C);
  }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                       int C, float eps) {
#pragma omp parallel for
  for (int r = 0; r < N; r++) ln_row(out + (long)r * C, inp + (long)r * C, w, b, C, eps, mean + r, rstd + r);
}

void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                        const float* mean, const float* rstd, int N, int C) {
  int nt = omp_get_max_threads();
  std::vector<float> part((size_t)nt * 2 * C, 0.0f);
#pragma omp parallel
  {
    float* pw = part.data() + (size_t)omp_get_thread_num() * 2 * C;
#pragma omp for
    for (int r = 0; r < N; r++)
      ln_bwd_row(dinp + (long)r * C, pw, pw + C, dout + (long)r * C, inp + (long)r * C, w, mean[r], rstd[r], C);
  }
  if (!dw) return;  // frozen: the partials are discarded
  for (int t = 0; t < nt; t++) {
    add_row(dw, part.data() + (size_t)t * 2 * C, C);
    add_row(db, part.data() + (size_t)t * 2 * C + C, C);
  }
}

// Row slices per thread for the block's matmuls: a few per thread, handed out dynamically, so a thread
// descheduled on a shared machine does not stall the others at the end of the call.
static int row_parts(int N, int nt) { return std::max(1, std::min(2 * nt, N / 64)); }

// The block's products. Conv1D (GPT-2) weights are W [IC, OC] (y = x @ W); nn.Linear (Llama) weights are
// W [OC, IC] (y = x @ W^T): `wt`. Everything else (threading, bias, residual, a LoRA adapter) is shared.
static void mm_forward(bool wt, float* out, const float* inp, const float* W, const float* bias, int N, int IC, int OC,
                       const float* resid, const Lora& lo) {
  const float beta = (bias || resid) ? 1.0f : 0.0f;
  const int nt = omp_get_max_threads();
  const int parts = nt > 1 && !omp_in_parallel() ? row_parts(N, nt) : 1;
  // Each row slice starts from its residual rows plus bias (the residual copy used to be a separate,
  // single-threaded memcpy), then accumulates its product, then its rows of the adapter: u = x A^T, out += s u B^T
  // (fused into the slice: two skinny products on rows already in cache, no extra parallel region).
  auto slice = [&](int r0, int r1) {
    for (int r = r0; r < r1; r++) {
      float* o = out + (long)r * OC;
      const float* res = resid ? resid + (long)r * OC : nullptr;
      if (res && bias)
        add2_row(o, res, bias, OC);
      else if (res && res != o)
        std::memcpy(o, res, sizeof(float) * OC);
      else if (bias)
        std::memcpy(o, bias, sizeof(float) * OC);
    }
    sgemm(false, wt, r1 - r0, OC, IC, 1.0f, inp + (long)r0 * IC, IC, W, wt ? IC : OC, beta, out + (long)r0 * OC, OC);
    if (lo.A) {
      float* u = lo.u + (long)r0 * lo.r;
      sgemm(false, true, r1 - r0, lo.r, IC, 1.0f, inp + (long)r0 * IC, IC, lo.A, IC, 0.0f, u, lo.r);
      sgemm(false, true, r1 - r0, OC, lo.r, lo.scale, u, lo.r, lo.B, lo.r, 1.0f, out + (long)r0 * OC, OC);
    }
  };
  // No region at all for one slice: an inactive region (if(false)) around sgemm's own parallel regions
  // made them nested teams, and RSS grew by megabytes per hundred steps (native-memory.test.ts).
  if (parts == 1) {
    slice(0, N);
    return;
  }
  // One parallel region: each row slice gets its bias and then its product (single-threaded sgemm inside).
#pragma omp parallel for schedule(dynamic, 1)
  for (int p = 0; p < parts; p++) slice((int)((long)N * p / parts), (int)((long)N * (p + 1) / parts));
}

static void mm_backward(bool wt, float* dinp, float dbeta, float* dW, float* db, const float* dout, const float* inp,
                        const float* W, int N, int IC, int OC, const Lora& lo) {
  const int nt = omp_get_max_threads();
  // dW is [wr, wc]: [IC, OC] for Conv1D, [OC, IC] for nn.Linear.
  const int wr = wt ? OC : IC, wc = wt ? IC : OC, ldw = wc;
  // The adapter's input gradient path: du = s dy B [N, r], then dinp += du A.
  auto du_rows = [&](int r0, int r1) {
    sgemm(false, false, r1 - r0, lo.r, OC, lo.scale, dout + (long)r0 * OC, OC, lo.B, lo.r, 0.0f, lo.du + (long)r0 * lo.r,
          lo.r);
  };
  // dinp = dout @ W^T (Conv1D) or dout @ W (Linear) [+ du A]; dW += inp^T @ dout (Conv1D) or dout^T @ inp (Linear).
  auto dx = [&](int r0, int r1) {
    if (lo.A) du_rows(r0, r1);
    sgemm(false, !wt, r1 - r0, IC, OC, 1.0f, dout + (long)r0 * OC, OC, W, ldw, dbeta, dinp + (long)r0 * IC, IC);
    if (lo.A)
      sgemm(false, false, r1 - r0, IC, lo.r, 1.0f, lo.du + (long)r0 * lo.r, lo.r, lo.A, IC, 1.0f, dinp + (long)r0 * IC, IC);
  };
  auto dw = [&](int k0, int k1, float beta, float* dst) {
    if (wt)
      sgemm(true, false, OC, IC, k1 - k0, 1.0f, dout + (long)k0 * OC, OC, inp + (long)k0 * IC, IC, beta, dst, IC);
    else
      sgemm(true, false, IC, OC, k1 - k0, 1.0f, inp + (long)k0 * IC, IC, dout + (long)k0 * OC, OC, beta, dst, OC);
  };
  // The adapter's gradients, two skinny long reductions over the N rows (sgemm threads them): dA += du^T inp,
  // dB += s dy^T u. Without dinp, du has not been computed by the row slices.
  auto adapter = [&] {
    if (!lo.A) return;
    if (!dinp) du_rows(0, N);
    if (lo.dA) sgemm(true, false, lo.r, IC, N, 1.0f, lo.du, lo.r, inp, IC, 1.0f, lo.dA, IC);
    if (lo.dB) sgemm(true, false, OC, lo.r, N, lo.scale, dout, OC, lo.u, lo.r, 1.0f, lo.dB, lo.r);
  };
  // A bias gradient without its weight's (not a case the cores have) is summed serially.
  auto lone_bias = [&] {
    if (db && !dW)
      for (int r = 0; r < N; r++) add_row(db, dout + (long)r * OC, OC);
  };
  if (nt == 1 || omp_in_parallel()) {
    if (dinp) dx(0, N);
    if (dW) {
      dw(0, N, 1.0f, dW);
      if (db)
        for (int r = 0; r < N; r++) add_row(db, dout + (long)r * OC, OC);
    }
    lone_bias();
    adapter();
    return;
  }
  // One task list for both products: the weight gradient over K (= row) slices into private partials
  // (each with its slice's bias-gradient column sums), and dinp over row slices. Then the partials are
  // added in slice order, so the result depends on the thread count only, not on the schedule. A frozen
  // weight (dW null) has no weight-gradient tasks at all.
  const int pw = dW ? std::max(1, std::min(4 * nt, N / 256)) : 0;
  const int pd = dinp ? row_parts(N, nt) : 0;
  const size_t stride = (size_t)IC * OC + OC;
  // Reused across calls (zero-filling a fresh half-MB vector each call showed up in the profile);
  // thread_local because several cores may train in different threads of one process.
  thread_local std::vector<float> partial;
  if (partial.size() < (size_t)pw * stride) partial.resize((size_t)pw * stride);
  float* const parts = partial.data();  // the pool's threads must use this thread's buffer, not their own
  if (pw + pd > 0) {
#pragma omp parallel
    {
#pragma omp for schedule(dynamic, 1)
      for (int task = 0; task < pw + pd; task++) {
        // The dinp slices (twice the work of a dW slice) go first, so the tail of the list is small.
        if (task >= pd) {
          const int t = task - pd;
          const int k0 = (int)((long)N * t / pw), k1 = (int)((long)N * (t + 1) / pw);
          float* part = parts + (size_t)t * stride;
          dw(k0, k1, 0.0f, part);
          float* pb = part + (size_t)IC * OC;
          std::memset(pb, 0, sizeof(float) * OC);
          if (db)
            for (int r = k0; r < k1; r++) add_row(pb, dout + (long)r * OC, OC);
        } else {
          const int p = task;
          dx((int)((long)N * p / pd), (int)((long)N * (p + 1) / pd));
        }
      }
      if (pw > 0) {
#pragma omp for
        for (int i = 0; i <= wr; i++) {  // row wr: the bias gradient
          if (i == wr && !db) continue;
          float* dst = i < wr ? dW + (size_t)i * wc : db;
          const int n = i < wr ? wc : OC;
          for (int t = 0; t < pw; t++) add_row(dst, parts + (size_t)t * stride + (size_t)i * wc, n);
        }
      }
    }
  }
  lone_bias();
  adapter();
}

void matmul_forward(float* out, const float* inp, const float* W, const float* bias, int N, int IC, int OC,
                    const float* resid, const Lora& lora) {
  mm_forward(false, out, inp, W, bias, N, IC, OC, resid, lora);
}
void matmul_backward(float* dinp, float* dW, float* db, const float* dout, const float* inp, const float* W, int N,
                     int IC, int OC, const Lora& lora) {
  mm_backward(false, dinp, 0.0f, dW, db, dout, inp, W, N, IC, OC, lora);
}
void linear_forward(float* out, const float* inp, const float* W, const float* bias, int N, int IC, int OC,
                    const float* resid, const Lora& lora) {
  mm_forward(true, out, inp, W, bias, N, IC, OC, resid, lora);
}
void linear_backward(float* dinp, bool accumulate, float* dW, float* db, const float* dout, const float* inp,
                     const float* W, int N, int IC, int OC, const Lora& lora) {
  mm_backward(true, dinp, accumulate ? 1.0f : 0.0f, dW, db, dout, inp, W, N, IC, OC, lora);
}

// Query rows per block of the block-causal GEMM attention.
constexpr int kAttnRows = 64;

// The first key the mask shows (Tk when none): a query row i sees a key iff first <= past + i.
static int first_visible_key(const uint8_t* mrow, int Tk) {
  if (!mrow) return 0;
  int j = 0;
  while (j < Tk && !mrow[j]) j++;
  return j;
}

// Keys a block of query rows [i0, i1) reads: up to its last row's position, or all of them when its first row sees
// no key at all (HF's finfo.min makes such a row uniform over every key, future ones included).
static int causal_keys(int i0, int i1, int past, int Tk, int first) {
  return first > past + i0 ? Tk : std::min(Tk, past + i1);
}

void attention_forward(float* out, float* att, const AttnArgs& a) {
  const int C = a.NH * a.hd;
  const float scale = 1.0f / std::sqrt((float)a.hd);
  if (a.Tq >= 8) {
    const GemmIsa& isa = gemm_kernels();
    if (attn_direct(a.hd)) {
      // Prefill/training at small head dims: direct causal kernels (attn_isa.h), one (batch, head) per task.
#pragma omp parallel for schedule(dynamic, 1)
      for (int bh = 0; bh < a.B * a.NH; bh++) {
        const int b = bh / a.NH, h = bh % a.NH;
        AttnHead hd{a.Tq,
                    a.Tk,
                    a.past,
                    a.hd,
                    a.q + (long)b * a.Tq * a.qs + h * a.hd,
                    a.qs,
                    a.k + b * a.kbs + (h / a.group) * a.hd,
                    a.v + b * a.kbs + (h / a.group) * a.hd,
                    a.ks,
                    a.mask ? a.mask + b * a.mbs : nullptr,
                    scale,
                    att + (long)bh * a.Tq * a.Tk,
                    out + (long)b * a.Tq * C + h * a.hd,
                    C};
        isa.attn_fwd(hd);
      }
      return;
    }
    // Larger head dims: per (batch, head) two GEMMs around a masked softmax, block-causal: each block of
    // kAttnRows query rows scores only the keys up to its last row (about half the square at T = 512), and the
    // probabilities past them are zero in `att`, which the backward reads the same way.
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < a.B * a.NH; bh++) {
      const int b = bh / a.NH, h = bh % a.NH;
      const float* q = a.q + (long)b * a.Tq * a.qs + h * a.hd;
      const float* k = a.k + b * a.kbs + (h / a.group) * a.hd;
      const float* v = a.v + b * a.kbs + (h / a.group) * a.hd;
      float* S = att + (long)bh * a.Tq * a.Tk;
      const uint8_t* mrow = a.mask ? a.mask + b * a.mbs : nullptr;
      const int first = first_visible_key(mrow, a.Tk);
      for (int i0 = 0; i0 < a.Tq; i0 += kAttnRows) {
        const int i1 = std::min(a.Tq, i0 + kAttnRows);
        const int e = causal_keys(i0, i1, a.past, a.Tk, first);
        float* Si = S + (long)i0 * a.Tk;
        sgemm(false, true, i1 - i0, e, a.hd, scale, q + (long)i0 * a.qs, a.qs, k, a.ks, 0.0f, Si, a.Tk);
        // Keys past e were never scored: they are past every row's causal limit, which the softmax masks to 0.
        for (int i = i0; i < i1; i++) softmax_masked_row(S + (long)i * a.Tk, a.Tk, a.past + i, mrow);
        sgemm(false, false, i1 - i0, a.hd, e, 1.0f, Si, a.Tk, v, a.ks, 0.0f, out + ((long)b * a.Tq + i0) * C + h * a.hd, C);
      }
    }
    return;
  }
  const long total = (long)a.B * a.NH * a.Tq;
#pragma omp parallel for schedule(dynamic, 16)
  for (long idx = 0; idx < total; idx++) {
    int i = (int)(idx % a.Tq);
    int h = (int)((idx / a.Tq) % a.NH);
    int b = (int)(idx / ((long)a.Tq * a.NH));
    const float* q = a.q + ((long)b * a.Tq + i) * a.qs + h * a.hd;
    const float* k = a.k + b * a.kbs + (h / a.group) * a.hd;
    const float* v = a.v + b * a.kbs + (h / a.group) * a.hd;
    float* arow = att + (((long)b * a.NH + h) * a.Tq + i) * a.Tk;
    float* o = out + ((long)b * a.Tq + i) * C + h * a.hd;
    attn_row(o, arow, q, k, v, a.ks, a.Tk, a.past + i, a.mask ? a.mask + b * a.mbs : nullptr, a.hd, scale);
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int NH,
                        int hd) {
  const int C = NH * hd, C3 = 3 * C;
  const float scale = 1.0f / std::sqrt((float)hd);
  if (attn_direct(hd)) {
    // Direct causal kernels (attn_isa.h), one (batch, head) per task; each writes its own dq/dk/dv slice.
    const GemmIsa& isa = gemm_kernels();
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const long base = (long)b * T * C3 + h * hd;
      float* dq = dqkv + base;
      isa.attn_bwd(AttnHeadGrad{T, hd, qkv + base, C3, qkv + base + C, qkv + base + 2 * C, C3,
                                dout + (long)b * T * C + h * hd, C, att + (long)bh * T * T, scale, dq, C3, dq + C,
                                dq + 2 * C, C3, false});
    }
    return;
  }
#pragma omp parallel
  {
    std::vector<float> dP((size_t)T * T);
#pragma omp for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const long base = (long)b * T * C3 + h * hd;
      const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
      float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
      const float* dy = dout + (long)b * T * C + h * hd;
      const float* P = att + (long)bh * T * T;
      // Every (batch, head) slice of dqkv is written exactly once (beta 0), so no memset is needed.
      sgemm(false, true, T, T, hd, 1.0f, dy, C, v, C3, 0.0f, dP.data(), T);
      sgemm(true, false, T, hd, T, 1.0f, P, T, dy, C, 0.0f, dv, C3);
      for (int i = 0; i < T; i++) softmax_bwd_row(dP.data() + (long)i * T, P + (long)i * T, T, scale);
      sgemm(false, false, T, hd, T, 1.0f, dP.data(), T, k, C3, 0.0f, dq, C3);
      sgemm(true, false, T, hd, T, 1.0f, dP.data(), T, q, C3, 0.0f, dk, C3);
    }
  }
}

void attention_backward_gqa(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                            const float* v, const float* att, const uint8_t* mask, int B, int T, int NH, int NKV, int hd) {
  const int QW = NH * hd, KW = NKV * hd, group = NH / NKV;
  const float scale = 1.0f / std::sqrt((float)hd);
  // One task per (batch, KV head): it owns that head's dK/dV rows and adds every query head of its group into
  // them, so no two threads write the same element and the sum order is fixed.
  if (attn_direct(hd)) {
    const GemmIsa& isa = gemm_kernels();
#pragma omp parallel for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; bk++) {
      const int b = bk / NKV, kh = bk % NKV;
      const long kb = (long)b * T * KW + kh * hd;
      for (int g = 0; g < group; g++) {
        const int h = kh * group + g;
        const long qb = (long)b * T * QW + h * hd;
        isa.attn_bwd(AttnHeadGrad{T, hd, q + qb, QW, k + kb, v + kb, KW, dout + qb, QW, att + ((long)b * NH + h) * T * T,
                                  scale, dq + qb, QW, dk + kb, dv + kb, KW, g > 0});
      }
    }
    return;
  }
  // Block-causal as the forward's GEMM path: query block [i0, i1) touches keys [0, e) only (P is 0 past them, and
  // so is dS), so dK/dV start from zero and every block adds its keys' share.
#pragma omp parallel
  {
    std::vector<float> dP((size_t)T * T);
#pragma omp for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; bk++) {
      const int b = bk / NKV, kh = bk % NKV;
      const long kb = (long)b * T * KW + kh * hd;
      for (int t = 0; t < T; t++) {
        std::memset(dk + kb + (long)t * KW, 0, sizeof(float) * hd);
        std::memset(dv + kb + (long)t * KW, 0, sizeof(float) * hd);
      }
      const int first = first_visible_key(mask ? mask + (long)b * T : nullptr, T);  // the key mask [B, T] of the batch
      for (int g = 0; g < group; g++) {
        const int h = kh * group + g;
        const long qb = (long)b * T * QW + h * hd;
        const float* P = att + ((long)b * NH + h) * T * T;
        for (int i0 = 0; i0 < T; i0 += kAttnRows) {
          const int i1 = std::min(T, i0 + kAttnRows), n = i1 - i0;
          const int e = causal_keys(i0, i1, 0, T, first);
          const float* Pi = P + (long)i0 * T;
          float* dPi = dP.data() + (long)i0 * T;
          const float* dyi = dout + qb + (long)i0 * QW;
          sgemm(false, true, n, e, hd, 1.0f, dyi, QW, v + kb, KW, 0.0f, dPi, T);
          sgemm(true, false, e, hd, n, 1.0f, Pi, T, dyi, QW, 1.0f, dv + kb, KW);
          for (int i = 0; i < n; i++) softmax_bwd_row(dPi + (long)i * T, Pi + (long)i * T, e, scale);
          sgemm(false, false, n, hd, e, 1.0f, dPi, T, k + kb, KW, 0.0f, dq + qb + (long)i0 * QW, QW);
          sgemm(true, false, e, hd, n, 1.0f, dPi, T, q + qb + (long)i0 * QW, QW, 1.0f, dk + kb, KW);
        }
      }
    }
  }
}

void gelu_forward(float* out, const float* inp, long n) {
  const long chunk = 4096;
#pragma omp parallel for
  for (long s = 0; s < n; s += chunk) gelu_fwd_span(out + s, inp + s, std::min(chunk, n - s));
}
void gelu_backward(float* d, const float* inp, long n) {
  const long chunk = 4096;
#pragma omp parallel for
  for (long s = 0; s < n; s += chunk) gelu_bwd_span(d + s, inp + s, std::min(chunk, n - s));
}

double crossentropy_rows(float* logits, const int32_t* targets, int R, int V, float gscale, bool backward) {
  double total = 0;
#pragma omp parallel for reduction(+ : total)
  for (int r = 0; r < R; r++) total += ce_row(logits + (long)r * V, targets[r], V, gscale, backward);
  return total;
}

void adamw_update(float* p, float* g, float* m, float* v, long n, float lr, float b1, float b2, float eps, float wd,
                  float clip, int t) {
  // Bias corrections in double, like torch (Python floats).
  float bc1 = (float)(1.0 - std::pow((double)b1, t));
  float bc2s = (float)std::sqrt(1.0 - std::pow((double)b2, t));
  const long chunk = 16384;
#pragma omp parallel for
  for (long s = 0; s < n; s += chunk)
    adamw_span(p + s, g + s, m + s, v + s, std::min(chunk, n - s), lr, b1, b2, eps, wd, clip, bc1, bc2s);
}

void adamw_update_tensors(float* p, float* g, float* m, float* v, const size_t* sizes, const uint8_t* decay, int count,
                          float lr, float b1, float b2, float eps, float wd, float clip, int t) {
  float bc1 = (float)(1.0 - std::pow((double)b1, t));
  float bc2s = (float)std::sqrt(1.0 - std::pow((double)b2, t));
  // One parallel region for every tensor: a region per tensor (28 for GPT-2, most of 64 floats) cost
  // more in fork/join than the update itself at the students' size.
  struct Span {
    long off, n;
    float wd;
  };
  std::vector<Span> spans;
  const long chunk = 16384;
  long off = 0;
  for (int i = 0; i < count; i++) {
    for (long s = 0; s < (long)sizes[i]; s += chunk)
      spans.push_back({off + s, std::min(chunk, (long)sizes[i] - s), decay[i] ? wd : 0.0f});
    off += (long)sizes[i];
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < spans.size(); k++) {
    const Span& sp = spans[k];
    adamw_span(p + sp.off, g + sp.off, m + sp.off, v + sp.off, sp.n, lr, b1, b2, eps, sp.wd, clip, bc1, bc2s);
  }
}

double sum_squares(const float* x, long n) {
  const long chunk = 16384;
  double total = 0;
#pragma omp parallel for reduction(+ : total)
  for (long s = 0; s < n; s += chunk) total += sumsq_span(x + s, std::min(chunk, n - s));
  return total;
}

}  // namespace sd
