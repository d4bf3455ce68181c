// Kernels of the Llama block (see llama_kernels.h). Row loops carry target_clones (clones.h): AVX-512, AVX2+FMA
// and baseline x86-64, picked at load time.
#include "llama_kernels.h"

#include <omp.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "clones.h"
#include "fexp.h"

namespace sd {
namespace {

SD_CLONES void add_row(float* __restrict o, const float* __restrict a, int n) {
  for (int i = 0; i < n; i++) o[i] += a[i];
}

// HF LlamaRMSNorm in float32: w * (x * rsqrt(mean(x^2) + eps)).
SD_CLONES void rms_row(float* __restrict o, const float* __restrict x, const float* __restrict w, int C, float eps,
                       float* rs_out) {
  float ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int i = 0; i < C; i++) ss += x[i] * x[i];
  const float rs = 1.0f / std::sqrt(ss / C + eps);
#pragma omp simd
  for (int i = 0; i < C; i++) o[i] = w[i] * (x[i] * rs);
  *rs_out = rs;
}

// y = w * x * r with r = (mean(x^2) + eps)^-1/2:  dx = r * w * dy - x * r^3 / C * sum(w * dy * x),  dw += dy * x * r.
// dx and dy may alias (each element is read before it is written), so no restrict on them.
SD_CLONES void rms_bwd_row(float* dx, bool acc, float* __restrict dw, const float* dy, const float* __restrict x,
                           const float* __restrict w, float rs, int C) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < C; i++) s += w[i] * dy[i] * x[i];
  const float k = s * rs * rs * rs / C;
  for (int i = 0; i < C; i++) {
    const float g = dy[i];
    dw[i] += g * x[i] * rs;
    const float d = rs * w[i] * g - x[i] * k;
    dx[i] = acc ? dx[i] + d : d;
  }
}

SD_CLONES void rope_row(float* x, const float* c, const float* s, int nh, int hd, float sign) {
  const int h2 = hd / 2;
  for (int h = 0; h < nh; h++) {
    float* a = x + (long)h * hd;
    float* b = a + h2;
#pragma omp simd
    for (int i = 0; i < h2; i++) {
      const float x1 = a[i], x2 = b[i], si = sign * s[i];
      a[i] = x1 * c[i] - x2 * si;
      b[i] = x2 * c[i] + x1 * si;
    }
  }
}

SD_CLONES void swiglu_span(float* __restrict h, const float* __restrict g, const float* __restrict u, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    const float gi = g[i];
    h[i] = gi / (1.0f + fexp(-gi)) * u[i];
  }
}

// dgate may alias dh.
SD_CLONES void swiglu_bwd_span(float* dg, float* __restrict du, const float* dh, const float* __restrict g,
                               const float* __restrict u, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    const float gi = g[i], d = dh[i];
    const float sg = 1.0f / (1.0f + fexp(-gi));
    const float silu = gi * sg;
    du[i] = d * silu;
    dg[i] = d * u[i] * (sg + silu * (1.0f - sg));
  }
}

}  // namespace

void embedding_forward(float* out, const float* E, const int32_t* ids, long N, int C) {
#pragma omp parallel for
  for (long r = 0; r < N; r++) std::memcpy(out + r * C, E + (long)ids[r] * C, sizeof(float) * C);
}

void embedding_backward(float* dE, const float* dout, const int32_t* ids, long N, int C) {
  // Serial scatter-add, as GPT-2's: rows may repeat ids, and N*C adds are negligible next to the GEMMs.
  for (long r = 0; r < N; r++) add_row(dE + (long)ids[r] * C, dout + r * C, C);
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, long N, int C, float eps) {
#pragma omp parallel for
  for (long r = 0; r < N; r++) rms_row(out + r * C, inp + r * C, w, C, eps, rstd + r);
}

void rmsnorm_backward(float* dinp, bool accumulate, float* dw, const float* dout, const float* inp, const float* w,
                      const float* rstd, long N, int C) {
  // Per-thread dw partials, added in thread order afterwards (deterministic for a given thread count).
  const int nt = omp_get_max_threads();
  std::vector<float> part((size_t)nt * C, 0.0f);
#pragma omp parallel
  {
    float* pw = part.data() + (size_t)omp_get_thread_num() * C;
#pragma omp for
    for (long r = 0; r < N; r++) rms_bwd_row(dinp + r * C, accumulate, pw, dout + r * C, inp + r * C, w, rstd[r], C);
  }
  if (dw)
    for (int t = 0; t < nt; t++) add_row(dw, part.data() + (size_t)t * C, C);
}

void rope_tables(float* cs, const int32_t* pos, int B, int T, int past, int hd, float theta, int maxPos) {
  const int h2 = hd / 2;
  std::vector<float> inv(h2);
  // transformers: inv_freq = 1 / base ** (arange(0, dim, 2) / dim) in float32, freqs = inv_freq * position.
  for (int i = 0; i < h2; i++) {
    const float e = (float)(2 * i) / (float)hd;
    inv[i] = 1.0f / (float)std::pow((double)theta, (double)e);
  }
  const long N = (long)B * T;
  for (long r = 0; r < N; r++) {
    const int p = pos ? pos[r] : past + (int)(r % T);
    if (p < 0 || p >= maxPos)
      throw std::out_of_range("position id " + std::to_string(p) + " outside max_position_embeddings");
  }
#pragma omp parallel for
  for (long r = 0; r < N; r++) {
    const int p = pos ? pos[r] : past + (int)(r % T);
    float* c = cs + r * hd;
    for (int i = 0; i < h2; i++) {
      const float a = (float)p * inv[i];
      c[i] = (float)std::cos((double)a);
      c[h2 + i] = (float)std::sin((double)a);
    }
  }
}

void rope_forward(float* x, const float* cs, long N, int nh, int hd) {
#pragma omp parallel for
  for (long r = 0; r < N; r++) rope_row(x + r * nh * hd, cs + r * hd, cs + r * hd + hd / 2, nh, hd, 1.0f);
}

void rope_backward(float* dx, const float* cs, long N, int nh, int hd) {
#pragma omp parallel for
  for (long r = 0; r < N; r++) rope_row(dx + r * nh * hd, cs + r * hd, cs + r * hd + hd / 2, nh, hd, -1.0f);
}

void swiglu_forward(float* h, const float* gate, const float* up, long n) {
  const long chunk = 4096;
#pragma omp parallel for
  for (long s = 0; s < n; s += chunk) swiglu_span(h + s, gate + s, up + s, std::min(chunk, n - s));
}

void swiglu_backward(float* dgate, float* dup, const float* dh, const float* gate, const float* up, long n) {
  const long chunk = 4096;
#pragma omp parallel for
  for (long s = 0; s < n; s += chunk)
    swiglu_bwd_span(dgate + s, dup + s, dh + s, gate + s, up + s, std::min(chunk, n - s));
}

}  // namespace sd
