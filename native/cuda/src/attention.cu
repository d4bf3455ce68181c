// Attention pieces around the cuBLAS batched GEMMs: masked causal softmax (forward/backward) for training and
// prefill, and the KV-cache kernels for decoding (grouped-query: NKV cached heads serve NH query heads).
// Masking follows HF eager: finfo(float32).min scores.
#include "common.cuh"
#include "kernels.h"

namespace sdcuda {
namespace {

__device__ __forceinline__ bool key_allowed(int j, int t, const uint8_t* mk) { return j <= t && (mk == nullptr || mk[j] != 0); }

// One warp per (b, h, t) row of T scores.
__global__ void softmax_fwd_k(float* att, const uint8_t* keymask, int B, int NH, int T) {
  const int lane = threadIdx.x & 31;
  const size_t row = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) >> 5;
  if (row >= static_cast<size_t>(B) * NH * T) return;
  const int t = static_cast<int>(row % T);
  const int b = static_cast<int>(row / T / NH);
  const uint8_t* mk = keymask ? keymask + static_cast<size_t>(b) * T : nullptr;
  float* a = att + row * T;
  float mx = -FLT_MAX;
  for (int j = lane; j < T; j += 32) mx = fmaxf(mx, key_allowed(j, t, mk) ? a[j] : -FLT_MAX);
  mx = warp_max(mx);
  float sum = 0.f;
  for (int j = lane; j < T; j += 32) {
    // -FLT_MAX - mx rounds to -FLT_MAX (exp -> 0) unless every key is masked, where it is 0 (exp -> 1): uniform row.
    const float e = expf((key_allowed(j, t, mk) ? a[j] : -FLT_MAX) - mx);
    a[j] = e;
    sum += e;
  }
  const float inv = 1.f / warp_sum(sum);
  for (int j = lane; j < T; j += 32) a[j] *= inv;
}

__global__ void softmax_bwd_k(float* datt, const float* att, const uint8_t* keymask, float scale, int B, int NH, int T) {
  const int lane = threadIdx.x & 31;
  const size_t row = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) >> 5;
  if (row >= static_cast<size_t>(B) * NH * T) return;
  const int t = static_cast<int>(row % T);
  const int b = static_cast<int>(row / T / NH);
  const uint8_t* mk = keymask ? keymask + static_cast<size_t>(b) * T : nullptr;
  const float* a = att + row * T;
  float* d = datt + row * T;
  float dot = 0.f;
  for (int j = lane; j < T; j += 32) dot += a[j] * d[j];
  dot = warp_sum(dot);
  // Masked scores are constants (filled, not computed), so their gradient is exactly zero.
  for (int j = lane; j < T; j += 32) d[j] = key_allowed(j, t, mk) ? a[j] * (d[j] - dot) * scale : 0.f;
}

__global__ void kv_fill_k(float* kc, float* vc, const float* k, const float* v, int B, int NH, int T, int hd, int maxLen) {
  const size_t n = static_cast<size_t>(B) * NH * T * hd;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t d = i % hd, t = (i / hd) % T, bh = i / hd / T;
    const size_t o = (bh * maxLen + t) * hd + d;
    kc[o] = k[i];
    vc[o] = v[i];
  }
}

__global__ void kv_append_k(float* kc, float* vc, uint8_t* keymask, const float* k, const float* v, int rowStride, int B, int NKV, int hd,
                            int maxLen, int at) {
  const size_t C = static_cast<size_t>(NKV) * hd, n = static_cast<size_t>(B) * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = i / C, hdIdx = i % C, h = hdIdx / hd, d = hdIdx % hd;
    const size_t o = ((b * NKV + h) * maxLen + at) * hd + d;
    kc[o] = k[b * rowStride + hdIdx];
    vc[o] = v[b * rowStride + hdIdx];
    if (hdIdx == 0) keymask[b * maxLen + at] = 1;
  }
}

