// token_constraint driven by hand with the real Qwen3 and Llama 3 vocabularies (text encoded by
// the tokenizer, tokens fed one by one): the grammar from the answer's start, reasoning left free
// until </think>, lazy triggers, failures; then whole generations of a generated model with random
// weights whose constrained output always matches its JSON Schema.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../tokenizer/vocab_fixture.h"
#include "grammar/json_schema.h"
#include "model/model.h"
#include "runtime/constraint.h"
#include "runtime/generate.h"

namespace pocketlm {
namespace {

namespace fs = std::filesystem;

struct vocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::file> file;
  std::unique_ptr<tokenizer> tok;
  vocab_trie trie;
};

vocab& load_vocab(vocab& v, const test::vocab_preset& p) {
  v.bytes = test::build_vocab_gguf(p);
  auto f = gguf::file::parse(v.bytes.data(), v.bytes.size());
  EXPECT_TRUE(f.ok());
  v.file = std::move(*f);
  auto t = tokenizer::from_gguf(*v.file);
  EXPECT_TRUE(t.ok());
  v.tok = std::move(*t);
  return v;
}

vocab& qwen3() {
  static vocab v;
  static vocab& loaded = load_vocab(v, test::k_qwen3);
  return loaded;
}

vocab& llama3() {
  static vocab v;
  static vocab& loaded = load_vocab(v, test::k_llama3);
  return loaded;
}

grammar::grammar_ptr parse(const std::string& gbnf) {
  auto g = grammar::grammar::parse(gbnf);
  EXPECT_TRUE(g.ok()) << g.error_message() << "\n" << gbnf;
  return g.ok() ? *g : nullptr;
}

struct policy {
  std::vector<std::string> triggers;
  bool free_reasoning = false;
  bool starts_in_think = false;
};

grammar_constraint constraint_for(vocab& v, const std::string& gbnf, const policy& p = {}) {
  grammar_constraint c;
  c.grammar = parse(gbnf);
  c.vocab = v.trie.get(*v.tok);
  c.triggers = p.triggers;
  c.free_reasoning = p.free_reasoning;
  c.starts_in_think = p.starts_in_think;
  return c;
}

std::vector<int32_t> ids(const tokenizer& tok, const std::string& text) { return tok.encode(text, false, true); }

int32_t id_of(const tokenizer& tok, const std::string& text) {
  const auto t = ids(tok, text);
  EXPECT_EQ(t.size(), 1u) << "'" << text << "' is not one token";
  return t.empty() ? -1 : t[0];
}

// A token whose text is exactly `piece`, searched over the vocabulary (byte-level BPE spells
// spaces as "Ġ", so find_token cannot be given plain text).
int32_t token_with_piece(const tokenizer& tok, const std::string& piece) {
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.token_to_piece(id, false) == piece) return id;
  }
  return -1;
}

// Feeds `text`'s tokens, each of which must be allowed first.
void feed_allowed(token_constraint& c, const tokenizer& tok, const std::string& text) {
  for (int32_t t : ids(tok, text)) {
    ASSERT_TRUE(c.allows(t)) << "'" << tok.token_to_piece(t, true) << "' refused in '" << text << "'";
    c.accept(t);
  }
}

// Feeds tokens without asking (what a caller that ignores the constraint would do).
void feed(token_constraint& c, const tokenizer& tok, const std::string& text) {
  for (int32_t t : ids(tok, text)) c.accept(t);
}

std::vector<int32_t> eog_ids(const tokenizer& tok) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.is_end_of_generation(id)) out.push_back(id);
  }
  return out;
}

// mask() and allows() agree on every 31st id, on every id the mask allows and on the vocab's
// end-of-generation and reasoning tokens. Returns how many ids the mask allows.
int check_mask_agrees(token_constraint& c, const tokenizer& tok) {
  const uint8_t* m = c.mask();
  EXPECT_NE(m, nullptr);
  if (!m) return 0;
  const std::vector<uint8_t> mask(m, m + tok.n_vocab());
  int allowed = 0;
  std::vector<int32_t> spot = eog_ids(tok);
  for (const char* t : {"<think>", "</think>", "<tool_call>"}) spot.push_back(tok.find_token(t));
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (mask[static_cast<size_t>(id)]) ++allowed;
    if (id % 31 == 0 || mask[static_cast<size_t>(id)]) spot.push_back(id);
  }
  int disagreements = 0;
  for (int32_t id : spot) {
    if (id < 0) continue;
    if ((mask[static_cast<size_t>(id)] != 0) != c.allows(id) && ++disagreements <= 5) {
      ADD_FAILURE() << "token " << id << " '" << tok.token_to_piece(id, true)
                    << "': mask=" << int(mask[static_cast<size_t>(id)]) << " allows=" << c.allows(id);
    }
  }
  EXPECT_GT(spot.size(), 4000u);
  return allowed;
}

