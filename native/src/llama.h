// The Llama family (Llama / SmolLM2, Qwen2 with q/k/v biases, Qwen3 with per-head q/k RMSNorm) on the native CPU
// core: RMSNorm, rotary embeddings, grouped-query attention, SwiGLU, tied or untied head; explicit forward and
// backward kernels over the buffers of Core (core.h), its tensors found through the layout table's slots.
#pragma once
#include <vector>

#include "core.h"

namespace sd {

// Pointers into one parameter-shaped buffer (params, grads, m or v); null for a tensor the config does not have.
struct LlamaLayerP {
  float *in_norm, *qw, *qb, *kw, *kb, *vw, *vb, *ow, *ob, *q_norm, *k_norm, *post_norm, *gate, *up, *down;
};
struct LlamaP {
  float *embed, *norm, *lm_head;
  std::vector<LlamaLayerP> layers;
};

// Per-layer activations kept for backward. q and k are kept after the q/k norm and RoPE (what attention read);
// qn and kn, the projections before the q/k norm, only with qkNorm.
struct LlamaLayerA {
  float *ln1, *ln1_rstd, *q, *k, *v, *qn, *kn, *q_rstd, *k_rstd, *att, *atty, *res2, *ln2, *ln2_rstd, *gate, *up, *h,
      *res3;
};
struct LlamaActs {
  int B = 0, T = 0, Tk = 0;
  float *encoded, *lnf, *lnf_rstd, *rope;  // rope: cos | sin of each row's angles [B*T][HD]
  std::vector<LlamaLayerA> layers;
  // Backward scratch.
  float *dres, *dC, *dq, *dk, *dv, *dY, *dF1, *dF2;
};

class Llama : public Core {
 public:
  Llama(const ModelDims& d, const std::vector<TensorRow>& table);
  void forward(const Batch& b, KVCache* cache = nullptr) override;
  void hidden_state(int i, float* out) override;
  size_t bytes() const override;

 protected:
  int cache_width() const override { return cfg.NKV * cfg.HD; }
  void backward_from_final(const Batch& b, float* dfinal) override;
  float* dfinal_buffer() override { return A.dC; }

 private:
  LlamaP P, G;
  std::vector<float> act_;
  LlamaActs A;
  LlamaP pointers(float* base) const;
  void plan(int B, int T, int Tk);
};

}  // namespace sd
