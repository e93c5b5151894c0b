// AArch64 kernels with the int8 matrix-multiply extension (i8mm): SMMLA multiplies a 2x8 by an
// 8x2 int8 matrix into a 2x2 int32 tile (lanes {r0.c0, r0.c1, r1.c0, r1.c1}), 32 products per
// instruction where SDOT makes 16. Compiled with -march=armv8.2-a+dotprod+i8mm; only called
// when the CPU reports HWCAP2_I8MM and HWCAP_ASIMDDP.
//  - Row dot (q8_0, q4_0): the tile's diagonal. Each 16-byte half of the weight block and of
//    the activation block is read as two 8-element rows, so tile[0][0] and tile[1][1] are the
//    dots of the matching 8-element pieces.
//  - Gemm (every integer format): two weight rows x two tokens per SMMLA, the rows' 8-element
//    pieces interleaved into one operand and the tokens' into the other; a tile is up to 4 rows
//    x 4 tokens (four 2x2 SMMLA tiles). Per (row, token) the integer sums are exact and the
//    float steps are the row dot's of this level, so the results are bit-identical to vec_dot.
// Everything else keeps the dotprod kernels.
#include <iterator>

#include "kernels/arm/dot_arm.h"
#include "kernels/arm/dot_arm_block32.h"
#include "kernels/arm/dot_arm_impl.h"
#include "kernels/arm/dot_arm_rows.h"

namespace pocketlm::kernels::arm {

namespace {

struct i8mm_policy {
  static int32_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
    // Lanes of the tile: {r0.c0, r0.c1, r1.c0, r1.c1}; the diagonal is lanes 0 and 3.
    const int32x4_t tile = vmmlaq_s32(vmmlaq_s32(vdupq_n_s32(0), x0, y0), x1, y1);
    return vgetq_lane_s32(tile, 0) + vgetq_lane_s32(tile, 3);
  }
};

// The four 8-element pieces of a 32-element block for two rows (or tokens) u, v, each piece
// holding u's 8 values then v's: the SMMLA operand layout.
inline void interleave(int8x16_t u_lo, int8x16_t u_hi, int8x16_t v_lo, int8x16_t v_hi, int8x16_t* out) {
  const int64x2_t a = vreinterpretq_s64_s8(u_lo);
  const int64x2_t b = vreinterpretq_s64_s8(v_lo);
  const int64x2_t c = vreinterpretq_s64_s8(u_hi);
  const int64x2_t d = vreinterpretq_s64_s8(v_hi);
  out[0] = vreinterpretq_s8_s64(vzip1q_s64(a, b));
  out[1] = vreinterpretq_s8_s64(vzip2q_s64(a, b));
  out[2] = vreinterpretq_s8_s64(vzip1q_s64(c, d));
  out[3] = vreinterpretq_s8_s64(vzip2q_s64(c, d));
}

// {s(u), s(u), s(v), s(v)} for weight rows (lane 2i + j is row i) or {s(u), s(v), s(u), s(v)}
// for tokens (lane 2i + j is token j).
inline float32x4_t pair_scales(fp16_t u, fp16_t v, bool rows) {
  const uint16_t lanes[4] = {u, rows ? u : v, rows ? v : u, v};
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(lanes)));
}

// Writes the 2x2 tile `sum` of row pair p and token pair q into out[token][row].
inline void store_tile(float32x4_t sum, int p, int q, float (*out)[4]) {
  float lanes[4];
  vst1q_f32(lanes, sum);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) out[2 * q + j][2 * p + i] = lanes[2 * i + j];
  }
}

// Dispatches a tile of up to 4 rows x 4 tokens to the RP row-pair x TP token-pair kernel.
template <typename Tiles>
void pair_tile(int64_t n, int n_rows, int n_tokens, const uint8_t* const* w, const uint8_t* const* a, float (*out)[4]) {
  if (n_rows > 2) {
    n_tokens > 2 ? Tiles::template pairs<2, 2>(n, w, a, out) : Tiles::template pairs<2, 1>(n, w, a, out);
  } else {
    n_tokens > 2 ? Tiles::template pairs<1, 2>(n, w, a, out) : Tiles::template pairs<1, 1>(n, w, a, out);
  }
}

