// Embedding, bias, gelu_new, SwiGLU, residual, casts and head permutations: memory-bound, one thread per element.
#include "common.cuh"
#include "kernels.h"

namespace sdcuda {
namespace {

__global__ void embedding_fwd_k(float* out, const int* ids, const int* pos, const float* wte, const float* wpe, int BT, int C) {
  const size_t n = static_cast<size_t>(BT) * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t bt = i / C, c = i % C;
    const float tok = wte[static_cast<size_t>(ids[bt]) * C + c];
    out[i] = wpe ? tok + wpe[static_cast<size_t>(pos[bt]) * C + c] : tok;
  }
}

__global__ void embedding_bwd_k(float* dwte, float* dwpe, const float* dout, const int* ids, const int* pos, int BT, int C) {
  const size_t n = static_cast<size_t>(BT) * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t bt = i / C, c = i % C;
    const float g = dout[i];
    atomicAdd(&dwte[static_cast<size_t>(ids[bt]) * C + c], g);
    if (dwpe) atomicAdd(&dwpe[static_cast<size_t>(pos[bt]) * C + c], g);
  }
}

__global__ void add_bias_k(float* out, const float* bias, size_t n, int OC, int ld) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[(i / OC) * ld + i % OC] += bias[i % OC];
}

// Column sums: each block sums `rows` rows of a 128-column strip, then one atomic per column.
__global__ void bias_bwd_k(float* dbias, const float* dout, int N, int OC, int ld, int rows) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= OC) return;
  const int r0 = blockIdx.y * rows;
  const int r1 = min(N, r0 + rows);
  float s = 0.f;
  for (int r = r0; r < r1; r++) s += dout[static_cast<size_t>(r) * ld + j];
  atomicAdd(&dbias[j], s);
}

constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)

__global__ void gelu_fwd_k(float* out, const float* inp, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.f + tanhf(kGeluScale * (x + 0.044715f * x * x * x)));
  }
}

__global__ void gelu_bwd_k(float* dinp, const float* inp, const float* dout, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = inp[i];
    const float t = tanhf(kGeluScale * (x + 0.044715f * x * x * x));
    const float local = 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kGeluScale * (1.f + 3.f * 0.044715f * x * x);
    dinp[i] = local * dout[i];
  }
}

// silu(g) = g / (1 + exp(-g)), as torch computes it.
__global__ void swiglu_fwd_k(float* out, const float* gu, int N, int F) {
  const size_t n = static_cast<size_t>(N) * F;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = i / F, f = i % F;
    const float g = gu[r * 2 * F + f], u = gu[r * 2 * F + F + f];
    out[i] = g / (1.f + expf(-g)) * u;
  }
}

__global__ void swiglu_bwd_k(float* dgu, const float* dout, const float* gu, int N, int F) {
  const size_t n = static_cast<size_t>(N) * F;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = i / F, f = i % F;
    const float g = gu[r * 2 * F + f], u = gu[r * 2 * F + F + f], d = dout[i];
    const float sig = 1.f / (1.f + expf(-g));
    dgu[r * 2 * F + f] = d * u * sig * (1.f + g * (1.f - sig));
    dgu[r * 2 * F + F + f] = d * g * sig;
  }
}

__global__ void residual_k(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}

__global__ void cast_bf16_k(__nv_bfloat16* out, const float* in, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16(in[i]);
}

// Index i enumerates [B,NH,T,hd]; returns the offset of the same element in a [B,T,NH*hd] row-major tensor
// whose rows have `rowStride` floats (3C for qkv, C otherwise).
__device__ __forceinline__ size_t bthd_offset(size_t i, int T, int NH, int hd, size_t rowStride) {
  const size_t d = i % hd;
  size_t r = i / hd;
  const size_t t = r % T;
  r /= T;
  const size_t h = r % NH;
  const size_t b = r / NH;
  return (b * T + t) * rowStride + h * hd + d;
}

__global__ void qkv_split_k(float* q, float* k, float* v, const float* qkv, int B, int T, int NH, int hd) {
  const size_t C = static_cast<size_t>(NH) * hd, n = static_cast<size_t>(B) * T * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t o = bthd_offset(i, T, NH, hd, 3 * C);
    q[i] = qkv[o];
    k[i] = qkv[o + C];
    v[i] = qkv[o + 2 * C];
  }
}

__global__ void qkv_merge_k(float* dqkv, const float* dq, const float* dk, const float* dv, int B, int T, int NH, int hd) {
  const size_t C = static_cast<size_t>(NH) * hd, n = static_cast<size_t>(B) * T * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t o = bthd_offset(i, T, NH, hd, 3 * C);
    dqkv[o] = dq[i];
    dqkv[o + C] = dk[i];
    dqkv[o + 2 * C] = dv[i];
  }
}

__global__ void heads_merge_k(float* out, const float* y, int B, int T, int NH, int hd) {
  const size_t C = static_cast<size_t>(NH) * hd, n = static_cast<size_t>(B) * T * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[bthd_offset(i, T, NH, hd, C)] = y[i];
}

__global__ void heads_split_k(float* y, const float* in, int B, int T, int NH, int hd) {
  const size_t C = static_cast<size_t>(NH) * hd, n = static_cast<size_t>(B) * T * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] = in[bthd_offset(i, T, NH, hd, C)];
}

