#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "tokenizer/pretokenize.h"

namespace pocketlm {
namespace {

constexpr int32_t k_none = -1;

// Texts llama.cpp recognises by name (llama_vocab::impl::load); each gains the CONTROL attribute.
constexpr auto k_eot_names =
    std::to_array<std::string_view>({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                     "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                     "<\xEF\xBD\x9C"
                                     "end\xE2\x96\x81"
                                     "of\xE2\x96\x81"
                                     "sentence\xEF\xBD\x9C>",
                                     "<end_of_utterance>"});
constexpr auto k_fim_pre_names =
    std::to_array<std::string_view>({"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                     "<\xEF\xBD\x9C"
                                     "fim\xE2\x96\x81"
                                     "begin\xEF\xBD\x9C>",
                                     "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"});
constexpr auto k_fim_suf_names =
    std::to_array<std::string_view>({"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                     "<\xEF\xBD\x9C"
                                     "fim\xE2\x96\x81"
                                     "hole\xEF\xBD\x9C>",
                                     "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"});
constexpr auto k_fim_mid_names =
    std::to_array<std::string_view>({"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                     "<\xEF\xBD\x9C"
                                     "fim\xE2\x96\x81"
                                     "end\xEF\xBD\x9C>",
                                     "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"});
constexpr auto k_fim_pad_names =
    std::to_array<std::string_view>({"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
constexpr auto k_fim_rep_names =
    std::to_array<std::string_view>({"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
constexpr auto k_fim_sep_names = std::to_array<std::string_view>({"<|file_sep|>"});
constexpr auto k_eog_names = std::to_array<std::string_view>({"<|eot_id|>",
                                                              "<|im_end|>",
                                                              "<|end|>",
                                                              "<|return|>",
                                                              "<|call|>",
                                                              "<|flush|>",
                                                              "<|calls|>",
                                                              "<end_of_turn>",
                                                              "<|endoftext|>",
                                                              "</s>",
                                                              "<|eom_id|>",
                                                              "<EOT>",
                                                              "_<EOT>",
                                                              "[EOT]",
                                                              "[EOS]",
                                                              "<|end_of_text|>",
                                                              "<end_of_utterance>",
                                                              "<eos>",
                                                              "<turn|>",
                                                              "<|tool_response>",
                                                              "<\xEF\xBD\x9C"
                                                              "end\xE2\x96\x81"
                                                              "of\xE2\x96\x81"
                                                              "sentence\xEF\xBD\x9C>",
                                                              "[e~["});

template <size_t N>
bool is_one_of(const std::string& s, const std::array<std::string_view, N>& names) {
  return std::any_of(names.begin(), names.end(), [&s](std::string_view n) { return !n.empty() && s == n; });
}

uint16_t attr_from_type(int64_t type) {
  switch (type) {
    case 1: return attr_normal;
    case 2: return attr_unknown;
    case 3: return attr_control;
    case 4: return attr_user_defined;
    case 5: return attr_unused;
    case 6: return attr_byte;
    default: return attr_undefined;
  }
}

// Reads tokens, scores and types. llama.cpp renames empty tokens "[EMPTY_i]".
status read_tokens(const gguf::file& f, vocab_data& v) {
  const auto* tokens = f.get_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->elem_type != gguf::value_type::string || tokens->items.empty()) {
    return error{"tokenizer.ggml.tokens: missing or not a non-empty string array"};
  }
  const size_t n = tokens->items.size();
  if (n > 0x7FFFFFFF) return error{"tokenizer.ggml.tokens: too many tokens"};
  const auto* scores = f.get_array("tokenizer.ggml.scores");
  const auto* types = f.get_array("tokenizer.ggml.token_type");
  if (scores && scores->items.size() != n) return error{"tokenizer.ggml.scores: wrong length"};
  if (types && types->items.size() != n) return error{"tokenizer.ggml.token_type: wrong length"};
  v.text.resize(n);
  v.score.assign(n, 0.0f);
  v.attr.assign(n, attr_normal);
  for (size_t i = 0; i < n; ++i) {
    const std::string* s = tokens->items[i].as_string();
    v.text[i] = (s && !s->empty()) ? *s : "[EMPTY_" + std::to_string(i) + "]";
    v.to_id[v.text[i]] = static_cast<int32_t>(i);  // later duplicates win, as in llama.cpp
    if (scores) v.score[i] = static_cast<float>(scores->items[i].as_float().value_or(0.0));
    if (types) v.attr[i] = attr_from_type(types->items[i].as_int().value_or(0));
  }
  return {};
}

// Special ids: a key outside the vocabulary (e.g. 0xFFFFFFFF) keeps the default, as llama.cpp.
void read_special_ids(const gguf::file& f, vocab_data& v) {
  const auto read = [&](std::string_view key, int32_t& id) {
    if (id >= v.n_vocab()) id = k_none;
    const auto* val = f.find(std::string("tokenizer.ggml.") + std::string(key));
    if (!val) return;
    const auto i = val->as_int();
    if (i && *i >= 0 && *i < v.n_vocab()) id = static_cast<int32_t>(*i);
  };
  read("bos_token_id", v.bos);
  read("eos_token_id", v.eos);
  read("eot_token_id", v.eot);
  read("eom_token_id", v.eom);
  read("unknown_token_id", v.unk);
  read("padding_token_id", v.pad);
  read("seperator_token_id", v.sep);  // sic: llama.cpp's key
  read("mask_token_id", v.mask);
  if (auto b = f.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *b;
  if (auto b = f.get_bool("tokenizer.ggml.add_eos_token")) v.add_eos = *b;
  if (auto b = f.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;
}

}  // namespace

int32_t vocab_data::intern(const std::string& s) {
  if (int32_t id = find_sid(s); id >= 0) return id;
  const auto sid = static_cast<int32_t>(text.size() + extra_text.size());
  extra_sid.emplace(s, sid);
  extra_text.push_back(s);
  return sid;
}

int32_t vocab_data::find_sid(const std::string& s) const {
  if (auto it = to_id.find(s); it != to_id.end()) return it->second;
  if (auto it = extra_sid.find(s); it != extra_sid.end()) return it->second;
  return -1;
}

namespace {

// "a b" merge strings; the split is at the first space after the first byte (llama.cpp).
status read_merges(const gguf::file& f, vocab_data& v) {
  const auto* merges = f.get_array("tokenizer.ggml.merges");
  if (!merges || merges->elem_type != gguf::value_type::string) {
    return error{"tokenizer.ggml.merges: missing or not a string array"};
  }
  v.merges.reserve(merges->items.size());
  for (size_t i = 0; i < merges->items.size(); ++i) {
    const std::string& m = *merges->items[i].as_string();
    const size_t pos = m.find(' ', 1);
    std::string first, second;
    if (pos != std::string::npos) {
      first = m.substr(0, pos);
      second = m.substr(pos + 1);
    }
    const int32_t l = v.intern(first);
    const int32_t r = v.intern(second);
    const int32_t merged = v.intern(first + second);
    // emplace keeps the first (lowest) rank of a repeated pair, like llama.cpp's bpe_ranks.
    v.merges.emplace(vocab_data::pair_key(l, r), merge_info{static_cast<int32_t>(i), merged});
  }
  return {};
}

// Model- and pre-tokenizer-dependent defaults, set before the file's keys are read.
status apply_model_defaults(const std::string& model, vocab_data& v) {
  if (model == "llama") {
    v.kind = vocab_kind::spm;
    v.bos = 1, v.eos = 2, v.unk = 0;
    v.add_space_prefix = true, v.add_bos = true;
    return {};
  }
  if (model == "bert") {  // llama.cpp's defaults for WordPiece: BERT's vocab.txt ids
    v.kind = vocab_kind::wpm;
    v.bos = 101, v.unk = 100, v.sep = 102, v.pad = 0, v.mask = 103;
    return {};
  }
  if (model == "gemma4") {  // BPE with no default special ids; its pre-tokenizer whatever the file says
    v.pre = "gemma4";
    v.bos = k_none, v.eos = k_none;
  } else if (model == "gpt2") {
    v.bos = 11, v.eos = 11;
  } else {
    return error{"tokenizer.ggml.model: unsupported '" + model + "'"};
  }
  v.kind = vocab_kind::bpe;
  if (const auto pre = find_pre_type_settings(v.pre)) {
    v.ignore_merges = pre->ignore_merges;
    if (pre->add_bos) v.add_bos = true;
    if (pre->no_default_bos) v.bos = k_none;
    v.spm_style = pre->spm_style;
    v.newline_runs_whole = pre->newline_runs_whole;
  }
  return {};
}

// llama.cpp's by-name detection of EOT/EOM/FIM tokens and its end-of-generation set.
void detect_special_by_name(vocab_data& v) {
  int32_t fim_pad = k_none, fim_rep = k_none, fim_sep = k_none;
  int32_t fim_pre = k_none, fim_suf = k_none, fim_mid = k_none;
  const auto claim = [&v](int32_t& slot, int32_t id, bool match) {
    if (slot != k_none || !match) return;
    slot = id;
    v.attr[id] |= attr_control;
  };
  for (const auto& [s, id] : v.to_id) {
    claim(v.eot, id, is_one_of(s, k_eot_names));
    claim(v.eom, id, s == "<|eom_id|>");
    claim(fim_pre, id, is_one_of(s, k_fim_pre_names));
    claim(fim_suf, id, is_one_of(s, k_fim_suf_names));
    claim(fim_mid, id, is_one_of(s, k_fim_mid_names));
    claim(fim_pad, id, is_one_of(s, k_fim_pad_names));
    claim(fim_rep, id, is_one_of(s, k_fim_rep_names));
    claim(fim_sep, id, is_one_of(s, k_fim_sep_names));
  }
  for (int32_t id : {fim_pad, fim_rep, fim_sep}) {
    if (id != k_none) v.eog.insert(id);
  }
  for (const auto& [s, id] : v.to_id) {
    if (is_one_of(s, k_eog_names)) {
      v.eog.insert(id);
      v.attr[id] |= attr_control;
    }
  }
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id != k_none) v.eog.insert(id);
  }
}

}  // namespace

result<vocab_data> load_vocab(const gguf::file& f) {
  vocab_data v;
  const auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return error{"tokenizer.ggml.model: missing"};
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  if (v.pre.empty()) v.pre = "default";  // llama.cpp: a missing or empty pre is "default"
  if (auto s = apply_model_defaults(*model, v); !s) return error{s.error_message()};
  if (auto s = read_tokens(f, v); !s) return error{s.error_message()};
  if (v.kind == vocab_kind::bpe) {
    if (auto s = read_merges(f, v); !s) return error{s.error_message()};
  }
  read_special_ids(f, v);
  if (const auto pre = find_pre_type_settings(v.pre); pre && pre->force_add_bos) v.add_bos = true;
  if (v.kind == vocab_kind::wpm) {
    if (v.bos < 0 || v.sep < 0) return error{"tokenizer: a WordPiece vocabulary needs CLS (bos) and SEP ids"};
    v.lowercase = f.get_bool("tokenizer.ggml.normalizer.lowercase").value_or(true);
    v.strip_accents = f.get_bool("tokenizer.ggml.normalizer.strip_accents").value_or(v.lowercase);
    for (const auto& t : v.text) v.max_token_len = std::max(v.max_token_len, static_cast<int32_t>(t.size()));
  }
  detect_special_by_name(v);
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    if (v.attr[id] & (attr_control | attr_user_defined | attr_unknown)) v.special_cache.push_back(id);
  }
  // Same algorithm and input order as llama.cpp, so equal-length ties order identically.
  std::sort(v.special_cache.begin(), v.special_cache.end(),
            [&v](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });
  return v;
}

}  // namespace pocketlm
