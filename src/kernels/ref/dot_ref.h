// Scalar reference row dot products and activation converters, one per (weight, vec_dot_type)
// pair of ggml's CPU backend. Each follows ggml's generic C code step for step (integer sums per
// block, the same float/double accumulators and the same order) so results agree with llama.cpp
// to float rounding. SIMD kernels are tested against these.
// Signatures match kernels::vec_dot_fn / kernels::from_float_fn; n is a multiple of the block size.
#pragma once

#include <cstdint>

namespace pocketlm::kernels::ref {

// Activation converters (from_float): f32 copy, f16/bf16 rounding, and the reference
// quantizers of the integer activation formats.
void from_float_f32_ref(const float* x, void* act_row, int64_t n);
void from_float_f16_ref(const float* x, void* act_row, int64_t n);
void from_float_bf16_ref(const float* x, void* act_row, int64_t n);
void from_float_q8_0_ref(const float* x, void* act_row, int64_t n);
void from_float_q8_1_ref(const float* x, void* act_row, int64_t n);
void from_float_q8_k_ref(const float* x, void* act_row, int64_t n);

// Float rows: products rounded to float, summed in double (ggml_float).
void vec_dot_f32_f32_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_f16_f16_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_bf16_bf16_ref(int64_t n, float* out, const void* w_row, const void* act_row);

// 32-element blocks: int32 sum per block, scaled and summed in float.
void vec_dot_q4_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_1_q8_1_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q5_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q5_1_q8_1_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q8_0_q8_0_ref(int64_t n, float* out, const void* w_row, const void* act_row);

// 256-element super-blocks against q8_K: eight int32 lanes per block, scaled into eight
// float lane sums that are added last.
void vec_dot_q4_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q5_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q6_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row);

}  // namespace pocketlm::kernels::ref
