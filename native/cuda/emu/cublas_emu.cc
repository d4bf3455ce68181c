// CPU EMULATION ONLY: column-major GemmEx / GemmStridedBatchedEx with the cuBLAS argument conventions, so the
// transposes and leading dimensions chosen in src/*.cc are exercised exactly as cuBLAS would read them.
// bf16 operands are uint16 bit patterns (the top half of an fp32).
#include <cstdint>
#include <cstring>
#include <vector>

#include "cublas_dyn.h"

namespace sdcuda {
namespace {

// fp32 view of an operand: bf16 bit patterns (the top half of an fp32) are widened into `tmp`.
const float* as_f32(const void* p, cudaDataType t, size_t extent, std::vector<float>& tmp) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p);
  tmp.resize(extent);
  const uint16_t* h = static_cast<const uint16_t*>(p);
  for (size_t i = 0; i < extent; i++) {
    const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
    std::memcpy(&tmp[i], &bits, 4);
  }
  return tmp.data();
}

void gemm_one(int opA, int opB, int m, int n, int k, float alpha, const void* Ap, cudaDataType at, int lda, const void* Bp, cudaDataType bt,
              int ldb, float beta, float* C, int ldc) {
  std::vector<float> ta, tb;
  const size_t extA = opA == kOpN ? static_cast<size_t>(lda) * (k - 1) + m : static_cast<size_t>(lda) * (m - 1) + k;
  const size_t extB = opB == kOpN ? static_cast<size_t>(ldb) * (n - 1) + k : static_cast<size_t>(ldb) * (k - 1) + n;
  const float* A = as_f32(Ap, at, extA, ta);
  const float* B = as_f32(Bp, bt, extB, tb);
  auto b_at = [&](int l, int j) { return opB == kOpN ? B[l + static_cast<size_t>(j) * ldb] : B[j + static_cast<size_t>(l) * ldb]; };
  for (int j = 0; j < n; j++) {
    float* c = C + static_cast<size_t>(j) * ldc;
    if (opA == kOpN) {  // axpy form: columns of A are contiguous
      std::vector<float> acc(m, 0.f);
      for (int l = 0; l < k; l++) {
        const float bl = b_at(l, j);
        if (bl == 0.f) continue;
        const float* a = A + static_cast<size_t>(l) * lda;
        for (int i = 0; i < m; i++) acc[i] += a[i] * bl;
      }
      for (int i = 0; i < m; i++) c[i] = alpha * acc[i] + (beta == 0.f ? 0.f : beta * c[i]);
    } else {  // dot form: rows of op(A) are contiguous
      for (int i = 0; i < m; i++) {
        const float* a = A + static_cast<size_t>(i) * lda;
        float acc = 0.f;
        for (int l = 0; l < k; l++) acc += a[l] * b_at(l, j);
        c[i] = alpha * acc + (beta == 0.f ? 0.f : beta * c[i]);
      }
    }
  }
}

cublasStatus_t create(cublasHandle_t* h) {
  static int token;
  *h = reinterpret_cast<cublasHandle_t>(&token);
  return kCublasSuccess;
}
cublasStatus_t destroy(cublasHandle_t) { return kCublasSuccess; }
cublasStatus_t set_stream(cublasHandle_t, cudaStream_t) { return kCublasSuccess; }
cublasStatus_t get_version(cublasHandle_t, int* v) {
  *v = 0;
  return kCublasSuccess;
}
cublasStatus_t gemm_ex(cublasHandle_t, int opA, int opB, int m, int n, int k, const void* alpha, const void* A, cudaDataType at, int lda,
                       const void* B, cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc, int, int) {
  if (ct != CUDA_R_32F) return 7;  // CUBLAS_STATUS_INVALID_VALUE: the core always writes fp32
  gemm_one(opA, opB, m, n, k, *static_cast<const float*>(alpha), A, at, lda, B, bt, ldb, *static_cast<const float*>(beta),
           static_cast<float*>(C), ldc);
  return kCublasSuccess;
}
cublasStatus_t gemm_batched(cublasHandle_t, int opA, int opB, int m, int n, int k, const void* alpha, const void* A, cudaDataType at, int lda,
                            long long sA, const void* B, cudaDataType bt, int ldb, long long sB, const void* beta, void* C, cudaDataType ct,
                            int ldc, long long sC, int batch, int, int) {
  if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F) return 7;
  for (int b = 0; b < batch; b++) {
    gemm_one(opA, opB, m, n, k, *static_cast<const float*>(alpha), static_cast<const float*>(A) + b * sA, at, lda,
             static_cast<const float*>(B) + b * sB, bt, ldb, *static_cast<const float*>(beta), static_cast<float*>(C) + b * sC, ldc);
  }
  return kCublasSuccess;
}

}  // namespace

const CublasApi* load_cublas(std::string&) {
  static CublasApi api = [] {
    CublasApi a;
    a.create = create;
    a.destroy = destroy;
    a.setStream = set_stream;
    a.getVersion = get_version;
    a.gemmEx = gemm_ex;
    a.gemmStridedBatchedEx = gemm_batched;
    a.library = "cpu-emulated-cublas";
    return a;
  }();
  return &api;
}

}  // namespace sdcuda
