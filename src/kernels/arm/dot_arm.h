// AArch64 SIMD row dots for the hot weight types, one translation unit per ISA level, each
// compiled with its own -march (see src/kernels/CMakeLists.txt):
//   dot_neon.cpp    armv8-a            vmull_s8 + vpadalq_s16
//   dot_dotprod.cpp armv8.2-a+dotprod  vdotq_s32 (SDOT)
//   dot_i8mm.cpp    armv8.2-a+dotprod+i8mm  vmmlaq_s32 (SMMLA) for the 32-element formats
// A level's functions may only run on a CPU that has it; dispatch.cpp checks the HWCAPs first.
// Signatures match kernels::vec_dot_fn. Integer block sums are exact; the float combination
// follows the scalar reference (ref/dot_ref.h) except for the order inside a K-quant super-block.
#pragma once

#include <cstdint>

namespace pocketlm::kernels::arm {

void vec_dot_q8_0_q8_0_neon(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_0_q8_0_neon(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_k_q8_k_neon(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q6_k_q8_k_neon(int64_t n, float* out, const void* w_row, const void* act_row);

void vec_dot_q8_0_q8_0_dotprod(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_0_q8_0_dotprod(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_k_q8_k_dotprod(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q6_k_q8_k_dotprod(int64_t n, float* out, const void* w_row, const void* act_row);

// The K-quants at this level use the dotprod kernels (SMMLA gains nothing on a single row).
void vec_dot_q8_0_q8_0_i8mm(int64_t n, float* out, const void* w_row, const void* act_row);
void vec_dot_q4_0_q8_0_i8mm(int64_t n, float* out, const void* w_row, const void* act_row);

}  // namespace pocketlm::kernels::arm
