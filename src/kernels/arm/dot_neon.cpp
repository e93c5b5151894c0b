// Baseline AArch64 (armv8-a) kernels: int8 products widened with SMULL and pairwise-added into
// int32 lanes with SADALP (each int16 product is at most 128 * 128, so nothing overflows), and
// the float rows (f32, f16 through FCVTL, bf16 through a shift), which the higher levels keep.
#include <iterator>

#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_block32.h"
#include "kernels/arm/dot_arm_impl.h"
#include "kernels/arm/dot_arm_rows.h"
#include "kernels/arm/dot_arm_small_impl.h"

namespace pocketlm::kernels::arm {

namespace {

struct neon_policy {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    return dot32_via_dot<neon_policy>(x0, x1, y0, y1);
  }
};

using P = neon_policy;

// 32-element formats: the row dot, and a gemm of 4-row tiles (one vector op per token for the
// four rows' float steps); K-quants and float rows: row kernels over up to 4 tokens.
template <typename W>
using rows4 = block32_rows4<P, W>;

constexpr arm_kernel k_list[] = {
    both<f32_rows>(ggml_type::f32),
    both<f16_rows>(ggml_type::f16),
    both<bf16_rows>(ggml_type::bf16),
    dot_and_tiles<q4_0_rows<P>, rows4<q4_0_weights>>(ggml_type::q4_0),
    dot_and_tiles<q4_1_rows<P>, rows4<q4_1_weights>>(ggml_type::q4_1),
    dot_and_tiles<q5_0_rows<P>, rows4<q5_0_weights>>(ggml_type::q5_0),
    dot_and_tiles<q5_1_rows<P>, rows4<q5_1_weights>>(ggml_type::q5_1),
    dot_and_tiles<q8_0_rows<P>, rows4<q8_0_weights>>(ggml_type::q8_0),
    both<q4_k_rows<P>>(ggml_type::q4_k),
    both<q5_k_rows<P>>(ggml_type::q5_k),
    both<q6_k_rows<P>>(ggml_type::q6_k),
};

}  // namespace

constinit const arm_kernel_list k_neon_kernels{k_list, std::size(k_list)};

}  // namespace pocketlm::kernels::arm
