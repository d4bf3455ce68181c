// Private state of Gpt shared by its .cc files: the activation plan and the decode sessions.
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

// Activations for one (B, T) capacity, allocated once and reused while the batch fits.
struct Gpt::Plan {
  int capBT = 0;
  size_t capAtt = 0;  // B * NH * T * T
  int chunkRows = 0;  // classifier rows per chunk
  bool hasMask = false;
  int *ids = nullptr, *pos = nullptr, *targets = nullptr;
  uint8_t* mask = nullptr;
  float* encoded = nullptr;
  struct L {
    float *ln1, *ln1m, *ln1r, *qkv, *att, *atty, *res2, *ln2, *ln2m, *ln2r, *fch, *fchg, *res3;
    void *ln1bf, *attybf, *ln2bf, *fchgbf;  // BF16 mode: bf16 copies of the matmul inputs, kept for dW
  };
  std::vector<L> layers;
  float *lnf = nullptr, *lnfm = nullptr, *lnfr = nullptr, *losses = nullptr;
  void* lnfbf = nullptr;
  float *q = nullptr, *k = nullptr, *v = nullptr, *y = nullptr;  // per-layer scratch [B,NH,T,hd] / [BT,C]
  float* logits = nullptr;                                       // [chunkRows, V]
  void* scratchBf = nullptr;                                     // bf16 casts of gradients / logit chunks
  float *dres = nullptr, *dC = nullptr, *dBig = nullptr, *datt = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr, *dy = nullptr;
  std::vector<void*> allocs;
};

// KV cache [L][B,NH,maxLen,hd] plus the small per-step activations for B rows.
struct Gpt::Session {
  int B = 0, maxLen = 0, len = 0;
  std::vector<float*> kc, vc;
  uint8_t* mask = nullptr;  // [B, maxLen]
  int *tok = nullptr, *pos = nullptr;
  float *x = nullptr, *ln = nullptr, *qkv = nullptr, *atty = nullptr, *tmp = nullptr, *fc = nullptr, *fcg = nullptr, *logits = nullptr;
  void* bf = nullptr;
  std::vector<void*> allocs;
};

}  // namespace sdcuda
