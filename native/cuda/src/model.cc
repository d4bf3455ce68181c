// Transformer: construction from the layout table, the contiguous parameter/gradient/optimizer buffers, GEMM
// dispatch (Conv1D and nn.Linear layers), AdamW and the probe.
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "model_internal.h"

namespace sdcuda {

DeviceInfo probe_device() {
  DeviceInfo info{};
  info.ok = false;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  info.runtimeVersion = runtime;
  info.driverVersion = driver;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorInsufficientDriver && driver == 0) {
    info.reason = "no CUDA driver: libcuda.so.1 is not installed or not loadable (no NVIDIA driver on this machine)";
    return info;
  }
  if (e == cudaErrorInsufficientDriver) {
    info.reason = "the NVIDIA driver (CUDA " + std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10) +
                  ") is older than the CUDA runtime this addon was built with (" + std::to_string(runtime / 1000) + "." +
                  std::to_string((runtime % 1000) / 10) + ")";
    return info;
  }
  if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
    info.reason = "no GPU visible: the CUDA driver reports no device (check CUDA_VISIBLE_DEVICES and nvidia-smi)";
    return info;
  }
  if (e != cudaSuccess) {
    info.reason = std::string("CUDA initialisation failed: ") + cudaGetErrorString(e);
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    info.reason = "cudaGetDeviceProperties failed on device 0";
    return info;
  }
  info.name = prop.name;
  info.ccMajor = prop.major;
  info.ccMinor = prop.minor;
  info.totalMemory = prop.totalGlobalMem;
  if (prop.major < 8) {
    info.reason = "GPU " + info.name + " has compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                  "; this build targets sm_80 and newer (Ampere+)";
    return info;
  }
  std::string err;
  const CublasApi* api = load_cublas(err);
  if (!api) {
    info.reason = err;
    return info;
  }
  cublasHandle_t h = nullptr;
  if (api->create(&h) != kCublasSuccess) {
    info.reason = "cublasCreate failed on " + info.name;
    return info;
  }
  int ver = 0;
  api->getVersion(h, &ver);
  api->destroy(h);
  info.cublas = api->library + " " + std::to_string(ver);
  info.ok = true;
  return info;
}

void* Transformer::dmalloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) bytes = 16;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    throw std::runtime_error("cudaMalloc of " + std::to_string(bytes >> 20) + " MiB failed (" + cudaGetErrorString(e) + "); " +
                             std::to_string(bytes_ >> 20) + " MiB already held by this core");
  }
  sizes_[p] = bytes;
  bytes_ += bytes;
  return p;
}

void Transformer::dfree(void* p) {
  if (!p) return;
  auto it = sizes_.find(p);
  if (it != sizes_.end()) {
    bytes_ -= it->second;
    sizes_.erase(it);
  }
  cudaFree(p);
}

Transformer::Transformer(const ModelDims& dims, const std::vector<TensorRow>& table, Precision precision) : cfg_(dims), prec_(precision) {
  try {
    init(table);
  } catch (...) {
    release();  // a throwing constructor gets no destructor call
    throw;
  }
}

void Transformer::init(const std::vector<TensorRow>& table) {
  // Offsets, sizes and decay come from the table alone; it throws naming the role of a bad row.
  layout_ = sd::layout::parse_table(cfg_, table);
  namespace g2 = sd::layout::gpt2;
  namespace ll = sd::layout::llama;
  wte_ = llama() ? top(ll::EMBED) : top(g2::WTE);
  head_ = llama() && !cfg_.tied ? top(ll::LM_HEAD) : wte_;
  const DeviceInfo dev = probe_device();  // the same one-line reasons as the probe, before any allocation
  if (!dev.ok) throw std::runtime_error(dev.reason);
  std::string err;
  blas_ = load_cublas(err);
  if (!blas_) throw std::runtime_error(err);
  SD_CUDA(cudaStreamCreate(&stream_));
  if (blas_->create(&handle_) != kCublasSuccess) throw std::runtime_error("cublasCreate failed");
  blas_->setStream(handle_, stream_);

  nparams_ = layout_.total;
  params_ = static_cast<float*>(dmalloc(nparams_ * 4));
  grads_ = static_cast<float*>(dmalloc(nparams_ * 4));
  m_ = static_cast<float*>(dmalloc(nparams_ * 4));
  v_ = static_cast<float*>(dmalloc(nparams_ * 4));
  if (prec_ == Precision::BF16) paramsBf_ = dmalloc(nparams_ * 2);
  SD_CUDA(cudaMemsetAsync(params_, 0, nparams_ * 4, stream_));
  SD_CUDA(cudaMemsetAsync(grads_, 0, nparams_ * 4, stream_));
  SD_CUDA(cudaMemsetAsync(m_, 0, nparams_ * 4, stream_));
  SD_CUDA(cudaMemsetAsync(v_, 0, nparams_ * 4, stream_));

  // AdamW's segments are the table's rows: exclusive end offsets and the row's decay flag.
  nseg_ = static_cast<int>(layout_.sizes.size());
  std::vector<long long> ends(nseg_);
  long long end = 0;
  for (int i = 0; i < nseg_; i++) ends[i] = end += static_cast<long long>(layout_.sizes[i]);
  segEnd_ = static_cast<long long*>(dmalloc(nseg_ * sizeof(long long)));
  segDecay_ = static_cast<uint8_t*>(dmalloc(nseg_));
  normAcc_ = static_cast<double*>(dmalloc(sizeof(double)));
  SD_CUDA(cudaMemcpyAsync(segEnd_, ends.data(), nseg_ * sizeof(long long), cudaMemcpyHostToDevice, stream_));
  SD_CUDA(cudaMemcpyAsync(segDecay_, layout_.decay.data(), nseg_, cudaMemcpyHostToDevice, stream_));
  std::vector<float> inv;
  if (llama()) {
    // HF: 1 / theta ** (arange(0, hd, 2).float() / hd), every step in fp32.
    for (int i = 0; i < cfg_.HD / 2; i++)
      inv.push_back(1.0f / std::pow(cfg_.ropeTheta, static_cast<float>(2 * i) / static_cast<float>(cfg_.HD)));
    invFreq_ = static_cast<float*>(dmalloc(inv.size() * 4));
    SD_CUDA(cudaMemcpyAsync(invFreq_, inv.data(), inv.size() * 4, cudaMemcpyHostToDevice, stream_));
  }
  SD_CUDA(cudaStreamSynchronize(stream_));
}

