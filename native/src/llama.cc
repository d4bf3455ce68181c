// Llama-family forward and backward over the buffers of Core (see llama.h and native/README.md). The step order:
// embed -> L x (rmsnorm -> q/k/v -> [q/k norm] -> RoPE -> GQA attention -> o + residual -> rmsnorm -> gate/up ->
// SwiGLU -> down + residual) -> final rmsnorm -> chunked head/loss (core.cc) -> the same in reverse.
#include "llama.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels.h"
#include "llama_kernels.h"

namespace sd {

namespace {
namespace S = layout::llama;  // qualified: sd::K_NORM is also a profile key
constexpr int kProjSlot[PROJ_COUNT] = {S::Q_W, S::K_W, S::V_W, S::O_W, S::GATE_W, S::UP_W, S::DOWN_W};
}  // namespace

LlamaP Llama::pointers(float* buf) const {
  LlamaP p;
  p.embed = lay.at(buf, S::EMBED);
  p.norm = lay.at(buf, S::NORM);
  p.lm_head = lay.at(buf, S::LM_HEAD);
  for (int l = 0; l < cfg.L; l++) {
    auto s = [&](int slot) { return lay.at(buf, l, slot); };
    p.layers.push_back({s(S::IN_NORM), s(S::Q_W), s(S::Q_B), s(S::K_W), s(S::K_B), s(S::V_W), s(S::V_B), s(S::O_W),
                        s(S::O_B), s(S::Q_NORM), s(S::K_NORM), s(S::POST_NORM), s(S::GATE_W), s(S::UP_W),
                        s(S::DOWN_W)});
  }
  return p;
}

Llama::Llama(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lc, const Core* share_from)
    : Core(d, table, lc, share_from) {
  P = pointers(base);
  // A frozen base has no gradients: every G pointer is null, so the kernels skip their weight-gradient products.
  G = frozen ? LlamaP{nullptr, nullptr, nullptr, std::vector<LlamaLayerP>(d.L, LlamaLayerP{})} : pointers(grads);
  // Tied: the head is the embedding, and its gradient adds into the embedding's.
  head_ = d.tied ? P.embed : P.lm_head;
  dhead_ = d.tied ? G.embed : G.lm_head;
}

Lora Llama::adapter(int l, int p) const { return adapter_at(l, kProjSlot[p], A.layers[l].u[p], A.du); }

// The activations a training step keeps, and what it recomputes instead (native/README.md, Buffers): each layer
// keeps the inputs its backward cannot rebuild without a projection (the residual stream, the projections' outputs
// before any norm or RoPE, gate and up, the adapters' x A^T) and the normalisation statistics. The norm outputs
// (ln1, ln2), h = silu(gate) up, and Qwen3's q/k after their norm and RoPE are cheap elementwise passes: they live
// in one layer's scratch, rewritten by the backward with the same kernels (so bit-identical). The attention
// probabilities [B, NH, T, Tk] and output are kept while they are small; above kKeepAttentionBytes they too live in
// one layer's scratch and the backward reruns the layer's attention forward (one QK^T/PV per layer, a few percent
// of a step, against 2 GB at Qwen3-0.6B's 4 x 512). The limit is 256 MiB for all layers together.
namespace {
size_t g_keep_attention_bytes = 256u << 20;  // kept below this; attention_keep_bytes() changes it (tests)
}  // namespace

size_t attention_keep_bytes(size_t bytes) {
  const size_t old = g_keep_attention_bytes;
  g_keep_attention_bytes = bytes;
  return old;
}

size_t Llama::place(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk, float* buf, LlamaActs& A) {
  const size_t BT = (size_t)B * T, C = d.C, F = d.F, HD = d.HD;
  const size_t Q = (size_t)d.NH * HD, KV = (size_t)d.NKV * HD;
  const bool qk = d.qkNorm;
  const size_t att = (size_t)B * d.NH * T * Tk;
  size_t off = 0;
  auto take = [&](size_t n) {
    float* r = buf ? buf + off : nullptr;
    off += n;
    return r;
  };
  A.B = B;
  A.T = T;
  A.Tk = Tk;
  A.keepAtt = (att + BT * Q) * d.L * sizeof(float) <= g_keep_attention_bytes;
  A.encoded = take(BT * C);
  A.lnf = take(BT * C);
  A.lnf_rstd = take(BT);
  A.rope = take(BT * HD);
  // One layer's scratch, shared by every layer (see above).
  float* ln1 = take(BT * C);
  float* ln2 = take(BT * C);
  float* h = take(BT * F);
  float* qs = qk ? take(BT * Q) : nullptr;
  float* ks = qk ? take(BT * KV) : nullptr;
  float* atts = A.keepAtt ? nullptr : take(att);
  float* attys = A.keepAtt ? nullptr : take(BT * Q);
  A.layers.resize(d.L);
  for (int l = 0; l < d.L; l++) {
    LlamaLayerA& a = A.layers[l];
    a.ln1 = ln1;
    a.ln1_rstd = take(BT);
    a.q = qk ? qs : take(BT * Q);
    a.k = qk ? ks : take(BT * KV);
    a.v = take(BT * KV);
    a.qn = qk ? take(BT * Q) : nullptr;
    a.kn = qk ? take(BT * KV) : nullptr;
    a.q_rstd = qk ? take(BT * d.NH) : nullptr;
    a.k_rstd = qk ? take(BT * d.NKV) : nullptr;
    a.att = A.keepAtt ? take(att) : atts;
    a.atty = A.keepAtt ? take(BT * Q) : attys;
    a.res2 = take(BT * C);
    a.ln2 = ln2;
    a.ln2_rstd = take(BT);
    a.gate = take(BT * F);
    a.up = take(BT * F);
    a.h = h;
    a.res3 = take(BT * C);
    for (int p = 0; p < PROJ_COUNT; p++) a.u[p] = lora.on(l, kProjSlot[p]) ? take(BT * lora.r) : nullptr;
  }
  A.dres = take(BT * C);
  A.dC = take(BT * C);
  A.dq = take(BT * Q);
  A.dk = take(BT * KV);
  A.dv = take(BT * KV);
  A.dY = take(BT * Q);
  A.dF1 = take(BT * F);
  A.dF2 = take(BT * F);
  A.du = lora.total ? take(BT * lora.r) : nullptr;
  return off;
}

size_t Llama::act_floats(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk) {
  LlamaActs scratch;
  return place(d, lora, B, T, Tk, nullptr, scratch);
}

void Llama::plan(int B, int T, int Tk) { place(cfg, lora, B, T, Tk, activations(act_floats(cfg, lora, B, T, Tk)), A); }

void Llama::forward(const Batch& b, KVCache* cache) {
  const int B = b.B, T = b.T, C = cfg.C, NH = cfg.NH, NKV = cfg.NKV, HD = cfg.HD, F = cfg.F;
  const int Q = NH * HD, KV = NKV * HD;
  const long BT = (long)B * T;
  for (long i = 0; i < BT; i++)
    if (b.ids[i] < 0 || b.ids[i] >= cfg.V) throw std::out_of_range("token id out of range at flat index " + std::to_string(i));
  const int past = cache ? cache->len : 0;
  if (cache && past + T > cache->maxLen) throw std::out_of_range("decode cache is full (maxLength reached)");
  plan(B, T, past + T);
  {
    Prof pr(K_ROPE_F);
    rope_tables(A.rope, b.pos, B, T, past, HD, cfg.ropeTheta, cfg.maxT);
  }
  {
    Prof pr(K_ENC_F);
    embedding_forward(A.encoded, P.embed, b.ids, BT, C);
  }
  if (cache)
    for (int bb = 0; bb < B; bb++)
      for (int t = 0; t < T; t++) cache->mask[(size_t)bb * cache->maxLen + past + t] = b.mask ? b.mask[bb * T + t] : 1;
  for (int l = 0; l < cfg.L; l++) {
    const LlamaLayerP& w = P.layers[l];
    LlamaLayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    {
      Prof pr(K_LN_F);
      rmsnorm_forward(a.ln1, a.ln1_rstd, res_in, w.in_norm, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      linear_forward(cfg.qkNorm ? a.qn : a.q, a.ln1, w.qw, w.qb, BT, C, Q, nullptr, adapter(l, PQ));
      linear_forward(cfg.qkNorm ? a.kn : a.k, a.ln1, w.kw, w.kb, BT, C, KV, nullptr, adapter(l, PK));
      linear_forward(a.v, a.ln1, w.vw, w.vb, BT, C, KV, nullptr, adapter(l, PV));
    }
    if (cfg.qkNorm) {  // Qwen3: RMSNorm over each head's head_dim, before RoPE
      Prof pr(K_LN_F);
      rmsnorm_forward(a.q, a.q_rstd, a.qn, w.q_norm, BT * NH, HD, cfg.eps);
      rmsnorm_forward(a.k, a.k_rstd, a.kn, w.k_norm, BT * NKV, HD, cfg.eps);
    }
    {
      Prof pr(K_ROPE_F);
      rope_forward(a.q, A.rope, BT, NH, HD);
      rope_forward(a.k, A.rope, BT, NKV, HD);
    }
    AttnArgs aa{B, T, past + T, past, NH, HD, a.q, Q, nullptr, nullptr, 0, KV, nullptr, 0, NH / NKV};
    if (cache) {  // keys are cached after RoPE
      const size_t off = (size_t)l * B * cache->maxLen * KV;
      for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++) {
          const size_t src = ((size_t)bb * T + t) * KV, dst = off + ((size_t)bb * cache->maxLen + past + t) * KV;
          std::memcpy(&cache->k[dst], a.k + src, sizeof(float) * KV);
          std::memcpy(&cache->v[dst], a.v + src, sizeof(float) * KV);
        }
      aa.k = cache->k.data() + off;
      aa.v = cache->v.data() + off;
      aa.kbs = (long)cache->maxLen * KV;
      aa.mask = cache->mask.data();
      aa.mbs = cache->maxLen;
    } else {
      aa.k = a.k;
      aa.v = a.v;
      aa.kbs = (long)T * KV;
      aa.mask = b.mask;
      aa.mbs = T;
    }
    {
      Prof pr(K_ATT_F);
      attention_forward(a.atty, a.att, aa);
    }
    {
      Prof pr(K_MM_F);
      linear_forward(a.res2, a.atty, w.ow, w.ob, BT, Q, C, res_in, adapter(l, PO));  // res2 = res_in + o_proj
    }
    {
      Prof pr(K_LN_F);
      rmsnorm_forward(a.ln2, a.ln2_rstd, a.res2, w.post_norm, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      linear_forward(a.gate, a.ln2, w.gate, nullptr, BT, C, F, nullptr, adapter(l, PGATE));
      linear_forward(a.up, a.ln2, w.up, nullptr, BT, C, F, nullptr, adapter(l, PUP));
    }
    {
      Prof pr(K_SWIGLU_F);
      swiglu_forward(a.h, a.gate, a.up, BT * F);
    }
    {
      Prof pr(K_MM_F);
      linear_forward(a.res3, a.h, w.down, nullptr, BT, F, C, a.res2, adapter(l, PDOWN));  // res3 = res2 + down_proj
    }
  }
  {
    Prof pr(K_LN_F);
    rmsnorm_forward(A.lnf, A.lnf_rstd, A.layers[cfg.L - 1].res3, P.norm, BT, C, cfg.eps);
  }
  if (cache) cache->len += T;
  final_ = A.lnf;
  lastB_ = B;
  lastT_ = T;
}

void Llama::hidden_state(int i, float* out) {
  const float* src = i == 0 ? A.encoded : i == cfg.L ? A.lnf : A.layers[i - 1].res3;
  std::memcpy(out, src, sizeof(float) * A.B * A.T * cfg.C);
}

void Llama::backward_from_final(const Batch& b, float* dfinal) {
  const int B = b.B, T = b.T, C = cfg.C, NH = cfg.NH, NKV = cfg.NKV, HD = cfg.HD, F = cfg.F;
  const int Q = NH * HD, KV = NKV * HD;
  const long BT = (long)B * T;
  std::memset(A.dres, 0, sizeof(float) * BT * C);
  {
    Prof pr(K_LN_B);
    rmsnorm_backward(A.dres, true, G.norm, dfinal, A.layers[cfg.L - 1].res3, P.norm, A.lnf_rstd, BT, C);
  }
  for (int l = cfg.L - 1; l >= 0; l--) {
    const LlamaLayerP& w = P.layers[l];
    const LlamaLayerP& g = G.layers[l];
    LlamaLayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    // A projection's input is read by its weight gradient, or by its adapter's dA: recomputed (place()) only then.
    auto reads_input = [&](int p) { return !frozen || lora.on(l, kProjSlot[p]); };
    if (reads_input(PGATE) || reads_input(PUP)) {
      Prof pr(K_LN_F);
      rmsnorm_forward(a.ln2, a.ln2_rstd, a.res2, w.post_norm, BT, C, cfg.eps);
    }
    if (reads_input(PDOWN)) {
      Prof pr(K_SWIGLU_F);
      swiglu_forward(a.h, a.gate, a.up, BT * F);
    }
    {
      Prof pr(K_MM_B);
      linear_backward(A.dF1, false, g.down, nullptr, A.dres, a.h, w.down, BT, F, C, adapter(l, PDOWN));
    }
    {
      Prof pr(K_SWIGLU_B);
      swiglu_backward(A.dF1, A.dF2, A.dF1, a.gate, a.up, BT * F);
    }
    {
      Prof pr(K_MM_B);
      linear_backward(A.dC, false, g.gate, nullptr, A.dF1, a.ln2, w.gate, BT, C, F, adapter(l, PGATE));
      linear_backward(A.dC, true, g.up, nullptr, A.dF2, a.ln2, w.up, BT, C, F, adapter(l, PUP));
    }
    {
      Prof pr(K_LN_B);
      rmsnorm_backward(A.dres, true, g.post_norm, A.dC, a.res2, w.post_norm, a.ln2_rstd, BT, C);
    }
    if (cfg.qkNorm) {  // q and k as attention read them: the q/k norm and RoPE again
      {
        Prof pr(K_LN_F);
        rmsnorm_forward(a.q, a.q_rstd, a.qn, w.q_norm, BT * NH, HD, cfg.eps);
        rmsnorm_forward(a.k, a.k_rstd, a.kn, w.k_norm, BT * NKV, HD, cfg.eps);
      }
      Prof pr(K_ROPE_F);
      rope_forward(a.q, A.rope, BT, NH, HD);
      rope_forward(a.k, A.rope, BT, NKV, HD);
    }
    if (!A.keepAtt) {  // the layer's attention forward again: probabilities for its backward, output for o_proj's
      Prof pr(K_ATT_F);
      attention_forward(a.atty, a.att, AttnArgs{B, T, T, 0, NH, HD, a.q, Q, a.k, a.v, (long)T * KV, KV, b.mask, T, NH / NKV});
    }
    {
      Prof pr(K_MM_B);
      linear_backward(A.dY, false, g.ow, g.ob, A.dres, a.atty, w.ow, BT, Q, C, adapter(l, PO));
    }
    {
      Prof pr(K_ATT_B);
      attention_backward_gqa(A.dq, A.dk, A.dv, A.dY, a.q, a.k, a.v, a.att, b.mask, B, T, NH, NKV, HD);
    }
    {
      Prof pr(K_ROPE_B);
      rope_backward(A.dq, A.rope, BT, NH, HD);
      rope_backward(A.dk, A.rope, BT, NKV, HD);
    }
    if (cfg.qkNorm) {
      Prof pr(K_LN_B);
      rmsnorm_backward(A.dq, false, g.q_norm, A.dq, a.qn, w.q_norm, a.q_rstd, BT * NH, HD);
      rmsnorm_backward(A.dk, false, g.k_norm, A.dk, a.kn, w.k_norm, a.k_rstd, BT * NKV, HD);
    }
    // With a frozen base, layer 0's input gradient would only reach the frozen embedding: not computed.
    const bool needDx = !(frozen && l == 0);
    float* dln1 = needDx ? A.dC : nullptr;
    if (reads_input(PQ) || reads_input(PK) || reads_input(PV)) {
      Prof pr(K_LN_F);
      rmsnorm_forward(a.ln1, a.ln1_rstd, res_in, w.in_norm, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_B);
      linear_backward(dln1, false, g.qw, g.qb, A.dq, a.ln1, w.qw, BT, C, Q, adapter(l, PQ));
      linear_backward(dln1, true, g.kw, g.kb, A.dk, a.ln1, w.kw, BT, C, KV, adapter(l, PK));
      linear_backward(dln1, true, g.vw, g.vb, A.dv, a.ln1, w.vw, BT, C, KV, adapter(l, PV));
    }
    if (needDx) {
      Prof pr(K_LN_B);
      rmsnorm_backward(A.dres, true, g.in_norm, A.dC, res_in, w.in_norm, a.ln1_rstd, BT, C);
    }
  }
  if (G.embed) {
    Prof pr(K_ENC_B);
    embedding_backward(G.embed, A.dres, b.ids, BT, C);
  }
}

}  // namespace sd
