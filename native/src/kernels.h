// Forward/backward kernels shared by the GPT-2 and Llama blocks (kernels.cc). Row-major; N = rows (B*T).
// The Llama-only ops (RMSNorm, RoPE, SwiGLU, embedding) are in llama_kernels.h.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sd {

// out[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * out (row-major). OpenBLAS when built with it.
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* Cm, int ldc);

void encoder_forward(float* out, const float* wte, const float* wpe, const int32_t* ids, const int32_t* pos, int B,
                     int T, int C);
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids, const int32_t* pos, int B,
                      int T, int C);

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                       int C, float eps);
// dinp += ..., dw += ..., db += ... (dw and db may be null: frozen)
void layernorm_backward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                        const float* mean, const float* rstd, int N, int C);

// A LoRA adapter on one projection: A [r, IC], B [OC, r]; the product adds scale * (inp A^T) B^T (the same for
// Conv1D and nn.Linear weights). u [N, r] = inp A^T is written by the forward and read by the backward; du [N, r]
// is backward scratch; dA, dB receive the adapter's gradients. A null A means no adapter.
struct Lora {
  const float* A = nullptr;
  const float* B = nullptr;
  float* dA = nullptr;
  float* dB = nullptr;
  float* u = nullptr;
  float* du = nullptr;
  int r = 0;
  float scale = 0.0f;
};

// out = (resid ? resid : 0) + inp @ W + bias [+ the adapter]   (Conv1D: W is [IC, OC]; resid, the residual stream,
// may be out; bias may be null)
void matmul_forward(float* out, const float* inp, const float* W, const float* bias, int N, int IC, int OC,
                    const float* resid, const Lora& lora = Lora{});
// dinp = dout @ W^T (overwritten; with an adapter + du A), dW += inp^T @ dout, db += colsum(dout); dW and db may
// be null (a frozen weight: no weight-gradient product at all); dA += du^T inp, dB += scale dout^T u.
void matmul_backward(float* dinp, float* dW, float* db, const float* dout, const float* inp, const float* W, int N,
                     int IC, int OC, const Lora& lora = Lora{});

// The same for nn.Linear weights W [OC, IC] (Llama): out = (resid ? resid : 0) + inp @ W^T + bias [+ the adapter].
void linear_forward(float* out, const float* inp, const float* W, const float* bias, int N, int IC, int OC,
                    const float* resid, const Lora& lora = Lora{});
// dinp = dout @ W [+ du A] (overwritten, or added to when accumulate; dinp may be null), dW += dout^T @ inp,
// db += colsum(dout) (dW and db may be null: frozen), and the adapter's dA, dB as matmul_backward.
void linear_backward(float* dinp, bool accumulate, float* dW, float* db, const float* dout, const float* inp,
                     const float* W, int N, int IC, int OC, const Lora& lora = Lora{});

struct AttnArgs {
  int B, Tq, Tk, past, NH, hd;
  const float* q;  // row (b,i) at q + (b*Tq+i)*qs
  int qs;
  const float *k, *v;  // key j of batch b at k + b*kbs + j*ks
  long kbs;
  int ks;
  const uint8_t* mask;  // key mask (b,j) at mask[b*mbs+j], or null
  long mbs;
  int group = 1;  // query heads per key/value head (GQA): query head h reads K/V head h / group
};
// out [B*Tq, NH*hd]; att [B,NH,Tq,Tk] softmax probabilities kept for backward.
void attention_forward(float* out, float* att, const AttnArgs& a);
// Training only (Tq == Tk, past 0, q/k/v inside qkv with stride 3C). dqkv is overwritten.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int NH,
                        int hd);

// Grouped-query backward (training, past 0): q, dq, dout rows [B*T, NH*hd]; k, v, dk, dv rows [B*T, NKV*hd]. Query
// head h uses K/V head h / (NH / NKV). dq, dk and dv are overwritten. mask: the forward's key mask [B, T] or null
// (the block-causal GEMM path needs to know which rows saw no key).
void attention_backward_gqa(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                            const float* v, const float* att, const uint8_t* mask, int B, int T, int NH, int NKV, int hd);

void gelu_forward(float* out, const float* inp, long n);
// dinout = dinout * gelu'(inp), in place
void gelu_backward(float* dinout, const float* inp, long n);

// Cross-entropy over R rows of logits [R,V] with targets; returns the summed NLL.
// If gscale != 0 the rows are replaced by dlogits = (softmax - onehot) * gscale.
double crossentropy_rows(float* logits, const int32_t* targets, int R, int V, float gscale, bool backward);

void adamw_update(float* p, float* g, float* m, float* v, long n, float lr, float b1, float b2, float eps, float wd,
                  float clip, int t);
// adamw_update over `count` consecutive tensors of the same buffers (sizes[i] floats; weight decay wd where
// decay[i], else 0), in one parallel region.
void adamw_update_tensors(float* p, float* g, float* m, float* v, const size_t* sizes, const uint8_t* decay, int count,
                          float lr, float b1, float b2, float eps, float wd, float clip, int t);
double sum_squares(const float* x, long n);

}  // namespace sd
