// Kernels of the Llama block that GPT-2 does not have (llama_kernels.cc): token embedding without positions,
// RMSNorm, rotary embeddings, SwiGLU. Row-major; N = rows. The products and attention are in kernels.h.
#pragma once
#include <cstdint>

namespace sd {

// out[r] = E[ids[r]]; its backward scatter-adds dout into dE.
void embedding_forward(float* out, const float* E, const int32_t* ids, long N, int C);
void embedding_backward(float* dE, const float* dout, const int32_t* ids, long N, int C);

// out = x * rsqrt(mean(x^2) + eps) * w over rows of C; keeps rstd per row.
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, long N, int C, float eps);
// dw += ... (dw may be null: frozen); dinp += ... when accumulate, else dinp = ... (dinp may then be dout itself:
// in place).
void rmsnorm_backward(float* dinp, bool accumulate, float* dw, const float* dout, const float* inp, const float* w,
                      const float* rstd, long N, int C);

// cos and sin of every row's rotary angles, as HF computes them (inv_freq = theta^(-2i/hd) in float32, angle
// = position * inv_freq): cs [N][hd] holds cos of the hd/2 angles, then their sin. Row r's position is pos[r], or
// past + r % T without position ids. Throws std::out_of_range for a position outside [0, maxPos).
void rope_tables(float* cs, const int32_t* pos, int B, int T, int past, int hd, float theta, int maxPos);
// HF's rotate_half rotation (dim i pairs with i + hd/2) of every head of every row, in place: x [N][nh*hd].
void rope_forward(float* x, const float* cs, long N, int nh, int hd);
// Its transpose (rotation by the opposite angle), in place on the gradient.
void rope_backward(float* dx, const float* cs, long N, int nh, int hd);

// h = silu(gate) * up over n elements.
void swiglu_forward(float* h, const float* gate, const float* up, long n);
// From dh: dgate = dh * up * silu'(gate) and dup = dh * silu(gate); dgate may be dh itself (in place).
void swiglu_backward(float* dgate, float* dup, const float* dh, const float* gate, const float* up, long n);

}  // namespace sd