// 32-element formats (dot_arm_block32.h), RP row pairs x TP token pairs. w[2p + i] is weight
// row 2p + i, a[2q + j] activation row 2q + j; out[2q + j][2p + i] = their dot.
template <typename W>
struct block32_tiles {
  template <int RP, int TP>
  static void pairs(int64_t n, const uint8_t* const* w, const uint8_t* const* a, float (*out)[4]) {
    using block = typename W::block;
    using act_block = typename W::act;
    float32x4_t sum[RP][TP];
    for (auto& row : sum) {
      for (auto& s : row) s = vdupq_n_f32(0.0f);
    }
    for (int64_t b = 0; b < n / 32; ++b) {
      int8x16_t wv[RP][4];
      lane_scales ls[RP] = {};
      for (int p = 0; p < RP; ++p) {
        const block* u = reinterpret_cast<const block*>(w[2 * p]) + b;
        const block* v = reinterpret_cast<const block*>(w[2 * p + 1]) + b;
        int8x16_t ul, uh, vl, vh;
        W::values(*u, ul, uh);
        W::values(*v, vl, vh);
        interleave(ul, uh, vl, vh, wv[p]);
        const block* lanes[4] = {u, u, v, v};
        set_weight_lanes<W>(ls[p], lanes);
      }
      for (int q = 0; q < TP; ++q) {
        const act_block* u = reinterpret_cast<const act_block*>(a[2 * q]) + b;
        const act_block* v = reinterpret_cast<const act_block*>(a[2 * q + 1]) + b;
        int8x16_t av[4];
        interleave(vld1q_s8(u->qs), vld1q_s8(u->qs + 16), vld1q_s8(v->qs), vld1q_s8(v->qs + 16), av);
        const act_block* lanes[4] = {u, v, u, v};
        lane_scales act_scales{};
        set_act_lanes<W>(act_scales, lanes);
        for (int p = 0; p < RP; ++p) {
          ls[p].dy = act_scales.dy;
          ls[p].sy = act_scales.sy;
          int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), wv[p][0], av[0]);
          for (int k = 1; k < 4; ++k) s = vmmlaq_s32(s, wv[p][k], av[k]);
          sum[p][q] = W::add(sum[p][q], s, ls[p]);
        }
      }
    }
    for (int p = 0; p < RP; ++p) {
      for (int q = 0; q < TP; ++q) store_tile(sum[p][q], p, q, out);
    }
  }
  static void tile(int64_t n, int n_rows, int n_tokens, const uint8_t* const* w, const uint8_t* const* a, size_t,
                   float (*out)[4]) {
    pair_tile<block32_tiles>(n, n_rows, n_tokens, w, a, out);
  }
};

// K-quant formats for the SMMLA tile: a super-block decoded to 16 vectors in element order
// (vector j = elements 16j .. 16j+15), its integer scales (one per `group` vectors) and, for
// q4_K, its mins; the float steps are those of k4_rows / q6_k_rows (dot_arm_impl.h).
template <typename B>
struct k4_weights {
  using block = B;
  static constexpr int group = 2;
  static constexpr bool has_mins = true;
  static void decode(const block& x, int8x16_t* v, int32_t* scales, uint8_t* mins) {
    uint8_t sc[8];
    unpack_scales_mins(x.scales, sc, mins);
    for (int s = 0; s < 8; ++s) scales[s] = sc[s];
    k4_values(x.qs, fifth_bits(x), v);
  }
};

struct q6_k_weights {
  using block = block_q6_k;
  static constexpr int group = 1;
  static constexpr bool has_mins = false;
  static void decode(const block& x, int8x16_t* v, int32_t* scales, uint8_t*) {
    for (int j = 0; j < 16; ++j) scales[j] = x.scales[j];
    q6_k_values(x, v);
  }
};

// One weight row pair of a K-quant super-block, ready for SMMLA: the interleaved operands
// (2 per 16-element vector), the scales per lane, and the float scales per lane.
struct k_pair {
  int8x16_t ops[32];
  int32x4_t scales[16];
  float32x4_t d;
  float32x4_t dmin;
  uint8_t mins[2][8];
};

template <typename W>
void decode_pair(const typename W::block& u, const typename W::block& v, k_pair& out) {
  int8x16_t vu[16], vv[16];
  int32_t su[16], sv[16];
  W::decode(u, vu, su, out.mins[0]);
  W::decode(v, vv, sv, out.mins[1]);
  for (int j = 0; j < 16; ++j) {
    const int64x2_t a = vreinterpretq_s64_s8(vu[j]);
    const int64x2_t b = vreinterpretq_s64_s8(vv[j]);
    out.ops[2 * j] = vreinterpretq_s8_s64(vzip1q_s64(a, b));
    out.ops[2 * j + 1] = vreinterpretq_s8_s64(vzip2q_s64(a, b));
  }
  for (int g = 0; g < 16 / W::group; ++g) {
    const int32_t lanes[4] = {su[g], su[g], sv[g], sv[g]};
    out.scales[g] = vld1q_s32(lanes);
  }
  out.d = pair_scales(u.d, v.d, true);
  if constexpr (W::has_mins) out.dmin = pair_scales(u.dmin, v.dmin, true);
}

