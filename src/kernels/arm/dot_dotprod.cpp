// AArch64 kernels with the dot-product extension (armv8.2-a+dotprod): SDOT adds four int8
// products into each int32 lane in one instruction. Compiled with that -march; only called
// when the CPU reports HWCAP_ASIMDDP. Covers every integer format; the float rows stay neon's.
#include <iterator>

#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_block32.h"
#include "kernels/arm/dot_arm_impl.h"
#include "kernels/arm/dot_arm_rows.h"
#include "kernels/arm/dot_arm_small_impl.h"

namespace pocketlm::kernels::arm {

namespace {

struct dotprod_policy {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    return dot32_via_dot<dotprod_policy>(x0, x1, y0, y1);
  }
};

using P = dotprod_policy;

// 32-element formats: the row dot, and a gemm of 4-row tiles (one vector op per token for the
// four rows' float steps); K-quants and float rows: row kernels over up to 4 tokens.
template <typename W>
using rows4 = block32_rows4<P, W>;

// The float rows stay neon's.
constexpr arm_kernel k_list[] = {
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

constinit const arm_kernel_list k_dotprod_kernels{k_list, std::size(k_list)};

}  // namespace pocketlm::kernels::arm
