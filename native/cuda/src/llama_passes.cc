// The Llama family's training passes (Llama, SmolLM2, Qwen2, Qwen3): RMSNorm, q | k | v projections (nn.Linear
// [out, in] weights, optional biases), optional per-head q/k RMSNorm, RoPE at the given positions, grouped-query
// attention, o_proj, SwiGLU MLP, final RMSNorm. The classifier (tied or untied head) is shared with GPT-2.
#include <cmath>

#include "kernels.h"
#include "model_internal.h"

namespace sdcuda {

namespace {
namespace ll = sd::layout::llama;
}

void Transformer::llama_forward(int B, int T, Session* sink) {
  Plan& p = *plan_;
  const int BT = B * T, C = cfg_.C, NH = cfg_.NH, NKV = cfg_.NKV, hd = cfg_.HD, F = cfg_.F;
  const int Q = NH * hd, KV = NKV * hd, W = qkvWidth();
  const bool bf = prec_ == Precision::BF16;
  const size_t n = static_cast<size_t>(BT) * C;
  embedding_forward(p.encoded, p.ids, nullptr, P(wte_), nullptr, BT, C, stream_);
  const float* x = p.encoded;
  for (int l = 0; l < cfg_.L; l++) {
    const std::vector<size_t>& w = layout_.layers[l];
    Plan::L& a = p.layers[l];
    rmsnorm_forward(a.ln1, a.ln1r, x, P(w[ll::IN_NORM]), BT, C, cfg_.eps, stream_);
    if (bf) cast_to_bf16(a.ln1bf, a.ln1, n, stream_);
    linear_t_forward(a.qkv, W, a.ln1, a.ln1bf, w[ll::Q_W], w[ll::Q_B], BT, C, Q);
    linear_t_forward(a.qkv + Q, W, a.ln1, a.ln1bf, w[ll::K_W], w[ll::K_B], BT, C, KV);
    linear_t_forward(a.qkv + Q + KV, W, a.ln1, a.ln1bf, w[ll::V_W], w[ll::V_B], BT, C, KV);
    rope_heads_forward(p.q, p.k, p.v, a.qkr, a.qkv, p.pos, P(w[ll::Q_NORM]), P(w[ll::K_NORM]), invFreq_, B, T, NH, NKV, hd, cfg_.eps,
                       stream_);
    if (sink) kv_cache_fill(sink->kc[l], sink->vc[l], p.k, p.v, B, NKV, T, hd, sink->maxLen, stream_);
    attention_forward(a.att, p.y, p.q, p.k, p.v, B, T, NH, NKV, hd);
    heads_merge(a.atty, p.y, B, T, NH, hd, stream_);
    if (bf) cast_to_bf16(a.attybf, a.atty, static_cast<size_t>(BT) * Q, stream_);
    linear_t_forward(p.y, C, a.atty, a.attybf, w[ll::O_W], w[ll::O_B], BT, Q, C);
    residual_forward(a.res2, x, p.y, n, stream_);
    rmsnorm_forward(a.ln2, a.ln2r, a.res2, P(w[ll::POST_NORM]), BT, C, cfg_.eps, stream_);
    if (bf) cast_to_bf16(a.ln2bf, a.ln2, n, stream_);
    linear_t_forward(a.fch, 2 * F, a.ln2, a.ln2bf, w[ll::GATE_W], kNone, BT, C, F);
    linear_t_forward(a.fch + F, 2 * F, a.ln2, a.ln2bf, w[ll::UP_W], kNone, BT, C, F);
    swiglu_forward(a.fchg, a.fch, BT, F, stream_);
    if (bf) cast_to_bf16(a.fchgbf, a.fchg, static_cast<size_t>(BT) * F, stream_);
    linear_t_forward(p.y, C, a.fchg, a.fchgbf, w[ll::DOWN_W], kNone, BT, F, C);
    residual_forward(a.res3, a.res2, p.y, n, stream_);
    x = a.res3;
  }
  rmsnorm_forward(p.lnf, p.lnfr, x, P(top(ll::NORM)), BT, C, cfg_.eps, stream_);
  if (bf) cast_to_bf16(p.lnfbf, p.lnf, n, stream_);
}

void Transformer::llama_backward(int B, int T) {
  Plan& p = *plan_;
  const int BT = B * T, C = cfg_.C, NH = cfg_.NH, NKV = cfg_.NKV, hd = cfg_.HD, F = cfg_.F;
  const int Q = NH * hd, KV = NKV * hd, W = qkvWidth();
  const size_t n = static_cast<size_t>(BT) * C;
  SD_CUDA(cudaMemsetAsync(p.dres, 0, n * 4, stream_));
  const float* last = p.layers.empty() ? p.encoded : p.layers[cfg_.L - 1].res3;
  rmsnorm_backward(p.dres, G(top(ll::NORM)), p.dC, last, P(top(ll::NORM)), p.lnfr, BT, C, stream_);
  for (int l = cfg_.L - 1; l >= 0; l--) {
    const std::vector<size_t>& w = layout_.layers[l];
    Plan::L& a = p.layers[l];
    const float* xin = l == 0 ? p.encoded : p.layers[l - 1].res3;
    // MLP: dres is d(res3) = d(mlp out); the skip path carries it on to res2.
    linear_t_backward(p.dact, 0.f, p.dres, C, scratch_bf16(p.dres, n), a.fchg, a.fchgbf, w[ll::DOWN_W], kNone, BT, F, C);
    swiglu_backward(p.dBig, p.dact, a.fch, BT, F, stream_);
    const void* dguBf = scratch_bf16(p.dBig, static_cast<size_t>(BT) * 2 * F);
    linear_t_backward(p.dC, 0.f, p.dBig, 2 * F, dguBf, a.ln2, a.ln2bf, w[ll::GATE_W], kNone, BT, C, F);
    linear_t_backward(p.dC, 1.f, p.dBig + F, 2 * F, bf_at(dguBf, F), a.ln2, a.ln2bf, w[ll::UP_W], kNone, BT, C, F);
    rmsnorm_backward(p.dres, G(w[ll::POST_NORM]), p.dC, a.res2, P(w[ll::POST_NORM]), a.ln2r, BT, C, stream_);
    // Attention: o_proj, then the heads (recomputing q, k, v from the kept projections), then q | k | v.
    linear_t_backward(p.dC, 0.f, p.dres, C, scratch_bf16(p.dres, n), a.atty, a.attybf, w[ll::O_W], w[ll::O_B], BT, Q, C);
    heads_split(p.dy, p.dC, B, T, NH, hd, stream_);
    const float *qn = P(w[ll::Q_NORM]), *kn = P(w[ll::K_NORM]);
    rope_heads_forward(p.q, p.k, p.v, a.qkr, a.qkv, p.pos, qn, kn, invFreq_, B, T, NH, NKV, hd, cfg_.eps, stream_);
    attention_backward(p.dq, p.dk, p.dv, p.datt, p.dy, a.att, p.q, p.k, p.v, B, T, NH, NKV, hd);
    rope_heads_backward(p.dBig, G(w[ll::Q_NORM]), G(w[ll::K_NORM]), p.dq, p.dk, p.dv, a.qkv, a.qkr, p.pos, qn, kn, invFreq_, B, T, NH, NKV, hd,
                        stream_);
    const void* dqkvBf = scratch_bf16(p.dBig, static_cast<size_t>(BT) * W);
    linear_t_backward(p.dC, 0.f, p.dBig, W, dqkvBf, a.ln1, a.ln1bf, w[ll::Q_W], w[ll::Q_B], BT, C, Q);
    linear_t_backward(p.dC, 1.f, p.dBig + Q, W, bf_at(dqkvBf, Q), a.ln1, a.ln1bf, w[ll::K_W], w[ll::K_B], BT, C, KV);
    linear_t_backward(p.dC, 1.f, p.dBig + Q + KV, W, bf_at(dqkvBf, Q + KV), a.ln1, a.ln1bf, w[ll::V_W], w[ll::V_B], BT, C, KV);
    rmsnorm_backward(p.dres, G(w[ll::IN_NORM]), p.dC, xin, P(w[ll::IN_NORM]), a.ln1r, BT, C, stream_);
  }
  embedding_backward(G(wte_), nullptr, p.dres, p.ids, nullptr, BT, C, stream_);
}

// One token per row against the cache; s.len keys are already cached, this step's key goes at index s.len.
void Transformer::llama_decode_step(Session& s) {
  const int B = s.B, C = cfg_.C, NH = cfg_.NH, NKV = cfg_.NKV, hd = cfg_.HD, F = cfg_.F;
  const int Q = NH * hd, KV = NKV * hd, W = qkvWidth();
  const size_t n = static_cast<size_t>(B) * C;
  const bool bf = prec_ == Precision::BF16;
  // BF16 mode: each layer input is cast once into the session's scratch (null: fp32 inputs).
  auto in_bf = [&](const float* x, size_t count) -> const void* {
    if (!bf) return nullptr;
    cast_to_bf16(s.bf, x, count, stream_);
    return s.bf;
  };
  embedding_forward(s.x, s.tok, nullptr, P(wte_), nullptr, B, C, stream_);
  for (int l = 0; l < cfg_.L; l++) {
    const std::vector<size_t>& w = layout_.layers[l];
    rmsnorm_forward(s.ln, nullptr, s.x, P(w[ll::IN_NORM]), B, C, cfg_.eps, stream_);
    const void* lnBf = in_bf(s.ln, n);
    linear_t_forward(s.qkv, W, s.ln, lnBf, w[ll::Q_W], w[ll::Q_B], B, C, Q);
    linear_t_forward(s.qkv + Q, W, s.ln, lnBf, w[ll::K_W], w[ll::K_B], B, C, KV);
    linear_t_forward(s.qkv + Q + KV, W, s.ln, lnBf, w[ll::V_W], w[ll::V_B], B, C, KV);
    // T = 1: the head layouts [B,NH,1,hd] and [B,NKV,1,hd] are [B, NH*hd] and [B, NKV*hd].
    rope_heads_forward(s.q, s.k, s.v, nullptr, s.qkv, s.pos, P(w[ll::Q_NORM]), P(w[ll::K_NORM]), invFreq_, B, 1, NH, NKV, hd, cfg_.eps, stream_);
    kv_cache_append(s.kc[l], s.vc[l], s.mask, s.k, s.v, KV, B, NKV, hd, s.maxLen, s.len, stream_);
    decode_attention(s.atty, s.q, Q, s.kc[l], s.vc[l], s.mask, B, NH, NKV, hd, s.len + 1, s.maxLen, stream_);
    linear_t_forward(s.tmp, C, s.atty, in_bf(s.atty, static_cast<size_t>(B) * Q), w[ll::O_W], w[ll::O_B], B, Q, C);
    residual_forward(s.x, s.x, s.tmp, n, stream_);
    rmsnorm_forward(s.ln, nullptr, s.x, P(w[ll::POST_NORM]), B, C, cfg_.eps, stream_);
    const void* ln2Bf = in_bf(s.ln, n);
    linear_t_forward(s.fc, 2 * F, s.ln, ln2Bf, w[ll::GATE_W], kNone, B, C, F);
    linear_t_forward(s.fc + F, 2 * F, s.ln, ln2Bf, w[ll::UP_W], kNone, B, C, F);
    swiglu_forward(s.fcg, s.fc, B, F, stream_);
    linear_t_forward(s.tmp, C, s.fcg, in_bf(s.fcg, static_cast<size_t>(B) * F), w[ll::DOWN_W], kNone, B, F, C);
    residual_forward(s.x, s.x, s.tmp, n, stream_);
  }
  rmsnorm_forward(s.ln, nullptr, s.x, P(top(ll::NORM)), B, C, cfg_.eps, stream_);
}

}  // namespace sdcuda