// The scaled integer sums of one super-block for RP row pairs against tokens u, v: acc[p]
// lanes {row 2p.u, row 2p.v, row 2p+1.u, row 2p+1.v}, as k4_rows / q6_k_rows sum them.
template <typename W, int RP>
void k_pair_sums(const k_pair* wp, const block_q8_k& u, const block_q8_k& v, int32x4_t* acc) {
  for (int p = 0; p < RP; ++p) acc[p] = vdupq_n_s32(0);
  for (int g = 0; g < 16 / W::group; ++g) {
    int32x4_t part[RP];
    for (auto& x : part) x = vdupq_n_s32(0);
    for (int j = g * W::group; j < (g + 1) * W::group; ++j) {
      const int64x2_t au = vreinterpretq_s64_s8(vld1q_s8(u.qs + 16 * j));
      const int64x2_t av = vreinterpretq_s64_s8(vld1q_s8(v.qs + 16 * j));
      const int8x16_t a0 = vreinterpretq_s8_s64(vzip1q_s64(au, av));
      const int8x16_t a1 = vreinterpretq_s8_s64(vzip2q_s64(au, av));
      for (int p = 0; p < RP; ++p) {
        part[p] = vmmlaq_s32(part[p], wp[p].ops[2 * j], a0);
        part[p] = vmmlaq_s32(part[p], wp[p].ops[2 * j + 1], a1);
      }
    }
    for (int p = 0; p < RP; ++p) acc[p] = vmlaq_s32(acc[p], part[p], wp[p].scales[g]);
  }
}

// The q4_K/q5_K min terms of a row pair against tokens u, v, in the tile's lane order.
inline int32x4_t k_pair_mins(const k_pair& wp, const block_q8_k& u, const block_q8_k& v) {
  const int32_t m[4] = {min_term(u.bsums, wp.mins[0]), min_term(v.bsums, wp.mins[0]), min_term(u.bsums, wp.mins[1]),
                        min_term(v.bsums, wp.mins[1])};
  return vld1q_s32(m);
}

// K-quant formats, RP row pairs x TP token pairs; same layout of w, a and out as block32_tiles.
template <typename W>
struct k_tiles {
  template <int RP, int TP>
  static void pairs(int64_t n, const uint8_t* const* w, const uint8_t* const* a, float (*out)[4]) {
    using block = typename W::block;
    float32x4_t sum[RP][TP];
    float32x4_t sum_min[RP][TP];
    for (int p = 0; p < RP; ++p) {
      for (int q = 0; q < TP; ++q) sum[p][q] = sum_min[p][q] = vdupq_n_f32(0.0f);
    }
    for (int64_t b = 0; b < n / qk_k; ++b) {
      k_pair wp[RP];
      for (int p = 0; p < RP; ++p) {
        decode_pair<W>(reinterpret_cast<const block*>(w[2 * p])[b], reinterpret_cast<const block*>(w[2 * p + 1])[b],
                       wp[p]);
      }
      for (int q = 0; q < TP; ++q) {
        const block_q8_k& u = reinterpret_cast<const block_q8_k*>(a[2 * q])[b];
        const block_q8_k& v = reinterpret_cast<const block_q8_k*>(a[2 * q + 1])[b];
        int32x4_t acc[RP];
        k_pair_sums<W, RP>(wp, u, v, acc);
        const float lanes[4] = {u.d, v.d, u.d, v.d};
        const float32x4_t dy = vld1q_f32(lanes);
        for (int p = 0; p < RP; ++p) {
          const float32x4_t ddy = vmulq_f32(wp[p].d, dy);
          sum[p][q] = vaddq_f32(sum[p][q], vmulq_f32(ddy, vcvtq_f32_s32(acc[p])));
          if constexpr (W::has_mins) {
            const float32x4_t mins = vcvtq_f32_s32(k_pair_mins(wp[p], u, v));
            sum_min[p][q] = vsubq_f32(sum_min[p][q], vmulq_f32(vmulq_f32(wp[p].dmin, dy), mins));
          }
        }
      }
    }
    for (int p = 0; p < RP; ++p) {
      for (int q = 0; q < TP; ++q) {
        store_tile(W::has_mins ? vaddq_f32(sum_min[p][q], sum[p][q]) : sum[p][q], p, q, out);
      }
    }
  }
  static void tile(int64_t n, int n_rows, int n_tokens, const uint8_t* const* w, const uint8_t* const* a, size_t,
                   float (*out)[4]) {
    pair_tile<k_tiles>(n, n_rows, n_tokens, w, a, out);
  }
};

template <typename W>
using tiles32 = block32_tiles<W>;

// Every integer format gets the SMMLA gemm; only q8_0 and q4_0 replace dotprod's row dots.
constexpr arm_kernel k_list[] = {
    dot_and_tiles<q8_0_rows<i8mm_policy>, tiles32<q8_0_weights>>(ggml_type::q8_0),
    dot_and_tiles<q4_0_rows<i8mm_policy>, tiles32<q4_0_weights>>(ggml_type::q4_0),
    {ggml_type::q5_0, nullptr, tile_gemm<tiles32<q5_0_weights>>},
    {ggml_type::q4_1, nullptr, tile_gemm<tiles32<q4_1_weights>>},
    {ggml_type::q5_1, nullptr, tile_gemm<tiles32<q5_1_weights>>},
    {ggml_type::q4_k, nullptr, tile_gemm<k_tiles<k4_weights<block_q4_k>>>},
    {ggml_type::q5_k, nullptr, tile_gemm<k_tiles<k4_weights<block_q5_k>>>},
    {ggml_type::q6_k, nullptr, tile_gemm<k_tiles<q6_k_weights>>},
};

}  // namespace

constinit const arm_kernel_list k_i8mm_kernels{k_list, std::size(k_list)};

}  // namespace pocketlm::kernels::arm
