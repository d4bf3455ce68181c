// Hot row loops are compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at load time (ifunc),
// so one binary runs everywhere. Shared by gemm.cc and kernels.cc.
#pragma once

#if defined(__x86_64__) && !defined(SD_NO_CLONES)
#define SD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SD_CLONES
#endif
