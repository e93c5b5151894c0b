// Differential test against llama.cpp's own scalar kernels: the baseline x86-64 CPU backend
// shipped with node-llama-cpp (libggml-cpu-x64.so) exports ggml's *_generic row dots. Rows are
// quantized by ggml, then both implementations run on the same bytes and must agree bit for bit.
// The activation converters are also compared byte for byte with ggml's.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"

namespace pocketlm::kernels {
namespace {

using ggml_vec_dot = void (*)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc);
using ggml_convert = void (*)(const float* x, void* y, int64_t n);

struct ggml_case {
  ggml_type type;
  const char* dot;           // ggml's generic dot for (type, vec_dot_type)
  const char* quantize;      // ggml's weight encoder; null: raw f32
  const char* act_quantize;  // ggml's activation encoder for vec_dot_type; null: raw f32
};

constexpr ggml_case k_cases[] = {
    {ggml_type::f32, "ggml_vec_dot_f32", nullptr, nullptr},
    {ggml_type::f16, "ggml_vec_dot_f16", "ggml_cpu_fp32_to_fp16", "ggml_cpu_fp32_to_fp16"},
    {ggml_type::bf16, "ggml_vec_dot_bf16", "ggml_cpu_fp32_to_bf16", "ggml_cpu_fp32_to_bf16"},
    {ggml_type::q4_0, "ggml_vec_dot_q4_0_q8_0_generic", "quantize_row_q4_0_ref", "quantize_row_q8_0_ref"},
    {ggml_type::q4_1, "ggml_vec_dot_q4_1_q8_1_generic", "quantize_row_q4_1_ref", "quantize_row_q8_1_ref"},
    {ggml_type::q5_0, "ggml_vec_dot_q5_0_q8_0_generic", "quantize_row_q5_0_ref", "quantize_row_q8_0_ref"},
    {ggml_type::q5_1, "ggml_vec_dot_q5_1_q8_1_generic", "quantize_row_q5_1_ref", "quantize_row_q8_1_ref"},
    {ggml_type::q8_0, "ggml_vec_dot_q8_0_q8_0_generic", "quantize_row_q8_0_ref", "quantize_row_q8_0_ref"},
    {ggml_type::q4_k, "ggml_vec_dot_q4_K_q8_K_generic", "quantize_row_q4_K_ref", "quantize_row_q8_K_ref"},
    {ggml_type::q5_k, "ggml_vec_dot_q5_K_q8_K_generic", "quantize_row_q5_K_ref", "quantize_row_q8_K_ref"},
    {ggml_type::q6_k, "ggml_vec_dot_q6_K_q8_K_generic", "quantize_row_q6_K_ref", "quantize_row_q8_K_ref"},
};

// The two libraries stay loaded for the whole run; null handles mean "not available here".
struct ggml_libs {
  void* base = nullptr;
  void* cpu = nullptr;
  std::string error;

