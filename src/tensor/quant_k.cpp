// Scalar reference codecs for the K-quants (super-blocks of 256): q4_K, q5_K, q6_K and the
// activation format q8_K. The scale searches follow ggml's reference quantizers
// (quantize_row_q{4,5,6}_K_ref with make_qkx2_quants / make_qx_quants) operation by operation,
// so the same float input yields the same bytes as llama.cpp without an importance matrix.
#include "tensor/quant_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pocketlm::detail {
namespace {

constexpr int k_sub32 = qk_k / 32;  // 32-element sub-blocks of q4_K / q5_K
constexpr int k_sub16 = qk_k / 16;  // 16-element sub-blocks of q6_K / q8_K bsums
constexpr float k_group_max_eps = 1e-15f;

// Parameters of the affine (scale + min) search: candidate inverse scales are
// (nmax + rmin + rdelta * is) / (max - min) for is = 0..nstep.
struct affine_search {
  int nmax;
  float rmin;
  float rdelta;
  int nstep;
};

// Weighted squared error of x ~ scale * L + min.
float affine_error(const float* x, const float* w, const uint8_t* L, int n, float scale, float min) {
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = scale * static_cast<float>(L[i]) + min - x[i];
    err += w[i] * (diff * diff);
  }
  return err;
}

// Quantizes x[0..n) to levels L in [0, nmax] as x ~ scale * L - neg_min (neg_min >= 0),
// trying nstep + 1 grid scales and refitting scale/min by weighted least squares for each;
// keeps the best weighted squared error. Returns the scale. (ggml: make_qkx2_quants.)
float make_affine_quants(const float* x, const float* w, int n, const affine_search& p, uint8_t* L, float& neg_min) {
  float min = x[0];
  float max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    neg_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(p.nmax) / (max - min);
  float scale = 1.0f / iscale;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, p.nmax));
  }
  float best = affine_error(x, w, L, n, scale, min);
  uint8_t aux[32];
  for (int is = 0; is <= p.nstep; ++is) {
    // As in ggml, once a candidate wins, later candidates are placed relative to its min.
    iscale = (p.rmin + p.rdelta * static_cast<float>(is) + static_cast<float>(p.nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, p.nmax);
      aux[i] = static_cast<uint8_t>(l);
      const float wl = w[i] * static_cast<float>(l);
      sum_l += wl;
      sum_l2 += wl * static_cast<float>(l);
      sum_xl += wl * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0.0f)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0.0f) {
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    const float err = affine_error(x, w, aux, n, this_scale, this_min);
    if (err < best) {
      std::copy(aux, aux + n, L);
      best = err;
      scale = this_scale;
      min = this_min;
    }
  }
  neg_min = -min;
  return scale;
}

// Symmetric levels l in [-nmax, nmax) for inverse scale iscale; accumulates the x^2-weighted
// sums used to refit the scale. Writes L = l + nmax when L is non-null.
void symmetric_levels(const float* x, int n, int nmax, float iscale, int8_t* L, float& sumlx, float& suml2) {
  sumlx = 0.0f;
  suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    if (L != nullptr) L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const auto lf = static_cast<float>(l);
    sumlx += w * x[i] * lf;
    suml2 += w * lf * lf;
  }
}

// Symmetric quantization x ~ scale * (L - nmax) with an x^2-weighted least-squares scale,
// searching 18 inverse scales around nmax / max. Returns the scale. (ggml: make_qx_quants
// with rmse_type 1 and no importance weights.)
float make_symmetric_quants(const float* x, int n, int nmax, int8_t* L) {
  float max = 0.0f;
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < k_group_max_eps) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  float sumlx = 0.0f, suml2 = 0.0f;
  symmetric_levels(x, n, nmax, static_cast<float>(-nmax) / max, L, sumlx, suml2);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    symmetric_levels(x, n, nmax, iscale, nullptr, sumlx, suml2);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      symmetric_levels(x, n, nmax, iscale, L, sumlx, suml2);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Packs eight 6-bit scales and mins into 12 bytes: bytes 0-3 hold scales 0-3 (+ top 2 bits of
// scales 4-7), bytes 4-7 mins 0-3 (+ top bits of mins 4-7), bytes 8-11 low nibbles of 4-7.
void pack_scale_min(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0f) | ((lm[j + 4] & 0x0f) << 4));
  }
}

