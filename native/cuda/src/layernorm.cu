// LayerNorm (GPT-2) and RMSNorm (Llama) forward/backward: one warp per row. The backwards keep per-block dw/db
// partial sums in shared memory so that the global atomics are one per column per block, not one per element.
#include "common.cuh"
#include "kernels.h"

namespace sdcuda {
namespace {

__global__ void layernorm_fwd_k(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N, int C,
                                float eps) {
  const int lane = threadIdx.x & 31;
  const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= N) return;
  const float* x = inp + static_cast<size_t>(row) * C;
  float s = 0.f;
  for (int i = lane; i < C; i += 32) s += x[i];
  const float m = warp_sum(s) / C;
  float var = 0.f;
  for (int i = lane; i < C; i += 32) {
    const float d = x[i] - m;
    var += d * d;
  }
  const float r = 1.f / sqrtf(warp_sum(var) / C + eps);
  if (lane == 0) {
    if (mean) mean[row] = m;
    if (rstd) rstd[row] = r;
  }
  float* o = out + static_cast<size_t>(row) * C;
  for (int i = lane; i < C; i += 32) o[i] = (x[i] - m) * r * w[i] + b[i];
}

__global__ void layernorm_bwd_k(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, const float* mean,
                                const float* rstd, int N, int C) {
  SD_DYNAMIC_SHARED(shared);
  float* sdw = shared;
  float* sdb = shared + C;
  for (int i = threadIdx.x; i < C; i += blockDim.x) sdw[i] = sdb[i] = 0.f;
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int row = blockIdx.x * warps + warp; row < N; row += gridDim.x * warps) {
    const float* dy = dout + static_cast<size_t>(row) * C;
    const float* x = inp + static_cast<size_t>(row) * C;
    float* dx = dinp + static_cast<size_t>(row) * C;
    const float m = mean[row], r = rstd[row];
    float dnormMean = 0.f, dnormNorm = 0.f;
    for (int i = lane; i < C; i += 32) {
      const float n = (x[i] - m) * r;
      const float dn = dy[i] * w[i];
      dnormMean += dn;
      dnormNorm += dn * n;
    }
    dnormMean = warp_sum(dnormMean) / C;
    dnormNorm = warp_sum(dnormNorm) / C;
    for (int i = lane; i < C; i += 32) {
      const float n = (x[i] - m) * r;
      const float dn = dy[i] * w[i];
      dx[i] += r * (dn - dnormMean - n * dnormNorm);
      atomicAdd(&sdw[i], dy[i] * n);
      atomicAdd(&sdb[i], dy[i]);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    atomicAdd(&dw[i], sdw[i]);
    atomicAdd(&db[i], sdb[i]);
  }
}

// HF LlamaRMSNorm in fp32: (x * rsqrt(mean(x^2) + eps)) * w.
__global__ void rmsnorm_fwd_k(float* out, float* rstd, const float* inp, const float* w, int N, int C, float eps) {
  const int lane = threadIdx.x & 31;
  const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  if (row >= N) return;
  const float* x = inp + static_cast<size_t>(row) * C;
  float ss = 0.f;
  for (int i = lane; i < C; i += 32) ss += x[i] * x[i];
  const float r = 1.f / sqrtf(warp_sum(ss) / C + eps);
  if (lane == 0 && rstd) rstd[row] = r;
  float* o = out + static_cast<size_t>(row) * C;
  for (int i = lane; i < C; i += 32) o[i] = x[i] * r * w[i];
}

// With u = x * r: dx = r * (dy*w - u * mean(dy*w*u)), dw = sum over rows of dy * u.
__global__ void rmsnorm_bwd_k(float* dinp, float* dw, const float* dout, const float* inp, const float* w, const float* rstd, int N, int C) {
  SD_DYNAMIC_SHARED(sdw);
  for (int i = threadIdx.x; i < C; i += blockDim.x) sdw[i] = 0.f;
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int row = blockIdx.x * warps + warp; row < N; row += gridDim.x * warps) {
    const float* dy = dout + static_cast<size_t>(row) * C;
    const float* x = inp + static_cast<size_t>(row) * C;
    float* dx = dinp + static_cast<size_t>(row) * C;
    const float r = rstd[row];
    float dot = 0.f;
    for (int i = lane; i < C; i += 32) dot += dy[i] * w[i] * x[i] * r;
    dot = warp_sum(dot) / C;
    for (int i = lane; i < C; i += 32) {
      const float u = x[i] * r;
      dx[i] += r * (dy[i] * w[i] - u * dot);
      atomicAdd(&sdw[i], dy[i] * u);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < C; i += blockDim.x) atomicAdd(&dw[i], sdw[i]);
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int N, int C, float eps, cudaStream_t s) {
  const int block = 256;
  SD_LAUNCH(rmsnorm_fwd_k, ceil_div(static_cast<size_t>(N) * 32, block), block, 0, s, out, rstd, inp, w, N, C, eps);
  check_launch("rmsnorm_forward");
}

void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w, const float* rstd, int N, int C, cudaStream_t s) {
  const int block = 256, warps = block / 32;
  int grid = ceil_div(N, warps);
  if (grid > 1024) grid = 1024;
  const size_t shmem = static_cast<size_t>(C) * sizeof(float);
  if (shmem > 48 * 1024) cudaFuncSetAttribute(rmsnorm_bwd_k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shmem));
  SD_LAUNCH(rmsnorm_bwd_k, grid, block, shmem, s, dinp, dw, dout, inp, w, rstd, N, C);
  check_launch("rmsnorm_backward");
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N, int C, float eps,
                       cudaStream_t s) {
  const int block = 256;  // 8 rows per block
  SD_LAUNCH(layernorm_fwd_k, ceil_div(static_cast<size_t>(N) * 32, block), block, 0, s, out, mean, rstd, inp, w, b, N, C, eps);
  check_launch("layernorm_forward");
}

void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t s) {
  const int block = 256, warps = block / 32;
  int grid = ceil_div(N, warps);
  if (grid > 1024) grid = 1024;
  const size_t shmem = 2 * static_cast<size_t>(C) * sizeof(float);
  if (shmem > 48 * 1024) cudaFuncSetAttribute(layernorm_bwd_k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shmem));
  SD_LAUNCH(layernorm_bwd_k, grid, block, shmem, s, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
  check_launch("layernorm_backward");
}

}  // namespace sdcuda
