// The parameter layout as the native cores receive it: a table of (role, layer, numel, decay) rows in buffer
// order, built by nativeLayoutTable() in src/arch/layout.ts, the only definition of a layout. This header holds no
// order and no decay rule of its own: it places each row at the next offset, maps its (role, layer) to a slot of
// the architecture, and refuses a table with a missing, unknown, duplicated or mis-sized row, naming the role.
// Header-only and std-only, so the CPU core (native/src) and the CUDA core (native/cuda) share this one file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sd {
namespace layout {

enum class Arch { GPT2, Llama };

// The model shape as RawCoreConfig carries it (src/backend/native/rawCore.ts): ArchDims in the addons' names.
struct ModelDims {
  Arch arch = Arch::GPT2;
  int V = 0, maxT = 0, C = 0, L = 0;
  int NH = 0, NKV = 0, HD = 0;  // query heads, key/value heads (GQA), per-head width (may differ from C / NH)
  int F = 0;                    // MLP width
  float eps = 1e-5f;
  // Llama family only.
  float ropeTheta = 0.0f;
  bool qkNorm = false, qkvBias = false, oBias = false, tied = true;
};

// One row of the table.
struct TensorRow {
  std::string role;
  int layer;  // -1 outside the blocks
  size_t numel;
  bool decay;
};

// Slots: where each architecture's kernels look for a tensor.
namespace gpt2 {
enum Top { WTE, WPE, LNF_W, LNF_B, TOP_COUNT };
enum Layer { LN1_W, LN1_B, QKV_W, QKV_B, ATTN_PROJ_W, ATTN_PROJ_B, LN2_W, LN2_B, FC_W, FC_B, MLP_PROJ_W, MLP_PROJ_B, LAYER_COUNT };
}  // namespace gpt2
namespace llama {
enum Top { EMBED, NORM, LM_HEAD, TOP_COUNT };
enum Layer { IN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W, O_B, Q_NORM, K_NORM, POST_NORM, GATE_W, UP_W, DOWN_W, LAYER_COUNT };
}  // namespace llama

// What an architecture expects of one role: its slot, its size, and whether this model has it at all (the
// optional Llama tensors: biases, q/k norms, an untied head).
struct SlotDef {
  const char* role;
  bool perLayer;
  int slot;
  size_t numel;
  bool present;
};

inline const char* arch_name(Arch a) { return a == Arch::GPT2 ? "gpt2" : "llama"; }

// Shape facts the kernels rely on; throws std::invalid_argument.
inline void check_dims(const ModelDims& d) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (d.V <= 0 || d.maxT <= 0 || d.C <= 0 || d.L <= 0 || d.NH <= 0 || d.NKV <= 0 || d.HD <= 0 || d.F <= 0)
    bad("every model dimension must be positive");
  if (d.arch == Arch::GPT2) {
    if (d.C % d.NH != 0) bad("n_embd must be divisible by n_head");
    if (d.NKV != d.NH || d.HD * d.NH != d.C) bad("GPT-2 has NKV == NH and HD == C / NH");
  } else {
    if (d.NH % d.NKV != 0) bad("num_attention_heads must be a multiple of num_key_value_heads");
    if (d.HD % 2 != 0) bad("head_dim must be even (rotary embeddings rotate pairs)");
    if (!(d.ropeTheta > 0.0f)) bad("rope_theta must be positive");
  }
}