const char* k_number_object = R"(root ::= "{\"n\": " [0-9]{1,3} "}")";

TEST(constraint, grammar_from_the_start_allows_only_its_tokens) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_number_object), tok);
  EXPECT_TRUE(c.active());
  EXPECT_TRUE(c.allows(id_of(tok, "{")));
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  EXPECT_FALSE(c.allows(id_of(tok, " {")));
  EXPECT_FALSE(c.allows(tok.find_token("<think>")));
  EXPECT_FALSE(c.allows(tok.find_token("<|im_start|>")));  // control: never text
  for (int32_t e : eog_ids(tok)) EXPECT_FALSE(c.allows(e)) << e;
  EXPECT_GT(check_mask_agrees(c, tok), 0);

  feed_allowed(c, tok, R"({"n": 4)");
  EXPECT_FALSE(c.finished());
  for (int32_t e : eog_ids(tok)) EXPECT_FALSE(c.allows(e)) << "the object is not closed";
  EXPECT_TRUE(c.allows(id_of(tok, "2")));
  EXPECT_TRUE(c.allows(id_of(tok, "}")));
  EXPECT_FALSE(c.allows(id_of(tok, "x")));
  check_mask_agrees(c, tok);
  feed_allowed(c, tok, "2}");
  EXPECT_TRUE(c.finished());
  EXPECT_FALSE(c.failed());
}

TEST(constraint, end_of_generation_only_once_the_grammar_can_end) {
  const tokenizer& tok = *qwen3().tok;
  const auto eog = eog_ids(tok);
  ASSERT_FALSE(eog.empty());
  token_constraint c(constraint_for(qwen3(), R"(root ::= "ab" "c"*)"), tok);
  feed_allowed(c, tok, "a");
  EXPECT_FALSE(c.allows(eog[0]));
  EXPECT_EQ(c.mask()[eog[0]], 0);
  feed_allowed(c, tok, "b");
  for (int32_t e : eog) EXPECT_TRUE(c.allows(e));
  const uint8_t* m = c.mask();
  for (int32_t e : eog) EXPECT_EQ(m[e], 1) << e;
  EXPECT_FALSE(c.finished()) << "more c's may follow";
  EXPECT_TRUE(c.allows(id_of(tok, "c")));
  EXPECT_FALSE(c.allows(id_of(tok, "b")));
  check_mask_agrees(c, tok);
}

TEST(constraint, mask_agrees_with_allows_through_a_json_object) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), grammar::json_object_gbnf()), tok);
  const int at_start = check_mask_agrees(c, tok);
  feed_allowed(c, tok, R"({"ke)");
  const int in_string = check_mask_agrees(c, tok);
  EXPECT_GT(in_string, 10 * at_start) << "inside a string most text fits";
  feed_allowed(c, tok, R"(y": [1.5, true, null, "é)");
  check_mask_agrees(c, tok);
  feed_allowed(c, tok, R"("], "b": {}})");
  EXPECT_FALSE(c.failed());
  EXPECT_TRUE(c.allows(eog_ids(tok)[0]));
  check_mask_agrees(c, tok);
}

TEST(constraint, a_rejected_token_fails_and_frees_the_rest) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_number_object), tok);
  feed_allowed(c, tok, "{");
  c.accept(id_of(tok, "hello"));
  EXPECT_TRUE(c.failed());
  EXPECT_FALSE(c.active());
  EXPECT_FALSE(c.finished());
  EXPECT_TRUE(c.allows(id_of(tok, "world")));
  EXPECT_EQ(c.mask(), nullptr);
}