__global__ void gather_last_k(float* out, const float* in, int B, int T, int C) {
  const size_t n = static_cast<size_t>(B) * C;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = i / C, c = i % C;
    out[i] = in[(b * T + (T - 1)) * C + c];
  }
}

constexpr int kBlock = 256;

}  // namespace

void embedding_forward(float* out, const int* ids, const int* pos, const float* wte, const float* wpe, int BT, int C, cudaStream_t s) {
  SD_LAUNCH(embedding_fwd_k, grid_for(static_cast<size_t>(BT) * C, kBlock), kBlock, 0, s, out, ids, pos, wte, wpe, BT, C);
  check_launch("embedding_forward");
}
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* ids, const int* pos, int BT, int C, cudaStream_t s) {
  SD_LAUNCH(embedding_bwd_k, grid_for(static_cast<size_t>(BT) * C, kBlock), kBlock, 0, s, dwte, dwpe, dout, ids, pos, BT, C);
  check_launch("embedding_backward");
}
void add_bias(float* out, const float* bias, int N, int OC, int ld, cudaStream_t s) {
  const size_t n = static_cast<size_t>(N) * OC;
  SD_LAUNCH(add_bias_k, grid_for(n, kBlock), kBlock, 0, s, out, bias, n, OC, ld);
  check_launch("add_bias");
}
void bias_backward(float* dbias, const float* dout, int N, int OC, int ld, cudaStream_t s) {
  const int rows = 64;
  dim3 grid(ceil_div(OC, 128), ceil_div(N, rows));
  SD_LAUNCH(bias_bwd_k, grid, 128, 0, s, dbias, dout, N, OC, ld, rows);
  check_launch("bias_backward");
}
void swiglu_forward(float* out, const float* gu, int N, int F, cudaStream_t s) {
  SD_LAUNCH(swiglu_fwd_k, grid_for(static_cast<size_t>(N) * F, kBlock), kBlock, 0, s, out, gu, N, F);
  check_launch("swiglu_forward");
}
void swiglu_backward(float* dgu, const float* dout, const float* gu, int N, int F, cudaStream_t s) {
  SD_LAUNCH(swiglu_bwd_k, grid_for(static_cast<size_t>(N) * F, kBlock), kBlock, 0, s, dgu, dout, gu, N, F);
  check_launch("swiglu_backward");
}
void gelu_forward(float* out, const float* inp, size_t n, cudaStream_t s) {
  SD_LAUNCH(gelu_fwd_k, grid_for(n, kBlock), kBlock, 0, s, out, inp, n);
  check_launch("gelu_forward");
}
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n, cudaStream_t s) {
  SD_LAUNCH(gelu_bwd_k, grid_for(n, kBlock), kBlock, 0, s, dinp, inp, dout, n);
  check_launch("gelu_backward");
}
void residual_forward(float* out, const float* a, const float* b, size_t n, cudaStream_t s) {
  SD_LAUNCH(residual_k, grid_for(n, kBlock), kBlock, 0, s, out, a, b, n);
  check_launch("residual_forward");
}
void cast_to_bf16(void* out, const float* in, size_t n, cudaStream_t s) {
  SD_LAUNCH(cast_bf16_k, grid_for(n, kBlock), kBlock, 0, s, static_cast<__nv_bfloat16*>(out), in, n);
  check_launch("cast_to_bf16");
}
void qkv_split_heads(float* q, float* k, float* v, const float* qkv, int B, int T, int NH, int hd, cudaStream_t s) {
  SD_LAUNCH(qkv_split_k, grid_for(static_cast<size_t>(B) * T * NH * hd, kBlock), kBlock, 0, s, q, k, v, qkv, B, T, NH, hd);
  check_launch("qkv_split_heads");
}
void qkv_merge_heads(float* dqkv, const float* dq, const float* dk, const float* dv, int B, int T, int NH, int hd, cudaStream_t s) {
  SD_LAUNCH(qkv_merge_k, grid_for(static_cast<size_t>(B) * T * NH * hd, kBlock), kBlock, 0, s, dqkv, dq, dk, dv, B, T, NH, hd);
  check_launch("qkv_merge_heads");
}
void heads_merge(float* out, const float* y, int B, int T, int NH, int hd, cudaStream_t s) {
  SD_LAUNCH(heads_merge_k, grid_for(static_cast<size_t>(B) * T * NH * hd, kBlock), kBlock, 0, s, out, y, B, T, NH, hd);
  check_launch("heads_merge");
}
void heads_split(float* y, const float* in, int B, int T, int NH, int hd, cudaStream_t s) {
  SD_LAUNCH(heads_split_k, grid_for(static_cast<size_t>(B) * T * NH * hd, kBlock), kBlock, 0, s, y, in, B, T, NH, hd);
  check_launch("heads_split");
}
void gather_last_rows(float* out, const float* in, int B, int T, int C, cudaStream_t s) {
  SD_LAUNCH(gather_last_k, grid_for(static_cast<size_t>(B) * C, kBlock), kBlock, 0, s, out, in, B, T, C);
  check_launch("gather_last_rows");
}

}  // namespace sdcuda