Transformer::~Transformer() { release(); }

void Transformer::release() {
  if (stream_) cudaStreamSynchronize(stream_);
  sessions_.clear();  // Session and plan memory is owned through sizes_ and freed below
  plan_.reset();
  for (auto& kv : sizes_) cudaFree(kv.first);
  sizes_.clear();
  bytes_ = 0;
  if (handle_) blas_->destroy(handle_);
  handle_ = nullptr;
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

const void* Transformer::Pbf(size_t off) const { return paramsBf_ && off != kNone ? static_cast<const uint16_t*>(paramsBf_) + off : nullptr; }
const void* Transformer::bf_at(const void* base, size_t off) const { return base ? static_cast<const uint16_t*>(base) + off : nullptr; }

void Transformer::set_params(const float* host) {
  SD_CUDA(cudaMemcpyAsync(params_, host, nparams_ * 4, cudaMemcpyHostToDevice, stream_));
  if (paramsBf_) cast_to_bf16(paramsBf_, params_, nparams_, stream_);
  SD_CUDA(cudaStreamSynchronize(stream_));
}
void Transformer::get_params(float* host) {
  SD_CUDA(cudaMemcpyAsync(host, params_, nparams_ * 4, cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
}
void Transformer::get_grads(float* host) {
  SD_CUDA(cudaMemcpyAsync(host, grads_, nparams_ * 4, cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
}
void Transformer::zero_grads() { SD_CUDA(cudaMemsetAsync(grads_, 0, nparams_ * 4, stream_)); }
void Transformer::get_adam(float* m, float* v) {
  SD_CUDA(cudaMemcpyAsync(m, m_, nparams_ * 4, cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaMemcpyAsync(v, v_, nparams_ * 4, cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
}
void Transformer::set_adam(const float* m, const float* v) {
  SD_CUDA(cudaMemcpyAsync(m_, m, nparams_ * 4, cudaMemcpyHostToDevice, stream_));
  SD_CUDA(cudaMemcpyAsync(v_, v, nparams_ * 4, cudaMemcpyHostToDevice, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
}

double Transformer::grad_norm() {
  SD_CUDA(cudaMemsetAsync(normAcc_, 0, sizeof(double), stream_));
  sum_squares(normAcc_, grads_, nparams_, stream_);
  double sq = 0;
  SD_CUDA(cudaMemcpyAsync(&sq, normAcc_, sizeof(double), cudaMemcpyDeviceToHost, stream_));
  SD_CUDA(cudaStreamSynchronize(stream_));
  return std::sqrt(sq);
}

void Transformer::adamw(double lr, double beta1, double beta2, double eps, double weightDecay, double clipCoef, int step) {
  AdamWArgs a{};
  a.lr = static_cast<float>(lr);
  a.beta1 = static_cast<float>(beta1);
  a.beta2 = static_cast<float>(beta2);
  a.eps = static_cast<float>(eps);
  a.decayFactor = static_cast<float>(1.0 - lr * weightDecay);
  a.clipCoef = static_cast<float>(clipCoef);
  a.stepSize = static_cast<float>(lr / (1.0 - std::pow(beta1, step)));
  a.bc2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));
  adamw_update(params_, grads_, m_, v_, paramsBf_, segEnd_, segDecay_, nseg_, nparams_, a, stream_);
  SD_CUDA(cudaStreamSynchronize(stream_));
}

void Transformer::gemm(int opA, int opB, int m, int n, int k, const float* A, const void* Abf, int lda, const float* B, const void* Bbf, int ldb,
               float* C, int ldc, float beta, float alpha) {
  const bool bf = prec_ == Precision::BF16 && Abf && Bbf;
  const int compute = prec_ == Precision::FP32 || bf ? kCompute32F : kCompute32FFastTF32;
  const cudaDataType ab = bf ? CUDA_R_16BF : CUDA_R_32F;
  const cublasStatus_t st = blas_->gemmEx(handle_, opA, opB, m, n, k, &alpha, bf ? Abf : A, ab, lda, bf ? Bbf : B, ab, ldb, &beta, C,
                                          CUDA_R_32F, ldc, compute, kGemmDefault);
  if (st != kCublasSuccess) throw std::runtime_error("cublasGemmEx failed with status " + std::to_string(st));
}

void Transformer::gemm_batched(int opA, int opB, int m, int n, int k, float alpha, const float* A, int lda, long long sA, const float* B, int ldb,
                       long long sB, float beta, float* C, int ldc, long long sC, int batch) {
  const int compute = prec_ == Precision::FP32 ? kCompute32F : kCompute32FFastTF32;
  const cublasStatus_t st = blas_->gemmStridedBatchedEx(handle_, opA, opB, m, n, k, &alpha, A, CUDA_R_32F, lda, sA, B, CUDA_R_32F, ldb, sB,
                                                        &beta, C, CUDA_R_32F, ldc, sC, batch, compute, kGemmDefault);
  if (st != kCublasSuccess) throw std::runtime_error("cublasGemmStridedBatchedEx failed with status " + std::to_string(st));
}

// Row-major out[M,N] = in[M,K] @ W[K,N] is column-major out^T = W^T in^T: gemm(N, N, N, M, K, W, in).
void Transformer::linear_forward(float* out, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N, void* scratchBf) {
  if (prec_ == Precision::BF16 && !inBf) {
    cast_to_bf16(scratchBf, in, static_cast<size_t>(M) * K, stream_);
    inBf = scratchBf;
  }
  gemm(kOpN, kOpN, N, M, K, P(w), Pbf(w), N, in, inBf, K, out, N, 0.f);
  add_bias(out, P(bias), M, N, N, stream_);
}

void Transformer::linear_backward(float* dIn, const float* dOut, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N) {
  const void* dOutBf = nullptr;
  if (prec_ == Precision::BF16) {
    cast_to_bf16(plan_->scratchBf, dOut, static_cast<size_t>(M) * N, stream_);
    dOutBf = plan_->scratchBf;
  }
  if (dIn) gemm(kOpT, kOpN, K, M, N, P(w), Pbf(w), N, dOut, dOutBf, N, dIn, K, 0.f);  // dIn = dOut @ W^T
  gemm(kOpN, kOpT, N, K, M, dOut, dOutBf, N, in, inBf, K, G(w), N, 1.f);              // dW += in^T @ dOut
  bias_backward(G(bias), dOut, M, N, N, stream_);
}

// Row-major out[M,N] = in[M,K] @ W^T with W [N,K] row-major (a K x N column-major matrix): out^T = op_T(W) in^T.
void Transformer::linear_t_forward(float* out, int ldo, const float* in, const void* inBf, size_t w, size_t bias, int M, int K, int N) {
  gemm(kOpT, kOpN, N, M, K, P(w), Pbf(w), K, in, inBf, K, out, ldo, 0.f);
  if (bias != kNone) add_bias(out, P(bias), M, N, ldo, stream_);
}

void Transformer::linear_t_backward(float* dIn, float beta, const float* dOut, int ldd, const void* dOutBf, const float* in, const void* inBf,
                                    size_t w, size_t bias, int M, int K, int N) {
  if (dIn) gemm(kOpN, kOpN, K, M, N, P(w), Pbf(w), K, dOut, dOutBf, ldd, dIn, K, beta);  // dIn^T = W^T dOut^T
  gemm(kOpN, kOpT, K, N, M, in, inBf, K, dOut, dOutBf, ldd, G(w), K, 1.f);            // dW^T += in^T dOut
  if (bias != kNone) bias_backward(G(bias), dOut, M, N, ldd, stream_);
}

const void* Transformer::scratch_bf16(const float* x, size_t n) {
  if (prec_ != Precision::BF16) return nullptr;
  cast_to_bf16(plan_->scratchBf, x, n, stream_);
  return plan_->scratchBf;
}

}  // namespace sdcuda