// One block per (b, h): warp-per-key scores (lanes over head dims, coalesced), block softmax, then groups of
// threads each sum a slice of the keys for every head dim. Query head h reads KV head h / (NH / NKV).
__global__ void decode_attn_k(float* out, const float* qs, int qStride, const float* kc, const float* vc, const uint8_t* keymask, int NH,
                              int NKV, int hd, int len, int maxLen, float scale) {
  SD_DYNAMIC_SHARED(shared);
  float* q = shared;             // hd
  float* p = q + hd;             // maxLen
  float* part = p + maxLen;      // max(blockDim, hd)
  float* red = part + max(static_cast<int>(blockDim.x), hd);  // 32
  const int b = blockIdx.x / NH, h = blockIdx.x % NH;
  const size_t C = static_cast<size_t>(NH) * hd, kvh = static_cast<size_t>(b) * NKV + h / (NH / NKV);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) q[d] = qs[static_cast<size_t>(b) * qStride + static_cast<size_t>(h) * hd + d];
  __syncthreads();
  const float* K = kc + kvh * maxLen * hd;
  const float* V = vc + kvh * maxLen * hd;
  const uint8_t* mk = keymask + static_cast<size_t>(b) * maxLen;
  for (int j = warp; j < len; j += warps) {
    float dot = 0.f;
    for (int d = lane; d < hd; d += 32) dot += q[d] * K[static_cast<size_t>(j) * hd + d];
    dot = warp_sum(dot);
    if (lane == 0) p[j] = mk[j] ? dot * scale : -FLT_MAX;
  }
  __syncthreads();
  float mx = -FLT_MAX;
  for (int j = threadIdx.x; j < len; j += blockDim.x) mx = fmaxf(mx, p[j]);
  mx = block_max(mx, red);
  float sum = 0.f;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    const float e = expf(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = block_sum(sum, red);  // ends with __syncthreads + shuffles, so p[] is visible below
  __syncthreads();
  const int groups = max(1, static_cast<int>(blockDim.x) / hd);
  for (int idx = threadIdx.x; idx < groups * hd; idx += blockDim.x) {
    const int g = idx / hd, d = idx % hd;
    float acc = 0.f;
    for (int j = g; j < len; j += groups) acc += p[j] * V[static_cast<size_t>(j) * hd + d];
    part[idx] = acc;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float acc = 0.f;
    for (int g = 0; g < groups; g++) acc += part[g * hd + d];
    out[static_cast<size_t>(b) * C + static_cast<size_t>(h) * hd + d] = acc / sum;
  }
}

}  // namespace

void attention_softmax_forward(float* att, const uint8_t* keymask, int B, int NH, int T, cudaStream_t s) {
  const size_t rows = static_cast<size_t>(B) * NH * T;
  SD_LAUNCH(softmax_fwd_k, ceil_div(rows * 32, 256), 256, 0, s, att, keymask, B, NH, T);
  check_launch("attention_softmax_forward");
}
void attention_softmax_backward(float* datt, const float* att, const uint8_t* keymask, float scale, int B, int NH, int T, cudaStream_t s) {
  const size_t rows = static_cast<size_t>(B) * NH * T;
  SD_LAUNCH(softmax_bwd_k, ceil_div(rows * 32, 256), 256, 0, s, datt, att, keymask, scale, B, NH, T);
  check_launch("attention_softmax_backward");
}
void kv_cache_fill(float* kc, float* vc, const float* k, const float* v, int B, int NH, int T, int hd, int maxLen, cudaStream_t s) {
  SD_LAUNCH(kv_fill_k, grid_for(static_cast<size_t>(B) * NH * T * hd, 256), 256, 0, s, kc, vc, k, v, B, NH, T, hd, maxLen);
  check_launch("kv_cache_fill");
}
void kv_cache_append(float* kc, float* vc, uint8_t* keymask, const float* k, const float* v, int rowStride, int B, int NKV, int hd, int maxLen,
                     int at, cudaStream_t s) {
  SD_LAUNCH(kv_append_k, grid_for(static_cast<size_t>(B) * NKV * hd, 256), 256, 0, s, kc, vc, keymask, k, v, rowStride, B, NKV, hd, maxLen, at);
  check_launch("kv_cache_append");
}
void decode_attention(float* out, const float* q, int qStride, const float* kc, const float* vc, const uint8_t* keymask, int B, int NH, int NKV,
                      int hd, int len, int maxLen, cudaStream_t s) {
  const int block = 128;
  const size_t shmem = (static_cast<size_t>(hd) + maxLen + (block > hd ? block : hd) + 32) * sizeof(float);
  if (shmem > 48 * 1024) cudaFuncSetAttribute(decode_attn_k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shmem));
  SD_LAUNCH(decode_attn_k, B * NH, block, shmem, s, out, q, qStride, kc, vc, keymask, NH, NKV, hd, len, maxLen,
            1.f / sqrtf(static_cast<float>(hd)));
  check_launch("decode_attention");
}

}  // namespace sdcuda
