// CPU EMULATION ONLY: plain-loop versions of every launcher in src/kernels.h, written from the same contract,
// so the CUDA core's host orchestration (buffer wiring, GEMM arguments, pass order) can be tested without a GPU.
// The device code in src/*.cu is NOT exercised by this file.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace sdcuda {

void embedding_forward(float* out, const int* ids, const int* pos, const float* wte, const float* wpe, int BT, int C, cudaStream_t) {
  for (size_t bt = 0; bt < static_cast<size_t>(BT); bt++)
    for (int c = 0; c < C; c++)
      out[bt * C + c] = wte[static_cast<size_t>(ids[bt]) * C + c] + (wpe ? wpe[static_cast<size_t>(pos[bt]) * C + c] : 0.f);
}
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* ids, const int* pos, int BT, int C, cudaStream_t) {
  for (size_t bt = 0; bt < static_cast<size_t>(BT); bt++)
    for (int c = 0; c < C; c++) {
      dwte[static_cast<size_t>(ids[bt]) * C + c] += dout[bt * C + c];
      if (dwpe) dwpe[static_cast<size_t>(pos[bt]) * C + c] += dout[bt * C + c];
    }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N, int C, float eps, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++) {
    const float* x = inp + r * C;
    float m = 0.f, v = 0.f;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    const float rs = 1.f / std::sqrt(v / C + eps);
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
    for (int i = 0; i < C; i++) out[r * C + i] = (x[i] - m) * rs * w[i] + b[i];
  }
}
void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++) {
    const float* dy = dout + r * C;
    const float* x = inp + r * C;
    float a = 0.f, bsum = 0.f;
    for (int i = 0; i < C; i++) {
      const float n = (x[i] - mean[r]) * rstd[r];
      a += dy[i] * w[i];
      bsum += dy[i] * w[i] * n;
    }
    a /= C;
    bsum /= C;
    for (int i = 0; i < C; i++) {
      const float n = (x[i] - mean[r]) * rstd[r];
      dinp[r * C + i] += rstd[r] * (dy[i] * w[i] - a - n * bsum);
      dw[i] += dy[i] * n;
      db[i] += dy[i];
    }
  }
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int N, int C, float eps, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++) {
    const float* x = inp + r * C;
    float ss = 0.f;
    for (int i = 0; i < C; i++) ss += x[i] * x[i];
    const float rs = 1.f / std::sqrt(ss / C + eps);
    if (rstd) rstd[r] = rs;
    for (int i = 0; i < C; i++) out[r * C + i] = x[i] * rs * w[i];
  }
}
void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w, const float* rstd, int N, int C, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++) {
    const float* dy = dout + r * C;
    const float* x = inp + r * C;
    float dot = 0.f;
    for (int i = 0; i < C; i++) dot += dy[i] * w[i] * x[i] * rstd[r];
    dot /= C;
    for (int i = 0; i < C; i++) {
      const float u = x[i] * rstd[r];
      dinp[r * C + i] += rstd[r] * (dy[i] * w[i] - u * dot);
      dw[i] += dy[i] * u;
    }
  }
}

void add_bias(float* out, const float* bias, int N, int OC, int ld, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++)
    for (int j = 0; j < OC; j++) out[r * ld + j] += bias[j];
}
void bias_backward(float* dbias, const float* dout, int N, int OC, int ld, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++)
    for (int j = 0; j < OC; j++) dbias[j] += dout[r * ld + j];
}

constexpr float kGeluScale = 0.7978845608028654f;
void gelu_forward(float* out, const float* inp, size_t n, cudaStream_t) {
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.f + std::tanh(kGeluScale * (x + 0.044715f * x * x * x)));
  }
}
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n, cudaStream_t) {
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    const float t = std::tanh(kGeluScale * (x + 0.044715f * x * x * x));
    dinp[i] = (0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kGeluScale * (1.f + 3.f * 0.044715f * x * x)) * dout[i];
  }
}
void swiglu_forward(float* out, const float* gu, int N, int F, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++)
    for (int f = 0; f < F; f++) {
      const float g = gu[r * 2 * F + f];
      out[r * F + f] = g / (1.f + std::exp(-g)) * gu[r * 2 * F + F + f];
    }
}
void swiglu_backward(float* dgu, const float* dout, const float* gu, int N, int F, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(N); r++)
    for (int f = 0; f < F; f++) {
      const float g = gu[r * 2 * F + f], u = gu[r * 2 * F + F + f], d = dout[r * F + f];
      const float sig = 1.f / (1.f + std::exp(-g));
      dgu[r * 2 * F + f] = d * u * sig * (1.f + g * (1.f - sig));
      dgu[r * 2 * F + F + f] = d * g * sig;
    }
}
void residual_forward(float* out, const float* a, const float* b, size_t n, cudaStream_t) {
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
void cast_to_bf16(void* out, const float* in, size_t n, cudaStream_t) {
  uint16_t* o = static_cast<uint16_t*>(out);
  for (size_t i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, &in[i], 4);
    bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even, as __float2bfloat16
    o[i] = static_cast<uint16_t>(bits >> 16);
  }
}

