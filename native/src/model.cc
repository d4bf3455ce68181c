// GPT-2 forward/backward/AdamW over contiguous buffers (see native/README.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gpt2.h"
#include "kernels.h"

namespace sd {

// ---- profiling ---------------------------------------------------------------
namespace {
enum Kern {
  K_ENC_F, K_ENC_B, K_LN_F, K_LN_B, K_MM_F, K_MM_B, K_ATT_F, K_ATT_B, K_GELU_F, K_GELU_B,
  K_RES /* the residual copies now happen inside matmul_fwd; the key stays so profiles keep their keys */, K_HEAD_F, K_CE, K_HEAD_B, K_ADAMW, K_NORM, K_COUNT
};
const char* kKernNames[K_COUNT] = {"encoder_fwd", "encoder_bwd", "layernorm_fwd", "layernorm_bwd", "matmul_fwd",
                                   "matmul_bwd", "attention_fwd", "attention_bwd", "gelu_fwd", "gelu_bwd",
                                   "residual_copy", "head_matmul_fwd", "softmax_xent", "head_matmul_bwd", "adamw",
                                   "grad_norm"};
bool g_prof = false;
double g_prof_s[K_COUNT];
struct Prof {
  Kern k;
  std::chrono::steady_clock::time_point t0;
  explicit Prof(Kern k_) : k(k_) {
    if (g_prof) t0 = std::chrono::steady_clock::now();
  }
  ~Prof() {
    if (g_prof) g_prof_s[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};
}  // namespace

void profile_enable(bool on) { g_prof = on; }
void profile_reset() { std::fill(g_prof_s, g_prof_s + K_COUNT, 0.0); }
std::vector<std::pair<std::string, double>> profile_get() {
  std::vector<std::pair<std::string, double>> out;
  for (int i = 0; i < K_COUNT; i++) out.emplace_back(kKernNames[i], g_prof_s[i]);
  return out;
}

// ---- layout --------------------------------------------------------------------
std::vector<size_t> param_sizes(const Config& c) {
  size_t C = c.C, F = c.F;
  std::vector<size_t> s = {(size_t)c.V * C, (size_t)c.maxT * C};
  for (int l = 0; l < c.L; l++) {
    size_t layer[] = {C, C, C * 3 * C, 3 * C, C * C, C, C, C, C * F, F, F * C, C};
    s.insert(s.end(), layer, layer + 12);
  }
  s.push_back(C);
  s.push_back(C);
  return s;
}

ParamP param_pointers(const Config& c, float* base) {
  auto sizes = param_sizes(c);
  std::vector<float*> p;
  for (size_t s : sizes) {
    p.push_back(base);
    base += s;
  }
  ParamP P;
  P.wte = p[0];
  P.wpe = p[1];
  for (int l = 0; l < c.L; l++) {
    float** q = p.data() + 2 + 12 * l;
    P.layers.push_back({q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11]});
  }
  P.lnfw = p[2 + 12 * c.L];
  P.lnfb = p[3 + 12 * c.L];
  return P;
}

Model::Model(const Config& c) : cfg(c) {
  if (c.C % c.NH != 0) throw std::invalid_argument("n_embd must be divisible by n_head");
  sizes = param_sizes(c);
  nparams = 0;
  for (size_t s : sizes) nparams += s;
  for (size_t i = 0; i < sizes.size(); i++) {
    size_t k = i < 2 ? 0 : (i - 2) % 12;
    bool isLayer = i >= 2 && i < 2 + 12 * (size_t)c.L;
    decay.push_back(i < 2 || (isLayer && (k == 2 || k == 4 || k == 8 || k == 10)));
  }
  store_.assign(nparams * 4, 0.0f);
  params = store_.data();
  grads = params + nparams;
  m = grads + nparams;
  v = m + nparams;
  P = param_pointers(c, params);
  G = param_pointers(c, grads);
}

Model::~Model() = default;

size_t Model::bytes() const { return (store_.capacity() + act_.capacity() + chunk_.capacity()) * sizeof(float); }

// Activations are planned for (B, T, Tk); the buffer only grows, so alternating shapes never reallocate.
void Model::plan(int B, int T, int Tk) {
  const size_t BT = (size_t)B * T, C = cfg.C, F = cfg.F;
  const size_t perLayer = BT * C * 7 + BT * 4 + BT * 3 * C + (size_t)B * cfg.NH * T * Tk + BT * F * 2;
  const size_t total = BT * C * 2 + BT * 2 + perLayer * cfg.L + BT * C * 2 + BT * 3 * C + BT * F;
  if (act_.size() < total) {
    act_.clear();
    act_.shrink_to_fit();
    act_.resize(total);
  }
  float* p = act_.data();
  auto take = [&p](size_t n) {
    float* r = p;
    p += n;
    return r;
  };
  A.B = B;
  A.T = T;
  A.Tk = Tk;
  A.encoded = take(BT * C);
  A.lnf = take(BT * C);
  A.lnf_mean = take(BT);
  A.lnf_rstd = take(BT);
  A.layers.resize(cfg.L);
  for (auto& a : A.layers) {
    a.ln1 = take(BT * C);
    a.ln1_mean = take(BT);
    a.ln1_rstd = take(BT);
    a.qkv = take(BT * 3 * C);
    a.atty = take(BT * C);
    a.att = take((size_t)B * cfg.NH * T * Tk);
    a.res2 = take(BT * C);
    a.ln2 = take(BT * C);
    a.ln2_mean = take(BT);
    a.ln2_rstd = take(BT);
    a.fch = take(BT * F);
    a.fch_gelu = take(BT * F);
    a.res3 = take(BT * C);
  }
  A.dres = take(BT * C);
  A.dC = take(BT * C);
  A.d3C = take(BT * 3 * C);
  A.dF = take(BT * F);
  // 2 spare BT*C slots per layer remain from perLayer's 7*BT*C (ln1, atty, res2, ln2, res3 use 5).
}

void Model::forward(const Batch& b, KVCache* cache) {
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
    const LayerP& w = P.layers[l];
    LayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    {
      Prof pr(K_LN_F);
      layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, res_in, w.ln1w, w.ln1b, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.qkv, a.ln1, w.qkvw, w.qkvb, BT, C, 3 * C, nullptr);
    }
    AttnArgs aa{B, T, past + T, past, NH, hd, a.qkv, 3 * C, nullptr, nullptr, 0, 0, nullptr, 0};
    if (cache) {
      const size_t lay = (size_t)l * B * cache->maxLen * C;
      for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++) {
          const float* src = a.qkv + ((size_t)bb * T + t) * 3 * C;
          size_t dst = lay + ((size_t)bb * cache->maxLen + past + t) * C;
          std::memcpy(&cache->k[dst], src + C, sizeof(float) * C);
          std::memcpy(&cache->v[dst], src + 2 * C, sizeof(float) * C);
        }
      aa.k = cache->k.data() + lay;
      aa.v = cache->v.data() + lay;
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
      matmul_forward(a.res2, a.atty, w.apw, w.apb, BT, C, C, res_in);  // res2 = res_in + attn proj
    }
    {
      Prof pr(K_LN_F);
      layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.res2, w.ln2w, w.ln2b, BT, C, cfg.eps);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.fch, a.ln2, w.fcw, w.fcb, BT, C, F, nullptr);
    }
    {
      Prof pr(K_GELU_F);
      gelu_forward(a.fch_gelu, a.fch, BT * F);
    }
    {
      Prof pr(K_MM_F);
      matmul_forward(a.res3, a.fch_gelu, w.fpw, w.fpb, BT, F, C, a.res2);  // res3 = res2 + mlp proj
    }
  }
  {
    Prof pr(K_LN_F);
    layernorm_forward(A.lnf, A.lnf_mean, A.lnf_rstd, A.layers[cfg.L - 1].res3, P.lnfw, P.lnfb, BT, C, cfg.eps);
  }
  if (cache) cache->len += T;
}

