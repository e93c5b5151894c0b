// Reading the real stories260K model and the typed metadata getters.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace pocketlm::gguf {
namespace {

using testing::gguf_bytes;

const std::string k_model = std::string(POCKETLM_SHARED_DIR) + "/models/stories260K.gguf";

std::unique_ptr<file> open_model() {
  auto r = file::open(k_model);
  EXPECT_TRUE(r.ok()) << r.error_message();
  return r.ok() ? std::move(r.value()) : nullptr;
}

TEST(gguf_reader, stories260k_header_and_metadata) {
  const auto f = open_model();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->size(), 1185376u);
  EXPECT_EQ(f->alignment(), 32u);  // no general.alignment key: the default
  EXPECT_EQ(f->find("general.alignment"), nullptr);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  // Tokenizer keys come first in this file.
  ASSERT_FALSE(f->metadata().empty());
  EXPECT_EQ(f->metadata()[0].key, "tokenizer.ggml.tokens");
  const array_value* tokens = f->get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->elem_type, value_type::string);
  ASSERT_EQ(tokens->items.size(), 512u);
  EXPECT_EQ(*tokens->items[0].as_string(), "<unk>");
  const array_value* scores = f->get_array("tokenizer.ggml.scores");
  ASSERT_NE(scores, nullptr);
  EXPECT_EQ(scores->elem_type, value_type::f32);
  EXPECT_EQ(scores->items.size(), 512u);
  EXPECT_EQ(f->get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(f->get_u32("llama.block_count"), 5u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
}

TEST(gguf_reader, stories260k_special_ids_fit_u32) {
  const auto f = open_model();
  ASSERT_NE(f, nullptr);
  int n_max = 0;
  for (const auto& kv : f->metadata()) {
    if (kv.key.ends_with("_token_id") && f->get_u32(kv.key) == 0xFFFFFFFFu) ++n_max;
  }
  EXPECT_EQ(n_max, 2);
}

TEST(gguf_reader, stories260k_tensors) {
  const auto f = open_model();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tensors().size(), 48u);
  const tensor_info* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->n_dims, 2u);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
  EXPECT_EQ(emb->type, ggml_type::f32);
  EXPECT_EQ(emb->n_bytes, 64u * 512u * 4u);
  const tensor_info* down = f->find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne[0], 172);  // a row width that is not a multiple of 32: fine for f32
  EXPECT_EQ(down->ne[1], 64);
  EXPECT_EQ(f->find_tensor("no.such.tensor"), nullptr);
  size_t end = 0;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.offset % f->alignment(), 0u) << t.name;
    EXPECT_EQ(t.n_bytes, static_cast<uint64_t>(t.n_elements()) * 4u) << t.name;
    end = std::max<size_t>(end, f->data_offset() + t.offset + t.n_bytes);
    EXPECT_EQ(f->tensor_data(t), f->bytes() + f->data_offset() + t.offset);
  }
  EXPECT_LE(end, f->size());
  // Token embedding values are small trained floats, not garbage.
  float first = 0;
  std::memcpy(&first, f->tensor_data(*emb), sizeof first);
  EXPECT_TRUE(first > -10.0f && first < 10.0f && first != 0.0f) << first;
}

TEST(gguf_reader, open_missing_file_names_path) {
  auto r = file::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_message(), "gguf: cannot open /nonexistent/dir/model.gguf: No such file or directory");
}

TEST(gguf_reader, open_directory_is_rejected) {
  auto r = file::open("/tmp");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("not a regular file"), std::string::npos);
}

TEST(gguf_reader, empty_and_null_buffers_are_rejected) {
  auto a = file::parse(nullptr, 0);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error_message().find("not a GGUF file"), std::string::npos);
  const uint8_t gg[] = {'G', 'G'};
  EXPECT_FALSE(file::parse(gg, sizeof gg).ok());
}

// One key of every scalar type, read back through the typed getters.
std::vector<uint8_t> getter_file() {
  using namespace testing;
  gguf_bytes g;
  g.header(3, 0, 9);
  g.str("u8").u32(t_u8).u8(200);
  g.str("i32neg").u32(t_i32).raw<int32_t>(-1);
  g.str("i32").u32(t_i32).raw<int32_t>(7);
  g.str("u64big").u32(t_u64).u64(uint64_t{1} << 33);
  g.str("f64").u32(t_f64).raw<double>(0.5);
  g.str("f32").u32(t_f32).raw<float>(1.25f);
  g.str("flag").u32(t_bool).u8(1);
  g.kv_string("name", "tiny");
  g.str("ids").u32(t_array).u32(t_i32).u64(2).raw<int32_t>(3).raw<int32_t>(4);
  return g.b;
}

