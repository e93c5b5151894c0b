// Repacking of q4_0 / q8_0 matrices into four-row interleaved records, the scalar reference
// kernels over them, and the choice of kernel per ISA level.
#include "kernels/repack.h"

#include <cstring>
#include <string_view>

#include "kernels/dispatch.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace pocketlm::kernels {

namespace {

void repack_q4_0(const matrix_view& w, int64_t g0, int64_t g1, uint8_t* dst) {
  const int64_t nb = w.n_cols / qk4_0;
  auto* out = reinterpret_cast<block_q4_0x4*>(dst);
  for (int64_t g = g0; g < g1; ++g) {
    for (int i = 0; i < k_group; ++i) {
      const auto* row = reinterpret_cast<const block_q4_0*>(w.data + (g * k_group + i) * w.row_bytes);
      for (int64_t b = 0; b < nb; ++b) {
        block_q4_0x4& rec = out[g * nb + b];
        rec.d[i] = row[b].d;
        std::memcpy(rec.qs + i * (qk4_0 / 2), row[b].qs, qk4_0 / 2);
      }
    }
  }
}

void repack_q8_0(const matrix_view& w, int64_t g0, int64_t g1, uint8_t* dst) {
  const int64_t nb = w.n_cols / qk8_0;
  auto* out = reinterpret_cast<block_q8_0x4*>(dst);
  for (int64_t g = g0; g < g1; ++g) {
    for (int i = 0; i < k_group; ++i) {
      const auto* row = reinterpret_cast<const block_q8_0*>(w.data + (g * k_group + i) * w.row_bytes);
      for (int64_t b = 0; b < nb; ++b) {
        block_q8_0x4& rec = out[g * nb + b];
        rec.d[i] = row[b].d;
        for (int j = 0; j < qk8_0; ++j) {
          rec.qs[i * qk8_0 + j] = static_cast<uint8_t>(static_cast<uint8_t>(row[b].qs[j]) ^ 0x80u);
        }
      }
    }
  }
}

}  // namespace

weight_layout repack_layout(ggml_type type, int64_t n_rows) {
  if (n_rows % k_group != 0) return weight_layout::plain;
  if (type == ggml_type::q4_0) return weight_layout::q4_0x4;
  if (type == ggml_type::q8_0) return weight_layout::q8_0x4;
  return weight_layout::plain;
}

void repack_groups(const matrix_view& w, weight_layout layout, int64_t g0, int64_t g1, uint8_t* dst) {
  if (layout == weight_layout::q4_0x4) repack_q4_0(w, g0, g1, dst);
  if (layout == weight_layout::q8_0x4) repack_q8_0(w, g0, g1, dst);
}

void dequantize_any_row(const matrix_view& w, int64_t row, float* out) {
  if (w.layout == weight_layout::plain) {
    dequantize_row(w.type, w.data + row * w.row_bytes, out, w.n_cols);
    return;
  }
  const int i = static_cast<int>(row % 4);  // the row's slot inside its group of four
  const uint8_t* group = w.data + (row - i) * w.row_bytes;
  for (int64_t b = 0; b < w.n_cols / qk8_0; ++b, out += qk8_0) {
    if (w.layout == weight_layout::q4_0x4) {
      const auto& blk = reinterpret_cast<const block_q4_0x4*>(group)[b];
      const float d = fp16_to_f32(blk.d[i]);
      for (int j = 0; j < qk4_0 / 2; ++j) {
        const uint8_t q = blk.qs[16 * i + j];
        out[j] = static_cast<float>((q & 0x0F) - 8) * d;
        out[j + qk4_0 / 2] = static_cast<float>((q >> 4) - 8) * d;
      }
    } else {
      const auto& blk = reinterpret_cast<const block_q8_0x4*>(group)[b];
      const float d = fp16_to_f32(blk.d[i]);
      for (int j = 0; j < qk8_0; ++j) {
        out[j] = static_cast<float>(static_cast<int8_t>(blk.qs[32 * i + j] ^ 0x80)) * d;
      }
    }
  }
}

void q8_0_block_info(const void* act_row, int64_t n, act_block_info* info) {
  const auto* a = static_cast<const block_q8_0*>(act_row);
  for (int64_t b = 0; b < n / qk8_0; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < qk8_0; ++j) sum += a[b].qs[j];
    info[b] = {fp16_to_f32(a[b].d), sum};
  }
}

void install_packed_gemms(level_kernels& k) {
  k.gemm_q4_0x4 = ref::gemm_q4_0x4_ref;
  k.gemm_q8_0x4 = ref::gemm_q8_0x4_ref;
  k.repack_pays = k.level == isa_level::scalar;
#if defined(POCKETLM_X86_KERNELS)
  if (k.level == isa_level::avx512) {
    k.gemm_q4_0x4 = x86::gemm_q4_0x4_avx512;
    k.gemm_q8_0x4 = x86::gemm_q8_0x4_avx512;
    k.repack_pays = true;
  } else if (k.level == isa_level::avx2) {
    k.gemm_q4_0x4 = x86::gemm_q4_0x4_avx2;
    k.gemm_q8_0x4 = x86::gemm_q8_0x4_avx2;
    k.repack_pays = true;
  }
#endif
}

packed_gemm_fn packed_gemm_for(weight_layout layout) {
  const level_kernels& k = active_kernels();
  return layout == weight_layout::q8_0x4 ? k.gemm_q8_0x4 : k.gemm_q4_0x4;
}

bool packed_gemm_native(weight_layout layout) { return layout != weight_layout::plain && active_kernels().repack_pays; }

}  // namespace pocketlm::kernels
