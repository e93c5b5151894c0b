// Row dot products from the dispatch table, for every supported weight type: random rows are
// quantized with quantize_row, activations converted with the table's from_float, and the kernel
// result is checked (1) against a double-precision dot of the decoded rows with a float-rounding
// tolerance, and (2) against the exact dot of the original floats with a per-type quantization
// tolerance. Guard bytes catch writes past the converted row and reads past either row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <type_traits>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace pocketlm::kernels {
namespace {

struct type_case {
  ggml_type type;
  // Allowed |kernel - exact float dot| in units of ||w|| * ||a|| / sqrt(n), the size of the
  // typical dot-product error made by quantization noise; about 5x the observed rms error.
  double quant_tol;
};

constexpr type_case k_cases[] = {
    {ggml_type::f32, 1e-6}, {ggml_type::f16, 4e-3}, {ggml_type::bf16, 3e-2}, {ggml_type::q4_0, 0.4},
    {ggml_type::q4_1, 0.4}, {ggml_type::q5_0, 0.2}, {ggml_type::q5_1, 0.2},  {ggml_type::q8_0, 0.04},
    {ggml_type::q4_k, 0.3}, {ggml_type::q5_k, 0.2}, {ggml_type::q6_k, 0.1},
};

constexpr size_t k_guard_bytes = 64;

// A row buffer followed by guard bytes that must come back unchanged.
class guarded_row {
 public:
  explicit guarded_row(size_t size) : size_(size), bytes_(size + k_guard_bytes) { fill_guard(0); }
  void* data() { return bytes_.data(); }
  const void* data() const { return bytes_.data(); }
  void fill_guard(uint8_t v) {
    guard_ = v;
    std::memset(bytes_.data() + size_, v, k_guard_bytes);
  }
  bool guard_intact() const {
    for (size_t i = size_; i < bytes_.size(); ++i) {
      if (bytes_[i] != guard_) return false;
    }
    return true;
  }

 private:
  size_t size_;
  std::vector<uint8_t> bytes_;
  uint8_t guard_ = 0;
};

// Two input styles: uniform [-1, 1], and LLM-like small gaussian weights with an offset
// (exercises q4_1/q5_1/K mins) against larger gaussian activations.
std::vector<float> random_row(int64_t n, uint32_t seed, bool gaussian, bool weights) {
  std::mt19937 rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::normal_distribution<float> w_dist(0.01f, 0.02f);
  std::normal_distribution<float> a_dist(0.0f, 2.0f);
  for (auto& x : v) x = !gaussian ? uni(rng) : (weights ? w_dist(rng) : a_dist(rng));
  return v;
}

template <typename block>
std::vector<double> decode_q8(const void* row, int64_t n) {
  const auto* b = static_cast<const block*>(row);
  constexpr int64_t qk = sizeof(b->qs);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double d = 0.0;
    if constexpr (std::is_same_v<block, block_q8_k>) {
      d = b[i / qk].d;
    } else {
      d = fp16_to_f32(b[i / qk].d);
    }
    out[static_cast<size_t>(i)] = d * b[i / qk].qs[i % qk];
  }
  return out;
}

// The activation values the kernel sees, decoded independently of the code under test.
std::vector<double> decode_activations(ggml_type t, const void* row, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  switch (t) {
    case ggml_type::f32:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<const float*>(row)[i];
      return out;
    case ggml_type::f16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_f32(static_cast<const fp16_t*>(row)[i]);
      return out;
    case ggml_type::bf16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(static_cast<const bf16_t*>(row)[i]);
      return out;
    case ggml_type::q8_0: return decode_q8<block_q8_0>(row, n);
    case ggml_type::q8_1: return decode_q8<block_q8_1>(row, n);
    case ggml_type::q8_k: return decode_q8<block_q8_k>(row, n);
    default: ADD_FAILURE() << "unexpected activation type"; return out;
  }
}

// q4_1/q5_1 dots take sum(a) of a block from q8_1's stored s = fp16(d_f32 * sum(qs)) rather than
// from the decoded values; this returns sum over blocks of m * (s - decoded sum), the exact
// amount that moves the result.
double q8_1_sum_correction(const void* w_row, const void* act_row, int64_t n, size_t w_block) {
  const auto* w = static_cast<const uint8_t*>(w_row);
  const auto* a = static_cast<const block_q8_1*>(act_row);
  double total = 0.0;
  for (int64_t b = 0; b < n / qk8_1; ++b) {
    fp16_t m = 0;  // q4_1 and q5_1 both start with fp16 d, fp16 m
    std::memcpy(&m, w + static_cast<size_t>(b) * w_block + sizeof(fp16_t), sizeof(m));
    int sum_q = 0;
    for (int8_t q : a[b].qs) sum_q += q;
    const double decoded = static_cast<double>(fp16_to_f32(a[b].d)) * sum_q;
    total += static_cast<double>(fp16_to_f32(m)) * (fp16_to_f32(a[b].s) - decoded);
  }
  return total;
}

