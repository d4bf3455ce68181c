// GPT-2 forward and backward over the buffers of Core (see native/README.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gpt2.h"
#include "kernels.h"

namespace sd {

namespace {
constexpr int kProjSlot[G_PROJ_COUNT] = {layout::gpt2::QKV_W, layout::gpt2::ATTN_PROJ_W, layout::gpt2::FC_W,
                                         layout::gpt2::MLP_PROJ_W};
}  // namespace

Gpt2P Gpt2::pointers(float* buf) const {
  using namespace layout::gpt2;
  Gpt2P p;
  p.wte = lay.at(buf, WTE);
  p.wpe = lay.at(buf, WPE);
  p.lnfw = lay.at(buf, LNF_W);
  p.lnfb = lay.at(buf, LNF_B);
  for (int l = 0; l < cfg.L; l++) {
    auto s = [&](int slot) { return lay.at(buf, l, slot); };
    p.layers.push_back({s(LN1_W), s(LN1_B), s(QKV_W), s(QKV_B), s(ATTN_PROJ_W), s(ATTN_PROJ_B), s(LN2_W), s(LN2_B),
                        s(FC_W), s(FC_B), s(MLP_PROJ_W), s(MLP_PROJ_B)});
  }
  return p;
}

Gpt2::Gpt2(const ModelDims& d, const std::vector<TensorRow>& table, const LoraConfig* lc, const Core* share_from)
    : Core(d, table, lc, share_from) {
  P = pointers(base);
  // A frozen base has no gradients: every G pointer is null, so the kernels skip their weight-gradient products.
  G = frozen ? Gpt2P{nullptr, nullptr, nullptr, nullptr, std::vector<Gpt2LayerP>(d.L, Gpt2LayerP{})} : pointers(grads);
  head_ = P.wte;  // tied
  dhead_ = G.wte;
}

Lora Gpt2::adapter(int l, int p) const { return adapter_at(l, kProjSlot[p], A.layers[l].u[p], A.du); }

size_t Gpt2::place(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk, float* buf, Gpt2Acts& A) {
  const size_t BT = (size_t)B * T, C = d.C, F = d.F;
  size_t off = 0;
  auto take = [&](size_t n) {
    float* r = buf ? buf + off : nullptr;
    off += n;
    return r;
  };
  A.B = B;
  A.T = T;
  A.Tk = Tk;
  A.encoded = take(BT * C);
  A.lnf = take(BT * C);
  A.lnf_mean = take(BT);
  A.lnf_rstd = take(BT);
  A.layers.resize(d.L);
  for (int l = 0; l < d.L; l++) {
    Gpt2LayerA& a = A.layers[l];
    a.ln1 = take(BT * C);
    a.ln1_mean = take(BT);
    a.ln1_rstd = take(BT);
    a.qkv = take(BT * 3 * C);
    a.atty = take(BT * C);
    a.att = take((size_t)B * d.NH * T * Tk);
    a.res2 = take(BT * C);
    a.ln2 = take(BT * C);
    a.ln2_mean = take(BT);
    a.ln2_rstd = take(BT);
    a.fch = take(BT * F);
    a.fch_gelu = take(BT * F);
    a.res3 = take(BT * C);
    for (int p = 0; p < G_PROJ_COUNT; p++) a.u[p] = lora.on(l, kProjSlot[p]) ? take(BT * lora.r) : nullptr;
  }
  A.dres = take(BT * C);
  A.dC = take(BT * C);
  A.d3C = take(BT * 3 * C);
  A.dF = take(BT * F);
  A.du = lora.total ? take(BT * lora.r) : nullptr;
  return off;
}

size_t Gpt2::act_floats(const ModelDims& d, const layout::LoraLayout& lora, int B, int T, int Tk) {
  Gpt2Acts scratch;
  return place(d, lora, B, T, Tk, nullptr, scratch);
}

void Gpt2::plan(int B, int T, int Tk) { place(cfg, lora, B, T, Tk, activations(act_floats(cfg, lora, B, T, Tk)), A); }

void Gpt2::forward(const Batch& b, KVCache* cache) {
  const int B = b.B, T = b.T, C = cfg.C, NH = cfg.NH, hd = C / NH, F = cfg.F;
  const long BT = (long)B * T;
  for (long i = 0; i < BT; i++) {
    if (b.ids[i] < 0 || b.ids[i] >= cfg.V) throw std::out_of_range("token id out of range at flat index " + std::to_string(i));
    int p = b.pos ? b.pos[i] : (int)(i % T);
    if (p < 0 || p >= cfg.maxT) throw std::out_of_range("position id " + std::to_string(p) + " outside n_positions");
  }
  const int past = cache ? cache->len : 0;
  if (cache && past + T > cache->maxLen) throw std::out_of_range("decode cache is full (maxLength reached)");
  plan(B, T, past + T);
  {
    Prof pr(K_ENC_F);
    encoder_forward(A.encoded, P.wte, P.wpe, b.ids, b.pos, B, T, C);
  }
  if (cache)
    for (int bb = 0; bb < B; bb++)
      for (int t = 0; t < T; t++) cache->mask[(size_t)bb * cache->maxLen + past + t] = b.mask ? b.mask[bb * T + t] : 1;
  for (int l = 0; l < cfg.L; l++) {
    const Gpt2LayerP& w = P.layers[l];
    Gpt2LayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    {
      Prof pr(K_LN_F);
      layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, res_in, w.ln1w, w.ln1b, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.qkv, a.ln1, w.qkvw, w.qkvb, BT, C, 3 * C, nullptr, adapter(l, G_QKV));
    }
    AttnArgs aa{B, T, past + T, past, NH, hd, a.qkv, 3 * C, nullptr, nullptr, 0, 0, nullptr, 0};
    if (cache) {
      const size_t off = (size_t)l * B * cache->maxLen * C;
      for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++) {
          const float* src = a.qkv + ((size_t)bb * T + t) * 3 * C;
          size_t dst = off + ((size_t)bb * cache->maxLen + past + t) * C;
          std::memcpy(&cache->k[dst], src + C, sizeof(float) * C);
          std::memcpy(&cache->v[dst], src + 2 * C, sizeof(float) * C);
        }
      aa.k = cache->k.data() + off;
      aa.v = cache->v.data() + off;
      aa.kbs = (long)cache->maxLen * C;
      aa.ks = C;
      aa.mask = cache->mask.data();
      aa.mbs = cache->maxLen;
    } else {
      aa.k = a.qkv + C;
      aa.v = a.qkv + 2 * C;
      aa.kbs = (long)T * 3 * C;
      aa.ks = 3 * C;
      aa.mask = b.mask;
      aa.mbs = T;
    }
    {
      Prof pr(K_ATT_F);
      attention_forward(a.atty, a.att, aa);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.res2, a.atty, w.apw, w.apb, BT, C, C, res_in, adapter(l, G_ATTN_PROJ));  // res2 = res_in + attn proj
    }
    {
      Prof pr(K_LN_F);
      layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.res2, w.ln2w, w.ln2b, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.fch, a.ln2, w.fcw, w.fcb, BT, C, F, nullptr, adapter(l, G_FC));
    }
    {
      Prof pr(K_GELU_F);
      gelu_forward(a.fch_gelu, a.fch, BT * F);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.res3, a.fch_gelu, w.fpw, w.fpb, BT, F, C, a.res2, adapter(l, G_MLP_PROJ));  // res3 = res2 + mlp proj
    }
  }
  {
    Prof pr(K_LN_F);
    layernorm_forward(A.lnf, A.lnf_mean, A.lnf_rstd, A.layers[cfg.L - 1].res3, P.lnfw, P.lnfb, BT, C, cfg.eps);
  }
  if (cache) cache->len += T;
  final_ = A.lnf;
  lastB_ = B;
  lastT_ = T;
}