// Qwen3's vocabulary has single <think> and </think> tokens.
TEST(constraint, reasoning_is_free_until_think_closes) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t think = tok.find_token("<think>"), think_end = tok.find_token("</think>");
  ASSERT_GE(think, 0);
  ASSERT_GE(think_end, 0);
  token_constraint c(constraint_for(qwen3(), k_number_object, {{}, true, false}), tok);
  EXPECT_TRUE(c.active());
  EXPECT_TRUE(c.allows(think));
  EXPECT_TRUE(c.allows(id_of(tok, "{")));
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  EXPECT_FALSE(c.allows(think_end));
  EXPECT_FALSE(c.allows(eog_ids(tok)[0]));
  const uint8_t* m = c.mask();
  EXPECT_EQ(m[think], 1);
  EXPECT_EQ(m[think_end], 0);
  check_mask_agrees(c, tok);

  c.accept(think);
  EXPECT_FALSE(c.active());
  for (const char* text : {"hello", "{", "<tool_call>", "<think>", "}"}) EXPECT_TRUE(c.allows(id_of(tok, text)));
  EXPECT_TRUE(c.allows(eog_ids(tok)[0]));
  EXPECT_EQ(c.mask(), nullptr);
  feed_allowed(c, tok, "\nThe answer looks like {\"n\": 12} or <tool_call>{\"name\": \"x\"}</tool_call> maybe.\n");
  EXPECT_FALSE(c.active());
  EXPECT_FALSE(c.finished());
  c.accept(think_end);
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  EXPECT_FALSE(c.allows(think));
  EXPECT_FALSE(c.allows(id_of(tok, "\n\n")));
  check_mask_agrees(c, tok);
  feed_allowed(c, tok, R"({"n": 7})");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, an_answer_without_reasoning_is_held_from_its_first_token) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_number_object, {{}, true, false}), tok);
  feed_allowed(c, tok, "{");
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(tok.find_token("<think>"))) << "<think> opens reasoning only as the first token";
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  feed_allowed(c, tok, R"("n": 7})");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, think_close_split_over_tokens_and_the_text_after_it) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t think = tok.find_token("<think>");
  // ">\n" ends "</think" and brings one byte of the answer.
  const int32_t close_newline = token_with_piece(tok, ">\n");
  ASSERT_GE(close_newline, 0);
  const std::string optional_newline = R"(root ::= "\n"? "{\"n\": " [0-9]{1,3} "}")";
  {
    token_constraint c(constraint_for(qwen3(), optional_newline, {{}, true, false}), tok);
    c.accept(think);
    for (const char* part : {"so</", "thi", "nk"}) feed(c, tok, part);
    EXPECT_FALSE(c.active());
    c.accept(close_newline);
    EXPECT_TRUE(c.active());
    EXPECT_FALSE(c.failed());
    EXPECT_FALSE(c.allows(id_of(tok, "\n"))) << "the newline after </think> was matched already";
    EXPECT_TRUE(c.allows(id_of(tok, "{")));
  }
  {
    token_constraint c(constraint_for(qwen3(), k_number_object, {{}, true, false}), tok);
    c.accept(think);
    feed(c, tok, "so</think");
    c.accept(close_newline);
    EXPECT_TRUE(c.failed()) << "the grammar refuses the newline that came with </think>";
  }
}

TEST(constraint, starts_in_think_is_free_until_think_closes) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_number_object, {{}, true, true}), tok);
  EXPECT_FALSE(c.active());
  EXPECT_TRUE(c.allows(id_of(tok, "hello")));
  EXPECT_EQ(c.mask(), nullptr);
  feed_allowed(c, tok, "Okay, {\"n\": } is wrong. <tool_call>");
  EXPECT_FALSE(c.active());
  feed_allowed(c, tok, "</think>");
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  feed_allowed(c, tok, R"({"n": 100})");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, a_vocabulary_without_think_is_held_from_the_start) {
  const tokenizer& tok = *llama3().tok;
  ASSERT_LT(tok.find_token("<think>"), 0);
  token_constraint c(constraint_for(llama3(), k_number_object, {{}, true, false}), tok);
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(ids(tok, "<think>")[0]));
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  check_mask_agrees(c, tok);
  feed_allowed(c, tok, R"({"n": 5})");
  EXPECT_TRUE(c.finished());
}

const char* k_tool_call = R"(root ::= "<tool_call>\n{\"name\": \"" [a-z_]+ "\"}\n</tool_call>")";

