// Template recognition. A fingerprint is (byte length, FNV-1a 64 hash) of the whole template text,
// after removing one trailing "\n" (Jinja drops a single trailing newline from every template, so
// both spellings render the same). Nothing else is normalised: whitespace inside a template can be
// output, so two texts that differ anywhere else are treated as different templates. The known
// texts are stored verbatim in tests/golden/chat/templates/, where the tests re-derive these values.
#include <array>
#include <cstdint>

#include "chat/chat.h"

namespace pocketlm::chat {
namespace {

struct fingerprint {
  std::size_t length;
  std::uint64_t hash;
  template_kind kind;
};

// Sources: Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen3 (tokenizer_config.json), deepseek-ai/DeepSeek-R1-
// Distill-Qwen-32B (= -Llama-8B), meta-llama/Meta-Llama-3-8B-Instruct, meta-llama/Llama-2-7b-chat-hf,
// mistralai/Mistral-7B-Instruct-v0.2 (current "v1" template with system prompt support).
constexpr std::array<fingerprint, 6> known_templates = {{
    {2506, 0xe642ce246d7f2e3dULL, template_kind::chatml},
    {4116, 0x2bfdb7aa9754484eULL, template_kind::qwen3},
    {2246, 0x845fdf813c637ee2ULL, template_kind::deepseek_r1},
    {348, 0x74891e390e614ae2ULL, template_kind::llama3},
    {815, 0xf344eecf1bd3a427ULL, template_kind::llama2},
    {1057, 0x46eac0bf5c765c47ULL, template_kind::mistral},
}};

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct named_kind {
  std::string_view name;
  template_kind kind;
};

constexpr std::array<named_kind, 6> names = {{
    {"chatml", template_kind::chatml},
    {"qwen3", template_kind::qwen3},
    {"deepseek-r1", template_kind::deepseek_r1},
    {"llama3", template_kind::llama3},
    {"llama2", template_kind::llama2},
    {"mistral", template_kind::mistral},
}};

}  // namespace

template_kind match_template(std::string_view jinja_source) {
  if (jinja_source.ends_with('\n')) jinja_source.remove_suffix(1);
  const std::uint64_t hash = fnv1a64(jinja_source);
  for (const fingerprint& f : known_templates) {
    if (f.length == jinja_source.size() && f.hash == hash) return f.kind;
  }
  return template_kind::none;
}

std::optional<template_kind> template_from_name(std::string_view name) {
  for (const named_kind& n : names) {
    if (n.name == name) return n.kind;
  }
  return std::nullopt;
}

std::string_view template_name(template_kind k) {
  for (const named_kind& n : names) {
    if (n.kind == k) return n.name;
  }
  return "none";
}

}  // namespace pocketlm::chat
