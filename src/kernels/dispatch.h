// Per-weight-type kernel table: for each weight type, the format activations are converted to
// (its "vec_dot_type", as in ggml's CPU backend), the converter, and the row dot product. This
// table is the single place that chooses an implementation: the scalar reference, or the SIMD
// kernels of one ISA level (src/kernels/arm/ on aarch64), picked once at startup.
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace pocketlm::kernels {

// *out = dot(w_row, act_row) over n elements. w_row holds n elements of the weight type,
// act_row n elements of its vec_dot_type; n is a multiple of both block sizes.
using vec_dot_fn = void (*)(int64_t n, float* out, const void* w_row, const void* act_row);

// Converts n floats into the vec_dot_type row `act_row` (row_size(vec_dot_type, n) bytes).
using from_float_fn = void (*)(const float* x, void* act_row, int64_t n);

struct type_kernels {
  ggml_type vec_dot_type;
  from_float_fn from_float;  // never null; a plain copy for f32
  vec_dot_fn vec_dot;
};

// Kernels for a weight type: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_K q5_K q6_K.
// nullptr when the weight type is not supported. The returned entry lives for the program.
const type_kernels* kernels_for(ggml_type weight_type);

// SIMD levels, lowest first. aarch64: neon = armv8-a Advanced SIMD, dotprod = SDOT (armv8.2-a),
// i8mm = SMMLA (armv8.6-a). Levels above scalar cover q8_0, q4_0, q4_K and q6_K weights; the
// other types keep the reference at every level.
enum class isa_level { scalar, neon, dotprod, i8mm };

// "scalar", "neon", "dotprod", "i8mm".
const char* isa_name(isa_level level);

// Whether this build has kernels for `level` and the CPU (kernels/cpu_features.h) runs them.
bool isa_supported(isa_level level);

// Makes kernels_for return `level`'s kernels from now on; returns false and changes nothing if
// the level is unsupported. Entries handed out before stay valid (every level's table lives for
// the program). For tests and benchmarks that compare levels.
bool set_isa(isa_level level);

// The level kernels_for uses. On first use it is the highest supported level, or the one named
// by the environment variable POCKETLM_ISA=scalar|neon|dotprod|i8mm (also avx2|avx512, which
// have no kernels yet); a name above what the CPU supports falls back to the highest supported
// level below it, with a one-line note on stderr.
const char* active_isa();

}  // namespace pocketlm::kernels
