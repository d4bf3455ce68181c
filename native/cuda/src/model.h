// GPT-2 and the Llama family (Llama, Qwen2, Qwen3) on one CUDA device, llm.c style: explicit forward/backward
// kernels, no autodiff graph. Parameters, gradients, AdamW m and v each live in ONE contiguous device buffer laid
// out by the table the caller sends (nativeLayoutTable in src/arch/layout.ts, read by native/src/layout_table.h),
// exactly like the native CPU core, so host<->device copies are single memcpys.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../../src/layout_table.h"
#include "cublas_dyn.h"

namespace sdcuda {

using sd::layout::Arch;
using sd::layout::ModelDims;
using sd::layout::TensorRow;

enum class Precision { FP32 = 0, TF32 = 1, BF16 = 2 };

// Host-side batch; mask and pos may be null (all ones / 0..T-1), labels may be null (no loss).
struct Batch {
  int B, T;
  const int* ids;
  const uint8_t* mask;
  const int* pos;
  const int* labels;
};

struct LossOut {
  double loss;  // mean over counted targets, NaN when there are none
  int tokens;
};

struct DeviceInfo {
  bool ok;
  std::string reason;  // one line when !ok
  std::string name, cublas;
  int ccMajor = 0, ccMinor = 0, driverVersion = 0, runtimeVersion = 0;
  size_t totalMemory = 0;
};
DeviceInfo probe_device();

// One model of either architecture. The layout table is checked (and the device probed) before anything is allocated.
class Transformer {
 public:
  Transformer(const ModelDims& dims, const std::vector<TensorRow>& table, Precision precision);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  size_t num_params() const { return nparams_; }
  void set_params(const float* host);
  void get_params(float* host);
  void get_grads(float* host);
  void zero_grads();
  void get_adam(float* m, float* v);
  void set_adam(const float* m, const float* v);

  // logitsHost: [B,T,V] or null; hidden: L+1 host arrays of [B,T,C] or empty.
  void forward(const Batch& b, float* logitsHost, const std::vector<float*>& hidden);
  // Loss of the batch; with `backward`, adds scale * d(mean loss)/d(params) into the gradient buffer.
  LossOut loss(const Batch& b, bool backward, float scale);
  double grad_norm();
  void adamw(double lr, double beta1, double beta2, double eps, double weightDecay, double clipCoef, int step);

  int decode_start(const Batch& prompt, int maxLen, float* lastLogits);
  void decode_step(int id, const int* tokens, const int* positions, float* logits);
  void decode_free(int id);

  size_t bytes() const { return bytes_; }

 private:
  struct Plan;
  struct Session;
  static constexpr size_t kNone = sd::layout::TableLayout::kAbsent;

  void init(const std::vector<TensorRow>& table);
  void release();
  void* dmalloc(size_t bytes);
  void dfree(void* p);
  void upload_batch(const Batch& b, bool withTargets, int* tokens);
  void ensure_plan(int B, int T);
  void free_plan();
  void allocate_plan(Plan& p, size_t BT, size_t att);
  void run_forward(int B, int T, Session* sink);
  void backward(int B, int T);
  // The per-architecture halves of the two passes (passes.cc: GPT-2, llama_passes.cc: Llama family).
  void gpt2_forward(int B, int T, Session* sink);
  void gpt2_backward(int B, int T);
  void llama_forward(int B, int T, Session* sink);
  void llama_backward(int B, int T);
  void gpt2_decode_step(Session& s);
  void llama_decode_step(Session& s);
  // Attention over head-layout q [B,NH,T,hd], k/v [B,NKV,T,hd]: the G = NH/NKV query heads of a KV head are one
  // [G*T, hd] block, so every GEMM is batched over B*NKV. att [B,NH,T,T] keeps the probabilities for backward.
  void attention_forward(float* att, float* y, const float* q, const float* k, const float* v, int B, int T, int NH, int NKV, int hd);
  // dq, dk, dv from dy [B,NH,T,hd]; datt is scratch of att's size.
  void attention_backward(float* dq, float* dk, float* dv, float* datt, const float* dy, const float* att, const float* q, const float* k,
                          const float* v, int B, int T, int NH, int NKV, int hd);
  // Classifier over rows [0, BT) of lnf in chunks. mode 0: logits to host, 1: loss, 2: loss + gradients.
  void classifier(int BT, int mode, float dscale, float* logitsHost);
  // logits[R,V] = rows[R,C] @ head^T, head = wte (tied) or lm_head (casts `rows` into scratchBf in BF16 mode).
  void head_rows(float* logits, const float* rows, int R, void* scratchBf);