// Element (b,h,t,d) of [B,NH,T,hd] <-> row (b*T+t), column h*hd+d of a [B*T, rowStride] matrix.
template <typename F>
void for_heads(int B, int T, int NH, int hd, F f) {
  size_t i = 0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++)
        for (int d = 0; d < hd; d++, i++) f(i, static_cast<size_t>(b) * T + t, static_cast<size_t>(h) * hd + d);
}
void qkv_split_heads(float* q, float* k, float* v, const float* qkv, int B, int T, int NH, int hd, cudaStream_t) {
  const size_t C = static_cast<size_t>(NH) * hd;
  for_heads(B, T, NH, hd, [&](size_t i, size_t row, size_t col) {
    q[i] = qkv[row * 3 * C + col];
    k[i] = qkv[row * 3 * C + C + col];
    v[i] = qkv[row * 3 * C + 2 * C + col];
  });
}
void qkv_merge_heads(float* dqkv, const float* dq, const float* dk, const float* dv, int B, int T, int NH, int hd, cudaStream_t) {
  const size_t C = static_cast<size_t>(NH) * hd;
  for_heads(B, T, NH, hd, [&](size_t i, size_t row, size_t col) {
    dqkv[row * 3 * C + col] = dq[i];
    dqkv[row * 3 * C + C + col] = dk[i];
    dqkv[row * 3 * C + 2 * C + col] = dv[i];
  });
}
void heads_merge(float* out, const float* y, int B, int T, int NH, int hd, cudaStream_t) {
  const size_t C = static_cast<size_t>(NH) * hd;
  for_heads(B, T, NH, hd, [&](size_t i, size_t row, size_t col) { out[row * C + col] = y[i]; });
}
void heads_split(float* y, const float* in, int B, int T, int NH, int hd, cudaStream_t) {
  const size_t C = static_cast<size_t>(NH) * hd;
  for_heads(B, T, NH, hd, [&](size_t i, size_t row, size_t col) { y[i] = in[row * C + col]; });
}

