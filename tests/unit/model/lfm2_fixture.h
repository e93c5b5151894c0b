// Test fixture shared by the lfm2 unit tests (model and runtime): stories260K's weights
// rewritten as an lfm2 file whose layers 0, 1 and 3 convolve (3 taps) and 2 and 4 attend, with
// seeded convolution weights; `flaw` leaves out or mis-shapes one piece for the error tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include <unistd.h>

#include "gguf/gguf.h"

namespace pocketlm::lfm2_fixture {

inline const std::string k_stories = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";
inline constexpr int64_t k_embd = 64;
inline constexpr bool k_conv[5] = {true, true, false, true, false};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return {b, b + v.size() * sizeof(float)};
}

// Deterministic values in [-scale, scale).
inline std::vector<float> pseudo_random(size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
  }
  return v;
}

enum class flaw { none, no_in_proj, wide_taps, no_l_cache, short_kv_list };

// stories260K as lfm2. The attention tensors of the conv layers are dropped and shortconv ones
// added; output_norm is renamed token_embd_norm; attention layers get q/k norms (ones).
// window > 0 writes attention.sliding_window (the attention layers then keep a ring of cells);
// pooled writes a mean pooling type, without which a causal model does not embed.
inline std::string lfm2_from_stories(const std::string& tag, flaw f = flaw::none, uint32_t window = 0,
                                     bool pooled = false) {
  auto src = gguf::file::open(k_stories);
  if (!src.ok()) return {};
  gguf::writer w;
  for (const auto& kv : (*src)->metadata()) {
    std::string key = kv.key;
    if (key == "llama.attention.head_count_kv") continue;
    if (key.rfind("llama.", 0) == 0) key = "lfm2" + key.substr(5);
    w.set_value(key, kv.val);
  }
  w.set_string("general.architecture", "lfm2");
  std::vector<int32_t> kv_heads;
  for (bool c : k_conv) kv_heads.push_back(c ? 0 : 4);
  if (f == flaw::short_kv_list) kv_heads.pop_back();
  w.set_i32_array("lfm2.attention.head_count_kv", kv_heads);
  if (f != flaw::no_l_cache) w.set_u32("lfm2.shortconv.l_cache", 3);
  if (window > 0) w.set_u32("lfm2.attention.sliding_window", window);
  if (pooled) w.set_u32("lfm2.pooling_type", 1);
  for (const auto& t : (*src)->tensors()) {
    std::string name = t.name;
    const bool attn = name.find(".attn_") != std::string::npos && name.find("attn_norm") == std::string::npos;
    if (attn && name.size() > 6 && k_conv[name[4] - '0']) continue;
    if (name == "output_norm.weight") name = "token_embd_norm.weight";
    const uint8_t* d = (*src)->tensor_data(t);
    w.add_tensor(name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                 std::vector<uint8_t>(d, d + t.n_bytes));
  }
  for (int il = 0; il < 5; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    if (!k_conv[il]) {
      w.add_tensor(p + "attn_q_norm.weight", ggml_type::f32, {8}, f32_bytes(std::vector<float>(8, 1.0f)));
      w.add_tensor(p + "attn_k_norm.weight", ggml_type::f32, {8}, f32_bytes(std::vector<float>(8, 1.0f)));
      continue;
    }
    const int64_t taps = f == flaw::wide_taps ? 4 : 3;
    w.add_tensor(p + "shortconv.conv.weight", ggml_type::f32, {taps, k_embd},
                 f32_bytes(pseudo_random(static_cast<size_t>(taps * k_embd), il, 1.0f)));
    if (f != flaw::no_in_proj || il != 1) {
      w.add_tensor(p + "shortconv.in_proj.weight", ggml_type::f32, {k_embd, 3 * k_embd},
                   f32_bytes(pseudo_random(static_cast<size_t>(3 * k_embd * k_embd), 10 + il, 0.4f)));
    }
    w.add_tensor(p + "shortconv.out_proj.weight", ggml_type::f32, {k_embd, k_embd},
                 f32_bytes(pseudo_random(static_cast<size_t>(k_embd * k_embd), 20 + il, 0.2f)));
  }
  const auto path =
      std::filesystem::temp_directory_path() / ("pocketlm_lfm2_" + tag + "_" + std::to_string(getpid()) + ".gguf");
  return w.write_file(path.string()).ok() ? path.string() : std::string{};
}

}  // namespace pocketlm::lfm2_fixture
