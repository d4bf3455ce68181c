// cuBLAS loaded at run time with dlopen, so the addon builds where only the CUDA runtime is installed (CI has
// nvcc + cudart but no cuBLAS). We declare just what we call; values are the documented ones from cublas_api.h
// (cuBLAS 12/13): CUBLAS_STATUS_SUCCESS = 0, CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_GEMM_DEFAULT = -1,
// CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77. Data types come from library_types.h (cudart).
#pragma once
#include <cuda_runtime_api.h>
#include <library_types.h>
#include <string>

namespace sdcuda {

using cublasHandle_t = struct cublasContext*;  // opaque
using cublasStatus_t = int;

constexpr int kCublasSuccess = 0;
constexpr int kOpN = 0;
constexpr int kOpT = 1;
constexpr int kGemmDefault = -1;
constexpr int kCompute32F = 68;
constexpr int kCompute32FFastTF32 = 77;

struct CublasApi {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;                       // cublasCreate_v2
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;                       // cublasDestroy_v2
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t) = nullptr;       // cublasSetStream_v2
  cublasStatus_t (*getVersion)(cublasHandle_t, int*) = nullptr;              // cublasGetVersion_v2
  cublasStatus_t (*setWorkspace)(cublasHandle_t, void*, size_t) = nullptr;   // cublasSetWorkspace_v2 (optional)
  // cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo)
  cublasStatus_t (*gemmEx)(cublasHandle_t, int, int, int, int, int, const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                           int, const void*, void*, cudaDataType, int, int, int) = nullptr;
  // cublasGemmStridedBatchedEx(..., A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount,
  //                            computeType, algo)
  cublasStatus_t (*gemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int, const void*, const void*, cudaDataType, int, long long,
                                         const void*, cudaDataType, int, long long, const void*, void*, cudaDataType, int, long long, int,
                                         int, int) = nullptr;
  std::string library;  // the soname that was loaded
};

// Loads cuBLAS once; returns nullptr and sets `error` (one line) when it is missing or incomplete.
const CublasApi* load_cublas(std::string& error);

}  // namespace sdcuda
