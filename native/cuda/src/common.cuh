// Device helpers shared by the .cu files.
#pragma once
#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#define SD_LAUNCH(kernel, grid, block, shmem, stream, ...) kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#define SD_DYNAMIC_SHARED(name) extern __shared__ float name[]
#else
// Tests only: g++ compiles these same kernels against a cooperative CPU model of CUDA threads (emu/simt.h).
#include "simt.h"
#endif
#include <cfloat>
#include <stdexcept>
#include <string>

namespace sdcuda {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Block-wide reductions; `scratch` needs 32 floats of shared memory. All threads get the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : 0.f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : -FLT_MAX;
  return warp_max(v);
}

inline int ceil_div(size_t a, size_t b) { return static_cast<int>((a + b - 1) / b); }
// Grid size for grid-stride loops: enough blocks to fill any current GPU, bounded.
inline int grid_for(size_t n, int block) {
  size_t g = (n + block - 1) / block;
  return static_cast<int>(g < 65535 ? (g == 0 ? 1 : g) : 65535);
}

inline void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace sdcuda
