// Llama-family attention inputs: split the q | k | v projections into heads, apply Qwen3's optional per-head
// RMSNorm to q and k, then HF rotary embeddings (rotate_half pairs dim i with i + hd/2), and the exact inverse
// for the gradients. One warp per (token, head); each lane owns rotation pairs (i, i + hd/2).
#include "common.cuh"
#include "kernels.h"

namespace sdcuda {
namespace {

// Head hh of token bt: q heads [0, NH), k heads [NH, NH+NKV), v heads [NH+NKV, NH+2*NKV), in qkv's column order.
struct HeadRef {
  size_t src;   // offset of the head in qkv / dqkv
  size_t dst;   // offset in the head-layout q, k or v
  int kind;     // 0 q, 1 k, 2 v
};

__device__ __forceinline__ HeadRef head_ref(size_t bt, int hh, int T, int NH, int NKV, int hd) {
  const size_t b = bt / T, t = bt % T;
  HeadRef r;
  r.src = bt * static_cast<size_t>(NH + 2 * NKV) * hd + static_cast<size_t>(hh) * hd;
  if (hh < NH) {
    r.kind = 0;
    r.dst = ((b * NH + hh) * T + t) * hd;
  } else {
    const int h = (hh - NH) % NKV;
    r.kind = hh < NH + NKV ? 1 : 2;
    r.dst = ((b * NKV + h) * T + t) * hd;
  }
  return r;
}

__global__ void rope_fwd_k(float* q, float* k, float* v, float* qkRstd, const float* qkv, const int* pos, const float* qNorm,
                           const float* kNorm, const float* invFreq, int BT, int T, int NH, int NKV, int hd, float eps) {
  const int lane = threadIdx.x & 31;
  const size_t row = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) >> 5;
  const int heads = NH + 2 * NKV;
  if (row >= static_cast<size_t>(BT) * heads) return;
  const size_t bt = row / heads;
  const int hh = static_cast<int>(row % heads);
  const HeadRef ref = head_ref(bt, hh, T, NH, NKV, hd);
  const float* x = qkv + ref.src;
  if (ref.kind == 2) {
    for (int d = lane; d < hd; d += 32) v[ref.dst + d] = x[d];
    return;
  }
  float* out = (ref.kind == 0 ? q : k) + ref.dst;
  const float* w = ref.kind == 0 ? qNorm : kNorm;
  const int half = hd / 2;
  float r = 1.f;
  if (w) {
    float ss = 0.f;
    for (int i = lane; i < hd; i += 32) ss += x[i] * x[i];
    r = 1.f / sqrtf(warp_sum(ss) / hd + eps);
    if (lane == 0 && qkRstd) qkRstd[bt * (NH + NKV) + hh] = r;
  }
  const float p = static_cast<float>(pos[bt]);
  for (int i = lane; i < half; i += 32) {
    const float x1 = w ? x[i] * r * w[i] : x[i];
    const float x2 = w ? x[i + half] * r * w[i + half] : x[i + half];
    const float ang = p * invFreq[i];
    const float c = cosf(ang), s = sinf(ang);
    out[i] = x1 * c - x2 * s;
    out[i + half] = x2 * c + x1 * s;
  }
}

// Shared memory: the q-norm and k-norm weight gradient partials of this block, 2 * hd floats.
__global__ void rope_bwd_k(float* dqkv, float* dqNorm, float* dkNorm, const float* dq, const float* dk, const float* dv, const float* qkv,
                           const float* qkRstd, const int* pos, const float* qNorm, const float* kNorm, const float* invFreq, int BT, int T,
                           int NH, int NKV, int hd) {
  SD_DYNAMIC_SHARED(sdw);
  const bool norm = qNorm != nullptr;
  if (norm) {
    for (int i = threadIdx.x; i < 2 * hd; i += blockDim.x) sdw[i] = 0.f;
    __syncthreads();
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int heads = NH + 2 * NKV, half = hd / 2;
  const size_t rows = static_cast<size_t>(BT) * heads;
  for (size_t row = static_cast<size_t>(blockIdx.x) * warps + warp; row < rows; row += static_cast<size_t>(gridDim.x) * warps) {
    const size_t bt = row / heads;
    const int hh = static_cast<int>(row % heads);
    const HeadRef ref = head_ref(bt, hh, T, NH, NKV, hd);
    float* dx = dqkv + ref.src;
    if (ref.kind == 2) {
      for (int d = lane; d < hd; d += 32) dx[d] = dv[ref.dst + d];
      continue;
    }
    const float* dout = (ref.kind == 0 ? dq : dk) + ref.dst;
    const float p = static_cast<float>(pos[bt]);
    if (!norm) {
      for (int i = lane; i < half; i += 32) {
        const float ang = p * invFreq[i];
        const float c = cosf(ang), s = sinf(ang);
        dx[i] = dout[i] * c + dout[i + half] * s;
        dx[i + half] = dout[i + half] * c - dout[i] * s;
      }
      continue;
    }
    // Through the norm: n = u * w with u = x * r; du = dn * w; dx = r * (du - u * mean(du * u)).
    const float* x = qkv + ref.src;
    const float* w = ref.kind == 0 ? qNorm : kNorm;
    float* sw = sdw + (ref.kind == 0 ? 0 : hd);
    const float r = qkRstd[bt * (NH + NKV) + hh];
    float dot = 0.f;
    for (int i = lane; i < half; i += 32) {
      const float ang = p * invFreq[i];
      const float c = cosf(ang), s = sinf(ang);
      const float dn1 = dout[i] * c + dout[i + half] * s, dn2 = dout[i + half] * c - dout[i] * s;
      const float u1 = x[i] * r, u2 = x[i + half] * r;
      atomicAdd(&sw[i], dn1 * u1);
      atomicAdd(&sw[i + half], dn2 * u2);
      const float du1 = dn1 * w[i], du2 = dn2 * w[i + half];
      dx[i] = du1;  // du for now; finished below once mean(du * u) is known (each lane rereads only its own pairs)
      dx[i + half] = du2;
      dot += du1 * u1 + du2 * u2;
    }
    dot = warp_sum(dot) / hd;
    for (int i = lane; i < half; i += 32) {
      dx[i] = r * (dx[i] - x[i] * r * dot);
      dx[i + half] = r * (dx[i + half] - x[i + half] * r * dot);
    }
  }
  if (norm) {
    __syncthreads();
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
      atomicAdd(&dqNorm[i], sdw[i]);
      atomicAdd(&dkNorm[i], sdw[hd + i]);
    }
  }
}

}  // namespace

