// The per-weight-type kernel table (see dispatch.h): one table per ISA level, built once; an
// atomic level selects which one kernels_for reads.
#include "kernels/dispatch.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kernels/attention.h"
#include "kernels/cpu_features.h"
#include "kernels/ref/dot_ref.h"
#include "kernels/repack.h"

namespace pocketlm::kernels {

namespace {

// Every level in enum order, so a level's index is its value.
constexpr isa_level k_levels[] = {isa_level::scalar, isa_level::avx2,    isa_level::avx512,
                                  isa_level::neon,   isa_level::dotprod, isa_level::i8mm};
constexpr size_t k_level_count = std::size(k_levels);

void set(kernel_table& table, ggml_type weight, ggml_type act, from_float_fn from_float, vec_dot_fn dot) {
  table[static_cast<size_t>(weight)] = type_kernels{act, from_float, dot};
}

// The pairing of ggml's CPU type traits: weights of each type are dotted with activations in
// that type's vec_dot_type.
kernel_table reference_table() {
  using ggml_type::q8_0;
  using ggml_type::q8_1;
  using ggml_type::q8_k;
  kernel_table t{};
  set(t, ggml_type::f32, ggml_type::f32, ref::from_float_f32_ref, ref::vec_dot_f32_f32_ref);
  set(t, ggml_type::f16, ggml_type::f16, ref::from_float_f16_ref, ref::vec_dot_f16_f16_ref);
  set(t, ggml_type::bf16, ggml_type::bf16, ref::from_float_bf16_ref, ref::vec_dot_bf16_bf16_ref);
  set(t, ggml_type::q4_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q4_0_q8_0_ref);
  set(t, ggml_type::q4_1, q8_1, ref::from_float_q8_1_ref, ref::vec_dot_q4_1_q8_1_ref);
  set(t, ggml_type::q5_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q5_0_q8_0_ref);
  set(t, ggml_type::q5_1, q8_1, ref::from_float_q8_1_ref, ref::vec_dot_q5_1_q8_1_ref);
  set(t, ggml_type::q8_0, q8_0, ref::from_float_q8_0_ref, ref::vec_dot_q8_0_q8_0_ref);
  set(t, ggml_type::q4_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q4_k_q8_k_ref);
  set(t, ggml_type::q5_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q5_k_q8_k_ref);
  set(t, ggml_type::q6_k, q8_k, ref::from_float_q8_k_ref, ref::vec_dot_q6_k_q8_k_ref);
  return t;
}

// The reference table with the SIMD kernels of `level` and the levels below it (same
// architecture) laid over it. Activation formats never change with the level, so a model's
// converted activations suit every level.
kernel_table build_table(isa_level level) {
  kernel_table t = reference_table();
  switch (level) {
    case isa_level::scalar: break;
#if defined(POCKETLM_X86_KERNELS)
    case isa_level::avx512:
      x86::install_avx2(t);
      x86::install_avx512(t);
      break;
    case isa_level::avx2: x86::install_avx2(t); break;
#endif
#if defined(POCKETLM_ARM_KERNELS)
    case isa_level::i8mm:
      arm::install_neon(t);
      arm::install_dotprod(t);
      arm::install_i8mm(t);
      break;
    case isa_level::dotprod:
      arm::install_neon(t);
      arm::install_dotprod(t);
      break;
    case isa_level::neon: arm::install_neon(t); break;
#endif
    default: break;  // a level of another architecture: never supported here
  }
  return t;
}

const level_kernels& kernels_of(isa_level level) {
  static const std::array<level_kernels, k_level_count> all = [] {
    std::array<level_kernels, k_level_count> t{};
    for (size_t i = 0; i < k_level_count; ++i) {
      level_kernels& k = t[i];
      k.level = k_levels[i];
      k.types = build_table(k.level);
      k.attend_group = isa_supported(k.level) ? attend_group_for(k.level) : attend_group_ref;
      install_packed_gemms(k);
    }
    return t;
  }();
  return all[static_cast<size_t>(level)];
}

// The highest supported level at or below `top` within top's architecture.
isa_level highest_supported_up_to(isa_level top) {
  const bool arm_level = top >= isa_level::neon;
  for (auto i = static_cast<size_t>(top); i > 0; --i) {
    if ((k_levels[i] >= isa_level::neon) != arm_level) break;
    if (isa_supported(k_levels[i])) return k_levels[i];
  }
  return isa_level::scalar;
}

// The starting level: POCKETLM_ISA if set (clamped to what the CPU runs), else the highest.
isa_level initial_level() {
  isa_level best = isa_level::scalar;
  for (isa_level level : k_levels) {
    if (isa_supported(level)) best = level;
  }
  const char* env = std::getenv("POCKETLM_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::string_view name(env);
  for (isa_level level : k_levels) {
    if (name != isa_name(level)) continue;
    const isa_level chosen = highest_supported_up_to(level);
    if (chosen != level) {
      std::fprintf(stderr, "pocketlm: POCKETLM_ISA=%s is not supported here; using %s\n", env, isa_name(chosen));
    }
    return chosen;
  }
  std::fprintf(stderr, "pocketlm: unknown POCKETLM_ISA=%s; using %s\n", env, isa_name(best));
  return best;
}

std::atomic<isa_level>& level_slot() {
  static std::atomic<isa_level> level{initial_level()};
  return level;
}

}  // namespace

const char* isa_name(isa_level level) {
  switch (level) {
    case isa_level::scalar: return "scalar";
    case isa_level::avx2: return "avx2";
    case isa_level::avx512: return "avx512";
    case isa_level::neon: return "neon";
    case isa_level::dotprod: return "dotprod";
    case isa_level::i8mm: return "i8mm";
  }
  return "unknown";
}

bool isa_supported(isa_level level) {
  if (level == isa_level::scalar) return true;
  [[maybe_unused]] const cpu_features& cpu = host_cpu();
#if defined(POCKETLM_X86_KERNELS)
  const bool avx2 = cpu.avx && cpu.avx2 && cpu.fma && cpu.f16c;
  if (level == isa_level::avx2) return avx2;
  if (level == isa_level::avx512) {
    return avx2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512vnni;
  }
#endif
#if defined(POCKETLM_ARM_KERNELS)
  switch (level) {
    case isa_level::neon: return cpu.neon;
    case isa_level::dotprod: return cpu.neon && cpu.dotprod;
    case isa_level::i8mm: return cpu.neon && cpu.dotprod && cpu.i8mm;  // its TU also uses SDOT
    default: break;
  }
#endif
  return false;
}

bool set_isa(isa_level level) {
  if (!isa_supported(level)) return false;
  level_slot().store(level, std::memory_order_relaxed);
  return true;
}

isa_level active_level() { return level_slot().load(std::memory_order_relaxed); }

const level_kernels& active_kernels() { return kernels_of(active_level()); }

const char* active_isa() { return isa_name(active_level()); }

const type_kernels* kernels_for(ggml_type weight_type) {
  const kernel_table& table = active_kernels().types;
  const auto id = static_cast<size_t>(weight_type);
  if (id >= table.size() || table[id].vec_dot == nullptr) return nullptr;
  return &table[id];
}

}  // namespace pocketlm::kernels
