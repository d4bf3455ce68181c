// What every architecture of the native CPU core shares (core.h): buffers placed by the layout table, the chunked
// head + cross-entropy, AdamW over the table's decay flags, the per-kernel profile, and make_core.
#include "core.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gpt2.h"
#include "kernels.h"
#include "llama.h"

namespace sd {

// ---- profiling ---------------------------------------------------------------
namespace {
const char* kKernNames[K_COUNT] = {"encoder_fwd", "encoder_bwd", "layernorm_fwd", "layernorm_bwd", "matmul_fwd",
                                   "matmul_bwd", "attention_fwd", "attention_bwd", "gelu_fwd", "gelu_bwd",
                                   "residual_copy", "head_matmul_fwd", "softmax_xent", "head_matmul_bwd", "adamw",
                                   "grad_norm", "rope_fwd", "rope_bwd", "swiglu_fwd", "swiglu_bwd"};
bool g_prof = false;
double g_prof_s[K_COUNT];
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

void profile_enable(bool on) { g_prof = on; }
bool profile_on() { return g_prof; }
void profile_reset() { std::fill(g_prof_s, g_prof_s + K_COUNT, 0.0); }
void profile_add(Kern k, double s) { g_prof_s[k] += s; }
std::vector<std::pair<std::string, double>> profile_get() {
  std::vector<std::pair<std::string, double>> out;
  for (int i = 0; i < K_COUNT; i++) out.emplace_back(kKernNames[i], g_prof_s[i]);
  return out;
}
Prof::Prof(Kern k) : k_(k) {
  if (g_prof) t0_ = now_s();
}
Prof::~Prof() {
  if (g_prof) g_prof_s[k_] += now_s() - t0_;
}

// ---- buffers -----------------------------------------------------------------
void SharedBase::add(const void* holder) {
  std::lock_guard<std::mutex> lk(mu_);
  holders_.push_back(holder);
}
void SharedBase::remove(const void* holder) {
  std::lock_guard<std::mutex> lk(mu_);
  holders_.erase(std::remove(holders_.begin(), holders_.end(), holder), holders_.end());
}
size_t SharedBase::users() const {
  std::lock_guard<std::mutex> lk(mu_);
  return holders_.size();
}
bool SharedBase::counted_by(const void* holder) const {
  std::lock_guard<std::mutex> lk(mu_);
  return !holders_.empty() && holders_.front() == holder;
}

namespace {
layout::LoraLayout lora_of(const ModelDims& d, const LoraConfig* lora) {
  return lora ? layout::parse_lora_table(d, lora->r, lora->alpha, lora->tensors) : layout::LoraLayout{};
}

// Whether two cores read one base buffer the same way: the same shape and every tensor at the same offset.
bool same_base(const Core& a, const Core& b) {
  const ModelDims &x = a.cfg, &y = b.cfg;
  const bool dims = x.arch == y.arch && x.V == y.V && x.maxT == y.maxT && x.C == y.C && x.L == y.L && x.NH == y.NH &&
                    x.NKV == y.NKV && x.HD == y.HD && x.F == y.F && x.eps == y.eps && x.ropeTheta == y.ropeTheta &&
                    x.qkNorm == y.qkNorm && x.qkvBias == y.qkvBias && x.oBias == y.oBias && x.tied == y.tied;
  return dims && a.lay.total == b.lay.total && a.lay.sizes == b.lay.sizes && a.lay.top == b.lay.top && a.lay.layers == b.lay.layers;
}
}  // namespace

Core::Core(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lc, const Core* share_from)
    : cfg(d),
      lay(layout::parse_table(d, table)),
      lora(lora_of(d, lc)),
      frozen(lc != nullptr),
      nbase(lay.total),
      nparams(frozen ? lora.total : lay.total) {
  if (share_from) {
    if (!frozen || !share_from->frozen) throw std::invalid_argument("a shared base joins LoRA cores only (both need adapters)");
    if (!same_base(*this, *share_from)) throw std::invalid_argument("the core to share a base with is another model (shape or layout table differ)");
    shared_ = share_from->shared_;
  } else if (frozen) {
    shared_ = std::make_shared<SharedBase>(nbase);
  }
  // A LoRA core holds the frozen base once (shared with the cores made over it), then four adapter-sized buffers:
  // no base gradients, no AdamW state.
  store_.assign(nparams * 4, 0.0f);
  params = store_.data();
  base = frozen ? shared_->w.data() : params;
  grads = params + nparams;
  m = grads + nparams;
  v = m + nparams;
  if (shared_) shared_->add(this);
}

Core::~Core() {
  if (shared_) shared_->remove(this);
}

size_t Core::bytes() const {
  const size_t own = (store_.capacity() + chunk_.capacity() + act_.capacity()) * sizeof(float);
  return own + (shared_ && shared_->counted_by(this) ? shared_->w.capacity() * sizeof(float) : 0);
}

float* Core::activations(size_t floats) {
  if (act_.size() < floats) {
    act_.clear();
    act_.shrink_to_fit();  // free the old buffer before the larger one is allocated
    act_.resize(floats);
  }
  return act_.data();
}

Lora Core::adapter_at(int l, int slot, float* u, float* du) const {
  if (!lora.on(l, slot)) return Lora{};
  return Lora{lora.A(params, l, slot), lora.B(params, l, slot), lora.A(grads, l, slot), lora.B(grads, l, slot),
              u,                       du,                      lora.r,                 lora.scale};
}

std::shared_ptr<KVCache> Core::new_cache(int B, int maxLen) const {
  auto cache = std::make_shared<KVCache>();
  cache->B = B;
  cache->maxLen = maxLen;
  cache->width = cache_width();
  cache->k.assign((size_t)cfg.L * B * maxLen * cache->width, 0.0f);
  cache->v.assign((size_t)cfg.L * B * maxLen * cache->width, 0.0f);
  cache->mask.assign((size_t)B * maxLen, 0);
  return cache;
}

// ---- head, loss --------------------------------------------------------------
void Core::logits_all(float* out) {
  Prof pr(K_HEAD_F);
  sgemm(false, true, lastB_ * lastT_, cfg.V, cfg.C, 1.0f, final_, cfg.C, head_, cfg.C, 0.0f, out, cfg.V);
}

void Core::logits_last(float* out) {
  Prof pr(K_HEAD_F);
  sgemm(false, true, lastB_, cfg.V, cfg.C, 1.0f, final_ + (size_t)(lastT_ - 1) * cfg.C, lastT_ * cfg.C, head_, cfg.C,
        0.0f, out, cfg.V);
}

// Rows per chunk: 256 at GPT-2's vocabulary (51 MB of logits), more when the vocabulary is small, up to 4 MB of
// logits: at the students' ~300-token vocabulary 256-row chunks meant ~40 tiny parallel regions per step, each
// ending with one thread waiting for the other.
int Core::head_chunk_rows(int V, int rows) { return std::max(1, std::min(std::max(256, (1 << 20) / V), rows)); }

// Head + softmax cross-entropy, chunked over the rows that carry a target, so the full [B,T,V] probabilities
// never exist; each chunk's dlogits feed dX and dHead at once (a tied head's gradient lands in the embedding's).
LossOut Core::loss_and_backward(const Batch& b, bool backward, float scale) {
  const int B = b.B, T = b.T, C = cfg.C, V = cfg.V;
  std::vector<int> rows;
  std::vector<int32_t> targets;
  for (int bb = 0; bb < B; bb++)
    for (int t = 0; t + 1 < T; t++) {
      int32_t y = b.labels[bb * T + t + 1];
      if (y == -100) continue;
      if (y < 0 || y >= V) throw std::out_of_range("label " + std::to_string(y) + " outside the vocabulary");
      rows.push_back(bb * T + t);
      targets.push_back(y);
    }
  const int count = (int)rows.size();
  if (count == 0) return {NAN, 0};
  const float gscale = scale / count;
  const int RCH = head_chunk_rows(V, count);
  const size_t need = (size_t)RCH * V + (size_t)RCH * C * 2;
  if (chunk_.size() < need) chunk_.resize(need);
  float* logits = chunk_.data();
  float* xg = logits + (size_t)RCH * V;
  float* dxg = xg + (size_t)RCH * C;
  float* dfinal = backward ? dfinal_buffer() : nullptr;
  if (backward) std::memset(dfinal, 0, sizeof(float) * (size_t)B * T * C);
  double total = 0;
  for (int r0 = 0; r0 < count; r0 += RCH) {
    const int R = std::min(RCH, count - r0);
    for (int r = 0; r < R; r++) std::memcpy(xg + (size_t)r * C, final_ + (size_t)rows[r0 + r] * C, sizeof(float) * C);
    {
      Prof pr(K_HEAD_F);
      sgemm(false, true, R, V, C, 1.0f, xg, C, head_, C, 0.0f, logits, V);
    }
    {
      Prof pr(K_CE);
      total += crossentropy_rows(logits, targets.data() + r0, R, V, gscale, backward);
    }
    if (backward) {
      Prof pr(K_HEAD_B);
      sgemm(false, false, R, C, V, 1.0f, logits, V, head_, C, 0.0f, dxg, C);
      if (dhead_) sgemm(true, false, V, C, R, 1.0f, logits, V, xg, C, 1.0f, dhead_, C);
      for (int r = 0; r < R; r++) std::memcpy(dfinal + (size_t)rows[r0 + r] * C, dxg + (size_t)r * C, sizeof(float) * C);
    }
  }
  if (backward) backward_from_final(b, dfinal);
  return {total / count, count};
}

// ---- optimiser -----------------------------------------------------------------
double Core::grad_sq_norm() {
  Prof pr(K_NORM);
  return sum_squares(grads, (long)nparams);
}

// Over the trainable tensors only: the whole table, or the adapters of a LoRA core (each with its row's decay).
void Core::adamw(float lr, float b1, float b2, float eps, float wd, float clip, int t) {
  Prof pr(K_ADAMW);
  const std::vector<size_t>& sizes = frozen ? lora.sizes : lay.sizes;
  const std::vector<uint8_t>& decay = frozen ? lora.decay : lay.decay;
  adamw_update_tensors(params, grads, m, v, sizes.data(), decay.data(), (int)sizes.size(), lr, b1, b2, eps, wd, clip, t);
}

std::unique_ptr<Core> make_core(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lora,
                                const Core* share_from) {
  if (d.arch == layout::Arch::GPT2) return std::make_unique<Gpt2>(d, table, lora, share_from);
  return std::make_unique<Llama>(d, table, lora, share_from);
}

size_t estimate_bytes(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lc, int B, int T) {
  const layout::TableLayout lay = layout::parse_table(d, table);
  const layout::LoraLayout lora = lora_of(d, lc);
  const size_t train = lc ? lora.total : lay.total;
  const size_t store = (lc ? lay.total : 0) + 4 * train;
  const size_t acts = d.arch == layout::Arch::GPT2 ? Gpt2::act_floats(d, lora, B, T, T) : Llama::act_floats(d, lora, B, T, T);
  const size_t R = (size_t)Core::head_chunk_rows(d.V, B * T);
  return (store + acts + R * d.V + 2 * R * d.C) * sizeof(float);
}

}  // namespace sd