TEST(gguf_reader, typed_getters_convert_only_when_the_value_fits) {
  const auto bytes = getter_file();
  auto r = file::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  const file& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_u32("u8"), 200u);
  EXPECT_EQ(f.get_u32("i32"), 7u);
  EXPECT_EQ(f.get_u32("i32neg"), std::nullopt);
  EXPECT_EQ(f.get_u32("u64big"), std::nullopt);
  EXPECT_EQ(f.get_u32("name"), std::nullopt);
  EXPECT_EQ(f.get_u32("flag"), std::nullopt);
  EXPECT_EQ(f.get_u32("missing"), std::nullopt);
  EXPECT_EQ(f.get_f32("f64"), 0.5f);
  EXPECT_EQ(f.get_f32("f32"), 1.25f);
  EXPECT_EQ(f.get_f32("name"), std::nullopt);
  EXPECT_EQ(f.get_bool("flag"), true);
  EXPECT_EQ(f.get_bool("u8"), std::nullopt);
  EXPECT_EQ(f.get_string("name"), "tiny");
  EXPECT_EQ(f.get_string("u8"), std::nullopt);
  EXPECT_EQ(f.get_array("name"), nullptr);
  const array_value* ids = f.get_array("ids");
  ASSERT_NE(ids, nullptr);
  ASSERT_EQ(ids->items.size(), 2u);
  EXPECT_EQ(ids->items[1].as_int(), 4);
  EXPECT_EQ(f.find("i32neg")->as_int(), -1);
  EXPECT_EQ(f.find("u64big")->as_float(), 8589934592.0);
  EXPECT_EQ(f.find("name")->as_int(), std::nullopt);
  EXPECT_TRUE(f.tensors().empty());
  // No tensors and no padding: the data section starts at (not past) the end.
  EXPECT_EQ(f.data_offset(), f.size());
}

TEST(gguf_reader, version_2_is_accepted) {
  testing::gguf_bytes g;
  g.header(2, 0, 1).kv_string("general.architecture", "llama");
  auto r = file::parse(g.b.data(), g.b.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ((*r)->version(), 2u);
  EXPECT_EQ((*r)->get_string("general.architecture"), "llama");
}

TEST(gguf_reader, u64_above_int64_has_no_int_view) {
  testing::gguf_bytes g;
  g.header(3, 0, 1).str("big").u32(testing::t_u64).u64(~uint64_t{0});
  auto r = file::parse(g.b.data(), g.b.size());
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ((*r)->find("big")->as_int(), std::nullopt);
  EXPECT_EQ(std::get<uint64_t>((*r)->find("big")->data), ~uint64_t{0});
}

// A huge array whose bytes are all present is still refused before its items are allocated.
TEST(gguf_reader, metadata_value_cap_is_checked_before_allocating) {
  testing::gguf_bytes g;
  const uint64_t n = (uint64_t{1} << 23) + 1;
  g.header(3, 0, 1).str("big").u32(testing::t_array).u32(testing::t_u8).u64(n).zeros(n);
  auto r = file::parse(g.b.data(), g.b.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("key #0 'big': array length 8388609 would exceed the limit of "
                                   "8388608 metadata values"),
            std::string::npos)
      << r.error_message();
}

// The fuzz seeds must be what they claim: valid files, plus one truncated real header.
TEST(gguf_reader, fuzz_seed_corpus_files_parse) {
  const auto dir = std::filesystem::path(POCKETLM_SOURCE_DIR) / "tests/fuzz/corpus/gguf";
  int n_valid = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto r = file::open(e.path().string());
    if (e.path().filename() == "stories260K_head.gguf") {
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error_message().find("exceeds"), std::string::npos) << r.error_message();
    } else {
      ASSERT_TRUE(r.ok()) << r.error_message();
      ++n_valid;
    }
  }
  EXPECT_GE(n_valid, 4);
}

}  // namespace
}  // namespace pocketlm::gguf