  void* symbol(const char* name) const {
    void* p = dlsym(cpu, name);
    return p != nullptr ? p : dlsym(base, name);
  }
};

const ggml_libs& libs() {
  static const ggml_libs loaded = [] {
    ggml_libs l;
#if defined(__x86_64__) && defined(__linux__)
    const std::string dir = std::string(POCKETLM_NODE_MODULES) + "/@node-llama-cpp/linux-x64/bins/linux-x64/";
    l.base = dlopen((dir + "libggml-base.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    l.cpu = l.base ? dlopen((dir + "libggml-cpu-x64.so").c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (l.cpu == nullptr) {
      l.error = dlerror();
    } else if (auto init = reinterpret_cast<void (*)()>(l.symbol("ggml_cpu_init"))) {
      init();  // fills ggml's fp16 lookup table, which its generic kernels read
    }
#else
    l.error = "node-llama-cpp's x86-64 build does not run on this platform";
#endif
    return l;
  }();
  return loaded;
}

std::vector<float> random_row(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Encodes with a ggml function, or copies raw floats when `name` is null.
std::vector<uint8_t> ggml_encode(const char* name, ggml_type t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> out(row_size(t, n));
  if (name == nullptr) {
    std::memcpy(out.data(), x.data(), out.size());
    return out;
  }
  auto fn = reinterpret_cast<ggml_convert>(libs().symbol(name));
  EXPECT_NE(fn, nullptr) << name;
  if (fn != nullptr) fn(x.data(), out.data(), n);
  return out;
}

class ggml_dot_test : public ::testing::TestWithParam<ggml_case> {
 protected:
  void SetUp() override {
    if (libs().cpu == nullptr) {
      GTEST_SKIP() << "llama.cpp CPU library unavailable: " << libs().error;
    }
  }
};

// Bit identity holds for the scalar reference only (SIMD levels sum in another order; isa_test
// holds them to the reference), so this test pins the scalar level and restores the active one.
class scalar_level {
 public:
  scalar_level() : saved_(active_isa()) { set_isa(isa_level::scalar); }
  ~scalar_level() {
    for (isa_level l : {isa_level::avx2, isa_level::avx512, isa_level::neon, isa_level::dotprod, isa_level::i8mm}) {
      if (saved_ == isa_name(l)) set_isa(l);
    }
  }

 private:
  std::string saved_;
};

TEST_P(ggml_dot_test, bit_identical_to_ggml_generic_dot) {
  const ggml_case c = GetParam();
  const scalar_level scalar;
  const type_kernels* k = kernels_for(c.type);
  ASSERT_NE(k, nullptr);
  auto ggml_dot = reinterpret_cast<ggml_vec_dot>(libs().symbol(c.dot));
  ASSERT_NE(ggml_dot, nullptr) << c.dot;
  const int64_t block = type_traits(c.type).block_size == 1 ? 32 : type_traits(c.type).block_size;
  uint32_t seed = 7 + static_cast<uint32_t>(c.type) * 1000;
  for (int64_t blocks : {1, 3, 31, 33, 255}) {
    for (float w_scale : {0.02f, 1.0f}) {
      const int64_t n = blocks * block;
      SCOPED_TRACE("n=" + std::to_string(n) + " w_scale=" + std::to_string(w_scale));
      const auto w = ggml_encode(c.quantize, c.type, random_row(n, seed++, w_scale));
      const auto a = ggml_encode(c.act_quantize, k->vec_dot_type, random_row(n, seed++, 3.0f));
      float ours = 0.0f;
      float theirs = 1.0f;
      k->vec_dot(n, &ours, w.data(), a.data());
      ggml_dot(static_cast<int>(n), &theirs, 0, w.data(), 0, a.data(), 0, 1);
      EXPECT_EQ(std::memcmp(&ours, &theirs, sizeof(float)), 0) << ours << " vs ggml " << theirs;
    }
  }
}

TEST_P(ggml_dot_test, from_float_matches_ggml_bytes) {
  const ggml_case c = GetParam();
  const type_kernels* k = kernels_for(c.type);
  ASSERT_NE(k, nullptr);
  const int64_t n = 33 * 256;  // a whole number of blocks for every activation format
  const std::vector<float> x = random_row(n, 99 + static_cast<uint32_t>(c.type), 3.0f);
  std::vector<uint8_t> ours(row_size(k->vec_dot_type, n));
  k->from_float(x.data(), ours.data(), n);
  EXPECT_EQ(ours, ggml_encode(c.act_quantize, k->vec_dot_type, x));
}

// Names the case in gtest failure messages instead of a byte dump.
void PrintTo(const ggml_case& c, std::ostream* os) { *os << c.dot; }

std::string case_name(const ::testing::TestParamInfo<ggml_case>& p) {
  return std::string(type_traits(p.param.type).name);
}

INSTANTIATE_TEST_SUITE_P(all_weight_types, ggml_dot_test, ::testing::ValuesIn(k_cases), case_name);

}  // namespace
}  // namespace pocketlm::kernels
