// llama.cpp's type mixing (expected types worked out by hand from src/llama-quant.cpp) and
// whole-file quantization round trips on a small generated model.
#include "model/quantize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tensor/quant.h"

namespace pocketlm {
namespace {

using T = ggml_type;

gguf::tensor_info info(std::string name, std::vector<int64_t> ne) {
  gguf::tensor_info t;
  t.name = std::move(name);
  t.n_dims = static_cast<uint32_t>(ne.size());
  for (size_t i = 0; i < ne.size(); ++i) t.ne[i] = ne[i];
  return t;
}

struct shape {
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab;
  bool tied, bias;
};

// Tensors of a llama/qwen2 model, sorted in llama.cpp's quantization order.
std::vector<gguf::tensor_info> model_tensors(const shape& s) {
  std::vector<gguf::tensor_info> t;
  t.push_back(info("token_embd.weight", {s.n_embd, s.n_vocab}));
  t.push_back(info("output_norm.weight", {s.n_embd}));
  if (!s.tied) t.push_back(info("output.weight", {s.n_embd, s.n_vocab}));
  const int64_t q = s.n_head * s.head_dim;
  const int64_t kv = s.n_head_kv * s.head_dim;
  for (int64_t il = 0; il < s.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    for (auto [n, ne] :
         std::vector<std::pair<std::string, std::vector<int64_t>>>{{"attn_norm.weight", {s.n_embd}},
                                                                   {"attn_q.weight", {s.n_embd, q}},
                                                                   {"attn_k.weight", {s.n_embd, kv}},
                                                                   {"attn_v.weight", {s.n_embd, kv}},
                                                                   {"attn_output.weight", {q, s.n_embd}},
                                                                   {"ffn_norm.weight", {s.n_embd}},
                                                                   {"ffn_gate.weight", {s.n_embd, s.n_ff}},
                                                                   {"ffn_up.weight", {s.n_embd, s.n_ff}},
                                                                   {"ffn_down.weight", {s.n_ff, s.n_embd}}}) {
      t.push_back(info(b + n, ne));
    }
    if (s.bias) {
      t.push_back(info(b + "attn_q.bias", {q}));
      t.push_back(info(b + "attn_k.bias", {kv}));
      t.push_back(info(b + "attn_v.bias", {kv}));
    }
  }
  std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return tensor_order_less(a.name, b.name); });
  return t;
}

std::map<std::string, ggml_type> choose_all(const std::string& arch, const shape& s, file_type ft,
                                            int* n_fallback = nullptr) {
  mix_state st;
  st.ft = ft;
  st.info = {arch,    static_cast<int>(s.n_layer), static_cast<int>(s.n_head), static_cast<int>(s.n_head_kv),
             !s.tied, static_cast<int>(s.n_layer)};
  std::map<std::string, ggml_type> out;
  for (const auto& t : model_tensors(s)) out[t.name] = choose_tensor_type(st, t);
  if (n_fallback) *n_fallback = st.n_fallback;
  return out;
}

const shape k_qwen25_05b{896, 24, 14, 2, 64, 4864, 151936, true, true};
const shape k_r1_15b{1536, 28, 12, 2, 128, 8960, 151936, false, true};

// use_more_bits(i, n): first/last eighth and every third layer in between.
bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(choose_tensor_type, qwen25_05b_q4_k_m_falls_back_where_896_is_not_a_multiple_of_256) {
  int n_fallback = 0;
  const auto types = choose_all("qwen2", k_qwen25_05b, file_type::q4_k_m, &n_fallback);
  // Tied: token_embd gets the output treatment; 896 % 256 != 0 -> q8_0 directly.
  EXPECT_EQ(types.at("token_embd.weight"), T::q8_0);
  EXPECT_EQ(types.at("output_norm.weight"), T::f32);
  const std::vector<int> more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23};
  for (int il = 0; il < 24; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const bool m = std::find(more.begin(), more.end(), il) != more.end();
    ASSERT_EQ(m, more_bits(il, 24)) << il;
    EXPECT_EQ(types.at(b + "attn_q.weight"), T::q5_0) << il;  // q4_K -> q5_0
    EXPECT_EQ(types.at(b + "attn_k.weight"), T::q5_0) << il;
    EXPECT_EQ(types.at(b + "attn_v.weight"), m ? T::q8_0 : T::q5_0) << il;  // q6_K -> q8_0
    EXPECT_EQ(types.at(b + "attn_output.weight"), T::q5_0) << il;
    EXPECT_EQ(types.at(b + "ffn_gate.weight"), T::q5_0) << il;
    EXPECT_EQ(types.at(b + "ffn_up.weight"), T::q5_0) << il;
    EXPECT_EQ(types.at(b + "ffn_down.weight"), m ? T::q6_k : T::q4_k) << il;  // 4864 = 19 * 256
    EXPECT_EQ(types.at(b + "attn_q.bias"), T::f32) << il;
    EXPECT_EQ(types.at(b + "attn_norm.weight"), T::f32) << il;
  }
  EXPECT_EQ(n_fallback, 24 * 6);  // q, k, v, output, gate, up per layer
}

