// GPT-2 CPU core, llm.c style: explicit forward/backward kernels, one contiguous
// buffer each for params, grads, AdamW m and v (in src/arch/layout.ts order).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sd {

struct Config {
  int V, maxT, C, L, NH, F;
  float eps;
};

// Pointers into one parameter-shaped buffer (params, grads, m or v).
struct LayerP {
  float *ln1w, *ln1b, *qkvw, *qkvb, *apw, *apb, *ln2w, *ln2b, *fcw, *fcb, *fpw, *fpb;
};
struct ParamP {
  float *wte, *wpe, *lnfw, *lnfb;
  std::vector<LayerP> layers;
};

// Parameter tensor sizes in layout order (matches paramLayout in src/arch/layout.ts).
std::vector<size_t> param_sizes(const Config& c);
ParamP param_pointers(const Config& c, float* base);

// Per-layer activations kept for backward.
struct LayerA {
  float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
};
struct Acts {
  int B = 0, T = 0, Tk = 0;
  float *encoded, *lnf, *lnf_mean, *lnf_rstd;
  std::vector<LayerA> layers;
  // Backward scratch.
  float *dres, *dC, *d3C, *dF;
};

// KV cache of one decode session: K and V [L][B][maxLen][C], key mask [B][maxLen].
struct KVCache {
  int B, maxLen, len = 0;
  std::vector<float> k, v;
  std::vector<uint8_t> mask;
};

struct Batch {
  int B, T;
  const int32_t* ids;
  const uint8_t* mask;  // may be null (all ones)
  const int32_t* pos;   // may be null (0..T-1)
  const int32_t* labels;  // may be null
};

struct LossOut {
  double loss;
  int tokens;
};

class Model {
 public:
  explicit Model(const Config& c);
  Config cfg;
  size_t nparams;
  std::vector<size_t> sizes;
  std::vector<uint8_t> decay;  // per param tensor
  float *params, *grads, *m, *v;
  ParamP P, G;

  // Forward over a batch; keeps activations. If cache != null, new K/V rows are
  // appended at cache->len and attention reads the whole cache.
  void forward(const Batch& b, KVCache* cache = nullptr);
  // Full logits [B*T*V] of the last forward.
  void logits_all(float* out);
  // Logits of the last position of each row [B*V].
  void logits_last(float* out);
  // Masked mean CE of the last forward; if backward, also backprop scale*dloss into grads.
  LossOut loss_and_backward(const Batch& b, bool backward, float scale);
  void hidden_state(int i, float* out);  // i in 0..L
  double grad_sq_norm();
  void adamw(float lr, float b1, float b2, float eps, float wd, float clip, int t);
  size_t bytes() const;
  ~Model();

 private:
  std::vector<float> store_;  // params | grads | m | v
  std::vector<float> act_;
  std::vector<float> chunk_;  // head logits chunk
  Acts A;
  void plan(int B, int T, int Tk);
  void backward_from_dlnf(const Batch& b);
};

// Per-kernel wall-clock profile (seconds), for bench/.
void profile_enable(bool on);
std::vector<std::pair<std::string, double>> profile_get();
void profile_reset();

const char* simd_level();
int num_threads();
std::string blas_info();
// Switches the GEMM kernels for the whole process ("auto", "builtin", "blas", "avx512", "avx2", "scalar";
// see gemm.cc). Returns false for an unknown name. Not for use while a forward/backward call runs.
bool gemm_select(const char* name);

}  // namespace sd
