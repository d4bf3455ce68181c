// Launchers for the CUDA kernels of both architectures. Same kernel list as the native CPU core: embedding,
// layernorm / RMSNorm, matmul+bias, attention (GQA), RoPE with the optional Qwen3 q/k norm, gelu_new / SwiGLU,
// residual, fused classifier + cross-entropy, AdamW with global-norm clipping, KV-cache decode.
// Host-only header: plain pointers, so g++-compiled host code can call these.
// bf16 buffers are passed as void* (__nv_bfloat16 on the device side).
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>

namespace sdcuda {

// out[bt,:] = wte[ids[bt],:] + wpe[pos[bt],:] (wpe may be null: token embeddings only, for RoPE models)
void embedding_forward(float* out, const int* ids, const int* pos, const float* wte, const float* wpe, int BT, int C, cudaStream_t s);
// dwte[ids[bt],:] += dout[bt,:]; dwpe[pos[bt],:] += dout[bt,:] (skipped when dwpe is null)
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* ids, const int* pos, int BT, int C, cudaStream_t s);

// Biased variance, eps inside the sqrt (torch LayerNorm). mean/rstd may be null.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N, int C, float eps, cudaStream_t s);
// dinp += ..., dw += ..., db += ... (accumulates: dinp is the residual-stream gradient).
void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t s);

// RMSNorm (HF Llama): out = x * rsqrt(mean(x^2) + eps) * w, no bias, no mean. rstd may be null.
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int N, int C, float eps, cudaStream_t s);
// dinp += ..., dw += ... (accumulates, like layernorm_backward).
void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w, const float* rstd, int N, int C, cudaStream_t s);

// out[r, j] += bias[j] for the N rows of a matrix whose rows are `ld` floats apart (ld >= OC: a column slice).
void add_bias(float* out, const float* bias, int N, int OC, int ld, cudaStream_t s);
// dbias += column sums of dout [N, OC] (rows `ld` floats apart)
void bias_backward(float* dbias, const float* dout, int N, int OC, int ld, cudaStream_t s);

void gelu_forward(float* out, const float* inp, size_t n, cudaStream_t s);
// dinp = gelu'(inp) * dout (dinp may alias dout)
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n, cudaStream_t s);
// SwiGLU: gu [N, 2F] holds gate | up per row; out [N, F] = silu(gate) * up.
void swiglu_forward(float* out, const float* gu, int N, int F, cudaStream_t s);
// dgu [N, 2F] = (d gate | d up) from dout [N, F].
void swiglu_backward(float* dgu, const float* dout, const float* gu, int N, int F, cudaStream_t s);
void residual_forward(float* out, const float* a, const float* b, size_t n, cudaStream_t s);
void cast_to_bf16(void* out, const float* in, size_t n, cudaStream_t s);

// qkv [B,T,3,NH,hd] -> q,k,v [B,NH,T,hd]
void qkv_split_heads(float* q, float* k, float* v, const float* qkv, int B, int T, int NH, int hd, cudaStream_t s);
// inverse of the above, for the gradients
void qkv_merge_heads(float* dqkv, const float* dq, const float* dk, const float* dv, int B, int T, int NH, int hd, cudaStream_t s);
// y [B,NH,T,hd] <-> out [B,T,NH*hd]
void heads_merge(float* out, const float* y, int B, int T, int NH, int hd, cudaStream_t s);
void heads_split(float* y, const float* in, int B, int T, int NH, int hd, cudaStream_t s);

// Llama attention inputs. qkv [B*T, (NH + 2*NKV) * hd] holds q heads | k heads | v heads per token (the three
// projections). Writes q [B,NH,T,hd], k and v [B,NKV,T,hd]: q and k get the optional per-head RMSNorm (qNorm /
// kNorm weights [hd], null for none; qkRstd [B*T, NH+NKV] receives its rstd when not null), then HF rotary
// embeddings at positions pos[B*T] (rotate_half: dim i pairs with i + hd/2; angle = pos * invFreq[i] in fp32).
void rope_heads_forward(float* q, float* k, float* v, float* qkRstd, const float* qkv, const int* pos, const float* qNorm, const float* kNorm,
                        const float* invFreq, int B, int T, int NH, int NKV, int hd, float eps, cudaStream_t s);
