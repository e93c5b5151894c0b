// Tensor element types as numbered in GGUF files (ggml's ggml_type ids), and their block sizes.
// Lives in gguf/ because the reader must size every tensor before any layer above trusts it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pocketlm {

enum class ggml_type : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct ggml_type_traits {
  std::string_view name;  // "q4_K" etc., as llama.cpp prints it; empty when the id is unknown
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
};

// Traits for a raw type id from a file; block_size == 0 means "not a type we know".
ggml_type_traits type_traits(uint32_t type_id);
inline ggml_type_traits type_traits(ggml_type t) { return type_traits(static_cast<uint32_t>(t)); }

// Bytes taken by one row of n elements; n must be a multiple of the block size.
inline size_t row_size(ggml_type t, int64_t n) {
  const auto tr = type_traits(t);
  return static_cast<size_t>(n / tr.block_size) * tr.type_size;
}

// Parses "q4_K", "Q4_K", "q4_k", "f16", ... ; returns false when unknown.
bool type_from_name(std::string_view name, ggml_type& out);

}  // namespace pocketlm
