// GPT-2 on the native CPU core, llm.c style: explicit forward/backward kernels over the buffers of Core (core.h),
// its tensors found through the layout table's slots.
#pragma once
#include <vector>

#include "core.h"

namespace sd {

// Pointers into one parameter-shaped buffer (params, grads, m or v).
struct Gpt2LayerP {
  float *ln1w, *ln1b, *qkvw, *qkvb, *apw, *apb, *ln2w, *ln2b, *fcw, *fcb, *fpw, *fpb;
};
struct Gpt2P {
  float *wte, *wpe, *lnfw, *lnfb;
  std::vector<Gpt2LayerP> layers;
};

// Per-layer activations kept for backward.
struct Gpt2LayerA {
  float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
};
struct Gpt2Acts {
  int B = 0, T = 0, Tk = 0;
  float *encoded, *lnf, *lnf_mean, *lnf_rstd;
  std::vector<Gpt2LayerA> layers;
  // Backward scratch.
  float *dres, *dC, *d3C, *dF;
};

class Gpt2 : public Core {
 public:
  Gpt2(const ModelDims& d, const std::vector<TensorRow>& table);
  void forward(const Batch& b, KVCache* cache = nullptr) override;
  void hidden_state(int i, float* out) override;
  size_t bytes() const override;

 protected:
  int cache_width() const override { return cfg.C; }
  void backward_from_final(const Batch& b, float* dfinal) override;
  float* dfinal_buffer() override { return A.dC; }

 private:
  Gpt2P P, G;
  std::vector<float> act_;
  Gpt2Acts A;
  Gpt2P pointers(float* base) const;
  void plan(int B, int T, int Tk);
};

}  // namespace sd
