// Reference converters, float-row dots and 32-element block dots (see dot_ref.h).
#include "kernels/ref/dot_ref.h"

#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::ref {

void from_float_f32_ref(const float* x, void* act_row, int64_t n) {
  std::memcpy(act_row, x, static_cast<size_t>(n) * sizeof(float));
}

void from_float_f16_ref(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<fp16_t*>(act_row);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void from_float_bf16_ref(const float* x, void* act_row, int64_t n) {
  auto* y = static_cast<bf16_t*>(act_row);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void from_float_q8_0_ref(const float* x, void* act_row, int64_t n) { quantize_row(ggml_type::q8_0, x, act_row, n); }

void from_float_q8_1_ref(const float* x, void* act_row, int64_t n) { quantize_row(ggml_type::q8_1, x, act_row, n); }

void from_float_q8_k_ref(const float* x, void* act_row, int64_t n) { quantize_row(ggml_type::q8_k, x, act_row, n); }

// ggml's generic float dots: each product is rounded to float, the running sum is a double.
void vec_dot_f32_f32_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const float*>(w_row);
  const auto* a = static_cast<const float*>(act_row);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i] * a[i]);
  *out = static_cast<float>(sum);
}

void vec_dot_f16_f16_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const fp16_t*>(w_row);
  const auto* a = static_cast<const fp16_t*>(act_row);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(fp16_to_f32(w[i]) * fp16_to_f32(a[i]));
  }
  *out = static_cast<float>(sum);
}

void vec_dot_bf16_bf16_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const bf16_t*>(w_row);
  const auto* a = static_cast<const bf16_t*>(act_row);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
  }
  *out = static_cast<float>(sum);
}

// In the 32-element formats byte j holds element j (low nibble) and element j + 16 (high
// nibble); q5's fifth bits sit in the 32-bit little-endian word qh, bit i for element i.
namespace {

constexpr int half_block = 16;

uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
         static_cast<uint32_t>(qh[3]) << 24;
}

// Sum over a block of q[i] * y[i], where q[i] is the 4-bit (plus optional fifth bit) weight
// code minus `offset`.
int32_t block_sum_nibbles(const uint8_t* qs, uint32_t qh, int offset, const int8_t* y) {
  int32_t sum = 0;
  for (int j = 0; j < half_block; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>((qh >> j) & 1u) << 4;
    const int hi = (qs[j] >> 4) | static_cast<int>((qh >> (j + half_block)) & 1u) << 4;
    sum += (lo - offset) * y[j];
    sum += (hi - offset) * y[j + half_block];
  }
  return sum;
}

}  // namespace

void vec_dot_q4_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q4_0*>(w_row);
  const auto* y = static_cast<const block_q8_0*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk4_0; ++b) {
    const int32_t sumi = block_sum_nibbles(x[b].qs, 0, 8, y[b].qs);
    // ggml scales by the two deltas one after the other here (two roundings).
    sum += static_cast<float>(sumi) * fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
  }
  *out = sum;
}

void vec_dot_q4_1_q8_1_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q4_1*>(w_row);
  const auto* y = static_cast<const block_q8_1*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk4_1; ++b) {
    const int32_t sumi = block_sum_nibbles(x[b].qs, 0, 0, y[b].qs);
    // x = d*q + m, so the m term needs only the activation block's precomputed d*sum(qs).
    const float dd = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
    sum += dd * static_cast<float>(sumi) + fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  *out = sum;
}

void vec_dot_q5_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q5_0*>(w_row);
  const auto* y = static_cast<const block_q8_0*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk5_0; ++b) {
    const int32_t sumi = block_sum_nibbles(x[b].qs, load_qh(x[b].qh), 16, y[b].qs);
    sum += (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) * static_cast<float>(sumi);
  }
  *out = sum;
}

void vec_dot_q5_1_q8_1_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q5_1*>(w_row);
  const auto* y = static_cast<const block_q8_1*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk5_1; ++b) {
    const int32_t sumi = block_sum_nibbles(x[b].qs, load_qh(x[b].qh), 0, y[b].qs);
    const float dd = fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d);
    sum += dd * static_cast<float>(sumi) + fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  *out = sum;
}

void vec_dot_q8_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q8_0*>(w_row);
  const auto* y = static_cast<const block_q8_0*>(act_row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk8_0; ++b) {
    int32_t sumi = 0;
    for (int j = 0; j < qk8_0; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    sum += static_cast<float>(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
  }
  *out = sum;
}

}  // namespace pocketlm::kernels::ref
