#include "model/arch.h"

#include <array>

namespace pocketlm {

namespace {
constexpr std::array<arch_desc, 3> k_archs = {{
    {"llama", arch_kind::llama, kernels::rope_mode::normal, false, false},
    {"qwen2", arch_kind::qwen2, kernels::rope_mode::neox, true, false},
    {"qwen3", arch_kind::qwen3, kernels::rope_mode::neox, false, true},
}};
}  // namespace

const arch_desc* find_arch(std::string_view name) {
  for (const auto& a : k_archs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const arch_desc& arch_of(arch_kind kind) {
  for (const auto& a : k_archs) {
    if (a.kind == kind) return a;
  }
  return k_archs[0];
}

}  // namespace pocketlm