inline std::vector<SlotDef> expected_slots(const ModelDims& d) {
  const size_t V = d.V, C = d.C, F = d.F;
  if (d.arch == Arch::GPT2) {
    using namespace gpt2;
    return {{"wte.weight", false, WTE, V * C, true},
            {"wpe.weight", false, WPE, (size_t)d.maxT * C, true},
            {"ln_f.weight", false, LNF_W, C, true},
            {"ln_f.bias", false, LNF_B, C, true},
            {"ln_1.weight", true, LN1_W, C, true},
            {"ln_1.bias", true, LN1_B, C, true},
            {"attn.c_attn.weight", true, QKV_W, C * 3 * C, true},
            {"attn.c_attn.bias", true, QKV_B, 3 * C, true},
            {"attn.c_proj.weight", true, ATTN_PROJ_W, C * C, true},
            {"attn.c_proj.bias", true, ATTN_PROJ_B, C, true},
            {"ln_2.weight", true, LN2_W, C, true},
            {"ln_2.bias", true, LN2_B, C, true},
            {"mlp.c_fc.weight", true, FC_W, C * F, true},
            {"mlp.c_fc.bias", true, FC_B, F, true},
            {"mlp.c_proj.weight", true, MLP_PROJ_W, F * C, true},
            {"mlp.c_proj.bias", true, MLP_PROJ_B, C, true}};
  }
  using namespace llama;
  const size_t Q = (size_t)d.NH * d.HD, KV = (size_t)d.NKV * d.HD, HD = d.HD;
  return {{"embed_tokens.weight", false, EMBED, V * C, true},
          {"norm.weight", false, NORM, C, true},
          {"lm_head.weight", false, LM_HEAD, V * C, !d.tied},
          {"input_layernorm.weight", true, IN_NORM, C, true},
          {"self_attn.q_proj.weight", true, Q_W, Q * C, true},
          {"self_attn.q_proj.bias", true, Q_B, Q, d.qkvBias},
          {"self_attn.k_proj.weight", true, K_W, KV * C, true},
          {"self_attn.k_proj.bias", true, K_B, KV, d.qkvBias},
          {"self_attn.v_proj.weight", true, V_W, KV * C, true},
          {"self_attn.v_proj.bias", true, V_B, KV, d.qkvBias},
          {"self_attn.o_proj.weight", true, O_W, C * Q, true},
          {"self_attn.o_proj.bias", true, O_B, C, d.oBias},
          {"self_attn.q_norm.weight", true, Q_NORM, HD, d.qkNorm},
          {"self_attn.k_norm.weight", true, K_NORM, HD, d.qkNorm},
          {"post_attention_layernorm.weight", true, POST_NORM, C, true},
          {"mlp.gate_proj.weight", true, GATE_W, F * C, true},
          {"mlp.up_proj.weight", true, UP_W, F * C, true},
          {"mlp.down_proj.weight", true, DOWN_W, C * F, true}};
}

// Where each row and slot lives in a parameter-shaped buffer (params, grads, AdamW m or v: all share it).
struct TableLayout {
  static constexpr size_t kAbsent = (size_t)-1;
  size_t total = 0;              // floats in one buffer
  std::vector<size_t> sizes;     // per row, in table order
  std::vector<uint8_t> decay;    // per row: AdamW weight decay applies
  std::vector<size_t> top;       // offset of each top-level slot, kAbsent when this model has none
  std::vector<std::vector<size_t>> layers;  // [layer][slot] offsets, kAbsent likewise

  // The slot's tensor inside `base`, or null for a tensor this model does not have.
  float* at(float* base, int slot) const { return top[slot] == kAbsent ? nullptr : base + top[slot]; }
  float* at(float* base, int layer, int slot) const {
    const size_t o = layers[layer][slot];
    return o == kAbsent ? nullptr : base + o;
  }
};

