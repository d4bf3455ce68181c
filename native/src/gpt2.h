// GPT-2 on the native CPU core, llm.c style: explicit forward/backward kernels over the buffers of Core (core.h),
// its tensors found through the layout table's slots.
#pragma once
#include <vector>

#include "core.h"
#include "kernels.h"

namespace sd {

// Pointers into one base-shaped buffer (the weights, or a plain core's grads; null gradients when frozen).
struct Gpt2LayerP {
  float *ln1w, *ln1b, *qkvw, *qkvb, *apw, *apb, *ln2w, *ln2b, *fcw, *fcb, *fpw, *fpb;
};
struct Gpt2P {
  float *wte, *wpe, *lnfw, *lnfb;
  std::vector<Gpt2LayerP> layers;
};

// The block's projections, in forward order: the sites a LoRA adapter can sit on (c_attn, attn.c_proj, c_fc,
// mlp.c_proj).
enum Gpt2Proj { G_QKV, G_ATTN_PROJ, G_FC, G_MLP_PROJ, G_PROJ_COUNT };

// Per-layer activations kept for backward; u[p]: x A^T of projection p's adapter [B*T, r] (null without one).
struct Gpt2LayerA {
  float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
  float* u[G_PROJ_COUNT];
};
struct Gpt2Acts {
  int B = 0, T = 0, Tk = 0;
  float *encoded, *lnf, *lnf_mean, *lnf_rstd;
  std::vector<Gpt2LayerA> layers;
  // Backward scratch; du [B*T, r] for the adapters.
  float *dres, *dC, *d3C, *dF, *du;
};

class Gpt2 : public Core {
 public:
  Gpt2(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora, const Core* share_from = nullptr);
  void forward(const Batch& b, KVCache* cache = nullptr) override;
  void hidden_state(int i, float* out) override;
  // Floats of the activation buffer for (B, T, Tk): what plan() allocates.
  static size_t act_floats(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk);

 protected:
  int cache_width() const override { return cfg.C; }
  void backward_from_final(const Batch& b, float* dfinal) override;
  float* dfinal_buffer() override { return A.dC; }

 private:
  Gpt2P P, G;
  Gpt2Acts A;
  Gpt2P pointers(float* buf) const;
  void plan(int B, int T, int Tk);
  // Places the activations of (B, T, Tk) at `buf` (null: only counts them); returns their floats.
  static size_t place(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk, float* buf, Gpt2Acts& A);
  // Projection p's adapter in layer l with its activations (an empty Lora without one).
  Lora adapter(int l, int p) const;
};

}  // namespace sd
