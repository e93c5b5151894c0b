// llama.cpp's own tokenizer test cases (its models/ggml-vocab-*.gguf with .inp/.out), run with
// test-tokenizer-0 semantics: no BOS/EOS, no special-token parsing. The files are not in this
// repository: POCKETLM_LLAMA_CPP_MODELS names a folder holding them, which ctest sets to the one
// tools/llama_cpp_vocab.sh extracts from node-llama-cpp's llama.cpp source; unset, every test
// here skips.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::test {
namespace {

namespace fs = std::filesystem;

struct vocab_case {
  std::string text;
  std::vector<int32_t> ids;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// test-tokenizer-0's read_tests: cases separated by "\n__ggml_vocab_test__\n" (the last one
// ends with it too), one line of space-separated ids per case.
std::vector<vocab_case> read_cases(const fs::path& inp, const fs::path& out) {
  const std::string raw = read_all(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> lines;
  std::ifstream o(out, std::ios::binary);
  for (std::string line; std::getline(o, line);) lines.push_back(line);
  std::vector<vocab_case> cases;
  if (texts.size() != lines.size()) {
    ADD_FAILURE() << inp << ": " << texts.size() << " inputs but " << lines.size() << " output lines";
    return cases;
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    vocab_case c{texts[i], {}};
    std::istringstream ids(lines[i]);
    for (long id; ids >> id;) c.ids.push_back(static_cast<int32_t>(id));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// Runs one vocabulary's cases; skips (with the reason) what cannot run here.
void run_vocab(const std::string& name) {
  const char* dir_env = std::getenv("POCKETLM_LLAMA_CPP_MODELS");
  if (!dir_env || !*dir_env) GTEST_SKIP() << "POCKETLM_LLAMA_CPP_MODELS not set";
  const fs::path dir(dir_env);
  const fs::path gguf_path = dir / ("ggml-vocab-" + name + ".gguf");
  const fs::path inp = gguf_path.string() + ".inp", out = gguf_path.string() + ".out";
  if (!fs::exists(inp) || !fs::exists(out)) GTEST_SKIP() << name << ": llama.cpp ships no .inp/.out cases";
  if (!fs::exists(gguf_path) || fs::file_size(gguf_path) < 1024) {
    GTEST_SKIP() << name << ": vocabulary GGUF absent (or a Git LFS pointer)";
  }
  auto f = gguf::file::open(gguf_path.string());
  ASSERT_TRUE(f.ok()) << f.error_message();
  const std::string model = (*f)->get_string("tokenizer.ggml.model").value_or("");
  const std::string pre = (*f)->get_string("tokenizer.ggml.pre").value_or("");
  auto tok = tokenizer::from_gguf(**f);
  if (model != "gpt2" && model != "llama" && model != "gemma4" && model != "bert") {
    ASSERT_FALSE(tok.ok()) << "model " << model << " loaded although pocketlm does not support it";
    GTEST_SKIP() << name << ": tokenizer.ggml.model '" << model << "' is not supported by pocketlm";
  }
  ASSERT_TRUE(tok.ok()) << name << " (model " << model << ", pre '" << pre << "'): " << tok.error_message();
  const auto cases = read_cases(inp, out);
  ASSERT_FALSE(cases.empty());
  size_t failed = 0;
  for (const auto& c : cases) {
    const auto got = (*tok)->encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    if (got != c.ids) {
      ++failed;
      ADD_FAILURE() << name << " (pre '" << pre << "'): '" << c.text << "'\n  expected " << show(c.ids)
                    << "\n  got      " << show(got);
    }
  }
  std::printf("[llama.cpp vocab] %-18s model=%-5s pre=%-16s %zu/%zu cases pass\n", name.c_str(), model.c_str(),
              pre.c_str(), cases.size() - failed, cases.size());
}

// The vocabularies in llama.cpp's models/ folder (those without .inp/.out skip).
const std::vector<std::string> k_known = {
    "aquila", "baichuan", "bert-bge", "chameleon", "command-r",   "deepseek-coder", "deepseek-llm", "deepseek-r1-qwen",
    "falcon", "gemma-4",  "gpt-2",    "gpt-neox",  "llama-bpe",   "llama-spm",      "mpt",          "nomic-bert-moe",
    "phi-3",  "qwen2",    "qwen35",   "refact",    "roberta-bpe", "starcoder",
};

class LlamaCppVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppVocab, CasesMatch) { run_vocab(GetParam()); }

INSTANTIATE_TEST_SUITE_P(LlamaCpp, LlamaCppVocab, ::testing::ValuesIn(k_known),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

// Vocabularies in the folder that the list above does not name still run.
TEST(LlamaCppVocabFolder, UnlistedVocabulariesMatch) {
  const char* dir_env = std::getenv("POCKETLM_LLAMA_CPP_MODELS");
  if (!dir_env || !*dir_env) GTEST_SKIP() << "POCKETLM_LLAMA_CPP_MODELS not set";
  const std::set<std::string> known(k_known.begin(), k_known.end());
  std::vector<std::string> extra;
  for (const auto& e : fs::directory_iterator(dir_env)) {
    const std::string f = e.path().filename().string();
    const std::string prefix = "ggml-vocab-", suffix = ".gguf.inp";
    if (f.rfind(prefix, 0) != 0 || f.size() <= prefix.size() + suffix.size() ||
        f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string name = f.substr(prefix.size(), f.size() - prefix.size() - suffix.size());
    if (!known.count(name)) extra.push_back(name);
  }
  if (extra.empty()) GTEST_SKIP() << "no vocabularies beyond the listed ones";
  for (const auto& name : extra) {
    SCOPED_TRACE(name);
    run_vocab(name);
  }
}

}  // namespace
}  // namespace pocketlm::test
