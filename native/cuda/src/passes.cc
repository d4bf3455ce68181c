// Training passes: batch upload, activation plan, the shared attention core, GPT-2's forward and backward, the
// fused classifier + loss. The Llama family's forward and backward are in llama_passes.cc.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "model_internal.h"

namespace sdcuda {

namespace {
constexpr size_t kLogitChunkFloats = size_t{1} << 26;  // 256 MiB of fp32 logits per classifier chunk
namespace g2 = sd::layout::gpt2;
}

void Transformer::free_plan() {
  if (!plan_) return;
  SD_CUDA(cudaStreamSynchronize(stream_));
  for (void* p : plan_->allocs) dfree(p);
  plan_.reset();
}

void Transformer::ensure_plan(int B, int T) {
  const size_t BT = static_cast<size_t>(B) * T, att = BT * cfg_.NH * T;
  if (plan_ && BT <= static_cast<size_t>(plan_->capBT) && att <= plan_->capAtt) return;
  free_plan();
  auto plan = std::make_unique<Plan>();
  Plan& p = *plan;
  plan_ = std::move(plan);
  p.chunkRows = static_cast<int>(std::max<size_t>(1, std::min(BT, kLogitChunkFloats / cfg_.V)));
  // Capacities are recorded only once every buffer exists, so a failed allocation never leaves a usable-looking plan.
  try {
    allocate_plan(p, BT, att);
  } catch (...) {
    free_plan();
    throw;
  }
  p.capBT = static_cast<int>(BT);
  p.capAtt = att;
}

void Transformer::allocate_plan(Plan& p, size_t BT, size_t att) {
  const bool bf = prec_ == Precision::BF16, ll = llama();
  const size_t C = cfg_.C, F = cfg_.F, V = cfg_.V;
  const size_t Q = static_cast<size_t>(cfg_.NH) * cfg_.HD, KV = static_cast<size_t>(cfg_.NKV) * cfg_.HD;
  const size_t qkv = ll ? static_cast<size_t>(qkvWidth()) : 3 * C;  // q | k | v per token
  const size_t fc = ll ? 2 * F : F;                                  // MLP input projections per token
  const size_t wide = std::max({qkv, fc, C, Q});
  auto f32 = [&](size_t n) {
    void* q = dmalloc(n * 4);
    p.allocs.push_back(q);
    return static_cast<float*>(q);
  };
  auto b16 = [&](size_t n) -> void* {
    if (!bf) return nullptr;
    void* q = dmalloc(n * 2);
    p.allocs.push_back(q);
    return q;
  };
  p.ids = reinterpret_cast<int*>(f32(BT));
  p.pos = reinterpret_cast<int*>(f32(BT));
  p.targets = reinterpret_cast<int*>(f32(BT));
  p.mask = reinterpret_cast<uint8_t*>(f32((BT + 3) / 4));
  p.encoded = f32(BT * C);
  for (int l = 0; l < cfg_.L; l++) {
    Plan::L a{};
    a.ln1 = f32(BT * C), a.ln1r = f32(BT), a.qkv = f32(BT * qkv), a.att = f32(att);
    a.atty = f32(BT * Q), a.res2 = f32(BT * C), a.ln2 = f32(BT * C), a.ln2r = f32(BT);
    a.fch = f32(BT * fc), a.fchg = f32(BT * F), a.res3 = f32(BT * C);
    if (!ll) a.ln1m = f32(BT), a.ln2m = f32(BT);
    if (ll && cfg_.qkNorm) a.qkr = f32(BT * (cfg_.NH + cfg_.NKV));
    a.ln1bf = b16(BT * C), a.attybf = b16(BT * Q), a.ln2bf = b16(BT * C), a.fchgbf = b16(BT * F);
    p.layers.push_back(a);
  }
  p.lnf = f32(BT * C), p.lnfr = f32(BT), p.losses = f32(BT), p.lnfbf = b16(BT * C);
  if (!ll) p.lnfm = f32(BT);
  p.q = f32(BT * Q), p.k = f32(BT * KV), p.v = f32(BT * KV), p.y = f32(BT * std::max(C, Q));
  p.logits = f32(static_cast<size_t>(p.chunkRows) * V);
  p.scratchBf = b16(std::max(BT * wide, static_cast<size_t>(p.chunkRows) * V));
  p.dres = f32(BT * C), p.dC = f32(BT * std::max(C, Q)), p.dBig = f32(BT * wide), p.datt = f32(att);
  p.dq = f32(BT * Q), p.dk = f32(BT * KV), p.dv = f32(BT * KV), p.dy = f32(BT * Q);
  if (ll) p.dact = f32(BT * F);
}

// Uploads ids/positions/mask (and shifted targets); returns the number of loss targets in *tokens.
void Transformer::upload_batch(const Batch& b, bool withTargets, int* tokens) {
  const size_t BT = static_cast<size_t>(b.B) * b.T;
  if (b.B <= 0 || b.T <= 0) throw std::runtime_error("empty batch");
  if (b.T > cfg_.maxT && !b.pos) throw std::runtime_error("seqLen exceeds n_positions");
  ensure_plan(b.B, b.T);
  std::vector<int> pos(BT), targets;
  for (size_t i = 0; i < BT; i++) {
    if (b.ids[i] < 0 || b.ids[i] >= cfg_.V) throw std::runtime_error("token id out of range at index " + std::to_string(i));
    pos[i] = b.pos ? b.pos[i] : static_cast<int>(i % b.T);
    if (pos[i] < 0 || pos[i] >= cfg_.maxT) throw std::runtime_error("position id out of range at index " + std::to_string(i));
  }
  SD_CUDA(cudaMemcpyAsync(plan_->ids, b.ids, BT * 4, cudaMemcpyHostToDevice, stream_));
  SD_CUDA(cudaMemcpyAsync(plan_->pos, pos.data(), BT * 4, cudaMemcpyHostToDevice, stream_));
  plan_->hasMask = b.mask != nullptr;
  if (b.mask) SD_CUDA(cudaMemcpyAsync(plan_->mask, b.mask, BT, cudaMemcpyHostToDevice, stream_));
  if (withTargets) {
    // logits[:, t] predicts labels[:, t+1]; the last position of every row has no target.
    targets.assign(BT, -100);
    int n = 0;
    for (int r = 0; r < b.B; r++) {
      for (int t = 0; t + 1 < b.T; t++) {
        const int lab = b.labels[static_cast<size_t>(r) * b.T + t + 1];
        if (lab == -100) continue;
        if (lab < 0 || lab >= cfg_.V) throw std::runtime_error("label out of range at row " + std::to_string(r));
        targets[static_cast<size_t>(r) * b.T + t] = lab;
        n++;
      }
    }
    SD_CUDA(cudaMemcpyAsync(plan_->targets, targets.data(), BT * 4, cudaMemcpyHostToDevice, stream_));
    *tokens = n;
  }
  SD_CUDA(cudaStreamSynchronize(stream_));  // the host vectors die here
}

void Transformer::run_forward(int B, int T, Session* sink) {
  if (llama()) llama_forward(B, T, sink);
  else gpt2_forward(B, T, sink);
}

void Transformer::backward(int B, int T) {
  if (llama()) llama_backward(B, T);
  else gpt2_backward(B, T);
}

void Transformer::attention_forward(float* att, float* y, const float* q, const float* k, const float* v, int B, int T, int NH, int NKV, int hd) {
  const int G = NH / NKV;
  const long long sK = static_cast<long long>(T) * hd, sQ = G * sK, sA = static_cast<long long>(G) * T * T;
  const uint8_t* mask = plan_->hasMask ? plan_->mask : nullptr;
  // scores[t][j] = q_t . k_j / sqrt(hd), column-major: k^T q, with the group's G*T query rows side by side
  gemm_batched(kOpT, kOpN, T, G * T, hd, 1.f / std::sqrt(static_cast<float>(hd)), k, hd, sK, q, hd, sQ, 0.f, att, T, sA, B * NKV);
  attention_softmax_forward(att, mask, B, NH, T, stream_);
  gemm_batched(kOpN, kOpN, hd, G * T, T, 1.f, v, hd, sK, att, T, sA, 0.f, y, hd, sQ, B * NKV);  // y = att @ v
}

void Transformer::attention_backward(float* dq, float* dk, float* dv, float* datt, const float* dy, const float* att, const float* q,
                                     const float* k, const float* v, int B, int T, int NH, int NKV, int hd) {
  const int G = NH / NKV;
  const long long sK = static_cast<long long>(T) * hd, sQ = G * sK, sA = static_cast<long long>(G) * T * T;
  const uint8_t* mask = plan_->hasMask ? plan_->mask : nullptr;
  // The k-dimension G*T of dv and dk sums the group's query heads: GQA's gradient reduction over shared KV heads.
  gemm_batched(kOpT, kOpN, T, G * T, hd, 1.f, v, hd, sK, dy, hd, sQ, 0.f, datt, T, sA, B * NKV);  // datt = dy @ v^T
  gemm_batched(kOpN, kOpT, hd, T, G * T, 1.f, dy, hd, sQ, att, T, sA, 0.f, dv, hd, sK, B * NKV);  // dv = att^T @ dy
  attention_softmax_backward(datt, att, mask, 1.f / std::sqrt(static_cast<float>(hd)), B, NH, T, stream_);
  gemm_batched(kOpN, kOpN, hd, G * T, T, 1.f, k, hd, sK, datt, T, sA, 0.f, dq, hd, sQ, B * NKV);  // dq = dpre @ k
  gemm_batched(kOpN, kOpT, hd, T, G * T, 1.f, q, hd, sQ, datt, T, sA, 0.f, dk, hd, sK, B * NKV);  // dk = dpre^T @ q
}

void Transformer::gpt2_forward(int B, int T, Session* sink) {
  Plan& p = *plan_;
  const int BT = B * T, C = cfg_.C, NH = cfg_.NH, hd = C / NH, F = cfg_.F;
  const bool bf = prec_ == Precision::BF16;
  embedding_forward(p.encoded, p.ids, p.pos, P(wte_), P(top(g2::WPE)), BT, C, stream_);
  const float* x = p.encoded;
  for (int l = 0; l < cfg_.L; l++) {
    const std::vector<size_t>& w = layout_.layers[l];
    Plan::L& a = p.layers[l];
    layernorm_forward(a.ln1, a.ln1m, a.ln1r, x, P(w[g2::LN1_W]), P(w[g2::LN1_B]), BT, C, cfg_.eps, stream_);
    if (bf) cast_to_bf16(a.ln1bf, a.ln1, static_cast<size_t>(BT) * C, stream_);
    linear_forward(a.qkv, a.ln1, a.ln1bf, w[g2::QKV_W], w[g2::QKV_B], BT, C, 3 * C, p.scratchBf);
    qkv_split_heads(p.q, p.k, p.v, a.qkv, B, T, NH, hd, stream_);
    if (sink) kv_cache_fill(sink->kc[l], sink->vc[l], p.k, p.v, B, NH, T, hd, sink->maxLen, stream_);
    attention_forward(a.att, p.y, p.q, p.k, p.v, B, T, NH, NH, hd);
    heads_merge(a.atty, p.y, B, T, NH, hd, stream_);
    if (bf) cast_to_bf16(a.attybf, a.atty, static_cast<size_t>(BT) * C, stream_);
    linear_forward(p.y, a.atty, a.attybf, w[g2::ATTN_PROJ_W], w[g2::ATTN_PROJ_B], BT, C, C, p.scratchBf);
    residual_forward(a.res2, x, p.y, static_cast<size_t>(BT) * C, stream_);
    layernorm_forward(a.ln2, a.ln2m, a.ln2r, a.res2, P(w[g2::LN2_W]), P(w[g2::LN2_B]), BT, C, cfg_.eps, stream_);
    if (bf) cast_to_bf16(a.ln2bf, a.ln2, static_cast<size_t>(BT) * C, stream_);
    linear_forward(a.fch, a.ln2, a.ln2bf, w[g2::FC_W], w[g2::FC_B], BT, C, F, p.scratchBf);
    gelu_forward(a.fchg, a.fch, static_cast<size_t>(BT) * F, stream_);
    if (bf) cast_to_bf16(a.fchgbf, a.fchg, static_cast<size_t>(BT) * F, stream_);
    linear_forward(p.y, a.fchg, a.fchgbf, w[g2::MLP_PROJ_W], w[g2::MLP_PROJ_B], BT, F, C, p.scratchBf);
    residual_forward(a.res3, a.res2, p.y, static_cast<size_t>(BT) * C, stream_);
    x = a.res3;
  }
  layernorm_forward(p.lnf, p.lnfm, p.lnfr, x, P(top(g2::LNF_W)), P(top(g2::LNF_B)), BT, C, cfg_.eps, stream_);
  if (bf) cast_to_bf16(p.lnfbf, p.lnf, static_cast<size_t>(BT) * C, stream_);
}

void Transformer::head_rows(float* logits, const float* rows, int R, void* scratchBf) {
  const void* rowsBf = nullptr;
  if (prec_ == Precision::BF16) {
    cast_to_bf16(scratchBf, rows, static_cast<size_t>(R) * cfg_.C, stream_);
    rowsBf = scratchBf;
  }
  // logits[R,V] = rows @ wte^T, column-major: wte (as V x C) times rows^T
  gemm(kOpT, kOpN, cfg_.V, R, cfg_.C, P(head_), Pbf(head_), cfg_.C, rows, rowsBf, cfg_.C, logits, cfg_.V, 0.f);
}

void Transformer::classifier(int BT, int mode, float dscale, float* logitsHost) {
  Plan& p = *plan_;
  const int C = cfg_.C, V = cfg_.V;
  for (int r0 = 0; r0 < BT; r0 += p.chunkRows) {
    const int R = std::min(p.chunkRows, BT - r0);
    const float* rows = p.lnf + static_cast<size_t>(r0) * C;
    const void* rowsBf = bf_at(p.lnfbf, static_cast<size_t>(r0) * C);
    gemm(kOpT, kOpN, V, R, C, P(head_), Pbf(head_), C, rows, rowsBf, C, p.logits, V, 0.f);
    if (mode == 0) {
      SD_CUDA(cudaMemcpyAsync(logitsHost + static_cast<size_t>(r0) * V, p.logits, static_cast<size_t>(R) * V * 4, cudaMemcpyDeviceToHost,
                              stream_));
      SD_CUDA(cudaStreamSynchronize(stream_));  // p.logits is reused by the next chunk
      continue;
    }
    cross_entropy_rows(p.logits, p.losses + r0, p.targets + r0, R, V, dscale, mode == 2, stream_);
    if (mode != 2) continue;
    const void* dlBf = nullptr;
    if (prec_ == Precision::BF16) {
      cast_to_bf16(p.scratchBf, p.logits, static_cast<size_t>(R) * V, stream_);
      dlBf = p.scratchBf;
    }
    // dlnf = dlogits @ head ; dhead += dlogits^T @ lnf (tied: the head's share of the wte gradient)
    gemm(kOpN, kOpN, C, R, V, P(head_), Pbf(head_), C, p.logits, dlBf, V, p.dC + static_cast<size_t>(r0) * C, C, 0.f);
    gemm(kOpN, kOpT, C, V, R, rows, rowsBf, C, p.logits, dlBf, V, G(head_), C, 1.f);
  }
}

void Transformer::gpt2_backward(int B, int T) {
  Plan& p = *plan_;
  const int BT = B * T, C = cfg_.C, NH = cfg_.NH, hd = C / NH, F = cfg_.F;
  SD_CUDA(cudaMemsetAsync(p.dres, 0, static_cast<size_t>(BT) * C * 4, stream_));
  const float* last = p.layers.empty() ? p.encoded : p.layers[cfg_.L - 1].res3;
  layernorm_backward(p.dres, G(top(g2::LNF_W)), G(top(g2::LNF_B)), p.dC, last, P(top(g2::LNF_W)), p.lnfm, p.lnfr, BT, C, stream_);
  for (int l = cfg_.L - 1; l >= 0; l--) {
    const std::vector<size_t>& w = layout_.layers[l];
    Plan::L& a = p.layers[l];
    const float* xin = l == 0 ? p.encoded : p.layers[l - 1].res3;
    // MLP: dres is d(res3) = d(mlp out); the skip path carries it on to res2.
    linear_backward(p.dBig, p.dres, a.fchg, a.fchgbf, w[g2::MLP_PROJ_W], w[g2::MLP_PROJ_B], BT, F, C);
    gelu_backward(p.dBig, a.fch, p.dBig, static_cast<size_t>(BT) * F, stream_);
    linear_backward(p.dC, p.dBig, a.ln2, a.ln2bf, w[g2::FC_W], w[g2::FC_B], BT, C, F);
    layernorm_backward(p.dres, G(w[g2::LN2_W]), G(w[g2::LN2_B]), p.dC, a.res2, P(w[g2::LN2_W]), a.ln2m, a.ln2r, BT, C, stream_);
    // Attention
    linear_backward(p.dC, p.dres, a.atty, a.attybf, w[g2::ATTN_PROJ_W], w[g2::ATTN_PROJ_B], BT, C, C);
    heads_split(p.dy, p.dC, B, T, NH, hd, stream_);
    qkv_split_heads(p.q, p.k, p.v, a.qkv, B, T, NH, hd, stream_);
    attention_backward(p.dq, p.dk, p.dv, p.datt, p.dy, a.att, p.q, p.k, p.v, B, T, NH, NH, hd);
    qkv_merge_heads(p.dBig, p.dq, p.dk, p.dv, B, T, NH, hd, stream_);
    linear_backward(p.dC, p.dBig, a.ln1, a.ln1bf, w[g2::QKV_W], w[g2::QKV_B], BT, C, 3 * C);
    layernorm_backward(p.dres, G(w[g2::LN1_W]), G(w[g2::LN1_B]), p.dC, xin, P(w[g2::LN1_W]), a.ln1m, a.ln1r, BT, C, stream_);
  }
  embedding_backward(G(wte_), G(top(g2::WPE)), p.dres, p.ids, p.pos, BT, C, stream_);
}

void Transformer::forward(const Batch& b, float* logitsHost, const std::vector<float*>& hidden) {
  upload_batch(b, false, nullptr);
  run_forward(b.B, b.T, nullptr);
  const int BT = b.B * b.T;
  const size_t bytes = static_cast<size_t>(BT) * cfg_.C * 4;
  if (!hidden.empty()) {
    SD_CUDA(cudaMemcpyAsync(hidden[0], plan_->encoded, bytes, cudaMemcpyDeviceToHost, stream_));
    for (int l = 1; l < cfg_.L; l++)
      SD_CUDA(cudaMemcpyAsync(hidden[l], plan_->layers[l - 1].res3, bytes, cudaMemcpyDeviceToHost, stream_));
    SD_CUDA(cudaMemcpyAsync(hidden[cfg_.L], plan_->lnf, bytes, cudaMemcpyDeviceToHost, stream_));
  }
  if (logitsHost) classifier(BT, 0, 0.f, logitsHost);
  SD_CUDA(cudaStreamSynchronize(stream_));
}

LossOut Transformer::loss(const Batch& b, bool backward_, float scale) {
  int tokens = 0;
  upload_batch(b, true, &tokens);
  if (tokens == 0) return {std::numeric_limits<double>::quiet_NaN(), 0};
  run_forward(b.B, b.T, nullptr);
  const int BT = b.B * b.T;
  classifier(BT, backward_ ? 2 : 1, scale / static_cast<float>(tokens), nullptr);
  std::vector<float> losses(BT);
  SD_CUDA(cudaMemcpyAsync(losses.data(), plan_->losses, static_cast<size_t>(BT) * 4, cudaMemcpyDeviceToHost, stream_));
  if (backward_) backward(b.B, b.T);
  SD_CUDA(cudaStreamSynchronize(stream_));
  double sum = 0;
  for (float x : losses) sum += x;
  return {sum / tokens, tokens};
}

}  // namespace sdcuda