TEST(constraint, lazy_grammar_starts_at_the_trigger) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t open = tok.find_token("<tool_call>");
  ASSERT_GE(open, 0);
  token_constraint c(constraint_for(qwen3(), k_tool_call, {{"<tool_call>"}, false, false}), tok);
  EXPECT_FALSE(c.active());
  EXPECT_TRUE(c.allows(id_of(tok, "hello")));
  EXPECT_TRUE(c.allows(eog_ids(tok)[0]));
  EXPECT_EQ(c.mask(), nullptr);
  feed_allowed(c, tok, "Let me look that up: <tool");
  EXPECT_FALSE(c.active());
  feed_allowed(c, tok, "s> are {\"name\": 1}\n");
  EXPECT_FALSE(c.active()) << "no trigger yet";
  c.accept(open);
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  EXPECT_FALSE(c.allows(eog_ids(tok)[0]));
  EXPECT_TRUE(c.allows(id_of(tok, "\n")));
  check_mask_agrees(c, tok);
  feed_allowed(c, tok, "\n{\"name\": \"get_weather\"}\n");
  EXPECT_FALSE(c.finished());
  feed_allowed(c, tok, "</tool_call>");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, trigger_split_over_tokens) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_tool_call, {{"<tool_call>"}, false, false}), tok);
  for (const char* part : {"Sure.\n<", "tool", "_c", "all"}) {
    feed(c, tok, part);
    EXPECT_FALSE(c.active()) << part;
  }
  feed(c, tok, ">");
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.failed());
  EXPECT_TRUE(c.allows(id_of(tok, "\n")));
  EXPECT_FALSE(c.allows(id_of(tok, ">")));
}

// The text before the trigger in the same token is free; the matcher starts at the trigger.
TEST(constraint, a_token_holding_text_then_the_trigger) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t space_brace_quote = token_with_piece(tok, " {\"");
  ASSERT_GE(space_brace_quote, 0);
  const std::string call = R"(root ::= "{\"name\": \"" [a-z]+ "\"}")";
  token_constraint c(constraint_for(qwen3(), call, {{"{\""}, false, false}), tok);
  feed_allowed(c, tok, "Calling:");
  EXPECT_FALSE(c.active());
  c.accept(space_brace_quote);
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.failed());
  EXPECT_TRUE(c.allows(id_of(tok, "name")));
  EXPECT_FALSE(c.allows(id_of(tok, "{")));
  feed_allowed(c, tok, R"(name": "x"})");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, a_trigger_the_grammar_refuses_fails_and_frees_the_rest) {
  const tokenizer& tok = *qwen3().tok;
  const std::string call = R"(root ::= "{\"name\": \"" [a-z]+ "\"}")";
  // One token completes the trigger and goes on with text the call cannot have.
  const int32_t empty_object = token_with_piece(tok, "{}");
  ASSERT_GE(empty_object, 0);
  token_constraint c(constraint_for(qwen3(), call, {{"{"}, false, false}), tok);
  feed(c, tok, "Calling: ");
  c.accept(empty_object);
  EXPECT_TRUE(c.failed());
  EXPECT_FALSE(c.active());
  EXPECT_EQ(c.mask(), nullptr);
  feed(c, tok, R"( and then {"name": "x"})");
  EXPECT_TRUE(c.failed()) << "a later trigger does not restart the grammar";
  EXPECT_FALSE(c.finished());
  EXPECT_TRUE(c.allows(id_of(tok, "hello")));
}

// A call written inside the reasoning is not taken.
TEST(constraint, a_trigger_inside_reasoning_stays_free) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t think = tok.find_token("<think>");
  token_constraint c(constraint_for(qwen3(), k_tool_call, {{"<tool_call>"}, true, false}), tok);
  EXPECT_FALSE(c.active());
  c.accept(think);
  feed_allowed(c, tok, "I could write <tool_call>\n{\"name\": 42, oops\n</tool_call> here");
  EXPECT_FALSE(c.active());
  EXPECT_FALSE(c.failed());
  feed_allowed(c, tok, "</think>\n\nChecking.\n");
  EXPECT_FALSE(c.active());
  feed_allowed(c, tok, "<tool_call>");
  EXPECT_TRUE(c.active());
  EXPECT_FALSE(c.allows(id_of(tok, "hello")));
  feed_allowed(c, tok, "\n{\"name\": \"now\"}\n</tool_call>");
  EXPECT_TRUE(c.finished());
}

TEST(constraint, a_trigger_in_the_reasoning_of_starts_in_think_stays_free) {
  const tokenizer& tok = *qwen3().tok;
  token_constraint c(constraint_for(qwen3(), k_tool_call, {{"<tool_call>"}, true, true}), tok);
  feed_allowed(c, tok, "<tool_call>\n{\"name\": 1}");
  EXPECT_FALSE(c.active());
  feed_allowed(c, tok, "</think><tool_call>");
  EXPECT_TRUE(c.active());
}