// The inverse for the gradients: dqkv [B*T, (NH+2*NKV)*hd] (overwritten) from dq, dk, dv in head layout; qkv and
// qkRstd as the forward left them; dqNorm / dkNorm [hd] accumulate the q/k norm weight gradients (when qNorm).
void rope_heads_backward(float* dqkv, float* dqNorm, float* dkNorm, const float* dq, const float* dk, const float* dv, const float* qkv,
                         const float* qkRstd, const int* pos, const float* qNorm, const float* kNorm, const float* invFreq, int B, int T, int NH,
                         int NKV, int hd, cudaStream_t s);

// In place: scaled scores [B,NH,T,T] -> probabilities. Key j of query t is allowed iff j <= t and keymask[b,j] != 0
// (keymask may be null). Disallowed scores are finfo(float32).min as in HF eager, so a row with no allowed key
// becomes uniform over all T keys instead of NaN.
void attention_softmax_forward(float* att, const uint8_t* keymask, int B, int NH, int T, cudaStream_t s);
// In place: datt -> dpreatt * scale (zero where not allowed).
void attention_softmax_backward(float* datt, const float* att, const uint8_t* keymask, float scale, int B, int NH, int T, cudaStream_t s);

// KV cache [B,NH,maxLen,hd]: copy prompt k,v [B,NH,T,hd] into positions 0..T-1.
void kv_cache_fill(float* kc, float* vc, const float* k, const float* v, int B, int NH, int T, int hd, int maxLen, cudaStream_t s);
// Append the k,v of one token per row at index `at` and set keymask[b, at] = 1. Row b's k is k[b*rowStride + c],
// c < NKV*hd (GPT-2: k = qkv + C, v = qkv + 2C, rowStride 3C; Llama: the rotated k, v [B, NKV*hd]).
void kv_cache_append(float* kc, float* vc, uint8_t* keymask, const float* k, const float* v, int rowStride, int B, int NKV, int hd, int maxLen,
                     int at, cudaStream_t s);
// One query per row (row b's query heads at q + b*qStride) against cache positions 0..len-1 of its KV head
// (query head h reads KV head h / (NH / NKV)) -> out [B, NH*hd].
void decode_attention(float* out, const float* q, int qStride, const float* kc, const float* vc, const uint8_t* keymask, int B, int NH, int NKV,
                      int hd, int len, int maxLen, cudaStream_t s);
// out[b,:] = in[b*T + T-1, :]
void gather_last_rows(float* out, const float* in, int B, int T, int C, cudaStream_t s);

// Per row of logits [R,V]: losses[r] = logsumexp - logit[target] (0 when target < 0). With grad, the row is
// overwritten in place by dscale * (softmax - onehot(target)), or zeros when target < 0.
void cross_entropy_rows(float* logits, float* losses, const int* targets, int R, int V, float dscale, bool grad, cudaStream_t s);

// *out += sum(x^2) (out is a device double, zero it first)
void sum_squares(double* out, const float* x, size_t n, cudaStream_t s);
// torch AdamW (foreach=False) on the whole contiguous buffer. segEnd/segDecay describe the parameter tensors in
// layout order (exclusive end offsets and whether weight decay applies). pbf16 (optional) receives a bf16 copy.
struct AdamWArgs {
  float lr, beta1, beta2, eps;
  float decayFactor;  // 1 - lr * weight_decay, for decayed tensors
  float clipCoef;     // gradients are multiplied by this first
  float stepSize;     // lr / (1 - beta1^t)
  float bc2Sqrt;      // sqrt(1 - beta2^t)
};
void adamw_update(float* p, const float* g, float* m, float* v, void* pbf16, const long long* segEnd, const uint8_t* segDecay, int nseg,
                  size_t n, const AdamWArgs& a, cudaStream_t s);

}  // namespace sdcuda
