// AArch64 row dots with the dot-product extension (armv8.2-a+dotprod): SDOT adds four int8
// products into each int32 lane in one instruction. Compiled with that -march; only called when
// the CPU reports HWCAP_ASIMDDP.
#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_impl.h"

namespace pocketlm::kernels::arm {

namespace {

struct dotprod_policy {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    return dot32_via_dot<dotprod_policy>(x0, x1, y0, y1);
  }
};

}  // namespace

void vec_dot_q8_0_q8_0_dotprod(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q8_0_q8_0<dotprod_policy>(n, out, w_row, act_row);
}

void vec_dot_q4_0_q8_0_dotprod(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q4_0_q8_0<dotprod_policy>(n, out, w_row, act_row);
}

void vec_dot_q4_k_q8_k_dotprod(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q4_k_q8_k<dotprod_policy>(n, out, w_row, act_row);
}

void vec_dot_q6_k_q8_k_dotprod(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q6_k_q8_k<dotprod_policy>(n, out, w_row, act_row);
}

}  // namespace pocketlm::kernels::arm