void unpack_scale_min(int j, const uint8_t* scales, int& sc, int& m) {
  if (j < 4) {
    sc = scales[j] & 63;
    m = scales[j + 4] & 63;
  } else {
    sc = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
    m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// One q4_K/q5_K super-block: per-sub-block affine search, 6-bit quantized scales and mins under
// fp16 super-scales d and dmin, then levels L[256] in [0, nmax] recomputed against the
// quantized scales.
void quantize_affine_superblock(const float* x, const affine_search& p, fp16_t& d, fp16_t& dmin, uint8_t* scales,
                                uint8_t* L) {
  float sub_scale[k_sub32];
  float sub_min[k_sub32];
  float w[32];
  float max_scale = 0.0f;
  float max_min = 0.0f;
  for (int j = 0; j < k_sub32; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    sub_scale[j] = make_affine_quants(xs, w, 32, p, L + 32 * j, sub_min[j]);
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[k_sub32];
  uint8_t lm[k_sub32];
  for (int j = 0; j < k_sub32; ++j) {
    // Truncation to 8 bits before the clamp mirrors ggml's uint8_t assignment.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * sub_scale[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * sub_min[j])));
  }
  pack_scale_min(ls, lm, scales);
  d = f32_to_fp16(max_scale / 63.0f);
  dmin = f32_to_fp16(max_min / 63.0f);
  for (int j = 0; j < k_sub32; ++j) {
    const float dj = fp16_to_f32(d) * static_cast<float>(ls[j]);
    if (dj == 0.0f) continue;
    const float mj = fp16_to_f32(dmin) * static_cast<float>(lm[j]);
    for (int i = 32 * j; i < 32 * (j + 1); ++i) {
      L[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + mj) / dj), 0, p.nmax));
    }
  }
}

// Element e of a q4_K/q5_K super-block sits in byte (e / 64) * 32 + e % 32 of qs, low nibble for
// e % 64 < 32, high nibble otherwise; q5_K's fifth bit is bit 2 * (e / 64) + (e % 64) / 32 of
// qh[e % 32].
int qs_byte(int e) { return (e / 64) * 32 + e % 32; }
int qs_shift(int e) { return ((e % 64) / 32) * 4; }
int qh_bit(int e) { return 2 * (e / 64) + (e % 64) / 32; }

// Element e of a q6_K super-block: low 4 bits in ql, high 2 bits in qh.
int q6_ql_byte(int e) { return (e / 128) * 64 + (e % 32) + ((e % 128) / 32 % 2) * 32; }
int q6_ql_shift(int e) { return ((e % 128) / 64) * 4; }
int q6_qh_byte(int e) { return (e / 128) * 32 + e % 32; }
int q6_qh_shift(int e) { return ((e % 128) / 32) * 2; }

}  // namespace

void quantize_row_q4_k(const float* x, block_q4_k* y, int64_t nb) {
  const affine_search search{15, -1.0f, 0.1f, 20};
  uint8_t L[qk_k];
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    quantize_affine_superblock(x, search, y[i].d, y[i].dmin, y[i].scales, L);
    std::memset(y[i].qs, 0, sizeof(y[i].qs));
    for (int e = 0; e < qk_k; ++e) y[i].qs[qs_byte(e)] |= static_cast<uint8_t>(L[e] << qs_shift(e));
  }
}

void quantize_row_q5_k(const float* x, block_q5_k* y, int64_t nb) {
  const affine_search search{31, -0.5f, 0.1f, 15};
  uint8_t L[qk_k];
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    quantize_affine_superblock(x, search, y[i].d, y[i].dmin, y[i].scales, L);
    std::memset(y[i].qs, 0, sizeof(y[i].qs));
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int e = 0; e < qk_k; ++e) {
      y[i].qs[qs_byte(e)] |= static_cast<uint8_t>((L[e] & 0x0f) << qs_shift(e));
      y[i].qh[e % 32] |= static_cast<uint8_t>((L[e] >> 4) << qh_bit(e));
    }
  }
}

