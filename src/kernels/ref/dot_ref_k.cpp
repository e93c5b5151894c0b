// Reference K-quant dots against q8_K (see dot_ref.h). Each super-block of 256 weights is
// decoded to small integers, multiplied with the int8 activations and summed into eight int32
// lanes (lane = element index mod 8, as in ggml's generic code); the lanes are scaled into eight
// float sums that are added together only after the last block, which fixes the rounding order.
#include <array>

#include "kernels/ref/dot_ref.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels::ref {

namespace {

constexpr int n_lanes = 8;
using lane_ints = std::array<int32_t, n_lanes>;
using lane_floats = std::array<float, n_lanes>;

// lanes[i % 8] += scales[i / sub] * w[i] * a[i] over the 256 elements of a super-block, where
// `sub` is the sub-block length (32 for q4_K/q5_K, 16 for q6_K).
lane_ints lane_dot(const int8_t* w, const int8_t* a, const int* scales, int sub) {
  lane_ints lanes{};
  for (int i = 0; i < qk_k; ++i) lanes[i % n_lanes] += scales[i / sub] * (w[i] * a[i]);
  return lanes;
}

void add_scaled(lane_floats& sums, float d, const lane_ints& lanes) {
  for (int l = 0; l < n_lanes; ++l) sums[l] += d * static_cast<float>(lanes[l]);
}

float finish(float sum, const lane_floats& sums) {
  for (int l = 0; l < n_lanes; ++l) sum += sums[l];
  return sum;
}

// Unpacks the 12-byte field of eight 6-bit scales and eight 6-bit mins shared by q4_K and q5_K:
// bytes 0-3 hold scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits; scales/mins 4-7 keep
// their low 4 bits in the nibbles of bytes 8-11 and their top 2 bits in the spare top bits of
// bytes 0-3 (scales) and 4-7 (mins).
void unpack_scales_mins(const uint8_t* packed, int* scales, int* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = packed[j] & 63;
    mins[j] = packed[j + 4] & 63;
    scales[j + 4] = (packed[j + 8] & 0x0F) | (packed[j] >> 6) << 4;
    mins[j + 4] = (packed[j + 8] >> 4) | (packed[j + 4] >> 6) << 4;
  }
}

// Weight codes of a q4_K/q5_K super-block in element order: each 64-element chunk c takes the
// low nibbles of qs[32c .. 32c+31] then their high nibbles; q5_K adds 16 when bit 2c (low
// half) or 2c+1 (high half) of qh[l] is set. qh may be null (q4_K).
void decode_k4(const uint8_t* qs, const uint8_t* qh, int8_t* w) {
  for (int c = 0; c < qk_k / 64; ++c) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q = qs[32 * c + l];
      int lo = q & 0x0F;
      int hi = q >> 4;
      if (qh != nullptr) {
        lo += (qh[l] >> (2 * c) & 1) << 4;
        hi += (qh[l] >> (2 * c + 1) & 1) << 4;
      }
      w[64 * c + l] = static_cast<int8_t>(lo);
      w[64 * c + 32 + l] = static_cast<int8_t>(hi);
    }
  }
}

// Shared by q4_K and q5_K: x = d*sc*q - dmin*m per 32-element sub-block. The min term uses the
// q8_K block's sums of 16 activations, so it costs one int32 sum per super-block.
const uint8_t* fifth_bits(const block_q4_k&) { return nullptr; }
const uint8_t* fifth_bits(const block_q5_k& b) { return b.qh; }

template <typename block>
void dot_k4_family(int64_t n, float* out, const block* x, const block_q8_k* y) {
  lane_floats sums{};
  float sum = 0.0f;
  for (int64_t b = 0; b < n / qk_k; ++b) {
    int scales[8];
    int mins[8];
    unpack_scales_mins(x[b].scales, scales, mins);
    int8_t w[qk_k];
    decode_k4(x[b].qs, fifth_bits(x[b]), w);

    int32_t sum_mins = 0;
    for (int j = 0; j < qk_k / 16; ++j) sum_mins += y[b].bsums[j] * mins[j / 2];
    add_scaled(sums, fp16_to_f32(x[b].d) * y[b].d, lane_dot(w, y[b].qs, scales, 32));
    sum -= fp16_to_f32(x[b].dmin) * y[b].d * static_cast<float>(sum_mins);
  }
  *out = finish(sum, sums);
}

}  // namespace

void vec_dot_q4_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_k4_family(n, out, static_cast<const block_q4_k*>(w_row), static_cast<const block_q8_k*>(act_row));
}

void vec_dot_q5_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  dot_k4_family(n, out, static_cast<const block_q5_k*>(w_row), static_cast<const block_q8_k*>(act_row));
}

// q6_K: x = d*sc*(q - 32) per 16-element sub-block, sc int8. Each 128-element half h reads
// ql[64h .. 64h+63] and qh[32h .. 32h+31]: element 32k + l (k = 0..3) takes the low nibble of
// ql[l] (k=0), ql[l+32] (k=1), the high nibble of ql[l] (k=2), ql[l+32] (k=3), and bits
// 2k..2k+1 of qh[l] as its top two bits.
void vec_dot_q6_k_q8_k_ref(int64_t n, float* out, const void* w_row, const void* act_row) {
  const auto* x = static_cast<const block_q6_k*>(w_row);
  const auto* y = static_cast<const block_q8_k*>(act_row);
  lane_floats sums{};
  for (int64_t b = 0; b < n / qk_k; ++b) {
    int8_t w[qk_k];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        const int low[4] = {ql[l] & 0x0F, ql[l + 32] & 0x0F, ql[l] >> 4, ql[l + 32] >> 4};
        for (int k = 0; k < 4; ++k) {
          const int q = low[k] | (qh[l] >> (2 * k) & 3) << 4;
          w[128 * h + 32 * k + l] = static_cast<int8_t>(q - 32);
        }
      }
    }
    int scales[qk_k / 16];
    for (int j = 0; j < qk_k / 16; ++j) scales[j] = x[b].scales[j];
    add_scaled(sums, fp16_to_f32(x[b].d) * y[b].d, lane_dot(w, y[b].qs, scales, 16));
  }
  *out = finish(0.0f, sums);
}

}  // namespace pocketlm::kernels::ref