  // C(col-major m x n) = alpha * op(A) op(B) + beta * C. A/B bf16 twins are used in BF16 mode when both are given.
  void gemm(int opA, int opB, int m, int n, int k, const float* A, const void* Abf, int lda, const float* B, const void* Bbf, int ldb,
            float* C, int ldc, float beta, float alpha = 1.f);
  void gemm_batched(int opA, int opB, int m, int n, int k, float alpha, const float* A, int lda, long long sA, const float* B, int ldb,
                    long long sB, float beta, float* C, int ldc, long long sC, int batch);
  // Row-major linear layer out[M,N] = in[M,K] @ W[K,N] + bias. inBf: bf16 copy of `in` (BF16 mode; cast into
  // `scratchBf` when null).
  void linear_forward(float* out, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N, void* scratchBf);
  // dIn[M,K] = dOut @ W^T (skipped when dIn is null), dW += in^T @ dOut, dBias += colsum(dOut).
  void linear_backward(float* dIn, const float* dOut, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N);
  // nn.Linear (Llama): out[M,N] (rows `ldo` floats apart, so it can be a column slice) = in[M,K] @ W^T + bias
  // for W [N,K]; bias may be kNone. inBf as in linear_forward, but never cast here (the caller owns the copy).
  void linear_t_forward(float* out, int ldo, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N);
  // dIn[M,K] = (beta * dIn) + dOut @ W, dW += dOut^T @ in, dBias += colsum(dOut), for dOut [M,N] with rows `ldd`
  // floats apart and its bf16 copy dOutBf (BF16 mode, or null).
  void linear_t_backward(float* dIn, float beta, const float* dOut, int ldd, const void* dOutBf, const float* in, const void* inBf, size_t w,
                         size_t bias, int M, int K, int N);
  // BF16 mode: a bf16 copy of x[n] in the plan's scratch (valid until the next call); null otherwise.
  const void* scratch_bf16(const float* x, size_t n);

  float* P(size_t off) const { return off == kNone ? nullptr : params_ + off; }
  float* G(size_t off) const { return off == kNone ? nullptr : grads_ + off; }
  // Offsets of the layout table's slots (sd::layout::gpt2 / llama enums); kNone for a tensor this model lacks.
  size_t top(int slot) const { return layout_.top[slot]; }
  bool llama() const { return cfg_.arch == Arch::Llama; }
  int qkvWidth() const { return (cfg_.NH + 2 * cfg_.NKV) * cfg_.HD; }
  const void* Pbf(size_t off) const;
  const void* bf_at(const void* base, size_t off) const;

  ModelDims cfg_;
  Precision prec_;
  sd::layout::TableLayout layout_;
  const CublasApi* blas_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  size_t nparams_ = 0, bytes_ = 0;
  size_t wte_ = kNone, head_ = kNone;  // token embeddings; the classifier's weights (= wte_ when tied)
  float* invFreq_ = nullptr;          // Llama: RoPE inverse frequencies [HD/2], computed as HF does in fp32
  float *params_ = nullptr, *grads_ = nullptr, *m_ = nullptr, *v_ = nullptr;
  void* paramsBf_ = nullptr;  // BF16 mode: bf16 shadow of params_, refreshed by set_params and AdamW
  long long* segEnd_ = nullptr;
  uint8_t* segDecay_ = nullptr;
  int nseg_ = 0;
  double* normAcc_ = nullptr;
  std::map<void*, size_t> sizes_;
  std::unique_ptr<Plan> plan_;
  std::map<int, std::unique_ptr<Session>> sessions_;
  int nextSession_ = 1;
};

}  // namespace sdcuda
