// KV-cache decoding: prefill runs the training forward over the prompt and copies every layer's k, v into the
// cache; each step then runs one token per row against the cache (left-padded rows keep their pads masked).
// GPT-2's step is here, the Llama family's in llama_passes.cc; both leave the final-norm rows in s.ln.
#include <algorithm>

#include "kernels.h"
#include "model_internal.h"

namespace sdcuda {

namespace {
namespace g2 = sd::layout::gpt2;
}

int Transformer::decode_start(const Batch& prompt, int maxLen, float* lastLogits) {
  const int B = prompt.B, T = prompt.T, C = cfg_.C, F = cfg_.F, NKV = cfg_.NKV, hd = cfg_.HD;
  const size_t Q = static_cast<size_t>(cfg_.NH) * hd, KV = static_cast<size_t>(NKV) * hd;
  const size_t qkv = llama() ? static_cast<size_t>(qkvWidth()) : 3 * static_cast<size_t>(C);
  const size_t fc = llama() ? 2 * static_cast<size_t>(F) : static_cast<size_t>(F);
  if (maxLen < T) throw std::runtime_error("maxLength " + std::to_string(maxLen) + " is shorter than the prompt (" + std::to_string(T) + ")");
  auto s = std::make_unique<Session>();
  s->B = B;
  s->maxLen = maxLen;
  auto f32 = [&](size_t n) {
    void* q = dmalloc(n * 4);
    s->allocs.push_back(q);
    return static_cast<float*>(q);
  };
  try {
    const size_t cache = static_cast<size_t>(B) * NKV * maxLen * hd;
    for (int l = 0; l < cfg_.L; l++) {
      s->kc.push_back(f32(cache));
      s->vc.push_back(f32(cache));
    }
    s->mask = reinterpret_cast<uint8_t*>(f32((static_cast<size_t>(B) * maxLen + 3) / 4));
    s->tok = reinterpret_cast<int*>(f32(B));
    s->pos = reinterpret_cast<int*>(f32(B));
    s->x = f32(static_cast<size_t>(B) * C), s->ln = f32(static_cast<size_t>(B) * C), s->qkv = f32(B * qkv);
    s->atty = f32(B * Q), s->tmp = f32(static_cast<size_t>(B) * C);
    s->fc = f32(B * fc), s->fcg = f32(static_cast<size_t>(B) * F);
    if (llama()) s->q = f32(B * Q), s->k = f32(B * KV), s->v = f32(B * KV);
    s->logits = f32(static_cast<size_t>(B) * cfg_.V);
    if (prec_ == Precision::BF16) {
      s->bf = dmalloc(B * std::max({static_cast<size_t>(C), static_cast<size_t>(F), Q}) * 2);
      s->allocs.push_back(s->bf);
    }
    std::vector<uint8_t> mask(static_cast<size_t>(B) * maxLen, 0);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++) mask[static_cast<size_t>(b) * maxLen + t] = prompt.mask ? prompt.mask[static_cast<size_t>(b) * T + t] : 1;
    SD_CUDA(cudaMemcpyAsync(s->mask, mask.data(), mask.size(), cudaMemcpyHostToDevice, stream_));
    upload_batch(prompt, false, nullptr);  // synchronises, so `mask` may go
    run_forward(B, T, s.get());
    gather_last_rows(s->ln, plan_->lnf, B, T, C, stream_);
    head_rows(s->logits, s->ln, B, s->bf);
    SD_CUDA(cudaMemcpyAsync(lastLogits, s->logits, static_cast<size_t>(B) * cfg_.V * 4, cudaMemcpyDeviceToHost, stream_));
    SD_CUDA(cudaStreamSynchronize(stream_));
  } catch (...) {
    cudaStreamSynchronize(stream_);
    for (void* p : s->allocs) dfree(p);
    throw;
  }
  s->len = T;
  const int id = nextSession_++;
  sessions_[id] = std::move(s);
  return id;
}

