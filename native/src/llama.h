// The Llama family (Llama / SmolLM2, Qwen2 with q/k/v biases, Qwen3 with per-head q/k RMSNorm) on the native CPU
// core: RMSNorm, rotary embeddings, grouped-query attention, SwiGLU, tied or untied head; explicit forward and
// backward kernels over the buffers of Core (core.h), its tensors found through the layout table's slots.
#pragma once
#include <vector>

#include "core.h"
#include "kernels.h"

namespace sd {

// Pointers into one base-shaped buffer (the weights, or a plain core's grads); null for a tensor the config does not
// have (and every gradient pointer of a LoRA core, whose base is frozen).
struct LlamaLayerP {
  float *in_norm, *qw, *qb, *kw, *kb, *vw, *vb, *ow, *ob, *q_norm, *k_norm, *post_norm, *gate, *up, *down;
};
struct LlamaP {
  float *embed, *norm, *lm_head;
  std::vector<LlamaLayerP> layers;
};

// The block's projections, in forward order: the sites a LoRA adapter can sit on.
enum LlamaProj { PQ, PK, PV, PO, PGATE, PUP, PDOWN, PROJ_COUNT };

// Per-layer activations for backward (llama.cc place(): some pointers of every layer share one layer's scratch,
// which the backward recomputes). q and k are after the q/k norm and RoPE (what attention read); qn and kn, the
// projections before the q/k norm, only with qkNorm. u[p]: x A^T of projection p's adapter [B*T, r] (null without
// one).
struct LlamaLayerA {
  float *ln1, *ln1_rstd, *q, *k, *v, *qn, *kn, *q_rstd, *k_rstd, *att, *atty, *res2, *ln2, *ln2_rstd, *gate, *up, *h,
      *res3;
  float* u[PROJ_COUNT];
};
struct LlamaActs {
  int B = 0, T = 0, Tk = 0;
  // Whether every layer keeps its attention probabilities and output (else one layer's scratch, recomputed).
  bool keepAtt = true;
  float *encoded, *lnf, *lnf_rstd, *rope;  // rope: cos | sin of each row's angles [B*T][HD]
  std::vector<LlamaLayerA> layers;
  // Backward scratch; du [B*T, r] for the adapters.
  float *dres, *dC, *dq, *dk, *dv, *dY, *dF1, *dF2, *du;
};

class Llama : public Core {
 public:
  Llama(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora, const Core* share_from = nullptr);
  void forward(const Batch& b, KVCache* cache = nullptr) override;
  void hidden_state(int i, float* out) override;
  // Floats of the activation buffer for (B, T, Tk): what plan() allocates.
  static size_t act_floats(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk);

 protected:
  int cache_width() const override { return cfg.NKV * cfg.HD; }
  void backward_from_final(const Batch& b, float* dfinal) override;
  float* dfinal_buffer() override { return A.dC; }

 private:
  LlamaP P, G;
  LlamaActs A;
  LlamaP pointers(float* buf) const;
  void plan(int B, int T, int Tk);
  // Places the activations of (B, T, Tk) at `buf` (null: only counts them); returns their floats.
  static size_t place(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk, float* buf, LlamaActs& A);
  // Projection p's adapter in layer l with its activations (an empty Lora without one).
  Lora adapter(int l, int p) const;
};

}  // namespace sd