void Gpt2::hidden_state(int i, float* out) {
  const float* src = i == 0 ? A.encoded : i == cfg.L ? A.lnf : A.layers[i - 1].res3;
  std::memcpy(out, src, sizeof(float) * A.B * A.T * cfg.C);
}

void Gpt2::backward_from_final(const Batch& b, float* dfinal) {
  const int B = b.B, T = b.T, C = cfg.C, NH = cfg.NH, F = cfg.F;
  const long BT = (long)B * T;
  std::memset(A.dres, 0, sizeof(float) * BT * C);
  {
    Prof pr(K_LN_B);
    layernorm_backward(A.dres, G.lnfw, G.lnfb, dfinal, A.layers[cfg.L - 1].res3, P.lnfw, A.lnf_mean, A.lnf_rstd, BT, C);
  }
  for (int l = cfg.L - 1; l >= 0; l--) {
    const Gpt2LayerP& w = P.layers[l];
    const Gpt2LayerP& g = G.layers[l];
    Gpt2LayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dF, g.fpw, g.fpb, A.dres, a.fch_gelu, w.fpw, BT, F, C, adapter(l, G_MLP_PROJ));
    }
    {
      Prof pr(K_GELU_B);
      gelu_backward(A.dF, a.fch, BT * F);
    }
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dC, g.fcw, g.fcb, A.dF, a.ln2, w.fcw, BT, C, F, adapter(l, G_FC));
    }
    {
      Prof pr(K_LN_B);
      layernorm_backward(A.dres, g.ln2w, g.ln2b, A.dC, a.res2, w.ln2w, a.ln2_mean, a.ln2_rstd, BT, C);
    }
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dC, g.apw, g.apb, A.dres, a.atty, w.apw, BT, C, C, adapter(l, G_ATTN_PROJ));
    }
    {
      Prof pr(K_ATT_B);
      attention_backward(A.d3C, A.dC, a.qkv, a.att, B, T, NH, C / NH);
    }
    // With a frozen base, layer 0's input gradient would only reach the frozen embeddings: not computed.
    const bool needDx = !(frozen && l == 0);
    {
      Prof pr(K_MM_B);
      matmul_backward(needDx ? A.dC : nullptr, g.qkvw, g.qkvb, A.d3C, a.ln1, w.qkvw, BT, C, 3 * C, adapter(l, G_QKV));
    }
    if (needDx) {
      Prof pr(K_LN_B);
      layernorm_backward(A.dres, g.ln1w, g.ln1b, A.dC, res_in, w.ln1w, a.ln1_mean, a.ln1_rstd, BT, C);
    }
  }
  if (G.wte) {
    Prof pr(K_ENC_B);
    encoder_backward(G.wte, G.wpe, A.dres, b.ids, b.pos, B, T, C);
  }
}

}  // namespace sd