void Transformer::decode_step(int id, const int* tokens, const int* positions, float* logits) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) throw std::runtime_error("decode session " + std::to_string(id) + " was disposed");
  Session& s = *it->second;
  const int B = s.B;
  if (s.len >= s.maxLen) throw std::runtime_error("the KV cache is full (maxLength " + std::to_string(s.maxLen) + ")");
  for (int b = 0; b < B; b++) {
    if (tokens[b] < 0 || tokens[b] >= cfg_.V) throw std::runtime_error("token id out of range in row " + std::to_string(b));
    if (positions[b] < 0 || positions[b] >= cfg_.maxT) throw std::runtime_error("position out of range in row " + std::to_string(b));
  }
  SD_CUDA(cudaMemcpyAsync(s.tok, tokens, static_cast<size_t>(B) * 4, cudaMemcpyHostToDevice, stream_));
  SD_CUDA(cudaMemcpyAsync(s.pos, positions, static_cast<size_t>(B) * 4, cudaMemcpyHostToDevice, stream_));
  if (llama()) llama_decode_step(s);
  else gpt2_decode_step(s);
  head_rows(s.logits, s.ln, B, s.bf);
  SD_CUDA(cudaMemcpyAsync(logits, s.logits, static_cast<size_t>(B) * cfg_.V * 4, cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
  s.len++;
}

void Transformer::gpt2_decode_step(Session& s) {
  const int B = s.B, C = cfg_.C, F = cfg_.F, NH = cfg_.NH, hd = C / NH;
  embedding_forward(s.x, s.tok, s.pos, P(wte_), P(top(g2::WPE)), B, C, stream_);
  const size_t n = static_cast<size_t>(B) * C;
  for (int l = 0; l < cfg_.L; l++) {
    const std::vector<size_t>& w = layout_.layers[l];
    layernorm_forward(s.ln, nullptr, nullptr, s.x, P(w[g2::LN1_W]), P(w[g2::LN1_B]), B, C, cfg_.eps, stream_);
    linear_forward(s.qkv, s.ln, nullptr, w[g2::QKV_W], w[g2::QKV_B], B, C, 3 * C, s.bf);
    kv_cache_append(s.kc[l], s.vc[l], s.mask, s.qkv + C, s.qkv + 2 * C, 3 * C, B, NH, hd, s.maxLen, s.len, stream_);
    decode_attention(s.atty, s.qkv, 3 * C, s.kc[l], s.vc[l], s.mask, B, NH, NH, hd, s.len + 1, s.maxLen, stream_);
    linear_forward(s.tmp, s.atty, nullptr, w[g2::ATTN_PROJ_W], w[g2::ATTN_PROJ_B], B, C, C, s.bf);
    residual_forward(s.x, s.x, s.tmp, n, stream_);
    layernorm_forward(s.ln, nullptr, nullptr, s.x, P(w[g2::LN2_W]), P(w[g2::LN2_B]), B, C, cfg_.eps, stream_);
    linear_forward(s.fc, s.ln, nullptr, w[g2::FC_W], w[g2::FC_B], B, C, F, s.bf);
    gelu_forward(s.fcg, s.fc, static_cast<size_t>(B) * F, stream_);
    linear_forward(s.tmp, s.fcg, nullptr, w[g2::MLP_PROJ_W], w[g2::MLP_PROJ_B], B, F, C, s.bf);
    residual_forward(s.x, s.x, s.tmp, n, stream_);
  }
  layernorm_forward(s.ln, nullptr, nullptr, s.x, P(top(g2::LNF_W)), P(top(g2::LNF_B)), B, C, cfg_.eps, stream_);
}

void Transformer::decode_free(int id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  SD_CUDA(cudaStreamSynchronize(stream_));
  for (void* p : it->second->allocs) dfree(p);
  sessions_.erase(it);
}

}  // namespace sdcuda