// Places the rows in table order and maps every (role, layer) to its slot. Throws std::invalid_argument, with a
// message that starts "layout table:" and names the role, on a missing, unknown, duplicated or mis-sized row.
inline TableLayout parse_table(const ModelDims& d, const std::vector<TensorRow>& rows) {
  check_dims(d);
  const std::vector<SlotDef> defs = expected_slots(d);
  const int nTop = d.arch == Arch::GPT2 ? (int)gpt2::TOP_COUNT : (int)llama::TOP_COUNT;
  const int nLayer = d.arch == Arch::GPT2 ? (int)gpt2::LAYER_COUNT : (int)llama::LAYER_COUNT;
  TableLayout t;
  t.top.assign(nTop, TableLayout::kAbsent);
  t.layers.assign(d.L, std::vector<size_t>(nLayer, TableLayout::kAbsent));
  auto fail = [](const std::string& m) { throw std::invalid_argument("layout table: " + m); };
  auto where = [](const TensorRow& r) {
    return "role '" + r.role + "'" + (r.layer >= 0 ? " of layer " + std::to_string(r.layer) : std::string());
  };
  for (size_t i = 0; i < rows.size(); i++) {
    const TensorRow& r = rows[i];
    const SlotDef* def = nullptr;
    for (const SlotDef& s : defs)
      if (r.role == s.role) def = &s;
    if (!def) fail("unknown " + where(r) + " (row " + std::to_string(i) + ") for a " + arch_name(d.arch) + " model");
    if (!def->present) fail(where(r) + " (row " + std::to_string(i) + ") is not part of this model's config");
    if (def->perLayer && (r.layer < 0 || r.layer >= d.L))
      fail(where(r) + " (row " + std::to_string(i) + ") needs a layer in 0.." + std::to_string(d.L - 1));
    if (!def->perLayer && r.layer != -1) fail(where(r) + " (row " + std::to_string(i) + ") is outside the blocks; its layer must be -1");
    if (r.numel != def->numel)
      fail(where(r) + " has " + std::to_string(r.numel) + " elements, expected " + std::to_string(def->numel));
    size_t& slot = def->perLayer ? t.layers[r.layer][def->slot] : t.top[def->slot];
    if (slot != TableLayout::kAbsent) fail(where(r) + " appears twice");
    slot = t.total;
    t.total += r.numel;
    t.sizes.push_back(r.numel);
    t.decay.push_back(r.decay ? 1 : 0);
  }
  for (const SlotDef& s : defs) {
    if (!s.present) continue;
    if (!s.perLayer && t.top[s.slot] == TableLayout::kAbsent) fail(std::string("no row for role '") + s.role + "'");
    if (s.perLayer)
      for (int l = 0; l < d.L; l++)
        if (t.layers[l][s.slot] == TableLayout::kAbsent)
          fail(std::string("no row for role '") + s.role + "' of layer " + std::to_string(l));
  }
  return t;
}

// ---- LoRA adapters ---------------------------------------------------------------------------------------------
// A LoRA core gets a second table (loraLayout in src/arch/lora.ts): rows "<module>.lora_A.weight" A [r, in] and
// "<module>.lora_B.weight" B [out, r] of the layers they adapt. Each pair sits on one base projection (a slot of the
// table above); the product then adds scale * (x A^T) B^T, for nn.Linear [out, in] and Conv1D [in, out] weights
// alike (Conv1D's W' = W + scale (B A)^T gives the same product).

// A projection an adapter can sit on: the stem of its role names, its base slot, and the product's widths.
struct LoraSite {
  const char* stem;
  int slot;
  size_t in, out;
};

inline std::vector<LoraSite> lora_sites(const ModelDims& d) {
  const size_t C = d.C, F = d.F;
  if (d.arch == Arch::GPT2) {
    using namespace gpt2;
    return {{"attn.c_attn", QKV_W, C, 3 * C}, {"attn.c_proj", ATTN_PROJ_W, C, C}, {"mlp.c_fc", FC_W, C, F},
            {"mlp.c_proj", MLP_PROJ_W, F, C}};
  }
  using namespace llama;
  const size_t Q = (size_t)d.NH * d.HD, KV = (size_t)d.NKV * d.HD;
  return {{"self_attn.q_proj", Q_W, C, Q},  {"self_attn.k_proj", K_W, C, KV}, {"self_attn.v_proj", V_W, C, KV},
          {"self_attn.o_proj", O_W, Q, C},  {"mlp.gate_proj", GATE_W, C, F},  {"mlp.up_proj", UP_W, C, F},
          {"mlp.down_proj", DOWN_W, F, C}};
}