void Model::logits_all(float* out) {
  Prof pr(K_HEAD_F);
  sgemm(false, true, A.B * A.T, cfg.V, cfg.C, 1.0f, A.lnf, cfg.C, P.wte, cfg.C, 0.0f, out, cfg.V);
}

void Model::logits_last(float* out) {
  Prof pr(K_HEAD_F);
  sgemm(false, true, A.B, cfg.V, cfg.C, 1.0f, A.lnf + (size_t)(A.T - 1) * cfg.C, A.T * cfg.C, P.wte, cfg.C, 0.0f, out,
        cfg.V);
}

void Model::hidden_state(int i, float* out) {
  const float* src = i == 0 ? A.encoded : i == cfg.L ? A.lnf : A.layers[i - 1].res3;
  std::memcpy(out, src, sizeof(float) * A.B * A.T * cfg.C);
}

// Tied head + softmax cross-entropy, chunked over the rows that carry a target, so the
// full [B,T,V] probabilities never exist; each chunk's dlogits feed dX and dWte at once.
LossOut Model::loss_and_backward(const Batch& b, bool backward, float scale) {
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
  // Rows per chunk: 256 at GPT-2's vocabulary (51 MB of logits), more when the vocabulary is small, up
  // to 4 MB of logits: at the students' ~300-token vocabulary 256-row chunks meant ~40 tiny parallel
  // regions per step, each ending with one thread waiting for the other.
  const int RCH = std::max(1, std::min(std::max(256, (1 << 20) / V), count));
  const size_t need = (size_t)RCH * V + (size_t)RCH * C * 2;
  if (chunk_.size() < need) chunk_.resize(need);
  float* logits = chunk_.data();
  float* xg = logits + (size_t)RCH * V;
  float* dxg = xg + (size_t)RCH * C;
  if (backward) std::memset(A.dC, 0, sizeof(float) * (size_t)B * T * C);
  double total = 0;
  for (int r0 = 0; r0 < count; r0 += RCH) {
    const int R = std::min(RCH, count - r0);
    for (int r = 0; r < R; r++) std::memcpy(xg + (size_t)r * C, A.lnf + (size_t)rows[r0 + r] * C, sizeof(float) * C);
    {
      Prof pr(K_HEAD_F);
      sgemm(false, true, R, V, C, 1.0f, xg, C, P.wte, C, 0.0f, logits, V);
    }
    {
      Prof pr(K_CE);
      total += crossentropy_rows(logits, targets.data() + r0, R, V, gscale, backward);
    }
    if (backward) {
      Prof pr(K_HEAD_B);
      sgemm(false, false, R, C, V, 1.0f, logits, V, P.wte, C, 0.0f, dxg, C);
      sgemm(true, false, V, C, R, 1.0f, logits, V, xg, C, 1.0f, G.wte, C);
      for (int r = 0; r < R; r++) std::memcpy(A.dC + (size_t)rows[r0 + r] * C, dxg + (size_t)r * C, sizeof(float) * C);
    }
  }
  if (backward) backward_from_dlnf(b);
  return {total / count, count};
}

