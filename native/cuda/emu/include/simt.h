// CPU EMULATION ONLY: just enough of the CUDA programming model to run the REAL kernels of src/*.cu under g++ in
// tests. Every CUDA thread of a block is a fiber (ucontext); blocks run one after another. __syncthreads and warp
// shuffles are barriers between fibers, so reductions, shared memory and index arithmetic execute as written.
// It cannot reveal data races or memory-ordering bugs (threads never truly overlap) and is far too slow for
// anything but fixture-sized problems.
#pragma once
#include <math.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <functional>

#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
extern dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace sdemu {
void launch(dim3 grid, dim3 block, size_t shmem, const std::function<void()>& body);
void syncthreads();
float shfl_xor(float v, int laneMask);
void* dynamic_shared();
}  // namespace sdemu

#define SD_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  ::sdemu::launch(dim3(grid), dim3(block), (shmem), [&]() { kernel(__VA_ARGS__); })
#define SD_DYNAMIC_SHARED(name) float* name = static_cast<float*>(::sdemu::dynamic_shared())
#define __syncthreads() ::sdemu::syncthreads()

inline float __shfl_xor_sync(unsigned, float v, int laneMask) { return sdemu::shfl_xor(v, laneMask); }
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}
inline double atomicAdd(double* p, double v) {
  const double old = *p;
  *p = old + v;
  return old;
}
using std::max;
using std::min;

struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return {static_cast<uint16_t>(u >> 16)};
}

enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) {
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
