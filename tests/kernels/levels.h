// What the kernel tests iterate over: every ISA level (each test skips those the CPU lacks),
// every weight type, and a guard that restores the active level after a test forces others.
#pragma once

#include <string>

#include "gguf/types.h"
#include "kernels/dispatch.h"

namespace pocketlm::kernels {

inline constexpr isa_level k_levels[] = {isa_level::scalar, isa_level::avx2,    isa_level::avx512,
                                         isa_level::neon,   isa_level::dotprod, isa_level::i8mm};

inline constexpr ggml_type k_types[] = {ggml_type::f32,  ggml_type::f16,  ggml_type::bf16, ggml_type::q4_0,
                                        ggml_type::q4_1, ggml_type::q5_0, ggml_type::q5_1, ggml_type::q8_0,
                                        ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k};

class isa_guard {
 public:
  isa_guard() : saved_(active_isa()) {}
  ~isa_guard() {
    for (isa_level l : k_levels) {
      if (saved_ == isa_name(l)) set_isa(l);
    }
  }
  isa_guard(const isa_guard&) = delete;
  isa_guard& operator=(const isa_guard&) = delete;

 private:
  std::string saved_;
};

}  // namespace pocketlm::kernels