bool has_offset(ggml_type t) {
  return t == ggml_type::q4_1 || t == ggml_type::q5_1 || t == ggml_type::q4_k || t == ggml_type::q5_k;
}

float call_dot(const type_kernels& k, int64_t n, const guarded_row& w, const guarded_row& a) {
  float out[3] = {-7.0f, NAN, -7.0f};  // out[0] and out[2] guard the result slot
  k.vec_dot(n, &out[1], w.data(), a.data());
  EXPECT_EQ(out[0], -7.0f);
  EXPECT_EQ(out[2], -7.0f);
  return out[1];
}

void check_row(const type_case& tc, int64_t n, uint32_t seed, bool gaussian) {
  SCOPED_TRACE(std::string(type_traits(tc.type).name) + " n=" + std::to_string(n) +
               (gaussian ? " gaussian" : " uniform"));
  const type_kernels* k = kernels_for(tc.type);
  ASSERT_NE(k, nullptr);
  const std::vector<float> wf = random_row(n, seed, gaussian, true);
  const std::vector<float> af = random_row(n, seed + 1, gaussian, false);

  guarded_row w(row_size(tc.type, n));
  guarded_row a(row_size(k->vec_dot_type, n));
  quantize_row(tc.type, wf.data(), w.data(), n);
  k->from_float(af.data(), a.data(), n);
  ASSERT_TRUE(w.guard_intact());
  ASSERT_TRUE(a.guard_intact()) << "from_float wrote past the row";

  std::vector<float> wd(static_cast<size_t>(n));
  dequantize_row(tc.type, w.data(), wd.data(), n);
  const std::vector<double> ad = decode_activations(k->vec_dot_type, a.data(), n);

  const float got = call_dot(*k, n, w, a);
  ASSERT_TRUE(std::isfinite(got));
  // Reads past either row would see different guard bytes the second time.
  w.fill_guard(0xFF);
  a.fill_guard(0xFF);
  const float again = call_dot(*k, n, w, a);
  EXPECT_EQ(std::memcmp(&got, &again, sizeof(float)), 0) << "result depends on bytes past the rows";

  double ref = 0.0, magnitude = 0.0, exact = 0.0, w_norm = 0.0, a_norm = 0.0, w_max = 0.0;
  for (int64_t i = 0; i < n; ++i) w_max = std::max(w_max, std::fabs(static_cast<double>(wd[i])));
  for (int64_t i = 0; i < n; ++i) {
    ref += wd[i] * ad[i];
    // Offset types sum d*sc*q*a and m*a separately; each is bounded by ~2 * max|w| * |a|.
    magnitude += (std::fabs(wd[i]) + (has_offset(tc.type) ? 2.0 * w_max : 0.0)) * std::fabs(ad[i]);
    exact += static_cast<double>(wf[i]) * af[i];
    w_norm += static_cast<double>(wf[i]) * wf[i];
    a_norm += static_cast<double>(af[i]) * af[i];
  }
  if (k->vec_dot_type == ggml_type::q8_1) {
    ref += q8_1_sum_correction(w.data(), a.data(), n, type_traits(tc.type).type_size);
  }
  // Float types sum in double, so only the product and final roundings remain (<= eps * sum
  // of |terms|). Quantized types round each block's scaling and keep a float running sum over
  // the blocks, whose error grows like sqrt(blocks) for these random rows (observed < 10% of
  // this bound).
  const double n_sums = static_cast<double>(n / type_traits(tc.type).block_size);
  const bool float_type = type_traits(tc.type).block_size == 1;
  const double round_tol = FLT_EPSILON * (float_type ? 1.0 : std::sqrt(n_sums) + 2.0) * magnitude;
  EXPECT_NEAR(got, ref, round_tol);

  const double noise = std::sqrt(w_norm * a_norm / static_cast<double>(n));
  EXPECT_NEAR(got, exact, tc.quant_tol * noise);
}

class dot_test : public ::testing::TestWithParam<type_case> {};

