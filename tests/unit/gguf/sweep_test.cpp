// Truncation and random-corruption sweeps: every prefix of a valid file short of its last
// tensor byte must be rejected with a message, and random byte damage must never crash; what
// still parses must satisfy every invariant the reader promises.
#include <gtest/gtest.h>

#include <random>

#include "gguf/gguf.h"

namespace pocketlm::gguf {
namespace {

std::vector<uint8_t> small_valid_file() {
  writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("flag", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  w.set_i32_array("ids", {1, -2, 3});
  const value inner{value_type::array, array_value{value_type::u8, {value{value_type::u8, uint64_t{7}}}}};
  w.set_value("nested", value{value_type::array, array_value{value_type::array, {inner, inner}}});
  w.add_tensor("a", ggml_type::f32, {5, 2}, std::vector<uint8_t>(40, 1));
  w.add_tensor("b", ggml_type::q8_0, {32}, std::vector<uint8_t>(34, 2));
  return w.to_bytes();
}

// Reads everything a consumer could read and checks the reader's guarantees.
void touch_everything(const file& f) {
  std::vector<const value*> stack;
  for (const auto& kv : f.metadata()) {
    (void)f.get_u32(kv.key);
    (void)f.get_f32(kv.key);
    (void)f.get_string(kv.key);
    stack.push_back(&kv.val);
  }
  while (!stack.empty()) {
    const value* v = stack.back();
    stack.pop_back();
    (void)v->as_int();
    (void)v->as_float();
    if (const auto* a = v->as_array()) {
      for (const auto& item : a->items) {
        ASSERT_EQ(item.type, a->elem_type);
        stack.push_back(&item);
      }
    }
  }
  ASSERT_EQ(f.alignment() & (f.alignment() - 1), 0u);
  ASSERT_LE(f.data_offset(), f.size());
  for (const auto& t : f.tensors()) {
    ASSERT_LE(t.n_dims, 4u);
    ASSERT_GT(t.n_elements(), 0);
    ASSERT_EQ(t.offset % f.alignment(), 0u);
    ASSERT_GT(t.n_bytes, 0u);
    ASSERT_LE(f.data_offset() + t.offset + t.n_bytes, f.size());
    const uint8_t* p = f.tensor_data(t);
    volatile uint8_t sink = static_cast<uint8_t>(p[0] + p[t.n_bytes - 1]);
    (void)sink;
  }
}

size_t end_of_last_tensor(const file& f) {
  size_t end = f.data_offset();
  for (const auto& t : f.tensors()) end = std::max<size_t>(end, f.data_offset() + t.offset + t.n_bytes);
  return end;
}

TEST(gguf_sweep, every_truncation_fails_cleanly) {
  const auto bytes = small_valid_file();
  auto full = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(full.ok()) << full.error_message();
  const size_t needed = end_of_last_tensor(**full);
  ASSERT_LT(needed, bytes.size());  // the last tensor's padding is optional
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A fresh copy of exactly n bytes so ASan catches any read past the prefix.
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    auto r = file::parse(prefix.data(), prefix.size());
    if (n < needed) {
      ASSERT_FALSE(r.ok()) << "prefix " << n << " parsed";
      ASSERT_EQ(r.error_message().rfind("gguf: ", 0), 0u) << r.error_message();
      ASSERT_EQ(r.error_message().find('\n'), std::string::npos);
    } else {
      ASSERT_TRUE(r.ok()) << "prefix " << n << ": " << r.error_message();
      touch_everything(**r);
    }
  }
}

TEST(gguf_sweep, stories260k_metadata_truncations_fail_cleanly) {
  auto model = file::open(std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf");
  ASSERT_TRUE(model.ok()) << model.error_message();
  const uint8_t* base = (*model)->bytes();
  const size_t header = (*model)->data_offset();
  ASSERT_GT(header, 1000u);
  for (size_t n = 0; n <= header; ++n) {
    const std::vector<uint8_t> prefix(base, base + n);
    ASSERT_FALSE(file::parse(prefix.data(), prefix.size()).ok()) << n;
  }
}

TEST(gguf_sweep, random_byte_damage_never_crashes) {
  const auto bytes = small_valid_file();
  std::mt19937_64 rng(1234);
  int rejected = 0, accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> damaged = bytes;
    const int n_changes = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < n_changes; ++c) {
      const size_t pos = rng() % damaged.size();
      switch (rng() % 3) {
        case 0: damaged[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: damaged[pos] = static_cast<uint8_t>(rng()); break;
        default: damaged[pos] = 0xFF; break;
      }
    }
    if (rng() % 4 == 0) damaged.resize(rng() % damaged.size());
    auto r = file::parse(damaged.data(), damaged.size());
    if (r.ok()) {
      ++accepted;
      touch_everything(**r);
      if (::testing::Test::HasFatalFailure()) return;
    } else {
      ++rejected;
      ASSERT_EQ(r.error_message().find('\n'), std::string::npos) << r.error_message();
    }
  }
  // Both outcomes occur: damage in tensor data is harmless, damage in the header is caught.
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(accepted, 1000);
}

}  // namespace
}  // namespace pocketlm::gguf