// Only the answer's first token opens reasoning: a <think> later is answer text, and a call
// after it is taken.
TEST(constraint, think_after_the_reasoning_is_answer_text) {
  const tokenizer& tok = *qwen3().tok;
  const int32_t think = tok.find_token("<think>");
  token_constraint c(constraint_for(qwen3(), k_tool_call, {{"<tool_call>"}, true, false}), tok);
  c.accept(think);
  feed_allowed(c, tok, "hmm</think>");
  c.accept(think);
  EXPECT_FALSE(c.active());
  feed_allowed(c, tok, "<tool_call>");
  EXPECT_TRUE(c.active());
}

// Whole generations: a generated Qwen3-shaped model with random weights, sampled at temperature
// 1, under a JSON Schema's grammar.
class constrained_generation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pocketlm-constraint-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const fs::path path = dir_ / "qwen3-tiny.gguf";
    const std::string gen = std::string(POCKETLM_BINARY_DIR) + "/bin/pocketlm-gen-model";
    const std::string cmd = gen + " --preset qwen3-tiny --type f16 --seed 3 -o " + path.string() + " >" +
                            (dir_ / "gen.log").string() + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "pocketlm-gen-model (build it first): " << cmd;
    model_options opt;
    opt.n_ctx = 1024;
    auto m = model::load(path.string(), opt);
    ASSERT_TRUE(m.ok()) << m.error_message();
    llm_ = std::move(*m);
    auto t = tokenizer::from_gguf(llm_->file());
    ASSERT_TRUE(t.ok()) << t.error_message();
    tok_ = std::move(*t);
  }
  static void TearDownTestSuite() {
    tok_.reset();
    llm_.reset();
    fs::remove_all(dir_);
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<model> llm_;
  static inline std::unique_ptr<tokenizer> tok_;
  static inline vocab_trie trie_;
};

const char* k_person_schema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 3},
    "ok": {"type": "boolean"}
  },
  "required": ["name", "age", "tags", "ok"],
  "additionalProperties": false
})";

TEST_F(constrained_generation, output_always_matches_the_schema) {
  ASSERT_TRUE(llm_ && tok_);
  auto gbnf = grammar::json_schema_to_gbnf(nlohmann::ordered_json::parse(k_person_schema));
  ASSERT_TRUE(gbnf.ok()) << gbnf.error_message();
  const grammar::grammar_ptr g = parse(*gbnf);
  ASSERT_TRUE(g);
  for (uint64_t seed : {1, 2, 3, 4}) {
    session s(*llm_);
    generate_request req;
    req.prompt = tok_->encode("<|im_start|>user\nA person as JSON<|im_end|>\n<|im_start|>assistant\n", false, true);
    req.sampling.temperature = 1.0f;
    req.sampling.top_k = 0;
    req.sampling.top_p = 1.0f;
    req.sampling.seed = seed;
    req.n_predict = 300;
    req.constraint.grammar = g;
    req.constraint.vocab = trie_.get(*tok_);
    std::string out;
    auto st = generate(s, *tok_, req, [&](std::string_view text) {
      out += text;
      return true;
    });
    ASSERT_TRUE(st.ok()) << st.error_message();
    SCOPED_TRACE("seed " + std::to_string(seed) + ": " + out);
    grammar::matcher m(g);
    EXPECT_TRUE(m.accept(out));
    // The schema bounds every value, so 300 tokens always reach the end.
    EXPECT_EQ(st->done_reason, finish_reason::stop);
    EXPECT_TRUE(m.can_end());
    const auto doc = nlohmann::json::parse(out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded());
    const std::string name = doc.at("name").get<std::string>();
    EXPECT_GE(name.size(), 1u);
    const int age = doc.at("age").get<int>();
    EXPECT_GE(age, 0);
    EXPECT_LE(age, 150);
    EXPECT_LE(doc.at("tags").size(), 3u);
    for (const auto& t : doc.at("tags")) EXPECT_TRUE(t == "red" || t == "green" || t == "blue") << t;
    EXPECT_TRUE(doc.at("ok").is_boolean());
    EXPECT_EQ(doc.size(), 4u);
  }
}

}  // namespace
}  // namespace pocketlm
