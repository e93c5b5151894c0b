// AArch64 SIMD kernels, one translation unit per ISA level, each compiled with its own -march
// (see src/kernels/CMakeLists.txt):
//   dot_neon.cpp    armv8-a            vmull_s8 + vpadalq_s16; the float rows (f32 f16 bf16)
//   dot_dotprod.cpp armv8.2-a+dotprod  vdotq_s32 (SDOT)
//   dot_i8mm.cpp    armv8.2-a+dotprod+i8mm  vmmlaq_s32 (SMMLA): q8_0 and q4_0 dots, 2x2 gemm
//                   tiles of every integer format
// A level's functions may only run on a CPU that has it; dispatch.cpp checks the HWCAPs first.
// Each level exports its kernels as a constant list (data only, so install_arm.cpp, compiled
// for the baseline, runs no code of a higher level). Integer block sums are exact; the float
// combination follows the scalar reference (ref/dot_ref.h) except for the order inside a
// K-quant super-block and the float rows' accumulation order. A level's gemm tile returns the
// same bits as that level's vec_dot for every (row, token).
#pragma once

#include <cstddef>

#include "gguf/types.h"
#include "kernels/dispatch.h"

namespace pocketlm::kernels::arm {

struct arm_kernel {
  ggml_type weight;
  vec_dot_fn vec_dot;  // null: keep the level below's
  gemm_fn gemm;        // null: keep the level below's
};

struct arm_kernel_list {
  const arm_kernel* items;
  size_t count;
};

// Defined by dot_neon.cpp, dot_dotprod.cpp and dot_i8mm.cpp; constant-initialized.
extern const arm_kernel_list k_neon_kernels;
extern const arm_kernel_list k_dotprod_kernels;
extern const arm_kernel_list k_i8mm_kernels;

}  // namespace pocketlm::kernels::arm
