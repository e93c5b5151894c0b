// Unicode data of the WordPiece pre-tokenizer (tokenizer/wpm.cpp), generated from llama.cpp's
// unicode-data.cpp into wpm_tables.cpp by tools/unicode/gen_wpm_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketlm::wpm_data {

// Code points from `start` up to the next range's start have class `cls`: 0 other, 1 control
// (\p{C}), 2 punctuation (\p{P}), 3 symbol (\p{S}), 4 accent mark (\p{M}). Sorted by start.
struct class_range {
  uint32_t start;
  uint8_t cls;
};
// Code points first, first + stride, ..., last lowercase to cpt + delta. Runs may interleave.
struct lower_run {
  uint32_t first, last;
  int32_t stride, delta;
};
// Code points first..last decompose (NFD) to a sequence starting with nfd. Sorted by first.
struct nfd_range {
  uint32_t first, last, nfd;
};

extern const class_range k_class_ranges[];
extern const size_t k_class_ranges_size;
extern const uint32_t k_whitespace[];  // sorted
extern const size_t k_whitespace_size;
extern const lower_run k_lower_runs[];
extern const size_t k_lower_runs_size;
extern const nfd_range k_nfd_ranges[];
extern const size_t k_nfd_ranges_size;

}  // namespace pocketlm::wpm_data
