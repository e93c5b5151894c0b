// The kernel tables: one per ISA level (the scalar reference, then the SIMD kernels of each
// level: src/kernels/x86/ on x86-64, src/kernels/arm/ on aarch64), each holding everything that
// level runs: for each weight type the format activations are converted to (its "vec_dot_type",
// as in ggml's CPU backend), the converter, the row dot product and an optional multi-row tile
// kernel; attention's head-group kernel; the repacked gemms and whether repacking pays. The
// tables are built once; the active level (an enum, picked once at startup) selects one. This is
// the single place that chooses an implementation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "gguf/types.h"

namespace pocketlm::kernels {

// *out = dot(w_row, act_row) over n elements. w_row holds n elements of the weight type,
// act_row n elements of its vec_dot_type; n is a multiple of both block sizes.
using vec_dot_fn = void (*)(int64_t n, float* out, const void* w_row, const void* act_row);

// Converts n floats into the vec_dot_type row `act_row` (row_size(vec_dot_type, n) bytes).
using from_float_fn = void (*)(const float* x, void* act_row, int64_t n);

// A tile of several weight rows against several activation rows, so that each weight block
// loaded serves every token of a prefill tile and each activation block every row:
// y[t * y_stride + r] = dot(w row r, act row t) for r < n_rows, t < n_tokens. Rows are
// w_row_bytes / act_row_bytes apart. Any n_rows, n_tokens >= 1; the kernel blocks registers
// internally and handles the remainders.
using gemm_fn = void (*)(int64_t n, int n_rows, int n_tokens, const uint8_t* w, size_t w_row_bytes, const uint8_t* act,
                         size_t act_row_bytes, float* y, size_t y_stride);

struct type_kernels {
  ggml_type vec_dot_type;
  from_float_fn from_float;  // never null; a plain copy for f32
  vec_dot_fn vec_dot;
  gemm_fn gemm = nullptr;  // null: the matmul driver loops vec_dot over the tile
};

// Indexed by ggml_type id; covers every id in gguf/types.h. Unsupported entries stay null.
constexpr size_t k_kernel_table_size = static_cast<size_t>(ggml_type::mxfp4) + 1;
using kernel_table = std::array<type_kernels, k_kernel_table_size>;

// Kernels for a weight type: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_K q5_K q6_K.
// nullptr when the weight type is not supported. The returned entry lives for the program.
const type_kernels* kernels_for(ggml_type weight_type);

// SIMD levels, lowest first within each architecture. x86-64: avx2 = AVX2 + FMA + F16C,
// avx512 = AVX-512 F/BW/VL + VNNI (VPDPBUSD). aarch64: neon = armv8-a Advanced SIMD,
// dotprod = SDOT (armv8.2-a), i8mm = SMMLA (armv8.6-a). A level only lays its own kernels over
// the reference table; types it does not cover keep the level below's (or the reference).
enum class isa_level { scalar, avx2, avx512, neon, dotprod, i8mm };

// "scalar", "avx2", "avx512", "neon", "dotprod", "i8mm".
const char* isa_name(isa_level level);

// Whether this build has kernels for `level` and the CPU (kernels/cpu_features.h) runs them.
bool isa_supported(isa_level level);

// Makes kernels_for return `level`'s kernels from now on; returns false and changes nothing if
// the level is unsupported. Entries handed out before stay valid (every level's table lives for
// the program). For tests and benchmarks that compare levels.
bool set_isa(isa_level level);

// The level kernels_for uses. On first use it is the highest supported level, or the one named
// by the environment variable POCKETLM_ISA=scalar|avx2|avx512|neon|dotprod|i8mm; a name the CPU
// does not support falls back to the highest supported level below it, with a one-line note on
// stderr.
const char* active_isa();

struct head_group_args;  // kernels/attention.h
struct act_block_info;   // kernels/repack.h
// Attention over one KV head's group of query heads (kernels/attention.h).
using head_group_fn = void (*)(const head_group_args& a);
// A gemm over 4-row-interleaved weights (kernels/repack.h).
using packed_gemm_fn = void (*)(int64_t n, int64_t n_groups, int n_tokens, const uint8_t* w, const uint8_t* act,
                                size_t act_row_bytes, const act_block_info* info, float* y, size_t y_stride);

// Everything one ISA level runs, built once per level: the per-type dots, converters and tiles,
// attention's head-group kernel, the repacked gemms, and whether repacking pays (the level has
// native kernels for the repacked layouts, or is the scalar reference itself).
struct level_kernels {
  isa_level level = isa_level::scalar;
  kernel_table types{};
  head_group_fn attend_group = nullptr;
  packed_gemm_fn gemm_q4_0x4 = nullptr;
  packed_gemm_fn gemm_q8_0x4 = nullptr;
  bool repack_pays = false;
};

// The active level and its kernels (see active_isa for how the level is chosen).
isa_level active_level();
const level_kernels& active_kernels();

// Each SIMD translation unit lays its level's kernels over `t`, which already holds the level
// below's. Defined in x86/ and arm/; called once per level when the tables are built.
namespace x86 {
void install_avx2(kernel_table& t);
void install_avx512(kernel_table& t);
}  // namespace x86
namespace arm {
void install_neon(kernel_table& t);
void install_dotprod(kernel_table& t);
void install_i8mm(kernel_table& t);
}  // namespace arm

}  // namespace pocketlm::kernels