TEST(choose_tensor_type, r1_qwen_15b_q4_k_m) {
  const auto types = choose_all("qwen2", k_r1_15b, file_type::q4_k_m);
  EXPECT_EQ(types.at("token_embd.weight"), T::q4_k);  // untied: plain base type
  EXPECT_EQ(types.at("output.weight"), T::q6_k);
  const std::vector<int> more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
  for (int il = 0; il < 28; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const bool m = std::find(more.begin(), more.end(), il) != more.end();
    ASSERT_EQ(m, more_bits(il, 28)) << il;
    EXPECT_EQ(types.at(b + "attn_q.weight"), T::q4_k) << il;
    EXPECT_EQ(types.at(b + "attn_v.weight"), m ? T::q6_k : T::q4_k) << il;
    EXPECT_EQ(types.at(b + "ffn_down.weight"), m ? T::q6_k : T::q4_k) << il;
    EXPECT_EQ(types.at(b + "ffn_up.weight"), T::q4_k) << il;
  }
}

TEST(choose_tensor_type, q5_k_m_uses_q5_k_and_the_same_bumps) {
  const auto types = choose_all("qwen2", k_r1_15b, file_type::q5_k_m);
  EXPECT_EQ(types.at("token_embd.weight"), T::q5_k);
  EXPECT_EQ(types.at("output.weight"), T::q6_k);
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), T::q6_k);
  EXPECT_EQ(types.at("blk.3.attn_v.weight"), T::q5_k);
  EXPECT_EQ(types.at("blk.3.ffn_down.weight"), T::q5_k);
  // 896-wide rows: q5_K falls back to q5_1.
  EXPECT_EQ(choose_all("qwen2", k_qwen25_05b, file_type::q5_k_m).at("blk.3.ffn_up.weight"), T::q5_1);
}

TEST(choose_tensor_type, q4_0_gives_the_output_matrix_q6_k_or_q8_0) {
  int n_fallback = 0;
  const auto tied = choose_all("qwen2", k_qwen25_05b, file_type::q4_0, &n_fallback);
  EXPECT_EQ(tied.at("token_embd.weight"), T::q8_0);  // q6_K, then 896 % 256 -> q8_0
  EXPECT_EQ(n_fallback, 1);
  EXPECT_EQ(tied.at("blk.0.attn_v.weight"), T::q4_0);
  EXPECT_EQ(tied.at("blk.0.ffn_down.weight"), T::q4_0);
  const auto untied = choose_all("qwen2", k_r1_15b, file_type::q4_0);
  EXPECT_EQ(untied.at("output.weight"), T::q6_k);
  EXPECT_EQ(untied.at("token_embd.weight"), T::q4_0);
}

TEST(choose_tensor_type, q8_0_keeps_q8_0_everywhere) {
  for (const auto& [name, type] : choose_all("qwen2", k_r1_15b, file_type::q8_0)) {
    const bool matrix = name.find("norm") == std::string::npos && name.find("bias") == std::string::npos;
    EXPECT_EQ(type, matrix ? T::q8_0 : T::f32) << name;
  }
}

TEST(choose_tensor_type, float_file_types_convert_matrices_without_mixing) {
  for (auto [ft, want] :
       {std::pair{file_type::mostly_f16, T::f16}, {file_type::bf16, T::bf16}, {file_type::all_f32, T::f32}}) {
    const auto types = choose_all("qwen2", k_qwen25_05b, ft);
    EXPECT_EQ(types.at("token_embd.weight"), want);
    EXPECT_EQ(types.at("blk.0.attn_v.weight"), want);
    EXPECT_EQ(types.at("blk.0.attn_norm.weight"), T::f32);
  }
}