// Where each adapter lives in the adapter-shaped buffers (params, grads, AdamW m and v of a LoRA core).
struct LoraLayout {
  int r = 0;
  float scale = 0.0f;  // alpha / r
  size_t total = 0;    // floats in one buffer; 0 without adapters
  std::vector<size_t> sizes;
  std::vector<uint8_t> decay;
  std::vector<std::vector<size_t>> a, b;  // [layer][base slot] offsets of A and B, kAbsent without an adapter

  bool on(int layer, int slot) const { return !a.empty() && a[layer][slot] != TableLayout::kAbsent; }
  float* A(float* base, int layer, int slot) const { return on(layer, slot) ? base + a[layer][slot] : nullptr; }
  float* B(float* base, int layer, int slot) const { return on(layer, slot) ? base + b[layer][slot] : nullptr; }
};

// Places the adapter rows in table order. Throws std::invalid_argument ("lora table: ...", naming the role) on a
// bad rank or alpha, an unknown or duplicated role, a wrong size, an A without its B (or the reverse), or no rows.
inline LoraLayout parse_lora_table(const ModelDims& d, int r, double alpha, const std::vector<TensorRow>& rows) {
  auto fail = [](const std::string& m) { throw std::invalid_argument("lora table: " + m); };
  if (r <= 0) fail("rank r must be a positive integer, got " + std::to_string(r));
  if (!(alpha > 0) || alpha > 1e30) fail("alpha must be a positive number");
  if (rows.empty()) fail("a LoRA core needs at least one adapter row");
  const std::vector<LoraSite> sites = lora_sites(d);
  const int nLayer = d.arch == Arch::GPT2 ? (int)gpt2::LAYER_COUNT : (int)llama::LAYER_COUNT;
  LoraLayout t;
  t.r = r;
  t.scale = (float)(alpha / r);
  t.a.assign(d.L, std::vector<size_t>(nLayer, TableLayout::kAbsent));
  t.b = t.a;
  for (size_t i = 0; i < rows.size(); i++) {
    const TensorRow& row = rows[i];
    const std::string where = "role '" + row.role + "'" + (row.layer >= 0 ? " of layer " + std::to_string(row.layer) : "");
    const LoraSite* site = nullptr;
    bool isA = false;
    for (const LoraSite& s : sites) {
      const std::string stem = s.stem;
      if (row.role == stem + ".lora_A.weight") site = &s, isA = true;
      if (row.role == stem + ".lora_B.weight") site = &s, isA = false;
    }
    if (!site) fail("unknown " + where + " (row " + std::to_string(i) + ") for a " + arch_name(d.arch) + " model");
    if (row.layer < 0 || row.layer >= d.L) fail(where + " (row " + std::to_string(i) + ") needs a layer in 0.." + std::to_string(d.L - 1));
    const size_t want = isA ? (size_t)r * site->in : site->out * (size_t)r;
    if (row.numel != want) fail(where + " has " + std::to_string(row.numel) + " elements, expected " + std::to_string(want) + " at rank " + std::to_string(r));
    size_t& slot = (isA ? t.a : t.b)[row.layer][site->slot];
    if (slot != TableLayout::kAbsent) fail(where + " appears twice");
    slot = t.total;
    t.total += row.numel;
    t.sizes.push_back(row.numel);
    t.decay.push_back(row.decay ? 1 : 0);
  }
  for (int l = 0; l < d.L; l++)
    for (const LoraSite& s : sites)
      if ((t.a[l][s.slot] == TableLayout::kAbsent) != (t.b[l][s.slot] == TableLayout::kAbsent))
        fail(std::string("role '") + s.stem + (t.a[l][s.slot] == TableLayout::kAbsent ? ".lora_A" : ".lora_B") +
             ".weight' of layer " + std::to_string(l) + " is missing (adapters come in A/B pairs)");
  return t;
}

}  // namespace layout
}  // namespace sd