void rope_heads_forward(float* q, float* k, float* v, float* qkRstd, const float* qkv, const int* pos, const float* qNorm, const float* kNorm,
                        const float* invFreq, int B, int T, int NH, int NKV, int hd, float eps, cudaStream_t s) {
  const size_t rows = static_cast<size_t>(B) * T * (NH + 2 * NKV);
  SD_LAUNCH(rope_fwd_k, ceil_div(rows * 32, 256), 256, 0, s, q, k, v, qkRstd, qkv, pos, qNorm, kNorm, invFreq, B * T, T, NH, NKV, hd, eps);
  check_launch("rope_heads_forward");
}

void rope_heads_backward(float* dqkv, float* dqNorm, float* dkNorm, const float* dq, const float* dk, const float* dv, const float* qkv,
                         const float* qkRstd, const int* pos, const float* qNorm, const float* kNorm, const float* invFreq, int B, int T, int NH,
                         int NKV, int hd, cudaStream_t s) {
  const int block = 256, warps = block / 32;
  int grid = ceil_div(static_cast<size_t>(B) * T * (NH + 2 * NKV), warps);
  if (grid > 1024) grid = 1024;
  const size_t shmem = 2 * static_cast<size_t>(hd) * sizeof(float);
  SD_LAUNCH(rope_bwd_k, grid, block, shmem, s, dqkv, dqNorm, dkNorm, dq, dk, dv, qkv, qkRstd, pos, qNorm, kNorm, invFreq, B * T, T, NH, NKV,
            hd);
  check_launch("rope_heads_backward");
}

}  // namespace sdcuda
