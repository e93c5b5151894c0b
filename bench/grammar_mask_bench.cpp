// Token mask speed at a real vocabulary: reads the pieces of a GGUF's tokenizer (qwen2-tiny from
// pocketlm-gen-model has Qwen's 151k vocabulary), then feeds a JSON document token by token
// through a JSON grammar, timing allowed_tokens (no cache) and mask_cache at every step, and
// checking both agree and allow the next token. Prints one JSON line of milliseconds per token.
// usage: grammar_mask_bench MODEL.gguf [DOCUMENT.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace pocketlm;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

const char* json_gbnf = R"gbnf(root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
)gbnf";

// What a model asked for structured output writes: nested objects, long strings, numbers.
const char* default_document = R"({
  "title": "The Analytical Engine",
  "author": {"name": "Ada Lovelace", "born": 1815, "died": 1852},
  "summary": "Notes on Charles Babbage's proposed mechanical general-purpose computer, including what is recognised as the first algorithm intended to be carried out by such a machine: computing Bernoulli numbers.",
  "tags": ["computing", "history", "mathematics", "poetical science"],
  "ratings": [4.5, 4.75, 5, 3.9],
  "translated": true,
  "notes": {"language": "English", "pages": 65, "isbn": null, "quote": "The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves."}
})";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: grammar_mask_bench MODEL.gguf [DOCUMENT.json]\n");
    return 2;
  }
  auto file = gguf::file::open(argv[1]);
  if (!file.ok()) return std::fprintf(stderr, "%s\n", file.error_message().c_str()), 1;
  auto tok = tokenizer::from_gguf(**file);
  if (!tok.ok()) return std::fprintf(stderr, "%s\n", tok.error_message().c_str()), 1;
  std::string document = default_document;
  if (argc > 2) {
    std::ifstream in(argv[2], std::ios::binary);
    document.assign(std::istreambuf_iterator<char>(in), {});
  }

  std::vector<std::string> pieces;
  for (int32_t id = 0; id < (*tok)->n_vocab(); ++id) pieces.push_back((*tok)->token_to_piece(id, false));
  auto t0 = clock_type::now();
  auto trie = std::make_shared<const grammar::token_trie>(pieces);
  double trie_ms = ms_since(t0);

  auto g = grammar::grammar::parse(json_gbnf);
  if (!g.ok()) return std::fprintf(stderr, "%s\n", g.error_message().c_str()), 1;
  std::vector<int32_t> ids = (*tok)->encode(document, false, false);
  grammar::matcher m(*g);
  grammar::mask_cache cache(trie);
  std::vector<uint8_t> uncached;
  std::vector<double> plain_ms, cached_ms;
  size_t allowed_sum = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    t0 = clock_type::now();
    grammar::allowed_tokens(m, *trie, uncached);
    plain_ms.push_back(ms_since(t0));
    t0 = clock_type::now();
    const std::vector<uint8_t>& mask = cache.allowed(m);
    cached_ms.push_back(ms_since(t0));
    if (mask != uncached) return std::fprintf(stderr, "mask_cache and allowed_tokens differ at token %zu\n", i), 1;
    allowed_sum += std::count(mask.begin(), mask.end(), 1);
    if (i == ids.size()) break;
    if (!mask[ids[i]] || !m.accept(pieces[ids[i]]))
      return std::fprintf(stderr, "token %zu (%d) is not allowed\n", i, ids[i]), 1;
  }
  if (!m.can_end()) return std::fprintf(stderr, "the document is incomplete\n"), 1;

  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / v.size();
  };
  nlohmann::ordered_json out = {{"vocab", pieces.size()},
                                {"trie_ms", trie_ms},
                                {"tokens", ids.size()},
                                {"mean_allowed_tokens", allowed_sum / plain_ms.size()},
                                {"uncached_ms_mean", mean(plain_ms)},
                                {"uncached_ms_max", *std::max_element(plain_ms.begin(), plain_ms.end())},
                                {"cached_ms_mean", mean(cached_ms)},
                                {"cached_ms_max", *std::max_element(cached_ms.begin(), cached_ms.end())},
                                {"cache_hits", cache.hits()},
                                {"cache_misses", cache.misses()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
