// Fused softmax cross-entropy over a chunk of logit rows (the caller never holds [B,T,V] probabilities),
// the global gradient norm, and AdamW over the one contiguous parameter buffer.
#include "common.cuh"
#include "kernels.h"

namespace sdcuda {
namespace {

// One block per row. Online (max, sum) per thread, then a block merge; second pass writes the gradient.
__global__ void cross_entropy_k(float* logits, float* losses, const int* targets, int V, float dscale, int grad) {
  __shared__ float red[32];
  __shared__ float redMax[32];
  float* x = logits + static_cast<size_t>(blockIdx.x) * V;
  const int tgt = targets[blockIdx.x];
  const float xt = tgt >= 0 ? x[tgt] : 0.f;  // read before any thread overwrites the row
  float m = -FLT_MAX, s = 0.f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = x[i];
    if (v > m) {
      s = s * expf(m - v) + 1.f;
      m = v;
    } else {
      s += expf(v - m);
    }
  }
  const float M = block_max(m, redMax);
  const float S = block_sum(s == 0.f ? 0.f : s * expf(m - M), red);
  const float lse = M + logf(S);
  if (threadIdx.x == 0) losses[blockIdx.x] = tgt >= 0 ? lse - xt : 0.f;
  if (!grad) return;
  __syncthreads();  // every thread has read x[tgt] (xt) and finished its reads before the row is overwritten
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    x[i] = tgt < 0 ? 0.f : (expf(x[i] - lse) - (i == tgt ? 1.f : 0.f)) * dscale;
  }
}

__global__ void sum_squares_k(double* out, const float* x, size_t n) {
  __shared__ float red[32];
  float acc = 0.f;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    acc += x[i] * x[i];
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) atomicAdd(out, static_cast<double>(acc));
}

__global__ void adamw_k(float* p, const float* g, float* m, float* v, __nv_bfloat16* pbf, const long long* segEnd, const uint8_t* segDecay,
                        int nseg, size_t n, AdamWArgs a) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    int lo = 0, hi = nseg - 1;  // first segment whose end is past i
    while (lo < hi) {
      const int mid = (lo + hi) >> 1;
      if (segEnd[mid] > static_cast<long long>(i)) hi = mid; else lo = mid + 1;
    }
    const float grad = g[i] * a.clipCoef;
    float param = p[i];
    if (segDecay[lo]) param *= a.decayFactor;
    float mi = m[i];
    mi = mi + (1.f - a.beta1) * (grad - mi);  // torch lerp_(grad, 1 - beta1)
    const float vi = v[i] * a.beta2 + (1.f - a.beta2) * grad * grad;
    const float denom = sqrtf(vi) / a.bc2Sqrt + a.eps;  // eps after the bias-corrected sqrt (torch)
    param = param - a.stepSize * (mi / denom);
    p[i] = param;
    m[i] = mi;
    v[i] = vi;
    if (pbf) pbf[i] = __float2bfloat16(param);
  }
}

}  // namespace

void cross_entropy_rows(float* logits, float* losses, const int* targets, int R, int V, float dscale, bool grad, cudaStream_t s) {
  if (R == 0) return;
  SD_LAUNCH(cross_entropy_k, R, 512, 0, s, logits, losses, targets, V, dscale, grad ? 1 : 0);
  check_launch("cross_entropy_rows");
}
void sum_squares(double* out, const float* x, size_t n, cudaStream_t s) {
  int grid = grid_for(n, 256);
  if (grid > 1024) grid = 1024;
  SD_LAUNCH(sum_squares_k, grid, 256, 0, s, out, x, n);
  check_launch("sum_squares");
}
void adamw_update(float* p, const float* g, float* m, float* v, void* pbf16, const long long* segEnd, const uint8_t* segDecay, int nseg,
                  size_t n, const AdamWArgs& a, cudaStream_t s) {
  int grid = grid_for(n, 256);
  if (grid > 4096) grid = 4096;
  SD_LAUNCH(adamw_k, grid, 256, 0, s, p, g, m, v, static_cast<__nv_bfloat16*>(pbf16), segEnd, segDecay, nseg, n, a);
  check_launch("adamw_update");
}

}  // namespace sdcuda
