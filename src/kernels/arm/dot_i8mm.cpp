// AArch64 row dots with the int8 matrix-multiply extension (i8mm): SMMLA multiplies a 2x8 by an
// 8x2 int8 matrix into a 2x2 int32 tile. A single row uses the tile's diagonal: each 16-byte
// half of the weight block and of the activation block is read as two 8-element rows, so
// tile[0][0] and tile[1][1] are the dots of the matching 8-element pieces. Compiled with
// -march=armv8.2-a+dotprod+i8mm; only called when the CPU reports HWCAP2_I8MM and HWCAP_ASIMDDP.
#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_impl.h"

namespace pocketlm::kernels::arm {

namespace {

struct i8mm_policy {
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    // Lanes of the tile: {r0.c0, r0.c1, r1.c0, r1.c1}; the diagonal is lanes 0 and 3.
    const int32x4_t tile = vmmlaq_s32(vmmlaq_s32(vdupq_n_s32(0), x0, y0), x1, y1);
    return vgetq_lane_s32(tile, 0) + vgetq_lane_s32(tile, 3);
  }
};

}  // namespace

void vec_dot_q8_0_q8_0_i8mm(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q8_0_q8_0<i8mm_policy>(n, out, w_row, act_row);
}

void vec_dot_q4_0_q8_0_i8mm(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_q4_0_q8_0<i8mm_policy>(n, out, w_row, act_row);
}

}  // namespace pocketlm::kernels::arm