void quantize_row_q6_k(const float* x, block_q6_k* y, int64_t nb) {
  int8_t L[qk_k];
  float scales[k_sub16];
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    float max_scale = 0.0f;
    float max_abs_scale = 0.0f;
    for (int ib = 0; ib < k_sub16; ++ib) {
      scales[ib] = make_symmetric_quants(x + 16 * ib, 16, 32, L + 16 * ib);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    std::memset(&y[i], 0, sizeof(y[i]));
    if (max_abs_scale < k_group_max_eps) continue;  // all-zero block: d = 0
    const float iscale = -128.0f / max_scale;
    y[i].d = f32_to_fp16(1.0f / iscale);
    for (int ib = 0; ib < k_sub16; ++ib) {
      y[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    }
    for (int ib = 0; ib < k_sub16; ++ib) {
      const float d = fp16_to_f32(y[i].d) * static_cast<float>(y[i].scales[ib]);
      if (d == 0.0f) continue;
      for (int e = 16 * ib; e < 16 * (ib + 1); ++e) {
        L[e] = static_cast<int8_t>(std::clamp(nearest_int(x[e] / d), -32, 31) + 32);
      }
    }
    for (int e = 0; e < qk_k; ++e) {
      const auto q = static_cast<uint8_t>(L[e]);
      y[i].ql[q6_ql_byte(e)] |= static_cast<uint8_t>((q & 0x0f) << q6_ql_shift(e));
      y[i].qh[q6_qh_byte(e)] |= static_cast<uint8_t>((q >> 4) << q6_qh_shift(e));
    }
  }
}

// q8_K: d = max / -127 (max = the signed value of largest magnitude), float d, plus the sums of
// each 16 consecutive qs for the K-quant dot kernels' min terms.
void quantize_row_q8_k(const float* x, block_q8_k* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    std::memset(&y[i], 0, sizeof(y[i]));
    float max = 0.0f;
    float amax = 0.0f;
    for (int j = 0; j < qk_k; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) continue;
    const float iscale = -127.0f / max;
    for (int j = 0; j < qk_k; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int b = 0; b < k_sub16; ++b) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * b + j];
      y[i].bsums[b] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void dequantize_row_q4_k(const block_q4_k* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk_k) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    for (int e = 0; e < qk_k; ++e) {
      int sc = 0, m = 0;
      unpack_scale_min(e / 32, x[i].scales, sc, m);
      const int q = (x[i].qs[qs_byte(e)] >> qs_shift(e)) & 0x0f;
      y[e] = d * static_cast<float>(sc) * static_cast<float>(q) - dmin * static_cast<float>(m);
    }
  }
}

void dequantize_row_q5_k(const block_q5_k* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk_k) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    for (int e = 0; e < qk_k; ++e) {
      int sc = 0, m = 0;
      unpack_scale_min(e / 32, x[i].scales, sc, m);
      const int q = ((x[i].qs[qs_byte(e)] >> qs_shift(e)) & 0x0f) | (((x[i].qh[e % 32] >> qh_bit(e)) & 1) << 4);
      y[e] = d * static_cast<float>(sc) * static_cast<float>(q) - dmin * static_cast<float>(m);
    }
  }
}

void dequantize_row_q6_k(const block_q6_k* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk_k) {
    const float d = fp16_to_f32(x[i].d);
    for (int e = 0; e < qk_k; ++e) {
      const int q = (((x[i].ql[q6_ql_byte(e)] >> q6_ql_shift(e)) & 0x0f) |
                     (((x[i].qh[q6_qh_byte(e)] >> q6_qh_shift(e)) & 3) << 4)) -
                    32;
      y[e] = d * static_cast<float>(x[i].scales[e / 16]) * static_cast<float>(q);
    }
  }
}

void dequantize_row_q8_k(const block_q8_k* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk_k) {
    for (int e = 0; e < qk_k; ++e) y[e] = x[i].d * static_cast<float>(x[i].qs[e]);
  }
}

}  // namespace pocketlm::detail
