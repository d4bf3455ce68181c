// CPU EMULATION ONLY: the cudaDataType values the CUDA core passes to cuBLAS (real values from library_types.h).
#pragma once
typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType;
