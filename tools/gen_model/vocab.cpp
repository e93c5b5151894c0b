// Vocabulary layout as convert_hf_to_gguf.py's get_vocab_base + gguf-py's SpecialVocab write it.
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gen_model.h"

namespace pocketlm::gen {
namespace {

using json = nlohmann::json;

constexpr int32_t k_normal = 1;
constexpr int32_t k_control = 3;
constexpr int32_t k_user_defined = 4;
constexpr int32_t k_unused = 5;
constexpr int32_t k_byte = 6;

bool is_byte_piece(const std::string& t) {
  return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4]));
}

// SentencePiece layout: scores follow the ids (higher for earlier pieces), bytes typed as such;
// special and added pieces keep score 0.
void to_sentencepiece(vocab_data& v) {
  v.scores.assign(v.tokens.size(), 0.0f);
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.types[i] == k_normal && is_byte_piece(v.tokens[i])) v.types[i] = k_byte;
    if (v.types[i] == k_normal) v.scores[i] = -static_cast<float>(i);
  }
  v.merges.clear();
}

result<json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error{"cannot open " + path};
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error{"invalid JSON in " + path};
  return j;
}

// The converter treats added tokens shaped like "<|...|>" as control even when not "special".
bool looks_special(const std::string& t) {
  const auto starts = [&t](std::string_view p) { return t.rfind(p, 0) == 0; };
  const auto ends = [&t](std::string_view s) {
    return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0;
  };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (starts("<|") && ends("|>")) return true;
  if (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>")) return true;  // "<｜...｜>"
  return starts("<unused") && ends(">");
}

// User-defined tokens are stored pre-normalized: SentencePiece's U+2581 becomes a space.
std::string replace_sp_space(const std::string& t) {
  const std::string_view sp = "\xE2\x96\x81";
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, sp.size(), sp) == 0) {
      out += ' ';
      i += sp.size();
    } else {
      out += t[i++];
    }
  }
  return out;
}

// "a b" strings are kept; ["a", "b"] pairs are joined with a space after encoding any space
// inside a part as U+0120, as gguf-py does.
result<std::vector<std::string>> read_merges(const json& merges) {
  std::vector<std::string> out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    if (m.is_string()) {
      out.push_back(m.get<std::string>());
      continue;
    }
    if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string()) {
      return error{"unknown tokenizer merges format"};
    }
    std::string joined;
    for (int part = 0; part < 2; ++part) {
      if (part == 1) joined += ' ';
      for (char c : m[part].get<std::string>()) {
        if (c == ' ')
          joined += "\xC4\xA0";
        else
          joined += c;
      }
    }
    out.push_back(std::move(joined));
  }
  return out;
}

// Places model.vocab and added_tokens at their ids; gaps become "[PAD<i>]" (unused). With
// `drop_added_beyond`, added tokens past n_vocab are left out (Gemma 3 1B's text-only vocabulary
// is the 4B's tokenizer.json without its image token).
status place_tokens(const json& tok, int64_t n_vocab, vocab_data& v, bool drop_added_beyond) {
  v.tokens.assign(static_cast<size_t>(n_vocab), std::string());
  v.types.assign(static_cast<size_t>(n_vocab), 0);
  const auto put = [&](const std::string& text, int64_t id, int32_t type) -> status {
    if (id < 0 || id >= n_vocab) {
      return error{"token '" + text + "' has id " + std::to_string(id) + " outside the vocabulary of " +
                   std::to_string(n_vocab)};
    }
    v.tokens[static_cast<size_t>(id)] = text;
    v.types[static_cast<size_t>(id)] = type;
    return {};
  };
  for (const auto& [text, id] : tok["model"]["vocab"].items()) {
    if (auto s = put(text, id.get<int64_t>(), k_normal); !s) return s;
  }
  for (const auto& added : tok.value("added_tokens", json::array())) {
    if (drop_added_beyond && added.at("id").get<int64_t>() >= n_vocab) continue;
    std::string text = added.at("content").get<std::string>();
    int32_t type = k_control;
    if (!added.value("special", false) && !looks_special(text)) {
      type = k_user_defined;
      text = replace_sp_space(text);
    }
    if (auto s = put(text, added.at("id").get<int64_t>(), type); !s) return s;
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.types[i] != 0) continue;
    v.tokens[i] = "[PAD" + std::to_string(i) + "]";
    v.types[i] = k_unused;
  }
  return {};
}

}  // namespace

result<vocab_data> load_vocab(const std::string& models_dir, int64_t n_vocab, bool sentencepiece) {
  auto tok = read_json(models_dir + "/tokenizer.json");
  if (!tok) return tok.err();
  vocab_data v;
  try {
    if (auto s = place_tokens(*tok, n_vocab, v, sentencepiece); !s) return error{s.error_message()};
    auto merges = read_merges(tok->at("model").value("merges", json::array()));
    if (!merges) return merges.err();
    v.merges = std::move(*merges);
    if (sentencepiece) to_sentencepiece(v);
  } catch (const json::exception& e) {
    return error{models_dir + "/tokenizer.json: " + e.what()};
  }
  auto config = read_json(models_dir + "/tokenizer_config.json");
  if (config && config->contains("chat_template") && (*config)["chat_template"].is_string()) {
    v.chat_template = (*config)["chat_template"].get<std::string>();
  }
  return v;
}

}  // namespace pocketlm::gen