// Calls f(src, dst, kind) for every head of every token: src indexes qkv [BT, (NH+2NKV)*hd], dst the head layout
// ([B,NH,T,hd] for q, kind 0; [B,NKV,T,hd] for k, kind 1, and v, kind 2); hh is the head's column block.
template <typename F>
void for_qkv_heads(int B, int T, int NH, int NKV, int hd, F f) {
  const size_t W = static_cast<size_t>(NH + 2 * NKV) * hd;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int hh = 0; hh < NH + 2 * NKV; hh++) {
        const size_t bt = static_cast<size_t>(b) * T + t, src = bt * W + static_cast<size_t>(hh) * hd;
        if (hh < NH) f(bt, hh, src, ((static_cast<size_t>(b) * NH + hh) * T + t) * hd, 0);
        else {
          const int h = (hh - NH) % NKV;
          f(bt, hh, src, ((static_cast<size_t>(b) * NKV + h) * T + t) * hd, hh < NH + NKV ? 1 : 2);
        }
      }
}
void rope_heads_forward(float* q, float* k, float* v, float* qkRstd, const float* qkv, const int* pos, const float* qNorm, const float* kNorm,
                        const float* invFreq, int B, int T, int NH, int NKV, int hd, float eps, cudaStream_t) {
  const int half = hd / 2;
  std::vector<float> n(hd);
  for_qkv_heads(B, T, NH, NKV, hd, [&](size_t bt, int hh, size_t src, size_t dst, int kind) {
    const float* x = qkv + src;
    if (kind == 2) return (void)std::memcpy(v + dst, x, sizeof(float) * hd);
    const float* w = kind == 0 ? qNorm : kNorm;
    float r = 1.f;
    if (w) {
      float ss = 0.f;
      for (int i = 0; i < hd; i++) ss += x[i] * x[i];
      r = 1.f / std::sqrt(ss / hd + eps);
      if (qkRstd) qkRstd[bt * (NH + NKV) + hh] = r;
    }
    for (int i = 0; i < hd; i++) n[i] = w ? x[i] * r * w[i] : x[i];
    float* out = (kind == 0 ? q : k) + dst;
    for (int i = 0; i < half; i++) {
      const float ang = static_cast<float>(pos[bt]) * invFreq[i];
      const float c = std::cos(ang), s = std::sin(ang);
      out[i] = n[i] * c - n[i + half] * s;
      out[i + half] = n[i + half] * c + n[i] * s;
    }
  });
}
void rope_heads_backward(float* dqkv, float* dqNorm, float* dkNorm, const float* dq, const float* dk, const float* dv, const float* qkv,
                         const float* qkRstd, const int* pos, const float* qNorm, const float* kNorm, const float* invFreq, int B, int T, int NH,
                         int NKV, int hd, cudaStream_t) {
  const int half = hd / 2;
  std::vector<float> dn(hd);
  for_qkv_heads(B, T, NH, NKV, hd, [&](size_t bt, int hh, size_t src, size_t dst, int kind) {
    float* dx = dqkv + src;
    if (kind == 2) return (void)std::memcpy(dx, dv + dst, sizeof(float) * hd);
    const float* d = (kind == 0 ? dq : dk) + dst;
    for (int i = 0; i < half; i++) {  // the rotation's transpose
      const float ang = static_cast<float>(pos[bt]) * invFreq[i];
      const float c = std::cos(ang), s = std::sin(ang);
      dn[i] = d[i] * c + d[i + half] * s;
      dn[i + half] = d[i + half] * c - d[i] * s;
    }
    if (!qNorm) return (void)std::memcpy(dx, dn.data(), sizeof(float) * hd);
    const float* x = qkv + src;
    const float* w = kind == 0 ? qNorm : kNorm;
    float* dw = kind == 0 ? dqNorm : dkNorm;
    const float r = qkRstd[bt * (NH + NKV) + hh];
    float dot = 0.f;
    for (int i = 0; i < hd; i++) {
      dw[i] += dn[i] * x[i] * r;
      dot += dn[i] * w[i] * x[i] * r;
    }
    dot /= hd;
    for (int i = 0; i < hd; i++) dx[i] = r * (dn[i] * w[i] - x[i] * r * dot);
  });
}

static bool allowed(int j, int t, const uint8_t* mk) { return j <= t && (!mk || mk[j]); }
void attention_softmax_forward(float* att, const uint8_t* keymask, int B, int NH, int T, cudaStream_t) {
  for (size_t row = 0; row < static_cast<size_t>(B) * NH * T; row++) {
    const int t = static_cast<int>(row % T), b = static_cast<int>(row / T / NH);
    const uint8_t* mk = keymask ? keymask + static_cast<size_t>(b) * T : nullptr;
    float* a = att + row * T;
    float mx = -FLT_MAX, sum = 0.f;
    for (int j = 0; j < T; j++) mx = std::fmax(mx, allowed(j, t, mk) ? a[j] : -FLT_MAX);
    for (int j = 0; j < T; j++) sum += (a[j] = std::exp((allowed(j, t, mk) ? a[j] : -FLT_MAX) - mx));
    for (int j = 0; j < T; j++) a[j] /= sum;
  }
}
void attention_softmax_backward(float* datt, const float* att, const uint8_t* keymask, float scale, int B, int NH, int T, cudaStream_t) {
  for (size_t row = 0; row < static_cast<size_t>(B) * NH * T; row++) {
    const int t = static_cast<int>(row % T), b = static_cast<int>(row / T / NH);
    const uint8_t* mk = keymask ? keymask + static_cast<size_t>(b) * T : nullptr;
    const float* a = att + row * T;
    float* d = datt + row * T;
    float dot = 0.f;
    for (int j = 0; j < T; j++) dot += a[j] * d[j];
    for (int j = 0; j < T; j++) d[j] = allowed(j, t, mk) ? a[j] * (d[j] - dot) * scale : 0.f;
  }
}