TEST(choose_tensor_type, rows_not_a_multiple_of_32_fall_back_to_f16) {
  // stories260K: n_embd 64, n_ff 172; ffn_down rows are 172 long.
  const shape stories{64, 5, 8, 4, 8, 172, 512, false, false};
  auto types = choose_all("llama", stories, file_type::q8_0);
  EXPECT_EQ(types.at("blk.0.ffn_down.weight"), T::f16);
  EXPECT_EQ(types.at("blk.0.ffn_up.weight"), T::q8_0);
  types = choose_all("llama", stories, file_type::q4_k_m);
  EXPECT_EQ(types.at("output.weight"), T::q8_0);  // 64 % 256 != 0
  EXPECT_EQ(types.at("blk.0.ffn_up.weight"), T::q5_0);
  EXPECT_EQ(types.at("blk.0.ffn_down.weight"), T::f16);  // q6_K -> q8_0 -> f16
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), T::q5_0);   // use_more_bits(0, 5) is false
  EXPECT_EQ(types.at("blk.4.attn_v.weight"), T::q8_0);   // last eighth: q6_K -> q8_0
}

TEST(choose_tensor_type, llama_70b_bumps_attn_v_to_q5_k) {
  const shape l70{8192, 80, 64, 8, 128, 28672, 128256, false, false};
  const auto types = choose_all("llama", l70, file_type::q4_k_m);
  ASSERT_FALSE(more_bits(11, 80));
  EXPECT_EQ(types.at("blk.11.attn_v.weight"), T::q5_k);
  EXPECT_EQ(types.at("blk.11.attn_q.weight"), T::q4_k);
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), T::q6_k);
}

TEST(choose_tensor_type, skips_one_dimensional_and_norm_tensors) {
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_norm.weight", {256, 1, 1, 1}));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q.bias", {256, 1, 1, 1}));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q.bias", {256, 256, 1, 1}));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q_norm.weight", {64, 64, 1, 1}));
  EXPECT_FALSE(tensor_is_quantizable("rope_freqs.weight", {64, 1, 1, 1}));
  EXPECT_TRUE(tensor_is_quantizable("blk.0.attn_q.weight", {256, 256, 1, 1}));
}

TEST(tensor_order, non_block_tensors_first_then_numeric_block_order) {
  EXPECT_TRUE(tensor_order_less("token_embd.weight", "blk.0.attn_q.weight"));
  EXPECT_TRUE(tensor_order_less("blk.2.ffn_up.weight", "blk.10.attn_k.weight"));
  EXPECT_TRUE(tensor_order_less("blk.2.attn_k.weight", "blk.2.attn_q.weight"));
  EXPECT_FALSE(tensor_order_less("blk.10.attn_k.weight", "blk.2.ffn_up.weight"));
}

TEST(file_type, parses_names_in_any_case) {
  file_type ft{};
  ASSERT_TRUE(parse_file_type("Q4_K_M", ft));
  EXPECT_EQ(static_cast<uint32_t>(ft), 15u);
  ASSERT_TRUE(parse_file_type("bf16", ft));
  EXPECT_EQ(static_cast<uint32_t>(ft), 32u);
  ASSERT_TRUE(parse_file_type("F32", ft));
  EXPECT_EQ(static_cast<uint32_t>(ft), 0u);
  EXPECT_FALSE(parse_file_type("q4_k_s", ft));
  EXPECT_EQ(file_type_name(file_type::q5_k_m), "q5_k_m");
  EXPECT_EQ(file_type_base(file_type::q6_k), T::q6_k);
}

