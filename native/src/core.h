// The native CPU core's common interface (core.cc): one parameter layout from the table (layout_table.h), one
// contiguous buffer each for params, grads, AdamW m and v, and what every architecture shares: the chunked
// head + cross-entropy, the logits, AdamW and the gradient norm. Gpt2 (gpt2.h) and Llama (llama.h) implement
// the forward pass and the backward from the final hidden state; addon.cc drives either through Core.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "layout_table.h"

namespace sd {

using layout::ModelDims;
using layout::TensorRow;
struct Lora;  // kernels.h

// The adapters of a LoRA core: rank, alpha and the adapter table (RawCoreConfig.lora).
struct LoraConfig {
  int r;
  double alpha;
  std::vector<TensorRow> tensors;
};

struct Batch {
  int B, T;
  const int32_t* ids;
  const uint8_t* mask;    // may be null (all ones)
  const int32_t* pos;     // may be null (0..T-1)
  const int32_t* labels;  // may be null
};

struct LossOut {
  double loss;
  int tokens;
};

// KV cache of one decode session: K and V [L][B][maxLen][width] (width: C for GPT-2, NKV*HD for Llama, whose keys
// are cached after RoPE), key mask [B][maxLen].
struct KVCache {
  int B, maxLen, width, len = 0;
  std::vector<float> k, v;
  std::vector<uint8_t> mask;
  size_t bytes() const { return (k.capacity() + v.capacity()) * sizeof(float) + mask.capacity(); }
};

// A LoRA core's frozen base weights in paramLayout order, held by every core over it (the first core, and each one
// make_core built with share_from, the JS withAdapter): one buffer, freed with the last holder, in whatever order they
// go. Only the first core writes it, before any other holds it (addon.cc refuses a write while it is shared), so
// concurrent forwards of the holders on the libuv pool only read it.
class SharedBase {
 public:
  explicit SharedBase(size_t n) : w(n, 0.0f) {}
  std::vector<float> w;
  void add(const void* holder);
  void remove(const void* holder);
  size_t users() const;
  // Whether `holder` reports the buffer in its bytes(): the longest-lived holder still alive, so the holders' figures
  // add up to what the process holds.
  bool counted_by(const void* holder) const;

 private:
  mutable std::mutex mu_;
  std::vector<const void*> holders_;  // in the order they came
};

// Buffers. A plain core trains every weight: params, grads, m, v each hold the base table (base == params). A LoRA
// core (lora != null) trains the adapters alone: `base` holds the frozen base weights (a SharedBase, maybe shared with
// other LoRA cores), and params, grads, m, v the adapters' table; there are no base gradients or AdamW state, so their
// pointers (and every kernel's dW for a base tensor) are null and no weight-gradient product runs for a frozen matrix.
class Core {
 public:
  // share_from: a live LoRA core of the same model whose base this one holds too (its own adapters may differ).
  Core(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora, const Core* share_from = nullptr);
  virtual ~Core();
  const ModelDims cfg;
  const layout::TableLayout lay;
  const layout::LoraLayout lora;  // total 0 on a plain core
  const bool frozen;              // a LoRA core: the base is frozen
  const size_t nbase;             // floats of the base weights
  const size_t nparams;           // floats of each trainable buffer: nbase, or the adapters' on a LoRA core
  float* base;
  float *params, *grads, *m, *v;
  // How many cores hold this core's base (1 when it is its own; 0 on a plain core, whose base is params).
  size_t base_users() const { return shared_ ? shared_->users() : 0; }

  // Forward over a batch; keeps activations. If cache != null, new K/V rows are appended at cache->len and
  // attention reads the whole cache.
  virtual void forward(const Batch& b, KVCache* cache = nullptr) = 0;
  // HF hidden_states[i] of the last forward, [B*T*C]: 0 the embeddings, l the output of block l - 1, L after the
  // final norm.
  virtual void hidden_state(int i, float* out) = 0;
  // A decode session's cache for B rows of up to maxLen tokens.
  std::shared_ptr<KVCache> new_cache(int B, int maxLen) const;

