// Load-time weight repacking: q4_0 and q8_0 matrices rewritten with their rows interleaved four
// at a time by block index, so one block index of four rows is one contiguous 72-byte (q4_0) or
// 136-byte (q8_0) record with the four scales gathered in front. A SIMD kernel then loads the
// four rows' quants of a block with one or two vector loads and scales them with one vector,
// and every activation block it loads serves four rows. Repacking changes only where bytes sit:
// the integer block sums are the ones of the plain layout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {

constexpr int k_group = 4;  // rows per interleaved record

// Block b of rows 4g..4g+3: d[i] is row 4g+i's scale; row i's 16 nibble bytes are at
// qs[16 i], arranged as in block_q4_0 (low nibble element j, high nibble element j + 16).
struct block_q4_0x4 {
  fp16_t d[4];
  uint8_t qs[4 * qk4_0 / 2];
};
static_assert(sizeof(block_q4_0x4) == 4 * sizeof(block_q4_0));

// Block b of rows 4g..4g+3: row i's 32 quants at qs[32 i], stored XOR 0x80 (q + 128 as an
// unsigned byte), the form an unsigned-by-signed byte dot (VPDPBUSD, VPMADDUBSW) takes.
struct block_q8_0x4 {
  fp16_t d[4];
  uint8_t qs[4 * qk8_0];
};
static_assert(sizeof(block_q8_0x4) == 4 * sizeof(block_q8_0));

// Per activation block (q8_0): its scale as a float and the sum of its 32 quants, which turns
// the unsigned weight codes of the repacked layouts back into signed ones.
struct act_block_info {
  float d;
  int32_t sum;
};

// The layout `type` repacks to for a matrix of this shape, or plain when it stays as is (other
// types, or n_rows not a multiple of 4).
weight_layout repack_layout(ggml_type type, int64_t n_rows);

// Writes rows [4 g0, 4 g1) of the plain matrix `w` into `dst` (which holds the whole repacked
// matrix: n_rows * w.row_bytes bytes) in `layout`. Groups are independent, so callers may split
// them over threads.
void repack_groups(const matrix_view& w, weight_layout layout, int64_t g0, int64_t g1, uint8_t* dst);

// Row `row` of `w` (any layout) as n_cols floats: a tied embedding looks its tokens up in the
// repacked output head, so the file's copy of the table never has to be paged back in.
void dequantize_any_row(const matrix_view& w, int64_t row, float* out);

// info[b] for the n / 32 blocks of one q8_0 activation row.
void q8_0_block_info(const void* act_row, int64_t n, act_block_info* info);

// A packed_gemm_fn (dispatch.h) computes y[t * y_stride + 4 g + i] = dot(row 4 g + i, act row t)
// for g < n_groups, t < n_tokens, i < 4. `w` points at group 0 (groups are n / 32 records
// apart); act rows are act_row_bytes apart, their block infos n / 32 apart.

// The kernel of the active ISA level (dispatch.h) for `layout`; the scalar reference where the
// level has none. Never null for q4_0x4 / q8_0x4.
packed_gemm_fn packed_gemm_for(weight_layout layout);

// Whether the active level has SIMD kernels for `layout` (or is the scalar level itself): only
// then does repacking pay, so loaders check it before repacking.
bool packed_gemm_native(weight_layout layout);

// The repacked gemms of `level` into k (the reference where the level has none), and whether
// repacking pays there; dispatch.cpp builds each level's table with it.
void install_packed_gemms(level_kernels& k);

namespace ref {
// Scalar references: the same integer block sums and float steps as vec_dot_q4_0_q8_0_ref /
// vec_dot_q8_0_q8_0_ref, so their results are bit-identical to the plain layout's reference.
void gemm_q4_0x4_ref(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                     size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
void gemm_q8_0x4_ref(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                     size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
}  // namespace ref

namespace x86 {
// Same contract as packed_gemm_fn; defined in x86/repack_avx2.cpp and x86/repack_avx512.cpp.
void gemm_q4_0x4_avx2(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                      size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
void gemm_q8_0x4_avx2(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                      size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
void gemm_q4_0x4_avx512(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                        size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
void gemm_q8_0x4_avx512(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                        size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);
}  // namespace x86

}  // namespace pocketlm::kernels
