// GPT-2 on one CUDA device, llm.c style: explicit forward/backward kernels, no autodiff graph.
// Parameters, gradients, AdamW m and v each live in ONE contiguous device buffer in paramLayout order
// (src/arch/layout.ts), exactly like the native CPU core, so host<->device copies are single memcpys.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cublas_dyn.h"

namespace sdcuda {

struct ModelConfig {
  int vocab, maxT, C, L, NH, F;
  float eps;
};

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

class Gpt {
 public:
  Gpt(const ModelConfig& cfg, Precision precision);
  ~Gpt();
  Gpt(const Gpt&) = delete;
  Gpt& operator=(const Gpt&) = delete;

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
  struct Layer {
    size_t ln1w, ln1b, qkvw, qkvb, apw, apb, ln2w, ln2b, fcw, fcb, fpw, fpb;
  };

  void init();
  void release();
  void* dmalloc(size_t bytes);
  void dfree(void* p);
  void upload_batch(const Batch& b, bool withTargets, int* tokens);
  void ensure_plan(int B, int T);
  void free_plan();
  void allocate_plan(Plan& p, size_t BT, size_t att, size_t C, size_t F, size_t V, size_t wide, bool bf);
  void run_forward(int B, int T, Session* sink);
  void backward(int B, int T);
  // Classifier over rows [0, BT) of lnf in chunks. mode 0: logits to host, 1: loss, 2: loss + gradients.
  void classifier(int BT, int mode, float dscale, float* logitsHost);
  // logits[R,V] = rows[R,C] @ wte^T (casts `rows` into scratchBf in BF16 mode).
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

  float* P(size_t off) const { return params_ + off; }
  float* G(size_t off) const { return grads_ + off; }
  const void* Pbf(size_t off) const;
  void* bf_at(void* base, size_t off) const;

  ModelConfig cfg_;
  Precision prec_;
  const CublasApi* blas_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
  size_t nparams_ = 0, bytes_ = 0;
  std::vector<size_t> offsets_;  // start of every tensor in layout order, plus the total at the end
  std::vector<Layer> layers_;
  size_t wte_ = 0, wpe_ = 0, lnfw_ = 0, lnfb_ = 0;
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