TEST_P(dot_test, matches_decoded_and_exact_dot) {
  const type_case tc = GetParam();
  const int64_t block = type_traits(tc.type).block_size;
  // Block sizes: 32 for the q*_0/q*_1 types, 256 for K-quants; the float types also take
  // block-sized rows since activations for other weight types come in those lengths.
  std::vector<int64_t> lengths;
  for (int64_t blocks : {1, 3, 31, 33, 255}) lengths.push_back(blocks * (block == 1 ? 32 : block));
  if (block == 1) {
    for (int64_t len : {1, 3, 31, 33, 255}) lengths.push_back(len);
  }
  uint32_t seed = 1000 + static_cast<uint32_t>(tc.type) * 100;
  for (int64_t n : lengths) {
    for (bool gaussian : {false, true}) {
      check_row(tc, n, seed, gaussian);
      seed += 2;
    }
  }
}

// Names the case in gtest failure messages instead of a byte dump.
void PrintTo(const type_case& c, std::ostream* os) { *os << type_traits(c.type).name; }

std::string case_name(const ::testing::TestParamInfo<type_case>& p) {
  return std::string(type_traits(p.param.type).name);
}

INSTANTIATE_TEST_SUITE_P(all_weight_types, dot_test, ::testing::ValuesIn(k_cases), case_name);

TEST(kernels_for, pairs_each_weight_type_with_ggml_vec_dot_type) {
  const std::pair<ggml_type, ggml_type> pairs[] = {
      {ggml_type::f32, ggml_type::f32},   {ggml_type::f16, ggml_type::f16},   {ggml_type::bf16, ggml_type::bf16},
      {ggml_type::q4_0, ggml_type::q8_0}, {ggml_type::q4_1, ggml_type::q8_1}, {ggml_type::q5_0, ggml_type::q8_0},
      {ggml_type::q5_1, ggml_type::q8_1}, {ggml_type::q8_0, ggml_type::q8_0}, {ggml_type::q4_k, ggml_type::q8_k},
      {ggml_type::q5_k, ggml_type::q8_k}, {ggml_type::q6_k, ggml_type::q8_k},
  };
  for (const auto& [weight, act] : pairs) {
    const type_kernels* k = kernels_for(weight);
    ASSERT_NE(k, nullptr) << type_traits(weight).name;
    EXPECT_EQ(k->vec_dot_type, act) << type_traits(weight).name;
    EXPECT_NE(k->from_float, nullptr);
    EXPECT_NE(k->vec_dot, nullptr);
    EXPECT_EQ(kernels_for(weight), k) << "table entries are stable";
  }
}

TEST(kernels_for, returns_null_for_unsupported_types) {
  for (ggml_type t : {ggml_type::q2_k, ggml_type::q3_k, ggml_type::q8_1, ggml_type::q8_k, ggml_type::iq4_nl,
                      ggml_type::i32, ggml_type::mxfp4}) {
    EXPECT_EQ(kernels_for(t), nullptr) << type_traits(t).name;
  }
  EXPECT_EQ(kernels_for(static_cast<ggml_type>(4)), nullptr);     // removed q4_2
  EXPECT_EQ(kernels_for(static_cast<ggml_type>(1000)), nullptr);  // past the table
}

// q8_0 x q8_0 with unit scales is an exact integer dot, so the block layout and the per-block
// scaling can be checked without any quantizer.
TEST(vec_dot, q8_0_with_unit_scales_is_an_integer_dot) {
  const type_kernels* k = kernels_for(ggml_type::q8_0);
  ASSERT_NE(k, nullptr);
  std::vector<block_q8_0> w(3), a(3);
  int64_t expect = 0;
  for (int b = 0; b < 3; ++b) {
    w[b].d = f32_to_fp16(1.0f);
    a[b].d = f32_to_fp16(b == 2 ? 0.5f : 1.0f);
    for (int j = 0; j < qk8_0; ++j) {
      w[b].qs[j] = static_cast<int8_t>(j * 7 % 255 - 127);
      a[b].qs[j] = static_cast<int8_t>(127 - j * 5);
      expect += static_cast<int64_t>(w[b].qs[j]) * a[b].qs[j] * (b == 2 ? 1 : 2);
    }
  }
  float out = 0.0f;
  k->vec_dot(3 * qk8_0, &out, w.data(), a.data());
  EXPECT_EQ(out, static_cast<float>(expect) / 2.0f);
}

}  // namespace
}  // namespace pocketlm::kernels
