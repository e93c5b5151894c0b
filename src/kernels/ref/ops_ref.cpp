// Scalar reference implementations of the element-wise operations in kernels.h. They mirror
// ggml's float order of operations (e.g. RoPE's running theta product) to stay close to llama.cpp.
#include <cmath>

#include <array>

#include "kernels/kernels.h"
#include "tensor/fp16.h"

namespace pocketlm::kernels {

void rmsnorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double sum = 0.0;  // ggml accumulates the mean of squares in double (ggml_float)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

namespace {

// gelu(h) rounded to f16 for every f16 value h: ggml's ggml_table_gelu_f16.
const std::array<fp16_t, 65536>& gelu_table() {
  static const std::array<fp16_t, 65536> table = [] {
    std::array<fp16_t, 65536> t{};
    constexpr float k_sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    constexpr float k_coef_a = 0.044715f;
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float x = fp16_to_f32(static_cast<fp16_t>(i));
      t[i] = f32_to_fp16(0.5f * x * (1.0f + std::tanh(k_sqrt_2_over_pi * x * (1.0f + k_coef_a * x * x))));
    }
    return t;
  }();
  return table;
}

}  // namespace

void geglu(float* gate, const float* up, int64_t n) {
  const auto& table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    float y = g;
    if (g <= -10.0f) {
      y = 0.0f;
    } else if (g < 10.0f) {
      y = fp16_to_f32(table[f32_to_fp16(g)]);
    }
    gate[i] = y * up[i];
  }
}

void rope(float* x, int n_head, int head_dim, int64_t pos, const rope_params& p) {
  // theta_i = pos * base^(-2i/n_rot), computed as a running product like ggml's rope kernel.
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  const int half = p.n_rot / 2;
  for (int h = 0; h < n_head; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    float theta = static_cast<float>(pos);
    for (int i = 0; i < half; ++i) {
      const float t = p.freq_scale * (p.freq_factors ? theta / p.freq_factors[i] : theta);
      const float c = std::cos(t) * p.attn_factor;
      const float s = std::sin(t) * p.attn_factor;
      const int a = p.mode == rope_mode::normal ? 2 * i : i;
      const int b = p.mode == rope_mode::normal ? 2 * i + 1 : i + half;
      const float x0 = v[a];
      const float x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
      theta *= theta_scale;
    }
  }
}

}  // namespace pocketlm::kernels
