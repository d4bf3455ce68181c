// The built-in GEMM compiled three times from gemm_isa.h: AVX-512, AVX2+FMA and baseline x86-64
// (portable C++ elsewhere). gemm.cc picks one at run time from CPUID (or SOCRATIC_DISTILL_GEMM).
// fp-contract=fast lets `acc += a * b` become one FMA (-std=c++17 turns contraction off).
#include <cstdlib>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")

#define SD_NS scalar_isa
#define SD_VW 4
#define SD_MR 4
#include "gemm_isa.h"
#include "attn_isa.h"
#undef SD_NS
#undef SD_VW
#undef SD_MR

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SD_NS avx2_isa
#define SD_VW 8
#define SD_MR 6
#include "gemm_isa.h"
#include "attn_isa.h"
#undef SD_NS
#undef SD_VW
#undef SD_MR
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#define SD_NS avx512_isa
#define SD_VW 16
#define SD_MR 12  // 24 accumulators + 2 B vectors + 1 broadcast of 32 registers (14 measured no better)
#include "gemm_isa.h"
#include "attn_isa.h"
#undef SD_NS
#undef SD_VW
#undef SD_MR
#pragma GCC pop_options
#endif

#pragma GCC pop_options

namespace sd {
const GemmIsa kGemmScalar = {"scalar", scalar_isa::MR, scalar_isa::NR, scalar_isa::blocked, scalar_isa::few_rows,
                              scalar_isa::attn_fwd, scalar_isa::attn_bwd};
#if defined(__x86_64__)
const GemmIsa kGemmAvx2 = {"avx2", avx2_isa::MR, avx2_isa::NR, avx2_isa::blocked, avx2_isa::few_rows,
                              avx2_isa::attn_fwd, avx2_isa::attn_bwd};
const GemmIsa kGemmAvx512 = {"avx512", avx512_isa::MR, avx512_isa::NR, avx512_isa::blocked, avx512_isa::few_rows,
                              avx512_isa::attn_fwd, avx512_isa::attn_bwd};
#else
const GemmIsa kGemmAvx2 = kGemmScalar, kGemmAvx512 = kGemmScalar;
#endif
}  // namespace sd