// ---- whole-file quantization ----

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  // The pid keeps parallel ctest processes (one per test case) off each other's files.
  return (fs::path(::testing::TempDir()) / ("pocketlm_quantize_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> as_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Tiny llama-shaped F32 model: 256-wide (K-quant friendly), n_ff 352 (= 11 * 32, not a multiple
// of 256) and one 40-wide matrix that no block type fits. Written out of llama.cpp order.
void add_tiny_tensors(gguf::writer& w, std::map<std::string, std::vector<float>>& src) {
  uint32_t seed = 1;
  const auto add = [&](const std::string& name, std::vector<int64_t> ne) {
    size_t n = 1;
    for (auto d : ne) n *= static_cast<size_t>(d);
    src[name] = random_values(n, seed++);
    w.add_tensor(name, T::f32, std::move(ne), as_bytes(src[name]));
  };
  for (int il = 1; il >= 0; --il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_norm.weight", {256});
    add(b + "attn_q.weight", {256, 256});
    add(b + "attn_k.weight", {256, 128});
    add(b + "attn_v.weight", {256, 128});
    add(b + "attn_output.weight", {256, 256});
    add(b + "ffn_gate.weight", {256, 352});
    add(b + "ffn_down.weight", {352, 256});
  }
  add("token_embd.weight", {256, 64});
  add("output.weight", {256, 64});
  add("output_norm.weight", {256});
  add("odd.weight", {40, 8});
}

struct tiny_model {
  std::string path = temp_path("tiny_f32.gguf");
  std::map<std::string, std::vector<float>> src;
  tiny_model() {
    gguf::writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", "tiny");
    w.set_u32("general.file_type", 0);
    w.set_u32("llama.block_count", 2);
    w.set_u32("llama.attention.head_count", 4);
    w.set_u32("llama.attention.head_count_kv", 2);
    w.set_string_array("tokenizer.ggml.tokens", {"a", "b"});
    add_tiny_tensors(w, src);
    EXPECT_TRUE(w.write_file(path).ok());
  }
  ~tiny_model() { fs::remove(path); }
};

// Relative RMS error a type's round trip stays under on uniform data.
double error_bound(ggml_type t) {
  switch (t) {
    case T::f32: return 0.0;
    case T::f16: return 1e-3;
    case T::bf16: return 1e-2;
    case T::q8_0: return 0.01;
    case T::q6_k: return 0.03;
    case T::q5_0:
    case T::q5_1:
    case T::q5_k: return 0.06;
    default: return 0.12;  // 4-bit types
  }
}

double relative_rms_error(const gguf::tensor_info& t, const uint8_t* data, const std::vector<float>& ref) {
  std::vector<float> got(ref.size());
  const size_t row = row_size(t.type, t.ne[0]);
  for (int64_t r = 0; r < t.ne[1]; ++r) {
    dequantize_row(t.type, data + r * row, got.data() + r * t.ne[0], t.ne[0]);
  }
  double err = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (got[i] - ref[i]) * double(got[i] - ref[i]);
    norm += ref[i] * double(ref[i]);
  }
  return std::sqrt(err / norm);
}

class quantize_file_test : public ::testing::TestWithParam<file_type> {};

TEST_P(quantize_file_test, round_trip_types_metadata_and_error) {
  const tiny_model model;
  const std::string out = temp_path("tiny_" + std::string(file_type_name(GetParam())) + ".gguf");
  auto summary = quantize_file(model.path, out, GetParam(), 2, nullptr);
  ASSERT_TRUE(summary.ok()) << summary.error_message();
  EXPECT_EQ(summary->n_tensors, model.src.size());
  auto f = gguf::file::open(out);
  ASSERT_TRUE(f.ok()) << f.error_message();
  EXPECT_EQ((*f)->get_u32("general.file_type"), static_cast<uint32_t>(GetParam()));
  EXPECT_EQ((*f)->get_u32("general.quantization_version"), 2u);
  EXPECT_EQ((*f)->get_string("general.name"), "tiny");
  ASSERT_NE((*f)->get_array("tokenizer.ggml.tokens"), nullptr);
  ASSERT_EQ((*f)->tensors().size(), model.src.size());
  EXPECT_EQ((*f)->tensors().front().name, "odd.weight");  // llama.cpp order
  EXPECT_EQ((*f)->tensors().back().name, "blk.1.ffn_gate.weight");
  // Expected types from the mixing rules over the same (sorted) tensors.
  mix_state st{GetParam(), {"llama", 2, 4, 2, true, 2}};
  uint64_t bytes_out = 0;
  for (const auto& t : (*f)->tensors()) {
    gguf::tensor_info as_src = t;
    as_src.type = T::f32;
    EXPECT_EQ(t.type, choose_tensor_type(st, as_src)) << t.name;
    const double e = relative_rms_error(t, (*f)->tensor_data(t), model.src.at(t.name));
    EXPECT_LE(e, error_bound(t.type)) << t.name << " as " << type_traits(t.type).name;
    bytes_out += t.n_bytes;
  }
  EXPECT_EQ(summary->bytes_out, bytes_out);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(all_types, quantize_file_test,
                         ::testing::Values(file_type::all_f32, file_type::mostly_f16, file_type::bf16, file_type::q8_0,
                                           file_type::q4_0, file_type::q4_1, file_type::q5_0, file_type::q5_1,
                                           file_type::q4_k_m, file_type::q5_k_m, file_type::q6_k),
                         [](const auto& p) { return std::string(file_type_name(p.param)); });

TEST(quantize_file, q4_k_m_mix_on_the_tiny_model) {
  const tiny_model model;
  const std::string out = temp_path("tiny_mix.gguf");
  auto summary = quantize_file(model.path, out, file_type::q4_k_m, 1, nullptr);
  ASSERT_TRUE(summary.ok()) << summary.error_message();
  auto f = gguf::file::open(out);
  ASSERT_TRUE(f.ok());
  const auto type_of = [&](const char* n) { return (*f)->find_tensor(n)->type; };
  EXPECT_EQ(type_of("output.weight"), T::q6_k);
  EXPECT_EQ(type_of("token_embd.weight"), T::q4_k);
  EXPECT_EQ(type_of("output_norm.weight"), T::f32);
  EXPECT_EQ(type_of("odd.weight"), T::f16);              // 40 wide: nothing fits
  EXPECT_EQ(type_of("blk.0.attn_v.weight"), T::q4_k);    // use_more_bits(0, 2) is false
  EXPECT_EQ(type_of("blk.1.attn_v.weight"), T::q6_k);    // last eighth
  EXPECT_EQ(type_of("blk.0.ffn_down.weight"), T::q5_0);  // 352 wide: q4_K -> q5_0
  EXPECT_EQ(type_of("blk.1.ffn_down.weight"), T::q8_0);  // q6_K -> q8_0
  EXPECT_EQ(summary->n_fallback, 3);
  fs::remove(out);
}

TEST(quantize_file, requantizes_an_already_quantized_file) {
  const tiny_model model;
  const std::string mid = temp_path("tiny_q8.gguf");
  const std::string out = temp_path("tiny_q8_q4.gguf");
  ASSERT_TRUE(quantize_file(model.path, mid, file_type::q8_0, 2, nullptr).ok());
  auto summary = quantize_file(mid, out, file_type::q4_0, 2, nullptr);
  ASSERT_TRUE(summary.ok()) << summary.error_message();
  auto f = gguf::file::open(out);
  ASSERT_TRUE(f.ok());
  const auto* t = (*f)->find_tensor("blk.0.attn_q.weight");
  EXPECT_EQ(t->type, T::q4_0);
  EXPECT_LE(relative_rms_error(*t, (*f)->tensor_data(*t), model.src.at(t->name)), 0.13);
  fs::remove(mid);
  fs::remove(out);
}

TEST(quantize_file, reports_progress_up_to_the_total) {
  const tiny_model model;
  const std::string out = temp_path("tiny_progress.gguf");
  size_t calls = 0;
  size_t last_done = 0;
  size_t total = 0;
  std::vector<std::string> names;
  auto summary =
      quantize_file(model.path, out, file_type::q8_0, 2, [&](size_t done, size_t t, const std::string& name) {
        EXPECT_GE(done, last_done);
        last_done = done;
        total = t;
        names.push_back(name);
        ++calls;
      });
  ASSERT_TRUE(summary.ok()) << summary.error_message();
  EXPECT_GE(calls, model.src.size());
  EXPECT_EQ(last_done, total);
  EXPECT_EQ(total, summary->bytes_in);
  EXPECT_NE(std::find(names.begin(), names.end(), "blk.1.ffn_down.weight"), names.end());
  fs::remove(out);
}

TEST(quantize_file, errors_name_the_problem) {
  auto missing = quantize_file(temp_path("does_not_exist.gguf"), temp_path("x.gguf"), file_type::q8_0, 1, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error_message().find("does_not_exist.gguf"), std::string::npos);

  const tiny_model model;
  auto unwritable = quantize_file(model.path, temp_path("no_such_dir/out.gguf"), file_type::q8_0, 1, nullptr);
  ASSERT_FALSE(unwritable.ok());
  EXPECT_NE(unwritable.error_message().find("no_such_dir/out.gguf"), std::string::npos) << unwritable.error_message();
}

TEST(quantize_file, rejects_source_types_it_cannot_decode) {
  const std::string in = temp_path("iq2.gguf");
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 1);
  w.add_tensor("blk.0.attn_q.weight", T::iq2_xxs, {256, 2}, std::vector<uint8_t>(2 * 66, 0));
  ASSERT_TRUE(w.write_file(in).ok());
  auto r = quantize_file(in, temp_path("iq2_out.gguf"), file_type::q4_0, 1, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("blk.0.attn_q.weight"), std::string::npos) << r.error_message();
  EXPECT_NE(r.error_message().find("iq2_xxs"), std::string::npos) << r.error_message();
  fs::remove(in);
}

}  // namespace
}  // namespace pocketlm