  // Full logits [B*T*V] of the last forward.
  void logits_all(float* out);
  // Logits of the last position of each row [B*V].
  void logits_last(float* out);
  // Masked mean CE of the last forward; if backward, also backprop scale * dloss into grads.
  LossOut loss_and_backward(const Batch& b, bool backward, float scale);
  double grad_sq_norm();
  // AdamW over every tensor, weight decay where its table row says so.
  void adamw(float lr, float b1, float b2, float eps, float wd, float clip, int t);
  // Bytes held: the buffers, the head chunk and (in subclasses) the activations; a shared base only in the one holder
  // that reports it (SharedBase::counted_by).
  virtual size_t bytes() const;
  // Rows of the head's logits chunk for a vocabulary of V (and at most `rows` rows with a target).
  static int head_chunk_rows(int V, int rows);

 protected:
  // Set by forward: the final-norm output [B*T*C] and the shape it was computed for.
  const float* final_ = nullptr;
  int lastB_ = 0, lastT_ = 0;
  // The head weight [V, C] (tied: the embedding) and its gradient (null when frozen: no dHead product).
  const float* head_ = nullptr;
  float* dhead_ = nullptr;
  // Width of one cached K (or V) row.
  virtual int cache_width() const = 0;
  // Backward from the gradient of the final-norm output (dfinal [B*T*C], may be overwritten) into grads.
  virtual void backward_from_final(const Batch& b, float* dfinal) = 0;
  // A [B*T*C] scratch buffer of the subclass that the head writes dfinal into.
  virtual float* dfinal_buffer() = 0;
  // The activation buffer, grown to at least `floats` (it never shrinks, so alternating shapes never reallocate).
  float* activations(size_t floats);
  // The adapter on table slot `slot` of layer l, with its activations u and the shared du (empty without one).
  Lora adapter_at(int l, int slot, float* u, float* du) const;

 private:
  std::shared_ptr<SharedBase> shared_;  // a LoRA core's base; null on a plain core
  std::vector<float> store_;  // params | grads | m | v (a plain core's params are its base)
  std::vector<float> chunk_;  // head logits chunk
  std::vector<float> act_;    // the subclass's activations (its place() lays them out)
};

// The core of the table's architecture, with adapters when lora != null, over the base of share_from when given (a
// LoRA core of the same shape and table; then lora is required). Throws std::invalid_argument on a bad shape or
// table, or a share_from that is no LoRA core or another model.
std::unique_ptr<Core> make_core(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora = nullptr,
                                const Core* share_from = nullptr);
// The bytes such a core holds after a training step at B x T (buffers, activations, head chunk), computed from the
// tables without allocating anything: what bench/ checks against the machine before it builds a big core.
size_t estimate_bytes(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora, int B, int T);

// The most bytes of attention probabilities and outputs (all layers) a Llama-family core keeps for its backward;
// above it they are recomputed per layer (llama.cc place()). Sets the limit for cores planned from now on and
// returns the previous one; for tests, which cover the recomputation at fixture sizes with 0.
size_t attention_keep_bytes(size_t bytes);

// Per-kernel wall-clock profile (seconds), for bench/.
enum Kern {
  K_ENC_F, K_ENC_B, K_LN_F, K_LN_B, K_MM_F, K_MM_B, K_ATT_F, K_ATT_B, K_GELU_F, K_GELU_B,
  K_RES /* the residual copies now happen inside matmul_fwd; the key stays so profiles keep their keys */,
  K_HEAD_F, K_CE, K_HEAD_B, K_ADAMW, K_NORM, K_ROPE_F, K_ROPE_B, K_SWIGLU_F, K_SWIGLU_B, K_COUNT
};
void profile_enable(bool on);
std::vector<std::pair<std::string, double>> profile_get();
void profile_reset();
void profile_add(Kern k, double seconds);
bool profile_on();
// Adds the wall time of its scope to kernel k while profiling is on.
class Prof {
 public:
  explicit Prof(Kern k);
  ~Prof();

 private:
  Kern k_;
  double t0_ = 0;
};

const char* simd_level();
int num_threads();
std::string blas_info();
// Switches the GEMM kernels for the whole process ("auto", "builtin", "blas", "avx512", "avx2", "scalar";
// see gemm.cc). Returns false for an unknown name. Not for use while a forward/backward call runs.
bool gemm_select(const char* name);

}  // namespace sd
