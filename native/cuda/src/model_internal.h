// Private state of Transformer shared by its .cc files: the activation plan and the decode sessions.
#pragma once
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "model.h"

#define SD_CUDA(call)                                                                                         \
  do {                                                                                                        \
    cudaError_t e_ = (call);                                                                                  \
    if (e_ != cudaSuccess) throw std::runtime_error(std::string(#call) + " failed: " + cudaGetErrorString(e_)); \
  } while (0)

namespace sdcuda {

// Activations for one (B, T) capacity, allocated once and reused while the batch fits. Names are GPT-2's; the
// Llama family uses the same slots (ln = RMSNorm out, qkv = q | k | v projections, fch = gate | up [BT, 2F],
// fchg = silu(gate) * up [BT, F]) and leaves the layernorm means null.
struct Transformer::Plan {
  int capBT = 0;
  size_t capAtt = 0;  // B * NH * T * T
  int chunkRows = 0;  // classifier rows per chunk
  bool hasMask = false;
  int *ids = nullptr, *pos = nullptr, *targets = nullptr;
  uint8_t* mask = nullptr;
  float* encoded = nullptr;
  struct L {
    float *ln1, *ln1m, *ln1r, *qkv, *att, *atty, *res2, *ln2, *ln2m, *ln2r, *fch, *fchg, *res3;
    float* qkr;  // Llama with q/k norms: their rstd [BT, NH + NKV]
    void *ln1bf, *attybf, *ln2bf, *fchgbf;  // BF16 mode: bf16 copies of the matmul inputs, kept for dW
  };
  std::vector<L> layers;
  float *lnf = nullptr, *lnfm = nullptr, *lnfr = nullptr, *losses = nullptr;
  void* lnfbf = nullptr;
  // Per-layer scratch: q [B,NH,T,hd], k and v [B,NKV,T,hd], y [BT, max(C, NH*hd)].
  float *q = nullptr, *k = nullptr, *v = nullptr, *y = nullptr;
  float* logits = nullptr;                                       // [chunkRows, V]
  void* scratchBf = nullptr;                                     // bf16 casts of gradients / logit chunks
  float *dres = nullptr, *dC = nullptr, *dBig = nullptr, *datt = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr, *dy = nullptr;
  float* dact = nullptr;  // Llama: d(silu(gate) * up) [BT, F]
  std::vector<void*> allocs;
};

// KV cache [L][B,NKV,maxLen,hd] plus the small per-step activations for B rows.
struct Transformer::Session {
  int B = 0, maxLen = 0, len = 0;
  std::vector<float*> kc, vc;
  uint8_t* mask = nullptr;  // [B, maxLen]
  int *tok = nullptr, *pos = nullptr;
  float *x = nullptr, *ln = nullptr, *qkv = nullptr, *atty = nullptr, *tmp = nullptr, *fc = nullptr, *fcg = nullptr, *logits = nullptr;
  float *q = nullptr, *k = nullptr, *v = nullptr;  // Llama: the step's rotated heads, [B, NH*hd] and [B, NKV*hd]
  void* bf = nullptr;
  std::vector<void*> allocs;
};

}  // namespace sdcuda