void kv_cache_fill(float* kc, float* vc, const float* k, const float* v, int B, int NH, int T, int hd, int maxLen, cudaStream_t) {
  for (size_t bh = 0; bh < static_cast<size_t>(B) * NH; bh++)
    for (int t = 0; t < T; t++)
      for (int d = 0; d < hd; d++) {
        kc[(bh * maxLen + t) * hd + d] = k[(bh * T + t) * hd + d];
        vc[(bh * maxLen + t) * hd + d] = v[(bh * T + t) * hd + d];
      }
}
void kv_cache_append(float* kc, float* vc, uint8_t* keymask, const float* k, const float* v, int rowStride, int B, int NKV, int hd, int maxLen,
                     int at, cudaStream_t) {
  const size_t C = static_cast<size_t>(NKV) * hd;
  for (size_t b = 0; b < static_cast<size_t>(B); b++) {
    for (size_t c = 0; c < C; c++) {
      const size_t o = ((b * NKV + c / hd) * maxLen + at) * hd + c % hd;
      kc[o] = k[b * rowStride + c];
      vc[o] = v[b * rowStride + c];
    }
    keymask[b * maxLen + at] = 1;
  }
}
void decode_attention(float* out, const float* qs, int qStride, const float* kc, const float* vc, const uint8_t* keymask, int B, int NH, int NKV,
                      int hd, int len, int maxLen, cudaStream_t) {
  const size_t C = static_cast<size_t>(NH) * hd;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  std::vector<float> p(len);
  for (size_t b = 0; b < static_cast<size_t>(B); b++)
    for (size_t h = 0; h < static_cast<size_t>(NH); h++) {
      const float* q = qs + b * qStride + h * hd;
      const size_t kvh = b * NKV + h / (NH / NKV);
      const float* K = kc + kvh * maxLen * hd;
      const float* V = vc + kvh * maxLen * hd;
      float mx = -FLT_MAX, sum = 0.f;
      for (int j = 0; j < len; j++) {
        float dot = 0.f;
        for (int d = 0; d < hd; d++) dot += q[d] * K[static_cast<size_t>(j) * hd + d];
        p[j] = keymask[b * maxLen + j] ? dot * scale : -FLT_MAX;
        mx = std::fmax(mx, p[j]);
      }
      for (int j = 0; j < len; j++) sum += (p[j] = std::exp(p[j] - mx));
      for (int d = 0; d < hd; d++) {
        float acc = 0.f;
        for (int j = 0; j < len; j++) acc += p[j] * V[static_cast<size_t>(j) * hd + d];
        out[b * C + h * hd + d] = acc / sum;
      }
    }
}
void gather_last_rows(float* out, const float* in, int B, int T, int C, cudaStream_t) {
  for (size_t b = 0; b < static_cast<size_t>(B); b++) std::memcpy(out + b * C, in + (b * T + T - 1) * C, sizeof(float) * C);
}

void cross_entropy_rows(float* logits, float* losses, const int* targets, int R, int V, float dscale, bool grad, cudaStream_t) {
  for (size_t r = 0; r < static_cast<size_t>(R); r++) {
    float* x = logits + r * V;
    const int tgt = targets[r];
    float mx = -FLT_MAX, s = 0.f;
    for (int i = 0; i < V; i++) mx = std::fmax(mx, x[i]);
    for (int i = 0; i < V; i++) s += std::exp(x[i] - mx);
    const float lse = mx + std::log(s);
    losses[r] = tgt >= 0 ? lse - x[tgt] : 0.f;
    if (grad)
      for (int i = 0; i < V; i++) x[i] = tgt < 0 ? 0.f : (std::exp(x[i] - lse) - (i == tgt ? 1.f : 0.f)) * dscale;
  }
}

void sum_squares(double* out, const float* x, size_t n, cudaStream_t) {
  double acc = 0;
  for (size_t i = 0; i < n; i++) acc += static_cast<double>(x[i]) * x[i];
  *out += acc;
}
void adamw_update(float* p, const float* g, float* m, float* v, void* pbf16, const long long* segEnd, const uint8_t* segDecay, int nseg, size_t n,
                  const AdamWArgs& a, cudaStream_t s) {
  int seg = 0;
  for (size_t i = 0; i < n; i++) {
    while (seg < nseg - 1 && segEnd[seg] <= static_cast<long long>(i)) seg++;
    const float grad = g[i] * a.clipCoef;
    float param = segDecay[seg] ? p[i] * a.decayFactor : p[i];
    m[i] = m[i] + (1.f - a.beta1) * (grad - m[i]);
    v[i] = v[i] * a.beta2 + (1.f - a.beta2) * grad * grad;
    p[i] = param - a.stepSize * (m[i] / (std::sqrt(v[i]) / a.bc2Sqrt + a.eps));
  }
  if (pbf16) cast_to_bf16(pbf16, p, n, s);
}

}  // namespace sdcuda
