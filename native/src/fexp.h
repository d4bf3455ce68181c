// Vectorizable expf shared by the row kernels (kernels.cc, llama_kernels.cc).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sd {

// Cephes polynomial, ~1 ulp on the clamped range. libm's expf does not vectorize without -ffast-math, and the
// softmax over 50257 logits is hot.
inline float fexp(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float s;
  std::memcpy(&s, &e, 4);
  return y * s;
}
}  // namespace sd