void Model::backward_from_dlnf(const Batch& b) {
  const int B = b.B, T = b.T, C = cfg.C, NH = cfg.NH, F = cfg.F;
  const long BT = (long)B * T;
  std::memset(A.dres, 0, sizeof(float) * BT * C);
  {
    Prof pr(K_LN_B);
    layernorm_backward(A.dres, G.lnfw, G.lnfb, A.dC, A.layers[cfg.L - 1].res3, P.lnfw, A.lnf_mean, A.lnf_rstd, BT, C);
  }
  for (int l = cfg.L - 1; l >= 0; l--) {
    const LayerP& w = P.layers[l];
    const LayerP& g = G.layers[l];
    LayerA& a = A.layers[l];
    const float* res_in = l == 0 ? A.encoded : A.layers[l - 1].res3;
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dF, g.fpw, g.fpb, A.dres, a.fch_gelu, w.fpw, BT, F, C);
    }
    {
      Prof pr(K_GELU_B);
      gelu_backward(A.dF, a.fch, BT * F);
    }
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dC, g.fcw, g.fcb, A.dF, a.ln2, w.fcw, BT, C, F);
    }
    {
      Prof pr(K_LN_B);
      layernorm_backward(A.dres, g.ln2w, g.ln2b, A.dC, a.res2, w.ln2w, a.ln2_mean, a.ln2_rstd, BT, C);
    }
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dC, g.apw, g.apb, A.dres, a.atty, w.apw, BT, C, C);
    }
    {
      Prof pr(K_ATT_B);
      attention_backward(A.d3C, A.dC, a.qkv, a.att, B, T, NH, C / NH);
    }
    {
      Prof pr(K_MM_B);
      matmul_backward(A.dC, g.qkvw, g.qkvb, A.d3C, a.ln1, w.qkvw, BT, C, 3 * C);
    }
    {
      Prof pr(K_LN_B);
      layernorm_backward(A.dres, g.ln1w, g.ln1b, A.dC, res_in, w.ln1w, a.ln1_mean, a.ln1_rstd, BT, C);
    }
  }
  Prof pr(K_ENC_B);
  encoder_backward(G.wte, G.wpe, A.dres, b.ids, b.pos, B, T, C);
}

double Model::grad_sq_norm() {
  Prof pr(K_NORM);
  return sum_squares(grads, (long)nparams);
}

void Model::adamw(float lr, float b1, float b2, float eps, float wd, float clip, int t) {
  Prof pr(K_ADAMW);
  adamw_update_tensors(params, grads, m, v, sizes.data(), decay.data(), (int)sizes.size(), lr, b1, b2, eps, wd, clip, t);
}

}  // namespace sd
